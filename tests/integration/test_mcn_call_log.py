"""McnCallLogOperator and McnTelecomHook against the MCN emulator over real HTTP on 127.0.0.1.

Landed rows equal the emulator's truth (JSON Lines and Parquet), adjacent intervals never share a call, reruns
leave one copy, transient faults are retried, a rejected token fails clearly, and the unified output of both
vendors has one schema.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Callable
from typing import Any

import orjson
import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.landing.guard import with_rescued_column
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.mcn.call_log import CALL_LOG_FIELDS, CALL_TYPES, STATUSES
from airflow_provider_comagic.mcn.errors import (
    McnApiError,
    McnAuthError,
    McnNotFoundError,
    McnParameterError,
    McnPermissionError,
    McnTransportError,
)
from airflow_provider_comagic.operators.mcn import McnCallLogOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.mcn.emulator import McnEmulator
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.unified.mcn import mcn_to_unified
from airflow_provider_comagic.unified.schema import UNIFIED_SCHEMA

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
ZONE = zoneinfo.ZoneInfo("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
NEXT = DAY + dt.timedelta(days=1)


class FastMcnCallLogOperator(McnCallLogOperator):
    """Retries without real sleeping (the backoff policy itself is unit-tested)."""

    def get_hook(self) -> McnTelecomHook:
        return McnTelecomHook(self.mcn_conn_id, sleep=lambda s: None)


@pytest.fixture
def emu(mcn_emulator_factory: Callable[..., McnEmulator], monkeypatch: pytest.MonkeyPatch) -> McnEmulator:
    emulator = mcn_emulator_factory(calls_per_day=60)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emulator))
    return emulator


def land(start: dt.datetime, end: dt.datetime, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("vpbx_id", "7001")
    op = FastMcnCallLogOperator(task_id="mcn", **kwargs)
    return op.execute({"data_interval_start": start, "data_interval_end": end, "run_id": "test"})


def canonical(rows: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str) for row in rows)


def typed(row: dict[str, Any]) -> dict[str, Any]:
    """What Parquet must give back for an API row (written independently of normalize_row)."""
    out = dict(row)
    out["date"] = dt.datetime.strptime(row["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZONE)
    out["_rescued"] = None  # nothing drifted
    return out


# -- truth ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_landed_rows_equal_the_truth(emu, tmp_path, fmt):
    summary = land(DAY, NEXT, output_path=str(tmp_path), output_format=fmt)
    truth = emu.calls("7001", DAY, NEXT)
    assert len(truth) == 60
    partition = f"file://{tmp_path}/mcn_call_log/vpbx_id=7001/date=2024-03-01"
    assert summary["partition"] == partition and summary["manifest"] == f"{partition}/{MANIFEST_NAME}"
    assert summary["rows"] == 60 and summary["date_from"] == summary["date_to"] == "2024-03-01"
    landed = list(iter_landed_rows(partition))
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)  # exactly the API's rows
    else:
        assert canonical(landed) == canonical([typed(r) for r in truth])
        assert manifest_schema(read_manifest(partition)).names == [*CALL_LOG_FIELDS, "_rescued"]
    manifest = read_manifest(partition)
    assert manifest["vendor"] == "mcn" and manifest["account_id"] == "100500" and manifest["vpbx_id"] == "7001"
    assert manifest["interval"] == {"start": DAY.isoformat(), "end": NEXT.isoformat(), "timezone": "Europe/Moscow"}
    assert manifest["api"]["chunks"] == [{"date_from": "2024-03-01", "date_to": "2024-03-01"}]
    assert manifest["api"]["requests"] == 1 and manifest["airflow"] == {"run_id": "test"}


def test_a_day_shows_every_value_of_the_seed(emu, tmp_path):
    summary = land(DAY, NEXT, output_path=str(tmp_path), output_format="jsonl")
    rows = list(iter_landed_rows(summary["partition"]))
    assert {r["type"] for r in rows} == set(CALL_TYPES)
    assert {r["status"] for r in rows} == set(STATUSES)
    assert {r["src_type"] for r in rows} == {"PSTN", "Phone", "callback"}
    assert {r["dst_type"] for r in rows} == {"PSNT", "phone", "queue", "callback"}
    assert {r["has_record"] for r in rows} == {0, 1}


def test_long_interval_is_read_in_date_chunks(emu, tmp_path):
    start, end = DAY, DAY + dt.timedelta(days=10)
    summary = land(start, end, output_path=str(tmp_path), output_format="parquet", chunk_days=3)
    assert summary["partition"].endswith("/mcn_call_log/vpbx_id=7001/interval=20240301T000000_20240311T000000")
    assert summary["api_calls"] == 4 and emu.stats["call_log"] == 4
    assert summary["rows"] == 600
    landed = list(iter_landed_rows(summary["partition"]))
    assert canonical(landed) == canonical([typed(r) for r in emu.calls("7001", start, end)])


def test_chunks_longer_than_the_api_allows_fail_clearly(mcn_emulator_factory, monkeypatch, tmp_path):
    emulator = mcn_emulator_factory(max_days=5)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emulator))
    with pytest.raises(McnApiError, match="unexpected HTTP 400"):
        land(DAY, DAY + dt.timedelta(days=10), output_path=str(tmp_path), chunk_days=7)
    assert (
        read_manifest(tmp_path / "mcn_call_log" / "vpbx_id=7001" / "interval=20240301T000000_20240311T000000") is None
    )
    summary = land(DAY, DAY + dt.timedelta(days=10), output_path=str(tmp_path), chunk_days=5)
    assert summary["rows"] == 400


def test_bare_list_envelope(mcn_emulator_factory, monkeypatch, tmp_path):
    emulator = mcn_emulator_factory(envelope="list", calls_per_day=10)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emulator))
    summary = land(DAY, NEXT, output_path=str(tmp_path), output_format="jsonl", vpbx_id=None)
    assert summary["rows"] == 20 and [p["vpbx_id"] for p in summary["partitions"]] == ["7001", "7002"]


# -- intervals -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_adjacent_intervals_have_no_duplicates_or_gaps(emu, tmp_path, fmt):
    cuts = [DAY, DAY + dt.timedelta(hours=13, minutes=30), NEXT, NEXT + dt.timedelta(days=2)]
    ids: list[str] = []
    for start, end in itertools.pairwise(cuts):
        summary = land(start, end, output_path=str(tmp_path), output_format=fmt)
        ids += [r["callid"] for r in iter_landed_rows(summary["partition"])]
    truth = emu.calls("7001", cuts[0], cuts[-1])
    assert len(ids) == len(set(ids)) == len(truth)
    assert set(ids) == {r["callid"] for r in truth}
    midnight = [r["callid"] for r in truth if r["date"] == "2024-03-02 00:00:00"]
    assert midnight and midnight[0] in ids  # the 00:00:00 call is in [Mar 2, ...), not in the day before


def test_explicit_dates_instead_of_the_data_interval(emu, tmp_path):
    op = FastMcnCallLogOperator(
        task_id="mcn", output_path=str(tmp_path), vpbx_id=7002, date_from="2024-03-01", date_till="2024-03-02"
    )
    summary = op.execute({})
    assert summary["partition"].endswith("/mcn_call_log/vpbx_id=7002/date=2024-03-01")
    assert summary["rows"] == len(emu.calls("7002", DAY, NEXT))


def test_missing_interval_is_a_clear_error(emu, tmp_path):
    with pytest.raises(McnParameterError, match="no data interval"):
        FastMcnCallLogOperator(task_id="mcn", output_path=str(tmp_path)).execute({})


# -- idempotency ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_rerun_replaces_the_partition(emu, tmp_path, fmt):
    end = DAY + dt.timedelta(days=3)
    options = {"output_path": str(tmp_path), "output_format": fmt, "max_rows_per_file": 25, "chunk_days": 1}
    first = land(DAY, end, **options)
    second = land(DAY, end, **options)
    manifest = read_manifest(second["partition"])
    assert first["partition"] == second["partition"] and manifest["rows"] == 180
    assert len(manifest["files"]) == 3  # one part per page (day) at 25 rows per file
    folder = tmp_path / "mcn_call_log" / "vpbx_id=7001" / "interval=20240301T000000_20240304T000000"
    on_disk = sorted(p.name for p in folder.iterdir())
    assert on_disk == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])
    ids = [r["callid"] for r in iter_landed_rows(second["partition"])]
    assert len(ids) == len(set(ids)) == 180


# -- vPBXs ---------------------------------------------------------------------------------------------------------
def test_list_vpbx(emu):
    hook = McnTelecomHook()
    assert [v["vpbx_id"] for v in hook.list_vpbx()] == [7001, 7002]
    emu.set_active(["7002"])
    assert [v["vpbx_id"] for v in hook.list_vpbx("100500")] == [7002]


def test_every_active_vpbx_gets_its_partition(emu, tmp_path):
    summary = land(DAY, NEXT, output_path=str(tmp_path), output_format="parquet", vpbx_id=None)
    assert [p["vpbx_id"] for p in summary["partitions"]] == ["7001", "7002"]
    assert "partition" not in summary and summary["rows"] == 120
    for entry in summary["partitions"]:
        assert entry["partition"].endswith(f"/mcn_call_log/vpbx_id={entry['vpbx_id']}/date=2024-03-01")
        assert entry["rows"] == len(emu.calls(entry["vpbx_id"], DAY, NEXT))
    emu.set_active(["7002"])
    summary = land(DAY, NEXT, output_path=str(tmp_path), vpbx_id=None)
    assert [p["vpbx_id"] for p in summary["partitions"]] == ["7002"]


def test_vpbx_list_from_a_rendered_template(emu, tmp_path):
    summary = land(DAY, NEXT, output_path=str(tmp_path), vpbx_id="[7002, 7001]")
    assert [p["vpbx_id"] for p in summary["partitions"]] == ["7002", "7001"]


def test_partition_template_must_separate_vpbxs(emu, tmp_path):
    with pytest.raises(McnParameterError, match=r"\{report\}"):
        land(DAY, NEXT, output_path=str(tmp_path), vpbx_id=None, partition_template="calls/{date}")
    summary = land(
        DAY, NEXT, output_path=str(tmp_path), vpbx_id=None, partition_template="{report}/d={year}{month}{day}"
    )
    assert summary["partitions"][1]["partition"].endswith("/mcn_call_log/vpbx_id=7002/d=20240301")


def test_unknown_vpbx_names_the_ids(emu, tmp_path):
    with pytest.raises(McnNotFoundError, match=r"HTTP 404.*vpbx_id='9999'"):
        land(DAY, NEXT, output_path=str(tmp_path), vpbx_id="9999")


# -- faults and auth -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503", "http_429", "drop", "truncate"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_transient_faults_are_retried(emu, tmp_path, kind, fmt):
    emu.faults.add(kind, calls={1, 3}, method="call_log", retry_after=0)
    start, end = DAY, DAY + dt.timedelta(days=3)
    summary = land(start, end, output_path=str(tmp_path), output_format=fmt, chunk_days=1)
    assert emu.stats[f"fault_{kind}"] == 2
    # HTTP faults and drops never reach the API; a truncated answer was computed, then cut
    assert emu.stats["call_log"] == (5 if kind == "truncate" else 3)
    landed = [r["callid"] for r in iter_landed_rows(summary["partition"])]
    assert sorted(landed) == sorted(r["callid"] for r in emu.calls("7001", start, end))
    manifest = read_manifest(summary["partition"])
    assert manifest["api"]["calls"] == 3 and manifest["api"]["requests"] == 5


def test_faults_beyond_the_retry_budget_fail_without_a_manifest(emu, tmp_path, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MCN_TELECOM_DEFAULT",
        mcn_connection_json(emu).replace('"timezone"', '"max_retries": 1, "timezone"'),
    )
    emu.faults.add("http_503", method="call_log")
    with pytest.raises(McnTransportError, match="HTTP 503"):
        land(DAY, NEXT, output_path=str(tmp_path))
    assert read_manifest(tmp_path / "mcn_call_log" / "vpbx_id=7001" / "date=2024-03-01") is None
    assert emu.stats["fault_http_503"] == 2


def test_revoked_token_is_a_clear_error_and_keeps_the_previous_copy(emu, tmp_path):
    first = land(DAY, NEXT, output_path=str(tmp_path))
    emu.revoke_token()
    with pytest.raises(McnAuthError, match=r"HTTP 401.*token was rejected") as info:
        land(DAY, NEXT, output_path=str(tmp_path))
    assert emu.token not in str(info.value)
    assert emu.stats["http_401"] == 1  # not retried
    assert read_manifest(first["partition"])["run_token"]  # the committed copy is untouched
    assert len(list(iter_landed_rows(first["partition"]))) == 60


def test_wrong_account_is_forbidden(emu, tmp_path):
    with pytest.raises(McnPermissionError, match=r"HTTP 403.*account 42"):
        land(DAY, NEXT, output_path=str(tmp_path), account_id=42)


# -- the unified table ---------------------------------------------------------------------------------------------
@pytest.fixture
def comagic(comagic_emulator_factory: Callable[..., ComagicEmulator], monkeypatch: pytest.MonkeyPatch):
    now = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    emulator = comagic_emulator_factory(calls_per_day=80, start_time=now, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def land_both(tmp_path, fmt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    context = {"data_interval_start": DAY, "data_interval_end": NEXT}
    comagic = ComagicCallsReportOperator(
        task_id="comagic", output_path=str(tmp_path), output_format=fmt, output_schema="unified"
    ).execute(context)
    mcn = land(DAY, NEXT, output_path=str(tmp_path), output_format=fmt, output_schema="unified")
    return comagic, mcn


def test_unified_parquet_of_both_vendors_unions(emu, comagic, tmp_path):
    from_comagic, from_mcn = land_both(tmp_path, "parquet")
    assert from_comagic["partition"] == f"file://{tmp_path}/unified_calls/comagic/date=2024-03-01"
    assert from_mcn["partition"] == f"file://{tmp_path}/unified_calls/mcn/vpbx_id=7001/date=2024-03-01"
    schemas = [manifest_schema(read_manifest(s["partition"])) for s in (from_comagic, from_mcn)]
    landed_schema = with_rescued_column(UNIFIED_SCHEMA)  # every typed partition has the rescue column
    assert schemas[0].equals(schemas[1], check_metadata=True) and schemas[0].equals(landed_schema)
    tables = [
        pa.Table.from_pylist(list(iter_landed_rows(s["partition"])), schema=landed_schema)
        for s in (from_comagic, from_mcn)
    ]
    both = pa.concat_tables(tables)
    assert both.num_rows == 80 + 60
    assert both.column("vendor").value_counts().to_pylist() == [
        {"values": "comagic", "counts": 80},
        {"values": "mcn", "counts": 60},
    ]
    keys = list(zip(*(both.column(c).to_pylist() for c in ("vendor", "pbx_id", "call_id")), strict=True))
    assert len(set(keys)) == len(keys)
    assert set(both.column("outcome").to_pylist()) >= {"answered", "busy", "no_answer", "lost", "failed"}
    assert set(both.column("direction").to_pylist()) == {"in", "out", "internal"}
    day_utc = (DAY.astimezone(dt.timezone.utc), NEXT.astimezone(dt.timezone.utc))
    assert all(day_utc[0] <= t < day_utc[1] for t in both.column("start_time_utc").to_pylist())


def test_unified_jsonl_rows_are_the_mapping_of_the_truth(emu, comagic, tmp_path):
    from_comagic, from_mcn = land_both(tmp_path, "jsonl")
    mcn_rows = list(iter_landed_rows(from_mcn["partition"]))
    expected = mcn_to_unified(emu.calls("7001", DAY, NEXT), MSK, account_id="100500", vpbx_id="7001")
    assert canonical(mcn_rows) == canonical(expected)
    comagic_rows = list(iter_landed_rows(from_comagic["partition"]))
    assert len(comagic_rows) == 80
    assert {tuple(r) for r in mcn_rows + comagic_rows} == {tuple(UNIFIED_SCHEMA.names)}
    assert read_manifest(from_comagic["partition"])["output_schema"] == "unified"
    assert read_manifest(from_mcn["partition"])["output_schema"] == "unified"
