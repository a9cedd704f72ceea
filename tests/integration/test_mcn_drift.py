"""Schema drift on the MCN call-log path (rows as dicts), over real HTTP against the MCN emulator: every kind of
drift its fields can take lands in Parquet coerced or rescued exactly as documented, rows = truth; a column past
its limit fails naming it, with the previous copy kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
import pendulum
import pytest

from airflow_provider_comagic.exceptions import SchemaDriftError
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.drift import UNKNOWN_ENUM_VALUE
from airflow_provider_comagic.testing.mcn.emulator import McnEmulator
from airflow_provider_comagic.testing.pytest_plugin import mcn_connection_json
from tests.integration.test_mcn_call_log import FastMcnCallLogOperator

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
DAY, NEXT = dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 3, 2, tzinfo=MSK)
DRIFT = {
    "waittime": ("drift_number_as_string", 0.1),
    "talktime": ("drift_integral_float", 0.1),
    "src_num": ("drift_number_for_string", 0.1),
    "billsec": ("drift_fractional_int", 0.03),
    "has_record": ("drift_text_for_number", 0.03),
    "status": ("drift_unknown_enum", 0.05),
    "line": ("drift_new_field", 0.2),
}
COERCED = {"waittime": "digit string", "talktime": "integral float", "src_num": "integer"}
RESCUED = {"billsec": "float", "has_record": "string", "line": "integer"}


@pytest.fixture
def emu(mcn_emulator_factory: Callable[..., McnEmulator], monkeypatch: pytest.MonkeyPatch) -> McnEmulator:
    emulator = mcn_emulator_factory(calls_per_day=400)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emulator))
    return emulator


def land(path: Any, **options: Any) -> dict[str, Any]:
    op = FastMcnCallLogOperator(task_id="mcn", vpbx_id="7001", output_path=f"file://{path}", **options)
    return op.execute({"data_interval_start": DAY, "data_interval_end": NEXT, "run_id": "drift"})


def by_callid(partition: str) -> dict[str, dict[str, Any]]:
    return {row["callid"]: row for row in iter_landed_rows(partition)}


def sent(row: dict[str, Any], field: str) -> bytes | None:
    return orjson.dumps(row[field]) if field in row else None


def test_every_kind_of_drift_on_the_call_log(emu, tmp_path):
    before = {r["callid"]: r for r in emu.calls("7001", DAY, NEXT)}
    clean = by_callid(land(tmp_path / "clean")["partition"])
    for field, (kind, fraction) in DRIFT.items():
        emu.faults.add(kind, field=field, fraction=fraction, method="call_log")
    after = {r["callid"]: r for r in emu.calls("7001", DAY, NEXT)}
    summary = land(tmp_path / "drifted")
    rows = by_callid(summary["partition"])
    assert sorted(rows) == sorted(clean) == sorted(before) and summary["rows"] == len(before)
    changed = {field: {c for c in after if sent(after[c], field) != sent(before[c], field)} for field in DRIFT}
    assert all(changed.values()), changed
    for callid, row in rows.items():
        rescued = orjson.loads(row["_rescued"]) if row["_rescued"] else {}
        assert rescued == {f: after[callid][f] for f in RESCUED if callid in changed[f]}
        for field, value in row.items():
            if field in RESCUED and callid in changed[field]:
                assert value is None
            elif field == "status" and callid in changed["status"]:
                assert value == UNKNOWN_ENUM_VALUE
            elif field != "_rescued":
                assert value == clean[callid][field], (callid, field)
    records = {(e["column"], e["arrived"]): e for e in read_manifest(summary["partition"])["drift"]["columns"]}
    for field, arrived in COERCED.items():
        assert records[(field, arrived)]["coerced"] == len(changed[field])
    for field, arrived in RESCUED.items():
        assert records[(field, arrived)]["rescued"] == len(changed[field])
    assert records[("status", "unlisted value")]["unlisted"] == len(changed["status"])
    assert set(records[("src_num", "integer")]["example"]) == {"#"}  # the number of a side of a call: masked


def test_a_call_log_column_past_its_limit_fails_and_keeps_the_previous_copy(emu, tmp_path):
    partition = land(tmp_path)["partition"]
    before = read_manifest(partition)
    emu.faults.add("drift_fractional_int", field="talktime", fraction=0.5, method="call_log")
    with pytest.raises(SchemaDriftError, match=r"talktime \(documented int64\).*as float") as failed:
        land(tmp_path, max_rescued_fraction=0.2)
    assert failed.value.column == "talktime"
    assert read_manifest(partition) == before
