"""Schema drift on the report path, over real HTTP against the emulator: every kind of drift fault lands in
Parquet exactly as the docs' rules say (coerced values equal the undrifted landing, rescued ones are null with
their value as sent in ``_rescued``), the record reaches the manifest, the XCom/asset entry, OpenLineage and the
log, the limits and policies fail the task naming the column with the previous copy kept, and JSON Lines stays
byte for byte what the API sent."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from collections.abc import Callable
from typing import Any

import orjson
import pendulum
import pytest

from airflow_provider_comagic.exceptions import PermanentError, SchemaDriftError
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.drift import UNKNOWN_ENUM_VALUE
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AirflowFailException

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
DAY, NEXT = dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 3, 2, tzinfo=MSK)
API_DAY = ("2024-03-01 00:00:00", "2024-03-01 23:59:59")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
FIELDS = [
    *("id", "start_time", "talk_duration", "wait_duration", "total_duration", "clean_talk_duration"),
    *("is_lost", "is_transfer", "contact_phone_number", "direction", "tags", "campaign_id"),
]
# field -> (drift kind, fraction of rows): each kind on its own field, rescues below the 5 % default limit
DRIFT = {
    "talk_duration": ("drift_number_as_string", 0.1),
    "is_lost": ("drift_bool_as_int", 0.1),
    "is_transfer": ("drift_bool_as_string", 0.1),
    "wait_duration": ("drift_integral_float", 0.1),
    "contact_phone_number": ("drift_number_for_string", 0.1),
    "tags": ("drift_object_for_array", 0.3),
    "total_duration": ("drift_fractional_int", 0.03),
    "clean_talk_duration": ("drift_text_for_number", 0.03),
    "direction": ("drift_unknown_enum", 0.05),
    "surprise": ("drift_new_field", 0.04),
}
COERCED = {
    "talk_duration": "digit string",
    "is_lost": "integer 0/1",
    "is_transfer": "boolean string",
    "wait_duration": "integral float",
    "contact_phone_number": "integer",
    "tags": "lone object",
}
RESCUED = {"total_duration": "float", "clean_talk_duration": "string", "surprise": "integer"}


@pytest.fixture
def emu(comagic_emulator_factory: Callable[..., ComagicEmulator], monkeypatch: pytest.MonkeyPatch) -> ComagicEmulator:
    emulator = comagic_emulator_factory(calls_per_day=600, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def add_drift(emu: ComagicEmulator, drift: dict[str, tuple[str, float]] = DRIFT) -> None:
    for field, (kind, fraction) in drift.items():
        emu.faults.add(kind, field=field, fraction=fraction, method="get.calls_report")


def land(path: Any, **options: Any) -> tuple[ComagicCallsReportOperator, dict[str, Any]]:
    options.setdefault("output_format", "parquet")
    op = ComagicCallsReportOperator(task_id="calls", output_path=f"file://{path}", fields=FIELDS, **options)
    return op, op.execute({"data_interval_start": DAY, "data_interval_end": NEXT, "run_id": "drift"})


def by_id(partition: str) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in iter_landed_rows(partition)}


def sent(row: dict[str, Any], field: str) -> bytes | None:
    """A field's value as JSON text (``0`` is not ``false``, ``23.0`` not ``23``), None when the row lacks it."""
    return orjson.dumps(row[field]) if field in row else None


def drift_records(manifest: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["column"], e["arrived"]): e for e in manifest["drift"]["columns"]}


def test_every_kind_of_drift_lands_each_row_typed_or_rescued(emu, tmp_path, caplog):
    before = {r["id"]: r for r in emu.truth("get.calls_report", *API_DAY, fields=FIELDS)}
    _, clean = land(tmp_path / "clean")
    add_drift(emu)
    after = {r["id"]: r for r in emu.truth("get.calls_report", *API_DAY, fields=FIELDS)}
    with caplog.at_level(logging.WARNING, logger="airflow_provider_comagic.landing.drift"):
        op, summary = land(tmp_path / "drifted")
    clean_rows, rows = by_id(clean["partition"]), by_id(summary["partition"])
    assert sorted(rows) == sorted(clean_rows) == sorted(before) and summary["rows"] == len(before)  # rows = truth
    changed = {field: {i for i in after if sent(after[i], field) != sent(before[i], field)} for field in DRIFT}
    assert all(changed.values()), changed
    for i, row in rows.items():
        rescued = orjson.loads(row["_rescued"]) if row["_rescued"] else {}
        expected_rescue = {f: after[i][f] for f in RESCUED if i in changed[f]}
        assert rescued == expected_rescue, (i, row["_rescued"])
        for field in FIELDS:
            if field in RESCUED and i in changed[field]:
                assert row[field] is None
            elif field == "tags" and i in changed["tags"]:  # the lone object sent (the list's first), as a list
                assert row["tags"] == clean_rows[i]["tags"][:1] and len(clean_rows[i]["tags"]) >= 1
            elif field == "direction" and i in changed["direction"]:
                assert row["direction"] == UNKNOWN_ENUM_VALUE
            else:  # coerced losslessly, or untouched: what the undrifted landing holds
                assert row[field] == clean_rows[i][field], (i, field)
    records = drift_records(read_manifest(summary["partition"]))
    for field, arrived in COERCED.items():
        assert (
            records[(field, arrived)]["coerced"] == len(changed[field]) and "rescued" not in records[(field, arrived)]
        )
    for field, arrived in RESCUED.items():
        assert records[(field, arrived)]["rescued"] == len(changed[field])
    assert records[("surprise", "integer")]["documented"] == "not documented"
    assert records[("direction", "unlisted value")]["unlisted"] == len(changed["direction"])
    assert records[("contact_phone_number", "integer")]["example"].strip("#") == ""  # a phone number: masked
    assert read_manifest(summary["partition"])["drift"]["rescued_rows"] == sum(
        1 for r in rows.values() if r["_rescued"]
    )
    assert summary["drift"]["columns"] == read_manifest(summary["partition"])["drift"]["columns"]  # XCom, asset event
    assert "drift" not in clean  # nothing drifted: nothing in the entry
    logged = [r.getMessage() for r in caplog.records if "Schema drift in" in r.getMessage()]
    assert len(logged) == len({column for column, _ in records})  # one line per column
    assert any("talk_duration (documented int64)" in line and "digit string" in line for line in logged)
    facets = op.get_openlineage_facets_on_complete(None).outputs[0].facets
    assert facets["comagic_schemaDrift"].columns == read_manifest(summary["partition"])["drift"]["columns"]


