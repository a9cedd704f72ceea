"""The CoMagic page sources without a server: a snapshot's time and position, several queries into one partition
(their position across a failure, their API use, the manifest's description), and the API parameters an
operator takes as its own arguments."""

from __future__ import annotations

import json

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError, ComagicRateLimitError
from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.comagic.query import check_api_params
from airflow_provider_comagic.comagic.quota import QuotaTracker
from airflow_provider_comagic.comagic.sources import ListSource, PlanSequenceSource

MSK = pendulum.timezone("Europe/Moscow")


class FakeHook:
    """Answers each plan from in-memory rows per site; ``fail_at`` raises on that call (a spent quota)."""

    def __init__(self, rows_by_site: dict, fail_at: int | None = None):
        self.rows_by_site = rows_by_site
        self.quota = QuotaTracker()
        self.fail_at = fail_at
        self.calls: list[dict] = []

    def iter_pages(self, method, *, plan, as_json_lines):
        while (params := plan.next_request()) is not None:
            if len(self.calls) + 1 == self.fail_at:
                self.fail_at = None
                raise ComagicRateLimitError(code=-32029, mnemonic="limit_exceeded", message="spent", method=method)
            self.calls.append(params)
            self.quota.count_request()
            self.quota.charge(1)
            rows = self.rows_by_site[params.get("site_id")]
            page = rows[params["offset"] : params["offset"] + params["limit"]]
            emitted = plan.feed({"data": page, "metadata": {"total_items": len(rows)}})
            if emitted:
                yield emitted


def ac_plan(site: int | None) -> PagePlan:
    spec = get_method("get.ct_ac_summary_report")
    start, end = pendulum.datetime(2024, 3, 1, tz=MSK), pendulum.datetime(2024, 3, 2, tz=MSK)
    params = {} if site is None else {"site_id": site}
    return PagePlan.for_method(spec, start, end, tz=MSK, page_size=2, fields=["ac_id", "calls_count"], params=params)


ROWS = {site: [{"ac_id": site * 10 + i, "calls_count": i} for i in range(3)] for site in (1, 2, 3)}


def sequence(hook: FakeHook) -> PlanSequenceSource:
    return PlanSequenceSource(
        hook,
        "get.ct_ac_summary_report",
        [ac_plan(site) for site in (1, 2, 3)],
        labels=[1, 2, 3],
        label_name="site_id",
        api_dates=("2024-03-01 00:00:00", "2024-03-01 23:59:59"),
        query={"fields": ["ac_id", "calls_count"]},
    )


def test_a_sequence_reads_every_query_into_one_partition_and_describes_it():
    hook = FakeHook(ROWS)
    source = sequence(hook)
    rows = [row for page in source.pages() for row in page]
    assert [row["ac_id"] for row in rows] == [10, 11, 12, 20, 21, 22, 30, 31, 32]
    assert [call["site_id"] for call in hook.calls] == [1, 1, 2, 2, 3, 3]
    described = source.describe()
    assert described["api"]["site_ids"] == [1, 2, 3] and described["api"]["calls"] == 6
    assert described["plan"]["rows"] == 9 and described["plan"]["pages"] == 6
    assert source.position() == {"index": 3, "labels": [1, 2, 3], "plan": None}


def test_a_sequence_continues_from_its_position_after_a_failure():
    hook = FakeHook(ROWS, fail_at=4)  # the second page of site 2
    first = sequence(hook)
    landed = []
    with pytest.raises(ComagicRateLimitError):
        for page in first.pages():
            landed += page
    position = json.loads(json.dumps(first.position()))
    assert position["index"] == 1 and position["plan"]["query"]["offset"] == 2
    second = sequence(hook)
    second.restore(position, first.usage())
    landed += [row for page in second.pages() for row in page]
    assert sorted(row["ac_id"] for row in landed) == [10, 11, 12, 20, 21, 22, 30, 31, 32]
    assert second.usage()["calls"] == 6  # spent before and after the failure, each call once
    with pytest.raises(ValueError, match="site_ids"):
        PlanSequenceSource(
            hook, "get.ct_ac_summary_report", [ac_plan(1)], labels=[9], label_name="site_id", api_dates=None, query={}
        ).restore(position, {})


def test_a_snapshot_records_when_it_was_read_across_a_resumption():
    spec = get_method("get.tags")
    rows = {None: [{"id": i, "name": f"t{i}"} for i in range(5)]}
    hook = FakeHook(rows, fail_at=2)
    source = ListSource(hook, PagePlan.for_method(spec, None, None, tz=MSK, page_size=3), query={})
    with pytest.raises(ComagicRateLimitError):
        for _ in source.pages():
            pass
    position = json.loads(json.dumps(source.position()))
    taken = position["snapshot_time"]
    assert taken and position["query"]["offset"] == 2  # the trailing row of the first page is read again
    resumed = ListSource(hook, PagePlan.for_method(spec, None, None, tz=MSK, page_size=3), query={})
    resumed.restore(position, source.usage())
    assert sum(len(page) for page in resumed.pages()) == 2
    described = resumed.describe()
    assert described["api"]["snapshot_time"] == taken and "date_from" not in described["api"]


def test_api_params_an_operator_takes_as_its_own_or_supplies():
    calls, ac = get_method("get.calls"), get_method("get.ct_ac_summary_report")
    check_api_params(calls, {}, own=("report_id",))
    with pytest.raises(ComagicParameterError, match=r"invalid 'api_params' \['report_id'\].*report_id and paging"):
        check_api_params(calls, {"report_id": 1}, own=("report_id",))
    with pytest.raises(ComagicParameterError, match=r"requires site_id: pass api_params=\{'site_id': ...\}"):
        check_api_params(ac, {})
    check_api_params(ac, {}, provided=("site_id",))
    check_api_params(ac, {"site_id": 5}, provided=("site_id",))
