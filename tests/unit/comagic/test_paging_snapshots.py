"""PagePlan for reference lists (no date range) and for window caps taken from the catalogue (no I/O).

A list comes back in a new order on every call unless sorted, and a sort keeps that order among the rows it ties
(as the API, and the emulator, do): one page is exact whatever the order; longer lists are sorted by the
catalogue's ``order`` and each page re-reads the previous page's trailing tie group (``order_ties`` 0).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
from airflow_provider_comagic.comagic.paging import PagePlan, split_windows

MSK = pendulum.timezone("Europe/Moscow")


class FakeList:
    """A reference list: before sorting, rows are shuffled per call (seeded), and a stable sort keeps that order
    among the rows it ties; ``on_call(n, server)`` changes the rows before the n-th call is answered."""

    def __init__(self, rows: list[dict], *, seed: int = 0, paged: bool = True):
        self.rows = rows
        self.seed = seed
        self.paged = paged
        self.calls: list[dict] = []
        self.on_call: Callable[[int, FakeList], None] | None = None

    def query(self, params: dict) -> dict:
        self.calls.append(params)
        if self.on_call:
            self.on_call(len(self.calls), self)
        assert ("limit" in params) == self.paged and ("offset" in params) == self.paged
        rows = list(self.rows)
        random.Random(f"{self.seed}|{len(self.calls)}").shuffle(rows)
        for item in reversed(params.get("sort") or []):
            rows.sort(key=lambda row: (row[item["field"]] is None, row[item["field"]] or ""))
        page = rows[params["offset"] : params["offset"] + params["limit"]] if self.paged else rows
        return {"data": [dict(row) for row in page], "metadata": {"total_items": len(rows)}}


def read(plan: PagePlan, server: FakeList, *, as_raw: bool = False) -> list[dict]:
    import msgspec

    out: list[dict] = []
    while (params := plan.next_request()) is not None:
        result = server.query(params)
        if as_raw:
            result["data"] = [msgspec.Raw(json.dumps(row).encode()) for row in result["data"]]
        rows = plan.feed(result)
        out += [json.loads(bytes(row)) if as_raw else row for row in rows]
    return out


def people(n: int, names: int) -> list[dict]:
    """``n`` rows with unique ids and ``names`` distinct names (long runs of ties when names << n)."""
    return [{"id": 10_000 + i, "name": f"Name {i % names:03d}"} for i in range(n)]


def list_plan(page_size: int, **kwargs) -> PagePlan:
    spec = get_method("get.tags")  # id not sortable; order ("name",), ties unknown
    return PagePlan.for_method(spec, None, None, tz=MSK, page_size=page_size, fields=["id", "name"], **kwargs)


def ids(rows: list[dict]) -> list[int]:
    return sorted(row["id"] for row in rows)


def test_a_list_that_fits_in_a_page_is_one_call_whatever_its_order():
    rows = people(40, 40)
    server = FakeList(rows, seed=3)
    plan = list_plan(10_000)
    assert ids(read(plan, server)) == ids(rows)
    assert len(server.calls) == 1 and "date_from" not in server.calls[0]
    assert server.calls[0]["sort"] == [{"field": "name", "order": "asc"}]  # asked anyway: the total is unknown


@pytest.mark.parametrize("as_raw", [False, True], ids=["dicts", "raw rows"])
@pytest.mark.parametrize(("n", "names", "page_size"), [(95, 95, 10), (240, 17, 25), (300, 3, 120), (61, 1, 61)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_long_list_sorted_by_tying_names_is_read_exactly(n, names, page_size, seed, as_raw):
    """Rows of one name come in a new order on every call: each page starts at the previous page's trailing
    tie group, so a tie cut by a page boundary is read whole; rows read twice are skipped by key."""
    rows = people(n, names)
    server = FakeList(rows, seed=seed)
    plan = list_plan(page_size)
    landed = read(plan, server, as_raw=as_raw)
    assert len(landed) == n and ids(landed) == ids(rows)
    assert plan.stats.rereads == 0  # exact on the first read, not by luck of a re-read
    offsets = [call["offset"] for call in server.calls]
    assert offsets == sorted(set(offsets)) and offsets[0] == 0


def test_a_fixed_step_would_lose_and_repeat_tied_rows():
    """The same list read with a fixed page step (ties taken as unique): rows move across page boundaries between
    calls, which the distinct-key check catches; it keeps happening, so the plan fails clearly."""
    server = FakeList(people(240, 17), seed=1)
    plan = list_plan(25, order_ties=1)
    with pytest.raises(ComagicDataIntegrityError, match="came back different on each of 3 reads"):
        read(plan, server)


def test_a_list_sorted_by_its_key_pages_by_offset():
    spec = get_method("get.scenarios")  # key sortable: order ("id",)
    rows = [{"id": 5_000 + i, "name": f"Scenario {i}"} for i in range(57)]
    server = FakeList(rows)
    plan = PagePlan.for_method(spec, None, None, tz=MSK, page_size=10, fields=["id", "name"])
    assert ids(read(plan, server)) == ids(rows)
    assert [c["offset"] for c in server.calls] == [0, 10, 20, 30, 40, 50]
    assert server.calls[0]["sort"] == [{"field": "id", "order": "asc"}]


def test_a_list_that_changed_while_paged_is_read_again():
    rows = people(80, 8)
    server = FakeList(rows, seed=4)
    server.on_call = lambda n, s: n == 2 and s.rows.append({"id": 99_999, "name": "Name 000"})
    plan = list_plan(20)
    landed = read(plan, server)
    assert plan.stats.rereads == 1
    assert ids(landed) == ids(server.rows) and len(landed) == 81


def test_a_list_that_keeps_changing_fails_clearly():
    server = FakeList(people(80, 8), seed=4)
    server.on_call = lambda n, s: n % 2 == 0 and s.rows.append({"id": 100_000 + n, "name": "Name 001"})
    with pytest.raises(ComagicDataIntegrityError, match=r"get\.tags: the list came back different on each of 3"):
        read(list_plan(20), server)


def test_a_page_of_one_tie_fails_clearly():
    server = FakeList(people(50, 1), seed=0)  # 50 rows of one name, pages of 20: no order to page them by
    with pytest.raises(ComagicDataIntegrityError, match=r"a whole page of 20 rows shares the values of \['name'\]"):
        read(list_plan(20), server)


def test_a_list_past_the_offset_cap_fails_clearly():
    server = FakeList(people(60, 60))
    plan = list_plan(10, max_offset=40)
    with pytest.raises(ComagicDataIntegrityError, match=r"holds 60 rows, more than offset paging reaches \(50\)"):
        read(plan, server)
    assert len(server.calls) == 1


def test_a_method_without_paging_is_one_call_without_limit_or_offset():
    spec = get_method("get.account")
    server = FakeList([{"app_id": 1, "name": "Account", "timezone": "Europe/Moscow"}], paged=False)
    plan = PagePlan.for_method(spec, None, None, tz=MSK)
    assert not plan.paged and plan.following_request() is None
    assert read(plan, server) == server.rows
    assert len(server.calls) == 1


def test_a_snapshot_resumes_from_its_state_without_rows_twice():
    rows = people(130, 9)
    server = FakeList(rows, seed=5)
    first = list_plan(20)
    landed: list[dict] = []
    for _ in range(3):
        landed += first.feed(server.query(first.next_request()))
    state = json.loads(json.dumps(first.state()))
    second = list_plan(20)
    second.restore(state)
    landed += read(second, server)
    assert len(landed) == 130 and ids(landed) == ids(rows)


def test_following_request_is_not_guessed_when_ties_decide_the_next_offset():
    plan = list_plan(20)
    server = FakeList(people(80, 8))
    plan.feed(server.query(plan.next_request()))
    assert plan.following_request() is None


# -- window caps from the catalogue -------------------------------------------------------------------------
START = dt.datetime(2024, 1, 1, tzinfo=MSK)


def windows(method: str, end: dt.datetime) -> list[tuple[str, str]]:
    spec = get_method(method)
    plan = PagePlan.for_method(spec, START, end, tz=MSK, fields=list(spec.default_fields))
    found = []
    while (params := plan.next_request()) is not None:
        found.append((params["date_from"], params["date_till"]))
        plan.feed({"data": [], "metadata": {"total_items": 0}})
    return found


def test_windows_follow_each_methods_cap():
    end = dt.datetime(2024, 3, 1, tzinfo=MSK)  # 60 days
    assert windows("get.visits", end) == [
        ("2024-01-01 00:00:00", "2024-01-31 23:59:59"),
        ("2024-02-01 00:00:00", "2024-02-29 23:59:59"),
    ]
    assert windows("get.chat_messages_report", end) == [
        ("2024-01-01 00:00:00", "2024-01-30 23:59:59"),
        ("2024-01-31 00:00:00", "2024-02-29 23:59:59"),
    ]
    year = dt.datetime(2025, 3, 1, tzinfo=MSK)  # 425 days
    assert windows("get.communications", year) == [
        ("2024-01-01 00:00:00", "2024-12-31 23:59:59"),
        ("2025-01-01 00:00:00", "2025-02-28 23:59:59"),
    ]
    assert windows("get.calls_report", year)[:2] == [
        ("2024-01-01 00:00:00", "2024-03-31 23:59:59"),
        ("2024-04-01 00:00:00", "2024-06-30 23:59:59"),
    ]
    for method in ("get.visits", "get.chat_messages_report", "get.communications", "get.calls_report"):
        for date_from, date_till in windows(method, year):
            get_method(method).validate_window(date_from, date_till)  # every call within the cap


def test_split_windows_by_days_on_the_wall_clock():
    start, end = dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 3, 8, tzinfo=MSK)
    assert split_windows(start, end, MSK, days=3) == [
        (start, start + dt.timedelta(days=3)),
        (start + dt.timedelta(days=3), start + dt.timedelta(days=6)),
        (start + dt.timedelta(days=6), end),
    ]
    with pytest.raises(ValueError, match="at least one day"):
        split_windows(start, end, MSK, days=0)


def test_the_fields_a_tie_group_is_judged_by_are_asked_for():
    """A query naming fields without the list's order still reads the order fields (a tie group is told apart by
    them): without them every row of a page looked tied and the list failed as unpageable."""
    spec = get_method("get.tags")
    plan = PagePlan.for_method(spec, None, None, tz=MSK, page_size=5, fields=["id", "is_system"])
    assert plan.fields == ["id", "is_system", "name"]
    rows = people(23, 23)
    assert ids(read(plan, FakeList([{**row, "is_system": False} for row in rows]))) == ids(rows)
