"""PagePlan.state()/restore(): a plan stopped between calls, saved as JSON and continued by a new plan."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from tests.fixtures.paging import DAY, FakeReport, make_plan, spread


def run_with_stops(make, report: FakeReport, stop_before: set[int]) -> tuple[list[dict], list[dict]]:
    """Run a plan; before each call number in ``stop_before`` save its state as JSON text and continue with a
    new plan restored from it (the pending request is dropped, as when a call fails on a spent quota)."""
    plan = make()
    out, states = [], []
    calls = 0
    while (params := plan.next_request()) is not None:
        calls += 1
        if calls in stop_before:
            saved = json.loads(json.dumps(plan.state()))
            states.append(saved)
            plan = make()
            plan.restore(saved)
            assert plan.next_request() == params  # the same request is sent again
        out.extend(plan.feed(report.query(params)))
    return out, states


def test_resumed_plan_reads_the_same_rows_with_the_same_calls():
    report = FakeReport(spread(25_000, DAY, 86_400))
    whole = len(report.calls)
    rows, states = run_with_stops(lambda: make_plan(DAY, DAY + dt.timedelta(days=1)), report, {1, 2, 3})
    assert sorted(r["id"] for r in rows) == list(range(1, 25_001))
    assert len(report.calls) - whole == 3  # no page fetched twice
    assert states[1]["query"]["offset"] == 10_000 and len(states[1]["query"]["seen"]) == 10_000


def test_resume_across_windows_and_offset_cap_continuation():
    start, end = DAY, DAY + dt.timedelta(days=1)
    report = FakeReport(spread(2_600, start, 86_400), max_offset=500, max_limit=100)

    def make():
        return make_plan(start, end, page_size=100, max_offset=500)

    baseline = make()
    plain = FakeReport(spread(2_600, start, 86_400), max_offset=500, max_limit=100)
    while (params := baseline.next_request()) is not None:
        baseline.feed(plain.query(params))
    rows, _ = run_with_stops(make, report, {3, 6, 7, 12, 20})
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 2_600
    assert len(report.calls) == len(plain.calls)  # the stops cost no extra call
    assert baseline.stats.continuations >= 3


def test_drift_after_resume_rereads_without_duplicates():
    report = FakeReport(spread(30_000, DAY, 86_400))

    def add_rows(call_number, rep):
        if call_number == 3:  # rows arrive while the task is deferred, before the third page
            for _ in range(5):
                rep.add_row(DAY + dt.timedelta(seconds=10))

    report.on_call = add_rows
    rows, _ = run_with_stops(lambda: make_plan(DAY, DAY + dt.timedelta(days=1)), report, {3})
    assert len(rows) == 30_005 and len({r["id"] for r in rows}) == 30_005  # the saved keys skip re-read rows


def test_bisected_windows_keep_their_emitted_keys():
    report = FakeReport(spread(2_500, DAY, 86_400), max_offset=500, max_limit=100)

    def make():
        return make_plan(DAY, DAY + dt.timedelta(days=1), sortable=(), page_size=100, max_offset=500)

    rows, states = run_with_stops(make, report, set(range(2, 60, 5)))
    assert len(rows) == 2_500 and len({r["id"] for r in rows}) == 2_500
    assert any(len(s["windows"]) > 1 for s in states)


def test_composite_keys_round_trip():
    report = FakeReport(spread(300, DAY, 86_400))
    rows, states = run_with_stops(
        lambda: make_plan(DAY, DAY + dt.timedelta(days=1), key=("id", "start_time"), page_size=100), report, {2}
    )
    assert len(rows) == 300 and all(isinstance(k, list) and len(k) == 2 for k in states[0]["query"]["seen"])


def test_restore_refuses_the_state_of_another_query():
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    plan.next_request()
    state = plan.state()
    with pytest.raises(ComagicParameterError, match="fields"):
        make_plan(DAY, DAY + dt.timedelta(days=1), fields=["id", "finish_time"]).restore(state)
    with pytest.raises(ComagicParameterError, match="another plan"):
        make_plan(DAY, DAY + dt.timedelta(days=1)).restore({**state, "method": "get.chats_report"})


def test_state_of_a_finished_plan_restores_as_finished():
    report = FakeReport(spread(10, DAY, 86_400))
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    while (params := plan.next_request()) is not None:
        plan.feed(report.query(params))
    again = make_plan(DAY, DAY + dt.timedelta(days=1))
    again.restore(json.loads(json.dumps(plan.state())))
    assert again.done and again.next_request() is None and again.stats.rows == 10
