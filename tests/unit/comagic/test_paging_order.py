"""PagePlan for a method whose time field is not sortable but whose catalogue names a stable ``order``
(``get.uploaded_calls``): sorted by it, ties re-read across page boundaries, every read checked for rows it
missed (no I/O)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.utils.time import API_TIME_FORMAT
from tests.fixtures.paging import FollowingChecker

MSK = pendulum.timezone("Europe/Moscow")
START = dt.datetime(2024, 6, 1, tzinfo=MSK)
END = START + dt.timedelta(days=1)
SPEC = get_method("get.uploaded_calls")

TieOrder = Callable[[int, list[dict]], list[dict]]


def keep(_call: int, rows: list[dict]) -> list[dict]:
    return rows


def reverse_on_even_calls(call: int, rows: list[dict]) -> list[dict]:
    return rows[::-1] if call % 2 == 0 else rows


def shuffle_per_call(call: int, rows: list[dict]) -> list[dict]:
    rows = list(rows)
    random.Random(call).shuffle(rows)
    return rows


class FakeUploadedCalls:
    """get.uploaded_calls over in-memory rows. Before sorting, the rows are in ``tie_order(call, rows)``, so a
    (stable) sort keeps that order only among the rows it ties, as a server with no defined tie order does;
    ``on_call(n, server)`` changes rows before the n-th call is answered."""

    def __init__(self, rows: list[dict], tie_order: TieOrder = keep):
        self.rows = rows
        self.tie_order = tie_order
        self.calls: list[dict] = []
        self.on_call: Callable[[int, FakeUploadedCalls], None] | None = None

    def query(self, params: dict) -> dict:
        self.calls.append(params)
        if self.on_call:
            self.on_call(len(self.calls), self)
        selected = [r for r in self.rows if params["date_from"] <= r["upload_time"] <= params["date_till"]]
        selected = self.tie_order(len(self.calls), selected)
        for item in reversed(params.get("sort") or []):
            selected.sort(key=lambda row, name=item["field"]: row[name], reverse=item["order"] == "desc")
        page = selected[params["offset"] : params["offset"] + params["limit"]]
        return {"data": [dict(row) for row in page], "metadata": {"total_items": len(selected)}}


def upload_rows(calls: int, *, attempts: dict[int, int] | None = None) -> list[dict]:
    """One row per upload attempt of ``calls`` calls (``attempts``: call number -> attempts), one request."""
    rows = []
    for number in range(calls):
        for attempt in range((attempts or {}).get(number, 1)):
            upload = START + dt.timedelta(minutes=number, seconds=attempt)
            rows.append(
                {
                    "ext_id": f"call-{number:05d}",
                    "ext_request_id": "req-1",
                    "upload_time": upload.strftime(API_TIME_FORMAT),
                    "status": "error" if attempt + 1 < (attempts or {}).get(number, 1) else "new",
                }
            )
    return rows


def read_all(plan: PagePlan, server: FakeUploadedCalls) -> list[dict]:
    """Every row the plan emits; around each feed, its prediction of the following call is checked (with the
    overlap of ordered pages)."""
    out = []
    following = FollowingChecker(plan)
    while (params := plan.next_request()) is not None:
        following.before_feed()
        out.extend(plan.feed(server.query(params)))
        following.after_feed()
    return out


def attempt_keys(rows: list[dict]) -> list[tuple]:
    return sorted((r["ext_id"], r["ext_request_id"], r["upload_time"]) for r in rows)


def test_paged_in_the_catalogue_order_with_ties_reread_at_each_boundary():
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    assert plan.overlap == 2  # order_ties 3: a call has at most 3 attempts
    server = FakeUploadedCalls(upload_rows(30, attempts={4: 3, 11: 2, 12: 3}))
    rows = read_all(plan, server)
    assert attempt_keys(rows) == attempt_keys(server.rows)  # every attempt once
    assert server.calls[0]["sort"] == [{"field": "ext_id", "order": "asc"}, {"field": "ext_request_id", "order": "asc"}]
    assert [c["offset"] for c in server.calls] == [0, 8, 16, 24, 32]  # 35 rows, 8 new rows per page after the first
    assert plan.stats.rereads == 0 and plan.stats.skipped_duplicates == 8


@pytest.mark.parametrize("tie_order", [reverse_on_even_calls, shuffle_per_call])
def test_ties_in_another_order_on_every_page_are_each_read_once(tie_order):
    # attempts of one call straddle every page boundary (pages of 10 rows: boundaries after rows 10, 18, 26...)
    attempts = {n: 3 for n in range(0, 40, 3)}
    server = FakeUploadedCalls(upload_rows(40, attempts=attempts), tie_order)
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    rows = read_all(plan, server)
    assert attempt_keys(rows) == attempt_keys(server.rows)
    assert plan.stats.rereads == 0


def test_without_the_overlap_a_tie_cut_by_a_boundary_is_caught_not_lost():
    # a call with 2 attempts at rows 10-11: page 1 gets one, page 2 (ties reversed) the same one again
    server = FakeUploadedCalls(upload_rows(15, attempts={9: 2}), reverse_on_even_calls)
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10, order_ties=1)
    assert plan.overlap == 0
    with pytest.raises(ComagicDataIntegrityError, match="kept changing"):
        read_all(plan, server)
    assert plan.stats.rereads == 2  # each read found one attempt twice and the other never
    exact = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10, order_ties=2)
    assert attempt_keys(read_all(exact, FakeUploadedCalls(server.rows, reverse_on_even_calls))) == attempt_keys(
        server.rows
    )


def test_statuses_changing_between_pages_move_no_row():
    server = FakeUploadedCalls(upload_rows(25))

    def finish_some(call: int, srv: FakeUploadedCalls) -> None:
        if call == 2:  # between the first and the second page
            for row in srv.rows[::5]:
                row["status"] = "error"

    server.on_call = finish_some
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    rows = read_all(plan, server)
    assert attempt_keys(rows) == attempt_keys(server.rows) and plan.stats.rereads == 0


def test_a_row_that_moves_past_the_offset_is_found_by_a_reread():
    # an order field is fixed for a row in the API; a server that moves one anyway (the total unchanged) makes
    # the first read return one row twice and another never: the count of distinct keys catches it
    server = FakeUploadedCalls(upload_rows(25))

    def move_one(call: int, srv: FakeUploadedCalls) -> None:
        if call == 2:
            srv.rows[-1]["ext_id"] = "call-00000-moved"  # from the last page to the first

    server.on_call = move_one
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    rows = read_all(plan, server)
    assert plan.stats.rereads == 1
    assert attempt_keys(rows) == attempt_keys(server.rows)


def test_the_position_survives_a_saved_state_with_the_overlap():
    server = FakeUploadedCalls(upload_rows(30, attempts={9: 3}), shuffle_per_call)

    def make() -> PagePlan:
        return PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)

    plan, out, calls = make(), [], 0
    while (params := plan.next_request()) is not None:
        calls += 1
        if calls in (2, 3):
            saved = json.loads(json.dumps(plan.state()))
            assert saved["query"]["unread"] == []  # the keys read in this attempt are the keys emitted
            plan = make()
            plan.restore(saved)
        out.extend(plan.feed(server.query(params)))
    assert attempt_keys(out) == attempt_keys(server.rows) and calls == 4


def test_a_state_saved_before_the_read_check_existed_still_restores():
    server = FakeUploadedCalls(upload_rows(25))
    plan = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    out = plan.feed(server.query(plan.next_request()))
    saved = json.loads(json.dumps(plan.state()))
    del saved["query"]["unread"]
    resumed = PagePlan.for_method(SPEC, START, END, tz=MSK, page_size=10)
    resumed.restore(saved)
    out += read_all(resumed, server)
    assert attempt_keys(out) == attempt_keys(server.rows)


def test_order_needs_sortable_fields():
    from airflow_provider_comagic.comagic.errors import ComagicParameterError

    with pytest.raises(ComagicParameterError, match="not sortable"):
        PagePlan("get.uploaded_calls", START, END, tz=MSK, time_field="upload_time", key=("ext_id",), order=["x"])
    with pytest.raises(ComagicParameterError, match="order_ties"):  # 0 means "unknown" (re-read trailing ties)
        PagePlan.for_method(SPEC, START, END, tz=MSK, order_ties=-1)
