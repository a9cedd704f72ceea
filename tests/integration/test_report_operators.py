"""Report operators against the emulator over real HTTP on 127.0.0.1, landing on file:// and on S3 (moto).

Every report method, both formats: the landed rows equal the emulator's truth for the interval.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.comagic.errors import ComagicError, ComagicParameterError
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator, ComagicReportOperator
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.faults import Fault
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.utils.arrow_fields import SOURCE_FORMAT, SOURCE_TIMEZONE

pytestmark = pytest.mark.integration

TZ = "Europe/Moscow"
MSK = pendulum.timezone(TZ)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()  # emulated now: every row below is visible
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
SITE = {"get.campaign_daily_stat": {"site_id": 1001}}  # a method with a required parameter


@pytest.fixture
def emu(comagic_emulator_factory: Callable[..., ComagicEmulator], monkeypatch: pytest.MonkeyPatch) -> ComagicEmulator:
    emulator = comagic_emulator_factory(
        calls_per_day=400, start_time=NOW, frozen_clock=True, rows_per_day={"get.campaign_daily_stat": 60}
    )
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def context(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "run_id": "test"}


def api_range(start: dt.datetime, end: dt.datetime) -> tuple[str, str]:
    return start.strftime("%Y-%m-%d %H:%M:%S"), (end - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")


def land(method: str, start: dt.datetime, end: dt.datetime, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("api_params", SITE.get(method))
    op = ComagicReportOperator(task_id="land", method=method, **kwargs)
    return op.execute(context(start, end))


def canonical(rows: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Rows as sorted canonical JSON: an order-free comparison that also covers keyless methods."""
    return sorted(orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str) for row in rows)


def typed(value: Any, field: pa.Field) -> Any:
    """What Parquet must give back for an API value, by the documented conversions (written independently)."""
    kind = field.type
    if value is None:
        return None
    if pa.types.is_timestamp(kind):
        meta = field.metadata
        wall = dt.datetime.strptime(value, meta[SOURCE_FORMAT].decode())
        return wall.replace(tzinfo=zoneinfo.ZoneInfo(meta[SOURCE_TIMEZONE].decode()))
    if pa.types.is_date32(kind):
        return dt.date.fromisoformat(value)
    if pa.types.is_floating(kind):
        return float(value)
    if pa.types.is_list(kind):
        return [typed(item, kind.value_field) for item in value]
    if pa.types.is_struct(kind):
        return {child.name: typed(value.get(child.name), child) for child in kind}
    if pa.types.is_string(kind) and not isinstance(value, str):
        return orjson.dumps(value).decode()
    return value


def typed_rows(rows: Iterable[Mapping[str, Any]], schema: pa.Schema) -> list[dict[str, Any]]:
    return [{field.name: typed(row.get(field.name), field) for field in schema} for row in rows]


# -- every method, both formats, against the truth ------------------------------------------------------------
@pytest.mark.parametrize("method", report_methods())
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("all_fields", [False, True], ids=["default_fields", "all_fields"])
def test_landed_rows_equal_the_truth(emu, tmp_path, method, fmt, all_fields):
    fields = [f.name for f in get_method(method).fields] if all_fields else None
    end = DAY + dt.timedelta(days=1)
    summary = land(method, DAY, end, output_path=str(tmp_path), output_format=fmt, fields=fields)
    manifest = read_manifest(summary["partition"])
    spec = get_method(method)
    # the default fields, plus the key and time fields the operator always asks for
    expected_fields = fields or [
        *spec.default_fields,
        *(f for f in (*spec.key, spec.time_field) if f not in spec.default_fields),
    ]
    assert manifest["query"]["fields"] == expected_fields
    truth = emu.truth(method, *api_range(DAY, end), fields=expected_fields, **SITE.get(method, {}))
    assert truth, "the emulator should have rows for this day"
    report = method.removeprefix("get.")
    assert summary["partition"] == f"file://{tmp_path}/{report}/date=2024-03-01"
    assert summary["rows"] == len(truth)
    landed = list(iter_landed_rows(summary["partition"]))
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)  # exactly the API's rows, values and all
    else:
        schema = manifest_schema(manifest)
        assert canonical(landed) == canonical(typed_rows(truth, schema))
    keys = get_method(method).key
    if keys:
        ids = [tuple(row[k] for k in keys) for row in landed]
        assert len(ids) == len(set(ids))


