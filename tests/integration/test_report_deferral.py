"""Deferrable quota waits against the emulator: a quota spent mid-report defers with plain-JSON state, the
trigger fires after the emulator's reset, and the resumed task lands exactly the truth without refetching."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os

import pytest

from airflow_provider_comagic.comagic.errors import ComagicDayLimitExceededError
from airflow_provider_comagic.landing import checkpoint as resume
from airflow_provider_comagic.landing.commit import repair_partition, staged_name
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.storage import store_for, to_storage_path
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.triggers import quota as quota_trigger
from airflow_provider_comagic.triggers.quota import ComagicQuotaResetTrigger
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS, TaskDeferred
from tests.fixtures.airflow_compat import OutletEventAccessors, event_extra, partition_events
from tests.integration.test_report_operators import DAY, api_range, canonical, context, emu  # noqa: F401

pytestmark = pytest.mark.integration

END = DAY + dt.timedelta(days=1)
PAGE = 50  # 400 rows a day (the emu fixture): 8 pages


def operator(tmp_path, **kwargs):
    kwargs.setdefault("output_format", "jsonl")
    return ComagicCallsReportOperator(
        task_id="calls", output_path=str(tmp_path), page_size=PAGE, max_rows_per_file=10_000, deferrable=True, **kwargs
    )


def fire(trigger: ComagicQuotaResetTrigger, monkeypatch) -> dict:
    """Run the trigger in an event loop with its sleep patched; return its one event's payload."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    async def collect() -> list:
        return [event async for event in trigger.run()]

    monkeypatch.setattr(quota_trigger.asyncio, "sleep", fake_sleep)
    (event,) = asyncio.run(asyncio.wait_for(collect(), 5))
    return event.payload


def defer(op, ctx) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    return deferred.value


def listing(tmp_path) -> list[str]:
    return sorted(os.listdir(tmp_path / "calls_report" / "date=2024-03-01"))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_day_quota_spent_mid_report_defers_and_resumes_without_refetching(emu, tmp_path, monkeypatch, fmt):  # noqa: F811
    truth = emu.truth("get.calls_report", *api_range(DAY, END))
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={4}, limit_type="day", exhaust=True)
    ctx = context(DAY, END)
    deferred = defer(operator(tmp_path, output_format=fmt), ctx)

    trigger = deferred.trigger
    assert isinstance(trigger, ComagicQuotaResetTrigger) and deferred.method_name == "execute_complete"
    classpath, trigger_kwargs = trigger.serialize()
    assert classpath == "airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger"
    assert trigger_kwargs["limit_type"] == "day"
    text = json.dumps({"trigger": trigger_kwargs, "next_kwargs": deferred.kwargs})  # plain JSON throughout
    assert emu.access_token not in text and len(text) < 4000
    run = deferred.kwargs["run"]
    assert run["current"]["plan"]["inline"]["query"]["offset"] == 3 * PAGE and len(run["done"]) == 0
    assert run["current"]["writer"]["rows"] == 3 * PAGE
    part = run["current"]["writer"]["files"][0]["path"]
    assert listing(tmp_path) == [staged_name(part)]  # the open part was finished, hidden; nothing committed yet

    reset = emu.quota.limits()["day_reset"]
    resume_at = dt.datetime.fromisoformat(trigger.resume_at)
    assert reset <= (resume_at - dt.datetime.now(dt.timezone.utc)).total_seconds() <= reset + 5
    emu.clock.advance(reset + 1)  # the emulator's day rolls over: the quota is back
    event = fire(trigger, monkeypatch)
    assert event["status"] == "success"

    # Airflow rebuilds the operator and calls the method with the event and next_kwargs
    summary = operator(tmp_path, output_format=fmt).execute_complete(ctx, event=event, **deferred.kwargs)
    landed = list(iter_landed_rows(summary["partition"]))
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)
    assert sorted(r["id"] for r in landed) == sorted(r["id"] for r in truth)
    assert summary["rows"] == len(truth) and summary["deferrals"] == 1
    minimum = math.ceil(len(truth) / PAGE)
    assert emu.stats.successes["get.calls_report"] == minimum == summary["api_calls"]  # nothing fetched twice
    assert emu.stats.errors["limit_exceeded"] == 1
    manifest = read_manifest(summary["partition"])
    assert manifest["api"]["calls"] == minimum and manifest["plan"]["rows"] == len(truth)
    assert manifest["files"][0]["path"] == part and manifest["run_token"] in part
    assert listing(tmp_path) == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])


def test_minute_quota_defers_too(emu, tmp_path, monkeypatch):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={2, 6}, limit_type="minute", exhaust=True)
    ctx = context(DAY, END)
    first = defer(operator(tmp_path), ctx)
    assert first.trigger.limit_type == "minute"
    emu.clock.advance(61)
    with pytest.raises(TaskDeferred) as again:  # a second spent minute later in the same interval
        operator(tmp_path).execute_complete(ctx, event=fire(first.trigger, monkeypatch), **first.kwargs)
    assert again.value.kwargs["run"]["deferrals"] == 2
    emu.clock.advance(61)
    event = fire(again.value.trigger, monkeypatch)
    summary = operator(tmp_path).execute_complete(ctx, event=event, **again.value.kwargs)
    truth = emu.truth("get.calls_report", *api_range(DAY, END))
    assert canonical(iter_landed_rows(summary["partition"])) == canonical(truth)
    assert emu.stats.successes["get.calls_report"] == math.ceil(len(truth) / PAGE)
    assert summary["files"] == 3  # a part finished at each deferral, then the last one


