"""Drift through the partition writer: the manifest's record, the limit checked before anything is published,
the tally and the added columns carried across a suspend/resume, and parts of an evolving schema read back as
one schema."""

from __future__ import annotations

import json
import os

import orjson
import pyarrow as pa
import pytest

from airflow_provider_comagic.exceptions import LandingError, SchemaDriftError
from airflow_provider_comagic.landing.drift import DriftPolicy
from airflow_provider_comagic.landing.guard import with_rescued_column
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_batches, iter_landed_rows, landed_dataset
from airflow_provider_comagic.landing.writer import PartitionWriter, land_pages

SCHEMA = pa.schema([("id", pa.int64()), ("n", pa.int64()), ("flag", pa.bool_())])


def page(start: int, size: int, changes: dict[int, dict] | None = None) -> JsonLines:
    rows = [{"id": i, "n": i, "flag": True, **(changes or {}).get(i, {})} for i in range(start, start + size)]
    return JsonLines.from_rows([orjson.dumps(r) for r in rows])


def test_the_manifest_records_what_drifted_and_json_lines_records_nothing(tmp_path):
    drifted = {3: {"n": "3"}, 5: {"n": 5.5}, 7: {"flag": 1}}
    manifest = land_pages([page(0, 200, drifted)], tmp_path / "p", "parquet", SCHEMA)
    assert manifest["drift"] == {
        "policy": {"on_type_mismatch": "rescue", "max_rescued_fraction": 0.05, "schema_evolution": False},
        "rows": 200,
        "rescued_rows": 1,
        "columns": [
            {"column": "flag", "documented": "bool", "arrived": "integer 0/1", "coerced": 1, "example": 1},
            {"column": "n", "documented": "int64", "arrived": "digit string", "coerced": 1, "example": "3"},
            {"column": "n", "documented": "int64", "arrived": "float", "rescued": 1, "example": 5.5},
        ],
    }
    assert manifest_schema(manifest) == with_rescued_column(SCHEMA)
    landed = land_pages([page(0, 200, drifted)], tmp_path / "j", "jsonl", SCHEMA)
    assert "drift" not in landed and manifest_schema(landed) == with_rescued_column(SCHEMA)
    batches = list(iter_landed_batches(tmp_path / "j"))  # JSON Lines typed when read: the same rules
    assert pa.Table.from_batches(batches).equals(pa.Table.from_batches(list(iter_landed_batches(tmp_path / "p"))))


def test_a_column_past_its_limit_fails_the_commit_and_leaves_the_previous_copy(tmp_path):
    first = land_pages([page(0, 100)], tmp_path, "parquet", SCHEMA)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SchemaDriftError, match="n \\(documented int64\\)"):
        land_pages([page(0, 50, {i: {"n": "x"} for i in range(10)}), page(50, 50)], tmp_path, "parquet", SCHEMA)
    assert sorted(os.listdir(tmp_path)) == before  # the failed run's parts are gone, nothing published
    assert read_manifest(tmp_path)["run_token"] == first["run_token"]
    relaxed = land_pages(
        [page(0, 100, {i: {"n": "x"} for i in range(10)})],
        tmp_path,
        "parquet",
        SCHEMA,
        drift=DriftPolicy(max_rescued_fraction={"n": 0.5}),
    )
    assert relaxed["drift"]["rescued_rows"] == 10


def test_the_tally_and_the_added_columns_survive_a_suspend_and_resume(tmp_path):
    policy = DriftPolicy(schema_evolution=True)
    with PartitionWriter(tmp_path, "parquet", SCHEMA, drift=policy, max_rows_per_file=1000) as writer:
        writer.write(page(0, 100, {1: {"n": "1"}}))
        writer.write(page(100, 100, {150: {"extra": "new"}}))  # a new column: the part holding 100 rows rolls
        state = json.loads(json.dumps(writer.suspend()))
    assert [f["rows"] for f in state["files"]] == [100, 100]
    assert state["drift"]["added"] == ["extra"]
    resumed = PartitionWriter.resume(state, tmp_path, "parquet", SCHEMA, drift=policy, max_rows_per_file=1000)
    with resumed:
        resumed.write(page(200, 100, {201: {"n": "201"}, 250: {"n": 2.5}}))
        manifest = resumed.commit()
    counts = {(c["column"], c["arrived"]): c for c in manifest["drift"]["columns"]}
    assert counts[("n", "digit string")]["coerced"] == 2  # one before the deferral, one after
    assert counts[("extra", "string")]["added"] == 1 and counts[("n", "float")]["rescued"] == 1
    schema = manifest_schema(manifest)
    assert schema.names == ["id", "n", "flag", "extra", "_rescued"]
    batches = list(iter_landed_batches(tmp_path))  # the first part lacks the column: read as nulls
    assert all(batch.schema == schema for batch in batches)
    rows = {row["id"]: row for row in iter_landed_rows(tmp_path)}
    assert len(rows) == 300 and rows[150]["extra"] == "new" and "extra" not in rows[0]  # parts as written
    table = landed_dataset(tmp_path).to_table()
    assert table.num_rows == 300 and table.column("extra").null_count == 299
    assert sorted(os.listdir(tmp_path)) == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])


def test_the_writer_takes_a_drift_policy_only():
    with pytest.raises(LandingError, match="drift must be a DriftPolicy"):
        PartitionWriter("/tmp/never", "parquet", SCHEMA, drift={"on_type_mismatch": "fail"})  # type: ignore[arg-type]
