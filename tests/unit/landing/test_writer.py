"""The landing writer on local storage: commit protocol, atomicity, reruns, rollover, empty partitions, JSON Lines."""

from __future__ import annotations

import gzip
import json
import os
import time

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing import formats
from airflow_provider_comagic.landing import writer as landing
from airflow_provider_comagic.landing.guard import with_rescued_column
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.writer import PartitionWriter, land_pages
from tests.fixtures.landing import SCHEMA, Boom, all_rows, as_given, failing, listing, pages


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_land_and_read_back(tmp_path, fmt):
    manifest = land_pages(pages(5), tmp_path / "p", fmt, SCHEMA, extra={"method": "m", "api": {"calls": 5}})
    assert manifest["rows"] == 500 and manifest["format"] == fmt and manifest["method"] == "m"
    assert manifest["api"] == {"calls": 5}
    assert sum(f["rows"] for f in manifest["files"]) == 500
    for entry in manifest["files"]:
        assert entry["bytes"] == os.path.getsize(tmp_path / "p" / entry["path"])
        assert entry["path"].startswith(f"part-{manifest['run_token']}-")
    assert as_given(iter_landed_rows(tmp_path / "p")) == all_rows(5)
    assert read_manifest(tmp_path / "p" / MANIFEST_NAME) == manifest
    assert manifest_schema(manifest) == with_rescued_column(SCHEMA)
    assert listing(tmp_path / "p") == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])


def test_jsonl_rows_are_exactly_the_given_dicts(tmp_path):
    rows = [{"b": 1, "a": {"x": [1, 2.5, None]}, "t": "2024-03-01 00:00:00", "u": "Москва"}]
    manifest = land_pages([rows], tmp_path, "jsonl")
    raw = gzip.decompress((tmp_path / manifest["files"][0]["path"]).read_bytes())
    assert raw == orjson.dumps(rows[0]) + b"\n"
    assert manifest["schema"] is None


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_failure_mid_run_keeps_previous_manifest_and_parts_and_writes_none(tmp_path, fmt):
    first = land_pages(pages(3), tmp_path, fmt, SCHEMA, max_rows_per_file=100)
    before = listing(tmp_path)
    manifest_bytes = (tmp_path / MANIFEST_NAME).read_bytes()
    with pytest.raises(Boom):
        land_pages(failing(pages(6, start=10_000), after=4), tmp_path, fmt, SCHEMA, max_rows_per_file=100)
    assert (tmp_path / MANIFEST_NAME).read_bytes() == manifest_bytes
    assert listing(tmp_path) == before  # the failed run's parts were removed, the old ones untouched
    assert as_given(iter_landed_rows(tmp_path)) == all_rows(3)
    assert read_manifest(tmp_path)["run_token"] == first["run_token"]


def test_failure_of_a_first_run_leaves_no_manifest(tmp_path):
    with pytest.raises(Boom):
        land_pages(failing(pages(4), after=2), tmp_path, "parquet", SCHEMA, max_rows_per_file=100)
    assert read_manifest(tmp_path) is None
    assert listing(tmp_path) == []
    with pytest.raises(LandingError, match=r"no _manifest\.json"):
        as_given(iter_landed_rows(tmp_path))