def test_large_paging_state_goes_to_a_scratch_object_not_next_kwargs(emu, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(resume, "INLINE_PLAN_STATE_BYTES", 200)
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={5}, limit_type="day", exhaust=True)
    ctx = context(DAY, END)
    deferred = defer(operator(tmp_path), ctx)
    packed = deferred.kwargs["run"]["current"]["plan"]
    assert "inline" not in packed and packed["scratch"].startswith("_tmp-")
    assert packed["scratch"] in listing(tmp_path) and len(json.dumps(deferred.kwargs)) < 1500
    emu.clock.advance(emu.quota.limits()["day_reset"] + 1)
    summary = operator(tmp_path).execute_complete(ctx, event=fire(deferred.trigger, monkeypatch), **deferred.kwargs)
    truth = emu.truth("get.calls_report", *api_range(DAY, END))
    assert canonical(iter_landed_rows(summary["partition"])) == canonical(truth)
    assert emu.stats.successes["get.calls_report"] == math.ceil(len(truth) / PAGE)
    assert not [name for name in listing(tmp_path) if name.startswith("_tmp-")]  # removed by the commit


def test_rows_arriving_while_deferred_are_read_once(emu, tmp_path, monkeypatch):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={4}, limit_type="day", exhaust=True)
    ctx = context(DAY, END)
    deferred = defer(operator(tmp_path), ctx)
    # late rows inside pages already landed: the query's total changes, it is re-read skipping emitted keys
    emu.add_rows("get.calls_report", count=5, date_from="2024-03-01 00:00:00", date_till="2024-03-01 00:10:00")
    emu.clock.advance(emu.quota.limits()["day_reset"] + 1)
    summary = operator(tmp_path).execute_complete(ctx, event=fire(deferred.trigger, monkeypatch), **deferred.kwargs)
    truth = emu.truth("get.calls_report", *api_range(DAY, END))
    ids = [row["id"] for row in iter_landed_rows(summary["partition"])]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(r["id"] for r in truth)
    assert read_manifest(summary["partition"])["plan"]["rereads"] == 1


def test_lookback_run_defers_between_its_intervals_state(emu, tmp_path, monkeypatch):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={10}, limit_type="day", exhaust=True)
    before = OutletEventAccessors()
    ctx = context(DAY, END)
    op = operator(tmp_path, lookback=dt.timedelta(days=2))
    deferred = defer(op, {**ctx, "outlet_events": before})
    run = deferred.kwargs["run"]
    assert len(run["done"]) == 1 and len(run["intervals"]) == 3  # the data interval committed, the next in progress
    asset = f"file://{tmp_path}/calls_report"
    assert event_extra(before, asset) == {}  # a deferring task emits nothing: Airflow drops its events anyway
    emu.clock.advance(emu.quota.limits()["day_reset"] + 1)
    after = OutletEventAccessors()
    summary = operator(tmp_path, lookback=dt.timedelta(days=2)).execute_complete(
        {**ctx, "outlet_events": after}, event=fire(deferred.trigger, monkeypatch), **deferred.kwargs
    )
    # the resumed task's events name every partition the task committed, also the one before the deferral
    extra = event_extra(after, asset)
    assert extra["partition_keys"] == ["2024-03-01", "2024-02-29", "2024-02-28"]
    for key, entry in zip(extra["partition_keys"], summary["intervals"], strict=True):
        assert extra["partitions"][key]["rows"] == entry["rows"] == read_manifest(entry["partition"])["rows"]
    if PARTITIONED_ASSETS:
        assert sorted(e["partition_key"] for e in partition_events(after)) == sorted(extra["partition_keys"])
    assert [i["date_from"][:10] for i in summary["intervals"]] == ["2024-03-01", "2024-02-29", "2024-02-28"]
    for entry in summary["intervals"]:
        day = entry["date_from"][:10]
        truth = emu.truth("get.calls_report", f"{day} 00:00:00", f"{day} 23:59:59")
        assert canonical(iter_landed_rows(entry["partition"])) == canonical(truth)
    assert emu.stats.successes["get.calls_report"] == 3 * math.ceil(400 / PAGE) == summary["api_calls"]


def test_without_deferrable_a_spent_day_quota_fails_saying_when_it_resets(emu, tmp_path):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={3}, limit_type="day", exhaust=True)
    op = ComagicCallsReportOperator(task_id="calls", output_path=str(tmp_path), page_size=PAGE, deferrable=False)
    with pytest.raises(ComagicDayLimitExceededError, match=r"resets in \d+ s"):
        op.execute(context(DAY, END))
    assert listing(tmp_path) == []  # the failed run removed its parts


def test_resume_without_the_saved_position_starts_over_exactly(emu, tmp_path, monkeypatch):  # noqa: F811
    # `airflow dags test` (Airflow <= 3.3.2) resumes with the event only, dropping next_kwargs
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={3}, limit_type="minute", exhaust=True)
    ctx = context(DAY, END)
    deferred = defer(operator(tmp_path), ctx)
    emu.clock.advance(61)
    summary = operator(tmp_path).execute_complete(ctx, event=fire(deferred.trigger, monkeypatch))
    truth = emu.truth("get.calls_report", *api_range(DAY, END))
    assert canonical(iter_landed_rows(summary["partition"])) == canonical(truth)
    manifest = read_manifest(summary["partition"])
    # the abandoned deferred run's hidden part stays for the grace period (a cleanup cannot tell it from the part
    # of a run deferred for a day), then goes
    committed = [MANIFEST_NAME, *(f["path"] for f in manifest["files"])]
    abandoned = [staged_name(f["path"]) for f in deferred.kwargs["run"]["current"]["writer"]["files"]]
    assert listing(tmp_path) == sorted([*committed, *abandoned])
    repair_partition(store_for(to_storage_path(summary["partition"])), grace=0)
    assert listing(tmp_path) == sorted(committed)