def test_json_lines_stay_exactly_what_the_api_sent(emu, tmp_path):
    add_drift(emu)
    _, summary = land(tmp_path, output_format="jsonl")
    manifest = read_manifest(summary["partition"])
    landed = b"".join(
        gzip.decompress((tmp_path / "calls_report" / "date=2024-03-01" / f["path"]).read_bytes())
        for f in manifest["files"]
    )
    sent = emu.truth("get.calls_report", *API_DAY, fields=FIELDS)
    assert sorted(landed.splitlines()) == sorted(orjson.dumps(row) for row in sent)
    assert "drift" not in manifest  # JSON Lines types nothing: nothing is judged at landing


def test_a_column_past_its_limit_fails_naming_it_and_the_partition_keeps_its_copy(emu, tmp_path):
    _, first = land(tmp_path)
    manifest_before = read_manifest(first["partition"])
    emu.faults.add("drift_text_for_number", field="talk_duration", fraction=0.3)
    with pytest.raises(SchemaDriftError) as failed:
        land(tmp_path)
    message = str(failed.value)
    assert failed.value.column == "talk_duration"
    assert "talk_duration (documented int64)" in message and "as string (e.g. 'n/a')" in message
    assert "max_rescued_fraction=0.05" in message
    assert isinstance(failed.value, PermanentError) and isinstance(failed.value, AirflowFailException)  # no retries
    assert read_manifest(first["partition"]) == manifest_before  # nothing committed: the previous copy stays
    _, relaxed = land(tmp_path, max_rescued_fraction={"talk_duration": 1.0})  # the way out the message names
    records = drift_records(read_manifest(relaxed["partition"]))
    assert records[("talk_duration", "string")]["rescued"] > 0.2 * relaxed["rows"]


@pytest.mark.parametrize(
    ("policy", "kind", "lands"),
    [
        ("fail", "drift_number_as_string", False),  # coercible, but not as documented
        ("coerce_only", "drift_number_as_string", True),
        ("coerce_only", "drift_fractional_int", False),
        ("coerce_only", "drift_new_field", False),
    ],
)
def test_policies(emu, tmp_path, policy, kind, lands):
    field = "surprise" if kind == "drift_new_field" else "talk_duration"
    emu.faults.add(kind, field=field, fraction=0.02)
    if lands:
        _, summary = land(tmp_path, on_type_mismatch=policy)
        assert all(row["_rescued"] is None for row in iter_landed_rows(summary["partition"]))
        return
    with pytest.raises(SchemaDriftError, match=f"{field}.*on_type_mismatch={policy!r}") as failed:
        land(tmp_path, on_type_mismatch=policy)
    assert failed.value.column == field
    assert read_manifest(tmp_path / "calls_report" / "date=2024-03-01") is None


def test_schema_evolution_adds_a_new_field_as_a_string_column(emu, tmp_path):
    emu.faults.add("drift_new_field", field="surprise", fraction=0.5)
    after = {r["id"]: r for r in emu.truth("get.calls_report", *API_DAY, fields=FIELDS)}
    _, summary = land(tmp_path, schema_evolution=True)
    manifest = read_manifest(summary["partition"])
    assert manifest_schema(manifest).names == [*FIELDS, "surprise", "_rescued"]
    rows = by_id(summary["partition"])
    for i, row in rows.items():
        assert row["surprise"] == (str(after[i]["surprise"]) if "surprise" in after[i] else None)
        assert row["_rescued"] is None
    assert drift_records(manifest)[("surprise", "integer")]["added"] == sum("surprise" in r for r in after.values())
