"""Report operators: every row of a CoMagic report for a data interval, landed in object storage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic._compat import BaseOperator
from airflow_provider_comagic.catalogue import get_method
from airflow_provider_comagic.errors import ComagicParameterError
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.intervals import partition_name, report_name, resolve_interval
from airflow_provider_comagic.landing import (
    DEFAULT_GZIP_LEVEL,
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_ROWS_PER_FILE,
    DEFAULT_ROW_GROUP_ROWS,
    FORMATS,
    MANIFEST_NAME,
    land_pages,
    to_storage_path,
)
from airflow_provider_comagic.paging import MAX_LIMIT
from airflow_provider_comagic.run_info import run_info as _run_info
from airflow_provider_comagic.schemas import report_schema
from airflow_provider_comagic.timeutils import interval_to_api
from airflow_provider_comagic.unified import (
    COMAGIC_SOURCE_FIELDS,
    OUTPUT_SCHEMAS,
    UNIFIED_SCHEMA,
    comagic_pages_to_unified,
    unified_report_name,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
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

_JINJA_MARKERS = ("{{", "{%", "{#")
# request parameters the operator or the hook set themselves
_RESERVED_PARAMS = frozenset(
    {"access_token", "user_id", "date_from", "date_till", "limit", "offset", "fields", "filter", "sort"}
)


def is_templated(value: Any, *, skip_keys: frozenset[str] = frozenset()) -> bool:
    """True when a string inside ``value`` (lists and dicts walked, ``skip_keys`` ignored) is a Jinja template."""
    if isinstance(value, str):
        return any(marker in value for marker in _JINJA_MARKERS)
    if isinstance(value, Mapping):
        return any(is_templated(v, skip_keys=skip_keys) for k, v in value.items() if k not in skip_keys)
    if isinstance(value, list | tuple):
        return any(is_templated(v, skip_keys=skip_keys) for v in value)
    return False


def _json_value(value: Any, name: str) -> Any:
    """A rendered template is a string: read JSON back (``'["id", "start_time"]'``)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ComagicParameterError(f"{name} rendered to {value!r}, which is not JSON") from None


def _field_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return _json_value(text, "fields")
        return [name.strip() for name in text.split(",") if name.strip()]
    return list(value)