def test_manifest_and_xcom_summary(emu, tmp_path):
    end = DAY + dt.timedelta(days=1)
    summary = land("get.calls_report", DAY, end, output_path=str(tmp_path), output_format="parquet")
    assert set(summary) == {
        "manifest",
        "partition",
        "rows",
        "files",
        "bytes",
        "api_calls",
        "points",
        "date_from",
        "date_till",
        "partition_key",
        "replaced",
    }
    assert summary["partition_key"] == DAY.date().isoformat() and summary["replaced"] is False
    assert len(json.dumps(summary)) < 1000
    manifest = read_manifest(summary["manifest"])
    assert manifest["method"] == "get.calls_report" and manifest["format"] == "parquet"
    assert manifest["interval"] == {"start": DAY.isoformat(), "end": end.isoformat(), "timezone": TZ}
    assert (manifest["api"]["date_from"], manifest["api"]["date_till"]) == (
        "2024-03-01 00:00:00",
        "2024-03-01 23:59:59",
    )
    assert manifest["api"]["calls"] == summary["api_calls"] == emu.stats.successes["get.calls_report"]
    assert manifest["api"]["points"] == summary["points"] >= 1
    assert manifest["plan"]["rows"] == manifest["rows"] == summary["rows"]
    assert manifest["producer"]["package"] == "airflow-provider-comagic"
    assert manifest["schema"]["fields"][0] == {"name": "id", "type": "int64", "nullable": True}
    assert manifest["airflow"] == {"run_id": "test"}
    assert summary["manifest"].endswith(MANIFEST_NAME)


# -- interval semantics ---------------------------------------------------------------------------------------
def test_adjacent_intervals_share_no_row_and_miss_none(emu, tmp_path):
    edges = ["2024-03-01 00:00:00", "2024-03-01 23:59:59", "2024-03-02 00:00:00", "2024-03-02 23:59:59"]
    emu.add_rows("get.calls_report", [{"start_time": t} for t in edges])
    day2, day3 = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    first = land("get.calls_report", DAY, day2, output_path=str(tmp_path), output_format="jsonl")
    second = land("get.calls_report", day2, day3, output_path=str(tmp_path), output_format="jsonl")
    ids1 = {row["id"] for row in iter_landed_rows(first["partition"])}
    ids2 = {row["id"] for row in iter_landed_rows(second["partition"])}
    assert not ids1 & ids2
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-02 23:59:59")
    assert ids1 | ids2 == {row["id"] for row in truth}
    times1 = {row["start_time"] for row in iter_landed_rows(first["partition"])}
    assert {"2024-03-01 00:00:00", "2024-03-01 23:59:59"} <= times1 and "2024-03-02 00:00:00" not in times1


def test_explicit_dates_and_non_day_layout(emu, tmp_path):
    op = ComagicCallsReportOperator(
        task_id="t",
        output_path=str(tmp_path),
        output_format="jsonl",
        date_from="2024-03-01 06:00:00",
        date_till="2024-03-01T09:00:00+03:00",
    )
    summary = op.execute({})  # a manual run: no data interval in the context
    assert summary["partition"].endswith("calls_report/interval=20240301T060000_20240301T090000")
    truth = emu.truth("get.calls_report", "2024-03-01 06:00:00", "2024-03-01 08:59:59")
    assert canonical(iter_landed_rows(summary["partition"])) == canonical(truth)


def test_filter_and_method_flags_pass_through(emu, tmp_path):
    end = DAY + dt.timedelta(days=1)
    flt = {"field": "direction", "operator": "=", "value": "in"}
    summary = land(
        "get.calls_report",
        DAY,
        end,
        output_path=str(tmp_path),
        output_format="jsonl",
        filter=flt,
        api_params={"include_ongoing_calls": True},
    )
    truth = emu.truth("get.calls_report", *api_range(DAY, end), filter=flt, include_ongoing_calls=True)
    landed = list(iter_landed_rows(summary["partition"]))
    assert canonical(landed) == canonical(truth) and {row["direction"] for row in landed} == {"in"}


