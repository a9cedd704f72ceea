"""The paging/window engine against an in-memory model of a report method (no I/O)."""

from __future__ import annotations

import datetime as dt
import math

import msgspec
import orjson
import pytest

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError, ComagicParameterError
from airflow_provider_comagic.comagic.paging import PagePlan, split_windows
from tests.fixtures.paging import DAY, MSK, FakeReport, FollowingChecker, make_plan, spread

UTC = dt.timezone.utc


@pytest.fixture(autouse=True, params=["dicts", "raw"])
def row_form(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs twice: rows fed as dicts, and as undecoded JSON (``msgspec.Raw``, the landing's path)."""
    monkeypatch.setattr(FakeReport, "raw", request.param == "raw", raising=False)
    return request.param


def run(plan: PagePlan, report: FakeReport) -> list[dict]:
    """Every row the plan emits; around each feed, its prediction of the following call is checked."""
    out = []
    following = FollowingChecker(plan)
    while (params := plan.next_request()) is not None:
        result = report.query(params)
        following.before_feed()
        if getattr(report, "raw", False):
            result = {**result, "data": [msgspec.Raw(orjson.dumps(row)) for row in result["data"]]}
            emitted = plan.feed(result)
            assert all(isinstance(row, msgspec.Raw) for row in emitted)  # handed on undecoded
            out.extend(orjson.loads(bytes(row)) for row in emitted)
        else:
            out.extend(plan.feed(result))
        following.after_feed()
    return out


def test_small_interval_reads_everything_with_minimum_calls():
    report = FakeReport(spread(25_000, DAY, 86_400))
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    rows = run(plan, report)
    assert sorted(r["id"] for r in rows) == list(range(1, 25_001))
    assert len(report.calls) == 3
    assert report.calls[0]["date_from"] == "2026-11-25 00:00:00"
    assert report.calls[0]["date_till"] == "2026-11-25 23:59:59"
    assert report.calls[0]["sort"] == [{"field": "start_time", "order": "asc"}]


def test_half_open_interval_boundaries_cover_each_second_once():
    times = [
        DAY - dt.timedelta(seconds=1),
        DAY,
        DAY + dt.timedelta(days=1) - dt.timedelta(seconds=1),
        DAY + dt.timedelta(days=1),
    ]
    report = FakeReport(times)
    first = run(make_plan(DAY - dt.timedelta(days=1), DAY), report)
    second = run(make_plan(DAY, DAY + dt.timedelta(days=1)), report)
    third = run(make_plan(DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)), report)
    assert [r["id"] for r in first] == [1]
    assert [r["id"] for r in second] == [2, 3]
    assert [r["id"] for r in third] == [4]


def test_utc_interval_is_converted_to_account_zone():
    start = dt.datetime(2026, 11, 24, 21, 0, tzinfo=UTC)  # = 2026-11-25 00:00 in Moscow
    report = FakeReport([DAY])
    plan = make_plan(start, start + dt.timedelta(hours=24))
    assert run(plan, report)[0]["id"] == 1
    assert report.calls[0]["date_from"] == "2026-11-25 00:00:00"


def test_long_range_split_into_three_month_windows():
    start = dt.datetime(2026, 1, 1, tzinfo=MSK)
    end = dt.datetime(2026, 12, 1, tzinfo=MSK)
    windows = split_windows(start, end, MSK)
    assert [(w[0].month, w[1].month) for w in windows] == [(1, 4), (4, 7), (7, 10), (10, 12)]
    report = FakeReport(spread(3000, start, int((end - start).total_seconds())))
    rows = run(make_plan(start, end), report)
    assert len(rows) == 3000 and len({r["id"] for r in rows}) == 3000
    assert len(report.calls) == 4


@pytest.mark.parametrize("n_rows", [110_000, 110_001, 250_000, 1_000_000])
def test_offset_cap_continuation_reads_each_row_once_with_near_minimum_calls(n_rows):
    report = FakeReport(spread(n_rows, DAY, 86_400, seed=n_rows))
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    rows = run(plan, report)
    ids = [r["id"] for r in rows]
    assert len(ids) == n_rows and len(set(ids)) == n_rows
    minimum = math.ceil(n_rows / 10_000)
    assert len(report.calls) <= minimum * 1.02 + 1, (len(report.calls), minimum)
    assert max(c["offset"] for c in report.calls) <= 100_000


def test_dense_second_at_page_boundary_is_not_duplicated():
    # 120 000 rows, 20 000 of them in one second straddling the offset cap
    times = spread(100_000, DAY, 3600) + [DAY + dt.timedelta(seconds=3600)] * 20_000
    report = FakeReport(times)
    rows = run(make_plan(DAY, DAY + dt.timedelta(days=1)), report)
    assert len(rows) == 120_000 and len({r["id"] for r in rows}) == 120_000


def test_more_rows_in_one_second_than_the_cap_fails_loudly():
    report = FakeReport([DAY] * 1_000, max_offset=500, max_limit=100)
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), page_size=100, max_offset=500)
    with pytest.raises(ComagicDataIntegrityError, match="share the second"):
        run(plan, report)


def test_without_sortable_time_field_windows_are_bisected():
    report = FakeReport(spread(2_500, DAY, 86_400), max_offset=500, max_limit=100)
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), sortable=(), page_size=100, max_offset=500)
    rows = run(plan, report)
    assert len(rows) == 2_500 and len({r["id"] for r in rows}) == 2_500
    assert plan.stats.splits >= 3


def test_rows_added_while_paging_trigger_reread_without_duplicates():
    report = FakeReport(spread(30_000, DAY, 86_400))

    def add_rows(call_number, rep):
        if call_number == 2:
            for _ in range(5):
                rep.add_row(DAY + dt.timedelta(seconds=10))

    report.on_call = add_rows
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    rows = run(plan, report)
    assert len(rows) == 30_005 and len({r["id"] for r in rows}) == 30_005
    assert plan.stats.rereads == 1
    assert plan.stats.skipped_duplicates == 10_000


