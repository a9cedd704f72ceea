"""Report operators: every row of a CoMagic report for a data interval, landed in object storage.

:class:`ComagicReportOperator` reads a date-ranged method through the paging engine
(:class:`~airflow_provider_comagic.comagic.sources.ReportSource`) and lands each interval through the landing
pipeline; what every CoMagic landing operator shares (intervals, lookback, clients, deferral) is
:class:`~airflow_provider_comagic.operators.comagic_base.ComagicLandingOperator`'s. One named subclass per report
method (:data:`REPORT_OPERATORS`) fixes ``method``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods, unknown_method_error
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.paging import MAX_LIMIT, PagePlan
from airflow_provider_comagic.comagic.query import ReportQuery, check_literal_query
from airflow_provider_comagic.comagic.sources import ReportSource
from airflow_provider_comagic.landing.assets import partition_key
from airflow_provider_comagic.landing.partitions import partition_name, report_name
from airflow_provider_comagic.landing.pipeline import MappedSource, PageSource, PartitionTarget, Step, partition_entry
from airflow_provider_comagic.operators.comagic_base import ComagicLandingOperator
from airflow_provider_comagic.unified.comagic import COMAGIC_SOURCE_FIELDS, comagic_pages_to_unified
from airflow_provider_comagic.unified.schema import OUTPUT_SCHEMAS, unified_report_name, unified_schema
from airflow_provider_comagic.utils.lineage import dataset
from airflow_provider_comagic.utils.task_errors import naming_task
from airflow_provider_comagic.utils.time import interval_to_api, zone_name

if TYPE_CHECKING:
    import datetime as dt

    import pyarrow as pa
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = [
    "REPORT_OPERATORS",
    "ComagicCallLegsReportOperator",
    "ComagicCallsReportOperator",
    "ComagicCampaignDailyStatOperator",
    "ComagicChatMessagesReportOperator",
    "ComagicChatsReportOperator",
    "ComagicCommunicationsReportOperator",
    "ComagicFinancialCallLegsReportOperator",
    "ComagicGoalsReportOperator",
    "ComagicOfflineMessagesReportOperator",
    "ComagicReportOperator",
    "ComagicVisitorSessionsReportOperator",
]

_ERROR = ComagicParameterError


class ComagicReportOperator(ComagicLandingOperator):
    """
    Land every row of a CoMagic / UIS report for one data interval in object storage.

    Reads ``method`` over ``[data_interval_start, data_interval_end)`` (or ``[date_from, date_till)``) through
    :class:`~airflow_provider_comagic.hooks.comagic.ComagicHook` (3-month windows and the 110 000-row offset cap
    handled, every row exactly once) and streams the pages into ``output_path`` as gzip JSON Lines or Parquet,
    committed atomically by a ``_manifest.json``; a rerun of the interval replaces the previous copy.

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

    :param method: report method, e.g. ``get.calls_report`` (see ``report_methods()``).
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

    template_fields: Sequence[str] = (
        *ComagicLandingOperator.template_fields,
        "fields",
        "filter",
        "sort",
        "api_params",
    )
    template_fields_renderers = {
        **ComagicLandingOperator.template_fields_renderers,
        "filter": "json",
        "sort": "json",
        "api_params": "json",
        "fields": "json",
    }
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        method: str,
        fields: Sequence[str] | str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        sort: Sequence[Mapping[str, Any]] | str | None = None,
        api_params: Mapping[str, Any] | None = None,
        page_size: int = MAX_LIMIT,
        output_schema: str = "raw",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self.fields = fields
        self.filter = filter
        self.sort = sort
        self.api_params = api_params
        self.page_size = page_size
        self.output_schema = output_schema
        with naming_task(self.task_id):
            self._validate(rendered=False)
            self.declare_output_asset()

    @property
    def unified(self) -> bool:
        return self.output_schema == "unified"

    @classmethod
    def asset_folder_of(cls, arguments: Mapping[str, Any]) -> str | None:
        """``<report>`` (``unified_calls/comagic`` with ``output_schema="unified"``): the folder of the asset."""
        if arguments.get("output_schema", "raw") == "unified":
            return unified_report_name("comagic")
        method = arguments.get("method") or getattr(cls, "report_method", None)
        return report_name(method) if method else None

    def api_dataset(self) -> Any:
        """OpenLineage: ``comagic://<Data API host>``, name ``<method>`` (``<method>/customer_id=<id>`` for an agency's
        client, ``.../user_id=<id>`` for a user), schema = the requested fields as the catalogue describes them."""
        state = getattr(self, "_api_lineage", None) or {}
        spec = get_method(self.method)
        names = state.get("fields") or list(spec.default_fields)
        catalogue = {f.name: f for f in spec.fields}
        fields = [(n, catalogue[n].type, catalogue[n].description or None) for n in names if n in catalogue]
        clients = [f"{k}={state[k]}" for k in ("customer_id", "user_id") if state.get(k) is not None]
        name = "/".join([self.method, *clients])
        return dataset(f"comagic://{state.get('host') or 'dataapi.comagic.ru'}", name, fields=fields)

    # -- validation (parse time for literal values, execute time for templated ones) ----------------------------
    def _validate(self, *, rendered: bool) -> ReportQuery | None:
        """Check every option; once rendered, return the parsed :class:`~airflow_provider_comagic.comagic.query.ReportQuery`."""
        try:
            spec = get_method(self.method)
        except ComagicParameterError:
            raise unknown_method_error(self.method, report_methods(all_classic=True), "report method") from None
        if not spec.date_range:
            raise _ERROR(f"{self.method} is not a report method (it takes no date range)")
        if self.output_schema not in OUTPUT_SCHEMAS:
            raise _ERROR(f"output_schema must be 'raw' or 'unified', got {self.output_schema!r}")
        if self.unified and self.method != "get.calls_report":
            raise _ERROR(f"output_schema='unified' maps get.calls_report rows only; {self.method} has no unified form")
        if self.unified and self.fields is not None:
            raise _ERROR("output_schema='unified' requests its own fields; do not pass fields")
        self.check_landing_options(rendered=rendered)
        page_size = self.page_size
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_LIMIT:
            raise _ERROR(f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}")
        query = {"fields": self.fields, "filter": self.filter, "sort": self.sort, "api_params": self.api_params}
        if rendered:
            return ReportQuery.parse(spec, **query)
        check_literal_query(spec, **query)
        return None

    def prepare(self) -> None:
        query = self._validate(rendered=True)
        assert query is not None
        self._query = query

    # -- one partition ------------------------------------------------------------------------------------------
    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        client, start, end = step.client, step.start, step.end
        tz = hook.checked_timezone(client.user_id)  # read once per client: before its first report call
        plan = self._plan(hook, client, start, end, tz)
        self._api_lineage = {
            "host": hook.config.host,
            "fields": list(plan.fields),
            "customer_id": client.customer_id,
            "user_id": client.user_id,
        }
        api_dates = interval_to_api(start, end, tz, error=_ERROR)
        source: PageSource = ReportSource(
            hook,
            plan,
            api_dates=api_dates,
            query=self._query.as_manifest(list(plan.fields), self.page_size),
            as_json_lines=not self.unified,  # rows landed as the API sent them, unless mapped in Python
        )
        if self.unified:
            source = MappedSource(source, lambda pages: comagic_pages_to_unified(pages, tz))
        target = PartitionTarget(
            self.output_base() / self._partition_name(client, start, end, tz),
            self.output_format,
            self._schema(plan, tz),
            self.writer_options(),
        )
        who = f" for {client.label()}" if client.user_id is not None else ""
        label = f"{self.method} [{api_dates[0]}, {api_dates[1]}] (account zone {zone_name(tz)}){who}"
        manifest = step.land(source, target, label=label, extra=self._manifest_extra(context, client, start, end, tz))
        key = partition_key(start, end, tz, client.key)
        return partition_entry(target.path, manifest, key=key, labels=client.labels(), dates=api_dates)

    def _plan(
        self, hook: ComagicHook, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
    ) -> PagePlan:
        """The paging plan of one interval. Fields are always named: some methods' default fields lack the key
        or the time field, which the engine needs to read exactly (it adds them to an explicit list)."""
        query = self._query
        if self.unified:
            fields = list(COMAGIC_SOURCE_FIELDS)
        else:
            fields = query.fields or list(get_method(self.method).default_fields)
        return hook.plan(
            self.method,
            start,
            end,
            tz=tz,
            fields=fields,
            filter=query.filter,
            sort=query.sort,
            page_size=self.page_size,
            params=query.call_params(client),
        )

    def _schema(self, plan: PagePlan, tz: dt.tzinfo) -> pa.Schema:
        """The Arrow schema of the landed rows: the unified table, or the report's fields from the catalogue."""
        if self.unified:
            return unified_schema()
        from airflow_provider_comagic.comagic.schemas import report_schema  # pyarrow: not at DAG parse time

        return report_schema(self.method, plan.fields, timestamps=self.timestamps, timezone=zone_name(tz))

    def _partition_name(self, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> str:
        """The partition folder of ``[start, end)`` under the output path."""
        report = unified_report_name("comagic") if self.unified else self.method
        return partition_name(
            report,
            start,
            end,
            tz,
            self.partition_template,
            customer_id=client.customer_id,
            user_id=client.user_id,
            error=_ERROR,
        )

    def _manifest_extra(
        self, context: Context, client: AgencyClient, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo
    ) -> dict[str, Any]:
        """What the manifest records besides the source and the files: the report, interval, output and run."""
        return {
            "report": report_name(self.method),
            "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": zone_name(tz)},
            "timestamps": self.timestamps,
            "output_schema": self.output_schema,
            **({"client": client.as_dict()} if client.user_id is not None else {}),
            "airflow": self.airflow_run_info(context),
        }


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
