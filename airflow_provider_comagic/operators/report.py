"""Report operators: every row of a CoMagic classic report for a data interval, landed in object storage.

:class:`ComagicReportOperator` reads a classic report (the ``get.*_report`` methods, ``get.campaign_daily_stat``,
the period totals and the monthly financial summary) through the paging engine
(:mod:`~airflow_provider_comagic.comagic.sources`) and lands each interval through the landing pipeline; what
every CoMagic operator landing one method's query shares (query options, intervals, lookback, clients, deferral,
one partition) is :class:`~airflow_provider_comagic.operators.comagic_query.ComagicQueryOperator`'s. One named
subclass per report method (:data:`REPORT_OPERATORS` for the ten, :data:`CLASSIC_REPORT_OPERATORS` for all
fifteen) fixes ``method``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic.comagic.catalogue import MethodSpec, get_method, report_methods
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.paging.rows import with_required_fields
from airflow_provider_comagic.comagic.periods import check_period, month_intervals, month_params, totals_a_period
from airflow_provider_comagic.comagic.quota import ApiMeter
from airflow_provider_comagic.comagic.sources import PlanSequenceSource, ReportSource
from airflow_provider_comagic.landing.pipeline import MappedSource, PageSource, Step
from airflow_provider_comagic.operators.comagic_query import ComagicQueryOperator
from airflow_provider_comagic.unified.comagic import COMAGIC_SOURCE_FIELDS, comagic_pages_to_unified
from airflow_provider_comagic.unified.schema import OUTPUT_SCHEMAS, unified_report_name, unified_schema
from airflow_provider_comagic.utils.task_errors import naming_task
from airflow_provider_comagic.utils.templating import is_templated
from airflow_provider_comagic.utils.time import interval_to_api, parse_user_time

if TYPE_CHECKING:
    import datetime as dt

    import pyarrow as pa
    from airflow.sdk import Context

    from airflow_provider_comagic.comagic.paging import PagePlan
    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = [
    "CLASSIC_REPORT_OPERATORS",
    "MONTHLY_REPORT",
    "REPORT_OPERATORS",
    "ComagicCallLegsReportOperator",
    "ComagicCallsReportOperator",
    "ComagicCampaignDailyStatOperator",
    "ComagicChatMessagesReportOperator",
    "ComagicChatsReportOperator",
    "ComagicCommunicationsReportOperator",
    "ComagicCtAcSummaryReportOperator",
    "ComagicCtSummaryReportOperator",
    "ComagicEmployeeStatOperator",
    "ComagicFinancialCallLegsReportOperator",
    "ComagicFinancialSummaryReportOperator",
    "ComagicGoalsReportOperator",
    "ComagicOfflineMessagesReportOperator",
    "ComagicReportOperator",
    "ComagicSourceCostsOperator",
    "ComagicVisitorSessionsReportOperator",
]

_ERROR = ComagicParameterError
MONTHLY_REPORT = "get.financial_summary_report"
"""The report read by ``year`` and ``month``: landed one partition per calendar month."""
SITE_PARAM = "site_id"
"""A required parameter the operator supplies itself: the report is read for every site of ``get.sites``."""


class ComagicReportOperator(ComagicQueryOperator):
    """
    Land every row of a CoMagic / UIS classic report for one data interval in object storage.

    Reads ``method`` over ``[data_interval_start, data_interval_end)`` (or ``[date_from, date_till)``) through
    :class:`~airflow_provider_comagic.hooks.comagic.ComagicHook` (windows within the method's cap and the
    110 000-row offset cap handled, every row exactly once) and streams the pages into ``output_path`` as gzip
    JSON Lines or Parquet, committed atomically by a ``_manifest.json``; a rerun of the interval replaces the
    previous copy.

    **Reports that are not rows of an interval.** ``get.financial_summary_report`` takes a year and a month: each
    calendar month the intervals touch is one partition ``<report>/month=YYYY-MM`` (asset key ``YYYY-MM``), read
    whole (a daily DAG re-lands the month to date). ``get.ct_summary_report``, ``get.ct_ac_summary_report``,
    ``get.employee_stat`` and ``get.source_costs`` total the period per site, campaign, employee or source: an
    interval is one call, so it must fit the method's cap (3 months; checked before any report call, naming
    ``date_till``), and ``get.source_costs`` reads whole days. A report that requires ``site_id``
    (``get.ct_ac_summary_report``, ``get.campaign_daily_stat``) is read for every site of ``get.sites`` (one
    call more per client) into one partition, unless ``api_params`` names one site.

    Default layout: ``<output_path>/<report>/date=YYYY-MM-DD/part-<run token>-00000.parquet`` for a one-day
    interval of the account's zone, ``<output_path>/<report>/interval=<start>_<end>/...`` otherwise.

    Returns (XCom) a small summary: ``manifest``, ``partition``, ``rows``, ``files``, ``bytes``, ``api_calls``,
    ``points``, ``date_from``, ``date_till``, ``partition_key`` (its asset event's key) and ``replaced`` (whether
    the commit replaced an earlier copy) of the data interval (``api_calls``/``points``: the whole task);
    with ``lookback`` also ``intervals`` (the same keys for every interval landed, the data interval first);
    with ``user_id``/``customer_id`` also those; ``deferrals`` when the task waited for the quota. A group of
    clients returns totals (see :class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`).

    Agencies, groups of clients, ``lookback`` and deferrable quota waits are described on
    :class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`, whose arguments this operator
    takes; the output options (``output_path``, ``output_format``, ``output_conn_id``, ``timestamps``, part sizes,
    ``gzip_level``) are :class:`~airflow_provider_comagic.operators.base.BaseLandingOperator`'s.

    .. seealso::
        For more information on how to use this operator, take a look at the guide:
        :ref:`howto/operator:ComagicReportOperator`

    :param method: report method, e.g. ``get.calls_report`` (see ``report_methods(all_classic=True)``).
    :param fields: row fields to return (default: the method's default fields); the key and time fields are
        added when missing. A list, or a JSON/comma-separated string once rendered. (templated)
    :param filter: a Data API filter, ``{"field", "operator", "value"}`` or ``{"filters": [...], "condition"}``.
        (templated)
    :param sort: a Data API sort list ``[{"field", "order"}]``; normally leave it unset (the engine sorts by
        time and key to read exactly). (templated)
    :param api_params: method-specific parameters passed through, e.g. ``{"include_ongoing_calls": True}``
        (``params`` is taken by Airflow). (templated)
    :param page_size: rows per API call, 1..10 000. Keep 10 000: smaller pages cost more points.
    :param output_schema: ``"raw"`` (the API's rows) or, for ``get.calls_report`` only, ``"unified"``: rows
        of :data:`airflow_provider_comagic.unified.schema.UNIFIED_SCHEMA` (the call table shared with MCN Telecom)
        under ``<output_path>/unified_calls/comagic/...``; ``fields`` is then fixed and must not be given.
    """

    ui_color = "#e8f4fd"
    family_noun = "report method"

    def __init__(self, *, method: str | None = None, output_schema: str = "raw", **kwargs: Any) -> None:
        super().__init__(method=method, **kwargs)
        self.output_schema = output_schema
        with naming_task(self.task_id):
            self._validate(rendered=False)
            self.declare_output_asset()

    @classmethod
    def family_methods(cls) -> tuple[str, ...]:
        return report_methods(all_classic=True)

    @property
    def unified(self) -> bool:
        return self.output_schema == "unified"

    @property
    def monthly(self) -> bool:  # type: ignore[override]
        return self.method == MONTHLY_REPORT

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``<report>`` (``unified_calls/comagic`` with ``output_schema="unified"``): the folder of the asset."""
        if arguments.get("output_schema", "raw") == "unified":
            return unified_report_name("comagic")
        return super().asset_folder_of({"method": getattr(cls, "report_method", None), **arguments})

    def partition_method(self) -> str:
        return unified_report_name("comagic") if self.unified else self.method

    # -- validation (parse time for literal values, execute time for templated ones) ----------------------------
    def _validate(self, *, rendered: bool) -> Any:
        """Check every option; once rendered, return the parsed :class:`~airflow_provider_comagic.comagic.query.ReportQuery`."""
        spec = self.method_spec()  # unknown method: the closest report and the list of reports
        if self.output_schema not in OUTPUT_SCHEMAS:
            raise _ERROR(f"output_schema must be 'raw' or 'unified', got {self.output_schema!r}")
        if self.unified and self.method != "get.calls_report":
            raise _ERROR(f"output_schema='unified' maps get.calls_report rows only; {self.method} has no unified form")
        if self.unified and self.fields is not None:
            raise _ERROR("output_schema='unified' requests its own fields; do not pass fields")
        own = ("year", "month") if self.monthly else ()
        provided = (SITE_PARAM,) if SITE_PARAM in spec.required_params else ()
        query = self.check_query(spec, rendered=rendered, provided=provided, own=own)
        if not rendered and totals_a_period(spec):
            _check_literal_period(spec, self.date_from, self.date_till)
        return query

    def prepare(self) -> None:
        self._query = self._validate(rendered=True)
        self._sites: dict[int | None, list[int]] = {}

    def _intervals(self, context: Context, tz: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """The data interval and lookback intervals; for the monthly report the months they touch; for a report
        that totals its period, each checked against the window cap before any report call."""
        intervals = super()._intervals(context, tz)
        spec = get_method(self.method)
        if self.monthly:
            return month_intervals(intervals, tz)
        if totals_a_period(spec):
            for start, end in intervals:
                check_period(spec, start, end, tz)
        return intervals

    # -- one partition ------------------------------------------------------------------------------------------
    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        client, start, end = step.client, step.start, step.end
        tz = hook.checked_timezone(client.user_id)  # read once per client: before its first report call
        spec = get_method(self.method)
        meter = ApiMeter(hook.quota)  # before get.sites: the partition pays for its list of sites
        api_dates = interval_to_api(start, end, tz, error=_ERROR)
        sites = self._sites_of(hook, client) if self._reads_every_site(spec) else None
        plans = [self._plan(hook, client, start, end, tz, site) for site in (sites if sites is not None else [None])]
        needed = [*spec.key, *([spec.time_field] if spec.time_field else [])]
        fields = plans[0].fields if plans else with_required_fields(self._requested_fields(), needed)  # no site
        query = self._query.as_manifest(list(fields or ()), self.page_size)
        source: PageSource
        if sites is not None:
            source = PlanSequenceSource(
                hook, self.method, plans, labels=sites, label_name=SITE_PARAM, api_dates=api_dates, query=query,
                as_json_lines=not self.unified, meter=meter,
            )  # fmt: skip
        else:
            source = ReportSource(
                hook, plans[0], api_dates=api_dates, query=query, as_json_lines=not self.unified, meter=meter
            )
        if self.unified:
            source = MappedSource(source, lambda pages: comagic_pages_to_unified(pages, tz))
        describe = f"[{api_dates[0]}, {api_dates[1]}]" + (f" for {len(sites)} site(s)" if sites is not None else "")
        return self.land_source(
            context, step, source, tz=tz, fields=fields or (), dates=api_dates, describe=describe, host=hook.config.host
        )

    def _reads_every_site(self, spec: MethodSpec) -> bool:
        return SITE_PARAM in spec.required_params and SITE_PARAM not in self._query.api_params

    def _sites_of(self, hook: ComagicHook, client: AgencyClient) -> list[int]:
        """The ids of the client's sites (``get.sites``, read once per client and task)."""
        if client.user_id not in self._sites:
            params = {"user_id": client.user_id} if client.user_id is not None else None
            rows = hook.iter_rows("get.sites", fields=["id"], params=params)
            self._sites[client.user_id] = sorted(row["id"] for row in rows)
            self.log.info("%s: reading %d site(s) of %s", self.method, len(self._sites[client.user_id]), client.label())
        return self._sites[client.user_id]

    def _plan(
        self,
        hook: ComagicHook,
        client: AgencyClient,
        start: dt.datetime,
        end: dt.datetime,
        tz: dt.tzinfo,
        site: int | None,
    ) -> PagePlan:
        """The paging plan of one interval (of one site). Fields are always named: some methods' default fields
        lack the key or the time field, which the engine needs to read exactly (it adds them to an explicit list)."""
        query = self._query
        fields = self._requested_fields()
        params = query.call_params(client)
        if site is not None:
            params[SITE_PARAM] = site
        dates: tuple[dt.datetime | None, dt.datetime | None] = (start, end)
        if self.monthly:
            params.update(month_params(start, tz))
            dates = (None, None)  # the month is the query: no date range
        return hook.plan(
            self.method,
            *dates,
            tz=tz,
            fields=fields,
            filter=query.filter,
            sort=query.sort,
            page_size=self.page_size,
            params=params,
        )

    def _requested_fields(self) -> list[str]:
        if self.unified:
            return list(COMAGIC_SOURCE_FIELDS)
        return self._query.fields or list(get_method(self.method).default_fields)

    def row_schema(self, fields: Sequence[str], tz: dt.tzinfo) -> pa.Schema:
        """The Arrow schema of the landed rows: the unified table, or the report's fields from the catalogue."""
        return unified_schema() if self.unified else super().row_schema(fields, tz)

    def manifest_details(self) -> dict[str, Any]:
        return {"output_schema": self.output_schema}


def _check_literal_period(spec: MethodSpec, date_from: Any, date_till: Any) -> None:
    """At DAG parse time: literal wall-clock dates of a report that totals its period fit its window cap."""
    if any(value in (None, "") or is_templated(value) for value in (date_from, date_till)):
        return
    import datetime as dt

    utc = dt.timezone.utc  # naive values are the account's wall clock: any zone reads them the same
    start, end = (
        parse_user_time(v, utc, n, error=_ERROR) for v, n in ((date_from, "date_from"), (date_till, "date_till"))
    )
    if start.tzinfo is utc and end.tzinfo is utc and end > start:
        check_period(spec, start, end, utc)


class _NamedReportOperator(ComagicReportOperator):
    """Base of the one-method operators: ``method`` is fixed by the class."""

    report_method: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        if "method" in kwargs:
            raise _ERROR(f"{type(self).__name__} always reads {self.report_method}; do not pass method")
        super().__init__(method=self.report_method, **kwargs)


class ComagicCallsReportOperator(_NamedReportOperator):
    """
    Land ``get.calls_report`` (call sessions) for a data interval; see :class:`ComagicReportOperator`.

    Pass ``api_params={"include_ongoing_calls": True}`` to include calls still in progress.

    .. seealso::
        :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.calls_report"


class ComagicCommunicationsReportOperator(_NamedReportOperator):
    """
    Land ``get.communications_report`` (all communications: calls, chats, goals, offline messages).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.communications_report"


class ComagicCallLegsReportOperator(_NamedReportOperator):
    """
    Land ``get.call_legs_report`` (the legs of every call session).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.call_legs_report"


class ComagicGoalsReportOperator(_NamedReportOperator):
    """
    Land ``get.goals_report`` (goals reached by visitors).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.goals_report"


class ComagicChatsReportOperator(_NamedReportOperator):
    """
    Land ``get.chats_report`` (chats).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.chats_report"


class ComagicChatMessagesReportOperator(_NamedReportOperator):
    """
    Land ``get.chat_messages_report`` (messages of chats).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.chat_messages_report"


class ComagicOfflineMessagesReportOperator(_NamedReportOperator):
    """
    Land ``get.offline_messages_report`` (requests left on the site's forms).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.offline_messages_report"


class ComagicVisitorSessionsReportOperator(_NamedReportOperator):
    """
    Land ``get.visitor_sessions_report`` (visitor sessions on the tracked sites).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.visitor_sessions_report"


class ComagicFinancialCallLegsReportOperator(_NamedReportOperator):
    """
    Land ``get.financial_call_legs_report`` (billing of call legs).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.financial_call_legs_report"


class ComagicCampaignDailyStatOperator(_NamedReportOperator):
    """
    Land ``get.campaign_daily_stat`` (daily statistics of advertising campaigns; the time field is a date).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.campaign_daily_stat"


class ComagicFinancialSummaryReportOperator(_NamedReportOperator):
    """
    Land ``get.financial_summary_report`` (charges per day of a calendar month: total, bonuses, subscriber fee,
    telecom, additional and one-off services, changes) one partition per month, ``month=YYYY-MM``: each month the
    intervals touch is read whole (``year`` and ``month`` come from the interval; a daily DAG re-lands the
    month to date, a monthly DAG lands each month once).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.financial_summary_report"


class ComagicCtSummaryReportOperator(_NamedReportOperator):
    """
    Land ``get.ct_summary_report`` (call-tracking totals of the interval per site: numbers reserved and active,
    calls, the dynamic-tracking ratio). The interval is one call: at most 3 months.

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.ct_summary_report"


class ComagicCtAcSummaryReportOperator(_NamedReportOperator):
    """
    Land ``get.ct_ac_summary_report`` (call-tracking totals of the interval per advertising campaign). The method
    requires a ``site_id``: without ``api_params={"site_id": ...}`` every site of ``get.sites`` is read into the
    one partition (rows name their campaign, ``ac_id``; ``get.campaigns`` gives its site). The interval is one
    call: at most 3 months.

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.ct_ac_summary_report"


class ComagicEmployeeStatOperator(_NamedReportOperator):
    """
    Land ``get.employee_stat`` (seconds each employee spent in each status over the interval; the account needs
    the ``call_center`` component: use ``skip_on_missing_access`` for agencies whose clients may lack it).

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.employee_stat"


class ComagicSourceCostsOperator(_NamedReportOperator):
    """
    Land ``get.source_costs`` (the costs of each source on each site over the interval, Call tracking 3.0). The
    method reads whole days: the interval must start and end at midnight of the account's zone.

    .. seealso::
        :class:`ComagicReportOperator` and :ref:`howto/operator:ComagicReportOperator`
    """

    report_method = "get.source_costs"


REPORT_OPERATORS: dict[str, type[ComagicReportOperator]] = {
    cls.report_method: cls
    for cls in (
        ComagicCallsReportOperator,
        ComagicCommunicationsReportOperator,
        ComagicCallLegsReportOperator,
        ComagicGoalsReportOperator,
        ComagicChatsReportOperator,
        ComagicChatMessagesReportOperator,
        ComagicOfflineMessagesReportOperator,
        ComagicVisitorSessionsReportOperator,
        ComagicFinancialCallLegsReportOperator,
        ComagicCampaignDailyStatOperator,
    )
}
"""Report method -> its named operator (one per ``report_methods()``)."""

CLASSIC_REPORT_OPERATORS: dict[str, type[ComagicReportOperator]] = {
    **REPORT_OPERATORS,
    **{
        cls.report_method: cls
        for cls in (
            ComagicFinancialSummaryReportOperator,
            ComagicCtSummaryReportOperator,
            ComagicCtAcSummaryReportOperator,
            ComagicEmployeeStatOperator,
            ComagicSourceCostsOperator,
        )
    },
}
"""Every classic report method -> its named operator (one per ``report_methods(all_classic=True)``)."""