def test_drift_that_never_settles_fails_after_bounded_rereads():
    report = FakeReport(spread(30_000, DAY, 86_400))
    report.on_call = lambda n, rep: rep.add_row(DAY + dt.timedelta(seconds=5))
    with pytest.raises(ComagicDataIntegrityError, match="kept changing"):
        run(make_plan(DAY, DAY + dt.timedelta(days=1)), report)


def test_drift_without_key_fails_instead_of_duplicating():
    report = FakeReport(spread(30_000, DAY, 86_400))
    report.on_call = lambda n, rep: n == 2 and rep.add_row(DAY)
    with pytest.raises(ComagicDataIntegrityError, match="no key"):
        run(make_plan(DAY, DAY + dt.timedelta(days=1), key=()), report)


def test_fields_get_key_and_time_field_added():
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), fields=["duration"])
    assert plan.next_request()["fields"] == ["duration", "id", "start_time"]


def test_user_sort_and_filter_and_params_pass_through():
    plan = make_plan(
        DAY,
        DAY + dt.timedelta(days=1),
        sort=[{"field": "duration", "order": "desc"}],
        filter={"field": "direction", "operator": "=", "value": "in"},
        params={"include_ongoing_calls": False},
    )
    request = plan.next_request()
    assert request["sort"] == [{"field": "duration", "order": "desc"}]
    assert request["filter"]["field"] == "direction"
    assert request["include_ongoing_calls"] is False


def test_empty_interval_costs_one_call():
    report = FakeReport([])
    plan = make_plan(DAY, DAY + dt.timedelta(days=1))
    assert run(plan, report) == []
    assert len(report.calls) == 1 and plan.done


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "match"),
    [
        (DAY, DAY, {}, "must be after"),
        (DAY + dt.timedelta(days=1), DAY, {}, "must be after"),
        (DAY.replace(tzinfo=None), DAY + dt.timedelta(days=1), {}, "aware"),
        (DAY, DAY + dt.timedelta(days=1), {"page_size": 0}, "page_size"),
        (DAY, DAY + dt.timedelta(days=1), {"page_size": 10_001}, "page_size"),
        (DAY, None, {}, "both"),
    ],
)
def test_bad_input_fails_before_any_call(start, end, kwargs, match):
    with pytest.raises((ComagicParameterError, ValueError, TypeError), match=match):
        make_plan(start, end, **kwargs)


def test_method_without_date_range_pages_by_offset():
    report_rows = [{"id": i} for i in range(25)]
    plan = PagePlan("get.uploaded_calls", None, None, tz=MSK, time_field=None, key=("id",), page_size=10)
    out, calls = [], 0
    while (params := plan.next_request()) is not None:
        calls += 1
        assert "date_from" not in params
        page = report_rows[params["offset"] : params["offset"] + params["limit"]]
        out.extend(plan.feed({"data": page, "metadata": {"total_items": len(report_rows)}}))
    assert [r["id"] for r in out] == list(range(25)) and calls == 3


def test_for_method_adds_key_and_time_field_to_default_fields_that_lack_them():
    from airflow_provider_comagic.comagic.catalogue import get_method

    spec = get_method("get.goals_report")
    plan = PagePlan.for_method(spec, DAY, DAY + dt.timedelta(days=1), tz=MSK)
    requested = plan.next_request()["fields"]
    assert set(spec.default_fields) <= set(requested)
    assert "id" in requested and spec.time_field in requested
    calls = PagePlan.for_method(get_method("get.calls_report"), DAY, DAY + dt.timedelta(days=1), tz=MSK)
    assert "fields" not in calls.next_request()  # defaults already hold id and start_time


def test_following_request_is_named_only_when_the_pending_page_cannot_change_it():
    report = FakeReport(spread(35, DAY, 86_400), max_limit=10)
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), page_size=10)
    following = FollowingChecker(plan)
    out = []
    while (params := plan.next_request()) is not None:
        following.before_feed()
        out.extend(plan.feed(report.query(params)))
        following.after_feed()
    assert len(out) == 35
    # the first page gives the total (a 10-row report has no second page); the last has no page after it
    assert [None if p is None else p["offset"] for p in following.predicted] == [None, 20, 30, None]


def test_following_request_stops_at_the_offset_cap_where_a_continuation_starts():
    report = FakeReport(spread(700, DAY, 86_400, seed=7), max_offset=200, max_limit=100)
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), page_size=100, max_offset=200)
    following = FollowingChecker(plan)
    while (params := plan.next_request()) is not None:
        following.before_feed()
        plan.feed(report.query(params))
        following.after_feed()
    offsets = [None if p is None else p["offset"] for p in following.predicted]
    assert plan.stats.continuations >= 2
    assert 300 not in offsets and offsets.count(200) >= 2  # never past the cap; continuations start unpredicted


def test_following_request_after_drift_is_not_the_reread():
    report = FakeReport(spread(30, DAY, 86_400), max_limit=10)
    report.on_call = lambda n, rep: rep.add_row(DAY + dt.timedelta(seconds=5)) if n == 2 else None
    plan = make_plan(DAY, DAY + dt.timedelta(days=1), page_size=10)
    plan.feed(report.query(plan.next_request()))
    predicted = plan.following_request()
    assert predicted is not None and predicted["offset"] == 20
    plan.feed(report.query(plan.next_request()))  # the total changed: the query is read again from its start
    assert plan.stats.rereads == 1 and plan.next_request()["offset"] == 0 != predicted["offset"]