class ComagicReportOperator(BaseOperator):
    """
    Land every row of a CoMagic / UIS report for one data interval in object storage.

    Reads ``method`` over ``[data_interval_start, data_interval_end)`` (or ``[date_from, date_till)``) through
    :class:`~airflow_provider_comagic.hooks.comagic.ComagicHook` (3-month windows and the 110 000-row offset cap
    handled, every row exactly once) and streams the pages into ``output_path`` as gzip JSON Lines or Parquet,
    committed atomically by a ``_manifest.json``; a rerun of the interval replaces the previous copy.

    Default layout: ``<output_path>/<report>/date=YYYY-MM-DD/part-<run token>-00000.parquet`` for a one-day
    interval of the account's zone, ``<output_path>/<report>/interval=<start>_<end>/...`` otherwise.

    Returns (XCom) a small summary: ``manifest``, ``partition``, ``rows``, ``files``, ``bytes``, ``api_calls``,
    ``points``, ``date_from``, ``date_till``.

    .. seealso::
        For more information on how to use this operator, take a look at the guide:
        :ref:`howto/operator:ComagicReportOperator`

    :param method: report method, e.g. ``get.calls_report`` (see ``report_methods()``).
    :param output_path: base URL or path, e.g. ``s3://bucket/comagic`` or ``file:///data/comagic``. (templated)
    :param output_format: ``"parquet"`` (typed schema from the catalogue) or ``"jsonl"`` (gzip JSON Lines, rows
        exactly as the API returned them). (templated)
    :param comagic_conn_id: the ``comagic`` connection.
    :param output_conn_id: connection of the object storage (e.g. an ``aws`` connection for ``s3://``).
    :param date_from: start of the interval (inclusive) instead of the data interval: a datetime, a date or an
        ISO string. Naive values are wall-clock times in the account's zone (the connection's ``timezone``).
        (templated)
    :param date_till: end of the interval (exclusive), same forms as ``date_from``. ``date_till="2024-05-02"``
        with ``date_from="2024-05-01"`` reads the whole of May 1st. (templated)
    :param fields: row fields to return (default: the method's default fields); the key and time fields are
        added when missing. A list, or a JSON/comma-separated string once rendered. (templated)
    :param filter: a Data API filter, ``{"field", "operator", "value"}`` or ``{"filters": [...], "condition"}``.
        (templated)
    :param sort: a Data API sort list ``[{"field", "order"}]``; normally leave it unset (the engine sorts by
        time and key to read exactly). (templated)
    :param api_params: method-specific parameters passed through, e.g. ``{"include_ongoing_calls": True}``
        (``params`` is taken by Airflow). (templated)
    :param partition_template: :meth:`str.format` template of the partition folder, e.g.
        ``"{report}/year={year}/month={month}/day={day}"``; keys are listed in
        :func:`airflow_provider_comagic.intervals.partition_name`. (templated)
    :param timestamps: Parquet timestamp columns in the account's zone (``"account"``) or in ``"utc"``.
    :param page_size: rows per API call, 1..10 000. Keep 10 000: smaller pages cost more points.
    :param max_rows_per_file: start a new part file after this many rows.
    :param max_bytes_per_file: start a new part file after this many bytes.
    :param row_group_rows: Parquet row-group size (also the most rows held in memory).
    :param gzip_level: gzip level of JSON Lines parts (1 is fastest).
    :param output_schema: ``"raw"`` (the API's rows) or, for ``get.calls_report`` only, ``"unified"``: rows
        of :data:`airflow_provider_comagic.unified.UNIFIED_SCHEMA` (the call table shared with MCN Telecom)
        under ``<output_path>/unified_calls/comagic/...``; ``fields`` is then fixed and must not be given.
    """

    template_fields: Sequence[str] = (
        "output_path",
        "output_format",
        "date_from",
        "date_till",
        "fields",
        "filter",
        "sort",
        "api_params",
        "partition_template",
    )
    template_fields_renderers = {"filter": "json", "sort": "json", "api_params": "json", "fields": "json"}
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        method: str,
        output_path: str,
        output_format: str = "parquet",
        comagic_conn_id: str = ComagicHook.default_conn_name,
        output_conn_id: str | None = None,
        date_from: str | dt.datetime | dt.date | None = None,
        date_till: str | dt.datetime | dt.date | None = None,
        fields: Sequence[str] | str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        sort: Sequence[Mapping[str, Any]] | str | None = None,
        api_params: Mapping[str, Any] | None = None,
        partition_template: str | None = None,
        timestamps: str = "account",
        page_size: int = MAX_LIMIT,
        max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        gzip_level: int = DEFAULT_GZIP_LEVEL,
        output_schema: str = "raw",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self.output_schema = output_schema
        self.output_path = output_path
        self.output_format = output_format
        self.comagic_conn_id = comagic_conn_id
        self.output_conn_id = output_conn_id
        self.date_from = date_from
        self.date_till = date_till
        self.fields = fields
        self.filter = filter
        self.sort = sort
        self.api_params = api_params
        self.partition_template = partition_template
        self.timestamps = timestamps
        self.page_size = page_size
        self.max_rows_per_file = max_rows_per_file
        self.max_bytes_per_file = max_bytes_per_file
        self.row_group_rows = row_group_rows
        self.gzip_level = gzip_level
        self._validate(rendered=False)

    # -- validation (parse time for literal values, execute time for templated ones) ----------------------------
    def _validate(self, *, rendered: bool) -> None:
        spec = get_method(self.method)  # unknown method: lists the known ones
        if not spec.date_range:
            raise ComagicParameterError(f"{self.method} is not a report method (it takes no date range)")
        if self.output_schema not in OUTPUT_SCHEMAS:
            raise ComagicParameterError(f"output_schema must be 'raw' or 'unified', got {self.output_schema!r}")
        if self.output_schema == "unified":
            if self.method != "get.calls_report":
                raise ComagicParameterError(
                    f"output_schema='unified' maps get.calls_report rows only; {self.method} has no unified form"
                )
            if self.fields is not None:
                raise ComagicParameterError("output_schema='unified' requests its own fields; do not pass fields")
        if rendered or not is_templated(self.output_format):
            if self.output_format not in FORMATS:
                raise ComagicParameterError(
                    f"output_format must be one of {', '.join(sorted(FORMATS))}, got {self.output_format!r}"
                )
        if self.timestamps not in ("account", "utc"):
            raise ComagicParameterError(f"timestamps must be 'account' or 'utc', got {self.timestamps!r}")
        page_size = self.page_size
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_LIMIT:
            raise ComagicParameterError(f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}")
        if rendered or not is_templated(self.fields):
            fields = _field_list(self.fields)
            if fields is not None:
                spec.validate_fields(fields)
        if self.filter and (rendered or not is_templated(self.filter, skip_keys=frozenset({"value"}))):
            spec.validate_filter(_json_value(self.filter, "filter"))
        if self.sort and (rendered or not is_templated(self.sort)):
            spec.validate_sort(_json_value(self.sort, "sort"))
        if rendered or not is_templated(self.api_params):
            params = _json_value(self.api_params, "api_params") or {}
            if not isinstance(params, Mapping):
                raise ComagicParameterError(f"api_params must be a mapping, got {params!r}")
            required = [p.name for p in spec.params.values() if p.required and p.name not in _RESERVED_PARAMS]
            missing = [name for name in required if name not in params]
            if missing:
                raise ComagicParameterError(
                    f"{self.method} requires {', '.join(missing)}: pass api_params={{{missing[0]!r}: ...}}"
                )
            reserved = _RESERVED_PARAMS
            unknown = set(params) - (set(spec.params) - reserved)
            if unknown:
                allowed = sorted(set(spec.params) - reserved)
                raise ComagicParameterError(
                    f"{self.method}: invalid 'api_params' {sorted(unknown)}; allowed: {', '.join(allowed) or '(none)'}"
                    " (date range, fields, filter, sort and paging have their own arguments)"
                )

    # -- execution ----------------------------------------------------------------------------------------------
    def get_hook(self) -> ComagicHook:
        """The hook talking to the Data API (one per task run: it reuses the HTTP session and the quota)."""
        return ComagicHook(self.comagic_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(rendered=True)
        spec = get_method(self.method)
        # always name the fields: some methods' default fields lack the key or the time field, which the
        # paging engine needs to read exactly (it adds them to an explicit list)
        unified = self.output_schema == "unified"
        fields = list(COMAGIC_SOURCE_FIELDS) if unified else _field_list(self.fields) or list(spec.default_fields)
        filter_ = _json_value(self.filter, "filter") or None
        sort = _json_value(self.sort, "sort") or None
        api_params = dict(_json_value(self.api_params, "api_params") or {})
        hook = self.get_hook()
        try:
            tz = hook.timezone
            start, end = resolve_interval(self.date_from, self.date_till, context, tz)
            plan = hook.plan(
                self.method,
                start,
                end,
                fields=fields,
                filter=filter_,
                sort=sort,
                page_size=self.page_size,
                params=api_params,
            )
            if unified:
                schema = UNIFIED_SCHEMA
            else:
                schema = report_schema(
                    self.method, plan.fields, timestamps=self.timestamps, timezone=hook.config.timezone
                )
            api_from, api_till = interval_to_api(start, end, tz)
            partition = to_storage_path(self.output_path, self.output_conn_id) / partition_name(
                unified_report_name("comagic") if unified else self.method, start, end, tz, self.partition_template
            )
            self.log.info(
                "Landing %s [%s, %s] (account zone %s) as %s into %s",
                self.method,
                api_from,
                api_till,
                hook.config.timezone,
                self.output_format,
                partition,
            )

            def manifest_extra() -> dict[str, Any]:
                return {
                    "method": self.method,
                    "report": report_name(self.method),
                    "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": hook.config.timezone},
                    "api": {"date_from": api_from, "date_till": api_till, **hook.quota.summary()},
                    "query": {
                        "fields": plan.fields,
                        "filter": filter_,
                        "sort": sort,
                        "params": api_params,
                        "page_size": self.page_size,
                    },
                    "plan": plan.stats.as_dict(),
                    "timestamps": self.timestamps,
                    "output_schema": self.output_schema,
                    "airflow": _run_info(context),
                }

            pages = hook.iter_pages(self.method, plan=plan)
            manifest = land_pages(
                comagic_pages_to_unified(pages, tz) if unified else pages,
                partition,
                self.output_format,  # type: ignore[arg-type]
                schema,
                extra=manifest_extra,
                max_rows_per_file=self.max_rows_per_file,
                max_bytes_per_file=self.max_bytes_per_file,
                row_group_rows=self.row_group_rows,
                gzip_level=self.gzip_level,
            )
        finally:
            hook.close()
        summary = {
            "manifest": str(partition / MANIFEST_NAME),
            "partition": str(partition),
            "rows": manifest["rows"],
            "files": len(manifest["files"]),
            "bytes": manifest["bytes"],
            "api_calls": manifest["api"]["calls"],
            "points": manifest["api"]["points"],
            "date_from": api_from,
            "date_till": api_till,
        }
        self.log.info(
            "Landed %d rows of %s in %d file(s), %d bytes; %d API calls, %d points",
            summary["rows"],
            self.method,
            summary["files"],
            summary["bytes"],
            summary["api_calls"],
            summary["points"],
        )
        return summary


class _NamedReportOperator(ComagicReportOperator):
    """Base of the one-method operators: ``method`` is fixed by the class."""

    report_method: ClassVar[str] = ""

    def __init__(self, **kwargs: Any) -> None:
        if "method" in kwargs:
            raise ComagicParameterError(f"{type(self).__name__} always reads {self.report_method}; do not pass method")
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