def test_failure_while_committing_leaves_the_previous_commit(tmp_path, monkeypatch):
    land_pages(pages(2), tmp_path, "jsonl")
    manifest_bytes = (tmp_path / MANIFEST_NAME).read_bytes()

    def broken_replace(src, dst):
        if str(dst).endswith(MANIFEST_NAME):
            raise OSError("disk full")
        return os.rename(src, dst)

    monkeypatch.setattr(landing.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        land_pages(pages(3, start=500), tmp_path, "jsonl")
    assert (tmp_path / MANIFEST_NAME).read_bytes() == manifest_bytes
    assert as_given(iter_landed_rows(tmp_path)) == all_rows(2)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_rerun_replaces_and_leaves_exactly_one_copy(tmp_path, fmt):
    land_pages(pages(4), tmp_path, fmt, SCHEMA, max_rows_per_file=150)
    # a visible orphan (no manifest lists it), a hidden one older than the grace period, the hidden part of a
    # run that may still be in progress, and an unrelated file of someone else
    (tmp_path / "part-crashed-00000.parquet").write_bytes(b"junk")
    (tmp_path / "_tmp-crashed-00001.parquet").write_bytes(b"junk")
    three_days_ago = time.time() - 3 * 86400
    os.utime(tmp_path / "_tmp-crashed-00001.parquet", (three_days_ago, three_days_ago))
    (tmp_path / "_tmp-running-00000.parquet").write_bytes(b"in progress")
    (tmp_path / "README.txt").write_text("not ours")
    second = land_pages(pages(2, start=7), tmp_path, fmt, SCHEMA, max_rows_per_file=150)
    kept = [MANIFEST_NAME, "README.txt", "_tmp-running-00000.parquet"]
    assert listing(tmp_path) == sorted([*kept, *(f["path"] for f in second["files"])])
    assert as_given(iter_landed_rows(tmp_path)) == all_rows(2, start=7)


def test_empty_parquet_partition_has_one_empty_file_with_the_schema(tmp_path):
    manifest = land_pages([], tmp_path, "parquet", SCHEMA, extra={"interval": {"start": "a", "end": "b"}})
    assert manifest["rows"] == 0 and len(manifest["files"]) == 1 and manifest["files"][0]["rows"] == 0
    table = pq.read_table(tmp_path / manifest["files"][0]["path"])
    assert table.num_rows == 0 and table.schema.remove_metadata() == with_rescued_column(SCHEMA).remove_metadata()
    assert as_given(iter_landed_rows(tmp_path)) == []


def test_empty_jsonl_partition_is_a_manifest_with_zero_rows(tmp_path):
    land_pages(pages(1), tmp_path, "jsonl")
    manifest = land_pages([[], []], tmp_path, "jsonl")
    assert manifest["rows"] == 0 and manifest["files"] == []
    assert listing(tmp_path) == [MANIFEST_NAME]


def test_rollover_by_rows_and_bytes(tmp_path):
    by_rows = land_pages(pages(10), tmp_path / "rows", "parquet", SCHEMA, max_rows_per_file=300)
    assert [f["rows"] for f in by_rows["files"]] == [300, 300, 300, 100]
    by_bytes = land_pages(pages(10), tmp_path / "bytes", "jsonl", max_bytes_per_file=1)
    assert [f["rows"] for f in by_bytes["files"]] == [100] * 10  # checked per page: one page per part
    assert as_given(iter_landed_rows(tmp_path / "bytes")) == all_rows(10)


def test_parquet_row_groups_and_bounded_buffer(tmp_path, monkeypatch):
    seen: list[int] = []
    original = formats._ParquetPart.write

    def spy(self, batch):
        original(self, batch)
        seen.append(self.pending_rows)

    monkeypatch.setattr(formats._ParquetPart, "write", spy)
    manifest = land_pages(pages(25, size=100), tmp_path, "parquet", SCHEMA, row_group_rows=400)
    assert max(seen) < 400  # never more than one row group of rows held in memory
    metadata = pq.ParquetFile(tmp_path / manifest["files"][0]["path"]).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [400] * 6 + [100]


def test_parquet_row_groups_are_written_by_a_background_thread_whose_error_fails_the_run(tmp_path, monkeypatch):
    import threading

    writers: list[str] = []
    original = pq.ParquetWriter.write_table

    def failing_write(self, table, row_group_size=None):
        writers.append(threading.current_thread().name)
        if len(writers) == 4:  # the second row group of the second run
            raise OSError("disk full")
        return original(self, table, row_group_size)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing_write)
    land_pages(pages(2, size=100), tmp_path / "first", "parquet", SCHEMA, row_group_rows=100)
    with pytest.raises(OSError, match="disk full"):
        land_pages(pages(5, size=100), tmp_path / "second", "parquet", SCHEMA, row_group_rows=100)
    assert all(name.startswith("parquet-row-groups") for name in writers)
    assert not (tmp_path / "second" / MANIFEST_NAME).exists()
    assert [p.name for p in (tmp_path / "second").iterdir()] == []  # the unfinished part was deleted


