"""The CoMagic page sources of the landing pipeline (:mod:`~airflow_provider_comagic.landing.pipeline`).

:class:`ReportSource` reads one interval of a date-ranged method through the one paging engine
(:class:`~airflow_provider_comagic.comagic.paging.PagePlan`) and a hook's ``iter_pages``: every row exactly once,
its position (the plan's state) saved and restored across a deferral, the API use counted per partition.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.comagic.quota import ApiMeter, QuotaTracker

__all__ = ["PagedApi", "ReportSource"]


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
    """

    def __init__(
        self,
        hook: PagedApi,
        plan: PagePlan,
        *,
        api_dates: tuple[str, str],
        query: Mapping[str, Any],
        as_json_lines: bool = True,
    ):
        self.hook = hook
        self.plan = plan
        self.api_dates = api_dates
        self.query = dict(query)
        self.as_json_lines = as_json_lines
        self._meter = ApiMeter(hook.quota)

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
        return {
            "method": self.plan.method,
            "api": {
                "date_from": self.api_dates[0],
                "date_till": self.api_dates[1],
                **self.usage(),
                "limits": self.hook.quota.limits,
            },
            "query": self.query,
            "plan": self.plan.stats.as_dict(),
        }