# -- atomicity and reruns -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_rerun_is_idempotent_and_picks_up_changes(emu, tmp_path, fmt):
    end = DAY + dt.timedelta(days=1)
    kwargs = {"output_path": str(tmp_path), "output_format": fmt, "page_size": 100, "max_rows_per_file": 150}
    first = land("get.calls_report", DAY, end, **kwargs)
    emu.add_rows("get.calls_report", count=7, date_from="2024-03-01 10:00:00", date_till="2024-03-01 11:00:00")
    second = land("get.calls_report", DAY, end, **kwargs)
    assert second["rows"] == first["rows"] + 7
    manifest = read_manifest(second["partition"])
    partition_dir = tmp_path / "calls_report" / "date=2024-03-01"
    assert sorted(os.listdir(partition_dir)) == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])
    truth = emu.truth("get.calls_report", *api_range(DAY, end))
    assert len(list(iter_landed_rows(second["partition"]))) == len(truth) == second["rows"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_failure_mid_run_leaves_the_previous_commit_and_no_new_manifest(emu, tmp_path, fmt):
    end = DAY + dt.timedelta(days=1)
    kwargs = {"output_path": str(tmp_path), "output_format": fmt, "page_size": 50, "max_rows_per_file": 100}
    first = land("get.calls_report", DAY, end, **kwargs)
    partition_dir = tmp_path / "calls_report" / "date=2024-03-01"
    before = sorted(os.listdir(partition_dir))
    manifest_bytes = (partition_dir / MANIFEST_NAME).read_bytes()
    emu.add_rows("get.calls_report", count=3, date_from="2024-03-01 10:00:00", date_till="2024-03-01 11:00:00")
    emu.stats.reset()
    emu.faults.add(Fault("revoke_token", method="get.calls_report", calls={4}))  # dies after 3 pages
    with pytest.raises(ComagicError):
        land("get.calls_report", DAY, end, **kwargs)
    assert emu.stats.successes["get.calls_report"] == 3
    assert (partition_dir / MANIFEST_NAME).read_bytes() == manifest_bytes
    assert sorted(os.listdir(partition_dir)) == before
    assert len(list(iter_landed_rows(first["partition"]))) == first["rows"]


def test_failure_of_the_first_run_leaves_no_manifest(emu, tmp_path):
    emu.faults.add(Fault("revoke_token", method="get.calls_report", calls={2}))
    with pytest.raises(ComagicError):
        land("get.calls_report", DAY, DAY + dt.timedelta(days=1), output_path=str(tmp_path), page_size=100)
    partition_dir = tmp_path / "calls_report" / "date=2024-03-01"
    assert read_manifest(str(partition_dir)) is None
    assert os.listdir(partition_dir) == []


# -- paging inside one task -----------------------------------------------------------------------------------
def test_three_month_windows_inside_one_task(emu, tmp_path):
    start, end = dt.datetime(2024, 1, 1, tzinfo=MSK), dt.datetime(2024, 8, 1, tzinfo=MSK)
    summary = land("get.offline_messages_report", start, end, output_path=str(tmp_path), output_format="parquet")
    manifest = read_manifest(summary["partition"])
    assert manifest["plan"]["windows"] == 3
    assert summary["partition"].endswith("offline_messages_report/interval=20240101T000000_20240801T000000")
    truth = []
    for a, b in [("2024-01-01", "2024-03-31"), ("2024-04-01", "2024-06-30"), ("2024-07-01", "2024-07-31")]:
        truth += emu.truth("get.offline_messages_report", f"{a} 00:00:00", f"{b} 23:59:59")
    assert summary["rows"] == len(truth) > 0
    ids = [row["id"] for row in iter_landed_rows(summary["partition"])]
    assert sorted(ids) == sorted(row["id"] for row in truth) and len(set(ids)) == len(ids)


def test_offset_cap_continuation_at_the_real_page_size(comagic_emulator_factory, monkeypatch, tmp_path):
    fmt = "parquet"  # the format is irrelevant to paging; one run of ~10 s is enough
    emu = comagic_emulator_factory(start_time=NOW, frozen_clock=True, rows_per_day={"get.calls_report": 115_000})
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    end = DAY + dt.timedelta(days=1)
    summary = land("get.calls_report", DAY, end, output_path=str(tmp_path), output_format=fmt)
    manifest = read_manifest(summary["partition"])
    assert summary["rows"] == 115_000
    assert manifest["plan"]["continuations"] >= 1  # more rows than offset paging reaches in one query
    assert summary["api_calls"] <= 14  # ~ceil(115 000 / 10 000) + the continuation's first page
    ids = [row["id"] for row in iter_landed_rows(summary["partition"])]
    truth_ids = [row["id"] for row in emu.truth("get.calls_report", *api_range(DAY, end), fields=["id"])]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(truth_ids)


def test_invalid_field_names_are_rejected_before_any_call(emu, tmp_path):
    with pytest.raises(ComagicParameterError, match="unknown field 'talk_time'; allowed fields: id, start_time"):
        ComagicCallsReportOperator(task_id="t", output_path=str(tmp_path), fields=["id", "talk_time"])
    assert emu.stats.requests == 0


# -- S3 through an aws connection -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_s3_landing_rerun_and_failure(emu, s3_server, s3_conn, s3_bucket, fmt):
    end = DAY + dt.timedelta(days=1)
    kwargs = {
        "output_path": f"s3://{s3_bucket}/comagic",
        "output_conn_id": s3_conn,
        "output_format": fmt,
        "page_size": 100,
        "max_rows_per_file": 150,
    }
    first = land("get.calls_report", DAY, end, **kwargs)
    assert first["partition"] == f"s3://{s3_conn}@{s3_bucket}/comagic/calls_report/date=2024-03-01"
    truth = emu.truth("get.calls_report", *api_range(DAY, end))
    landed = list(iter_landed_rows(first["partition"]))
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)
    else:
        schema = manifest_schema(read_manifest(first["partition"]))
        assert canonical(landed) == canonical(typed_rows(truth, schema))

    client = s3_server.client()
    prefix = "comagic/calls_report/date=2024-03-01/"

    def keys() -> list[str]:
        listing = client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)
        return sorted(obj["Key"].removeprefix(prefix) for obj in listing.get("Contents", []))

    def manifest_body() -> bytes:
        return client.get_object(Bucket=s3_bucket, Key=prefix + MANIFEST_NAME)["Body"].read()

    second = land("get.calls_report", DAY, end, **kwargs)
    manifest = read_manifest(second["partition"])
    assert keys() == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])
    assert len(manifest["files"]) >= 2  # rolled over

    before, body = keys(), manifest_body()
    emu.faults.add(Fault("revoke_token", method="get.calls_report", calls={3}))
    with pytest.raises(ComagicError):
        land("get.calls_report", DAY, end, **kwargs)
    assert manifest_body() == body
    assert keys() == before
