"""The CoMagic page sources of the landing pipeline (:mod:`~airflow_provider_comagic.landing.pipeline`).

Each reads through the one paging engine (:class:`~airflow_provider_comagic.comagic.paging.PagePlan`) and a hook's
``iter_pages``: every row exactly once, its position (the plan's state) saved and restored across a deferral, the
API use counted per partition.

* :class:`ReportSource`: one interval of a date-ranged method (a classic report, a report-builder list).
* :class:`ListSource`: a whole list at once (a reference snapshot), with the time it was read.
* :class:`PlanSequenceSource`: several queries into one partition, one after the other (a report that needs a
  ``site_id``, read for every site of the account).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.comagic.quota import ApiMeter, QuotaTracker

__all__ = ["ListSource", "PagedApi", "PlanSequenceSource", "ReportSource"]


class PagedApi(Protocol):
    """What a source needs of a hook (:class:`~airflow_provider_comagic.hooks.comagic.ComagicHook`)."""

    quota: QuotaTracker

    def iter_pages(self, method: str, *, plan: PagePlan, as_json_lines: bool) -> Iterator[Any]: ...


class ReportSource:
    """The pages of one interval of ``plan.method``, as the API sent them.

    :param hook: the hook that sends the calls.
    :param plan: the paging plan of the interval (fields, filter, sort, windows).
    :param api_dates: ``date_from`` and ``date_till`` as the API is asked for them (the manifest records them).
    :param query: what the manifest records of the query (see
        :meth:`~airflow_provider_comagic.comagic.query.ReportQuery.as_manifest`).
    :param as_json_lines: yield pages of undecoded rows (:class:`~airflow_provider_comagic.landing.json_lines.JsonLines`,
        what landing either format needs) instead of dicts.
    :param meter: what counts the partition's API use (default: from now on); pass one made earlier to count the
        calls made to prepare the query too.
    """

    def __init__(
        self,
        hook: PagedApi,
        plan: PagePlan,
        *,
        api_dates: tuple[str, str] | None,
        query: Mapping[str, Any],
        as_json_lines: bool = True,
        meter: ApiMeter | None = None,
    ):
        self.hook = hook
        self.plan = plan
        self.api_dates = api_dates
        self.query = dict(query)
        self.as_json_lines = as_json_lines
        self._meter = meter or ApiMeter(hook.quota)

    def pages(self) -> Iterator[Any]:
        return self.hook.iter_pages(self.plan.method, plan=self.plan, as_json_lines=self.as_json_lines)

    def position(self) -> dict[str, Any]:
        return self.plan.state()

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        self.plan.restore(position)
        self._meter = ApiMeter(self.hook.quota, spent)

    def usage(self) -> dict[str, int]:
        return self._meter.spent()

    def expected_rows(self) -> int | None:
        return self.plan.expected_rows()

    def describe(self) -> dict[str, Any]:
        dates = {"date_from": self.api_dates[0], "date_till": self.api_dates[1]} if self.api_dates else {}
        return {
            "method": self.plan.method,
            "api": {**dates, **self.usage(), "limits": self.hook.quota.limits},
            "query": self.query,
            "plan": self.plan.stats.as_dict(),
        }


class ListSource(ReportSource):
    """The pages of a whole list (a reference snapshot): one query without dates through the plan, which reads it
    in one page when it fits and otherwise in an order that makes it exact (see
    :mod:`~airflow_provider_comagic.comagic.paging`).

    The manifest records ``api.snapshot_time``: when the first call of the snapshot was sent (UTC), kept across a
    deferral.
    """

    def __init__(self, hook: PagedApi, plan: PagePlan, *, query: Mapping[str, Any], as_json_lines: bool = True):
        super().__init__(hook, plan, api_dates=None, query=query, as_json_lines=as_json_lines)
        self.snapshot_time: str | None = None

    def pages(self) -> Iterator[Any]:
        if self.snapshot_time is None:
            self.snapshot_time = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        return super().pages()

    def position(self) -> dict[str, Any]:
        return {**self.plan.state(), "snapshot_time": self.snapshot_time}

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        super().restore(position, spent)
        self.snapshot_time = position.get("snapshot_time")

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["api"]["snapshot_time"] = self.snapshot_time
        return described


class PlanSequenceSource:
    """The pages of several queries of one method landed as one partition, read one after the other (a report
    whose ``site_id`` is required, for every site of the account).

    :param hook: the hook that sends the calls.
    :param method: the method every plan reads.
    :param plans: one paging plan per query, in order (none: an empty partition).
    :param labels: what tells the queries apart, one per plan (the site ids), recorded in the manifest.
    :param label_name: the name of that label (``site_id``).
    :param api_dates: ``date_from`` and ``date_till`` as the API is asked for them.
    :param query: what the manifest records of the query.
    :param meter: what counts the partition's API use (made before the calls that listed the labels, to count
        them too).
    """

    def __init__(
        self,
        hook: PagedApi,
        method: str,
        plans: Sequence[PagePlan],
        *,
        labels: Sequence[Any],
        label_name: str,
        api_dates: tuple[str, str] | None,
        query: Mapping[str, Any],
        as_json_lines: bool = True,
        meter: ApiMeter | None = None,
    ):
        if len(plans) != len(labels) or any(plan.method != method for plan in plans):
            raise ValueError(f"one label per plan, every plan of {method}")
        self.hook = hook
        self.method = method
        self.plans = list(plans)
        self.labels = list(labels)
        self.label_name = label_name
        self.api_dates = api_dates
        self.query = dict(query)
        self.as_json_lines = as_json_lines
        self._meter = meter or ApiMeter(hook.quota)
        self._index = 0

    def pages(self) -> Iterator[Any]:
        while self._index < len(self.plans):
            plan = self.plans[self._index]
            yield from self.hook.iter_pages(plan.method, plan=plan, as_json_lines=self.as_json_lines)
            self._index += 1

    def position(self) -> dict[str, Any]:
        current = self.plans[self._index].state() if self._index < len(self.plans) else None
        return {"index": self._index, "labels": self.labels, "plan": current}

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        if list(position.get("labels") or []) != self.labels:
            raise ValueError(
                f"the saved position read the {self.label_name}s {position.get('labels')}, not {self.labels}"
            )
        self._index = int(position["index"])
        if position.get("plan") is not None:
            self.plans[self._index].restore(position["plan"])
        self._meter = ApiMeter(self.hook.quota, spent)

    def usage(self) -> dict[str, int]:
        return self._meter.spent()

    def expected_rows(self) -> int | None:
        """The rows of the partition once the last query has given its total (None before: progress logs)."""
        if self._index != len(self.plans) - 1:
            return None
        last = self.plans[-1].expected_rows()
        return None if last is None else last + sum(plan.stats.rows for plan in self.plans[:-1])

    def describe(self) -> dict[str, Any]:
        dates = {"date_from": self.api_dates[0], "date_till": self.api_dates[1]} if self.api_dates else {}
        stats: dict[str, int] = {}
        for plan in self.plans:
            for name, value in plan.stats.as_dict().items():
                stats[name] = stats.get(name, 0) + value
        return {
            "method": self.method,
            "api": {**dates, **self.usage(), "limits": self.hook.quota.limits, f"{self.label_name}s": self.labels},
            "query": self.query,
            "plan": stats,
        }