def test_parquet_without_schema_infers_it_from_the_first_page(tmp_path):
    manifest = land_pages(pages(2), tmp_path, "parquet")
    assert manifest_schema(manifest).names == ["id", "name", "tags", "_rescued"]
    assert as_given(iter_landed_rows(tmp_path)) == all_rows(2)


def test_writer_rejects_bad_arguments_and_double_commit(tmp_path):
    with pytest.raises(LandingError, match="output format"):
        PartitionWriter(tmp_path, "csv")
    with pytest.raises(LandingError, match="row_group_rows"):
        PartitionWriter(tmp_path, "parquet", row_group_rows=0)
    writer = PartitionWriter(tmp_path, "jsonl")
    writer.commit()
    with pytest.raises(LandingError, match="already committed"):
        writer.commit()


def test_token_names_are_unique_per_run(tmp_path):
    a = PartitionWriter(tmp_path, "jsonl")
    b = PartitionWriter(tmp_path, "jsonl")
    assert a.token != b.token


@pytest.mark.parametrize(("level", "isal"), [(0, False), (1, True), (3, True), (6, False)])
def test_gzip_levels_write_standard_gzip_with_isal_for_the_fast_ones(tmp_path, level, isal):
    manifest = land_pages(pages(3), tmp_path, "jsonl", gzip_level=level)
    part = (tmp_path / manifest["files"][0]["path"]).read_bytes()
    assert [orjson.loads(line) for line in gzip.decompress(part).splitlines()] == all_rows(3)
    again = land_pages(pages(3), tmp_path / "again", "jsonl", gzip_level=level)
    assert (tmp_path / "again" / again["files"][0]["path"]).read_bytes() == part  # deterministic bytes
    writer = PartitionWriter(tmp_path / "probe", "jsonl", gzip_level=level)
    writer.write(all_rows(1))
    assert (type(writer._part.gz).__module__ == "isal.igzip") == isal
    writer.abort()


@pytest.mark.parametrize("level", [-1, 10, 2.5, True, "1"])
def test_bad_gzip_level_is_rejected(tmp_path, level):
    with pytest.raises(LandingError, match="gzip_level must be an integer from 0 to 9"):
        PartitionWriter(tmp_path, "jsonl", gzip_level=level)


# -- JSON Lines pages ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_json_lines_pages_land_like_dict_pages(tmp_path, fmt):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("tags", pa.list_(pa.string()))])
    dict_pages = [[{"id": p * 10 + i, "name": f"n{i}", "tags": ["a"] * i} for i in range(4)] for p in range(3)]
    raw_pages = [JsonLines.from_rows([json.dumps(row).encode() for row in page]) for page in dict_pages]
    from_dicts = land_pages(dict_pages, tmp_path / "dicts", fmt, schema)
    from_lines = land_pages(raw_pages, tmp_path / "lines", fmt, schema)
    assert from_lines["rows"] == from_dicts["rows"] == 12
    assert as_given(iter_landed_rows(tmp_path / "lines")) == as_given(iter_landed_rows(tmp_path / "dicts"))
    if fmt == "jsonl":  # the bytes the API sent, not a re-encoding
        part = tmp_path / "lines" / from_lines["files"][0]["path"]
        assert gzip.decompress(part.read_bytes()).startswith(b'{"id": 0, "name": "n0", "tags": []}\n')


def test_parquet_schema_inferred_from_a_first_json_lines_page(tmp_path):
    page = JsonLines.from_rows([b'{"id": 1, "name": "a"}', b'{"id": 2, "name": null}'])
    manifest = land_pages([page], tmp_path, "parquet")
    assert manifest["rows"] == 2
    assert as_given(iter_landed_rows(tmp_path)) == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]
