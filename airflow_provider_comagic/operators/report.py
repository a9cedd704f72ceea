"""Report operators: every row of a CoMagic report for a data interval, landed in object storage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import (
    ComagicApiError,
    ComagicComponentDisabledError,
    ComagicDayLimitExceededError,
    ComagicError,
    ComagicIpNotWhitelistedError,
    ComagicParameterError,
    ComagicPermissionError,
    ComagicRateLimitError,
)
from airflow_provider_comagic.comagic.paging import MAX_LIMIT
from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.landing.checkpoint import ReportRun, pack_plan_state, unpack_plan_state
from airflow_provider_comagic.landing.run_info import run_info as _run_info
from airflow_provider_comagic.landing.writer import (
    DEFAULT_GZIP_LEVEL,
    DEFAULT_MAX_BYTES_PER_FILE,
    DEFAULT_MAX_ROWS_PER_FILE,
    DEFAULT_ROW_GROUP_ROWS,
    FORMATS,
    MANIFEST_NAME,
    LandingError,
    PartitionWriter,
    check_gzip_level,
    to_storage_path,
)
from airflow_provider_comagic.triggers.quota import ComagicQuotaResetTrigger
from airflow_provider_comagic.unified.schema import (
    COMAGIC_SOURCE_FIELDS,
    OUTPUT_SCHEMAS,
    UNIFIED_SCHEMA,
    comagic_pages_to_unified,
    unified_report_name,
)
from airflow_provider_comagic.utils.intervals import lookback_intervals, partition_name, report_name, resolve_interval
from airflow_provider_comagic.utils.time import interval_to_api
from airflow_provider_comagic.version_compat import AirflowSkipException, BaseOperator, conf

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
QUOTA_RESET_MARGIN = 2.0
"""Seconds added to the API's ``minute_reset``/``day_reset`` before a deferred task resumes."""


def check_output_options(output_format: Any, timestamps: Any, gzip_level: Any, *, rendered: bool) -> None:
    """Check the landing options every landing operator shares (a templated format is checked once rendered)."""
    if (rendered or not is_templated(output_format)) and output_format not in FORMATS:
        raise ComagicParameterError(f"output_format must be one of {', '.join(sorted(FORMATS))}, got {output_format!r}")
    if timestamps not in ("account", "utc"):
        raise ComagicParameterError(f"timestamps must be 'account' or 'utc', got {timestamps!r}")
    try:
        check_gzip_level(gzip_level)
    except LandingError as error:
        raise ComagicParameterError(str(error)) from None


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
    ``points``, ``date_from``, ``date_till`` of the data interval (``api_calls``/``points``: the whole task);
    with ``lookback`` also ``intervals`` (the same keys for every interval landed, the data interval first);
    with ``user_id``/``customer_id`` also those; ``deferrals`` when the task waited for the quota.

    **Agencies (dynamic task mapping).** ``user_id`` makes every call act as that client user; map it over
    :class:`~airflow_provider_comagic.operators.customers.ComagicCustomerUsersOperator`'s output with
    ``.partial(...).expand_kwargs(users.output)`` to land each client under
    ``<output_path>/<report>/customer_id=<id>/date=.../``. With ``skip_on_missing_access=True`` a client whose
    account lacks the method's component (``method_component_disabled``, -32008) or the permission
    (``forbidden``, -32003) is logged and skipped instead of failing its task.

    **Late changes (lookback).** Tags, sales fields, ``is_lost`` and recordings of a call change after the call.
    ``lookback=timedelta(days=7)`` makes each run also re-read the 7 intervals of the same length before its
    own, each as a separate partition committed again (the latest state replaces the earlier copy; no row is
    duplicated). Cost: each run spends (N + 1) times the points of one interval, N = lookback / interval length.

    **Quota waits.** Without ``deferrable`` a spent minute quota is slept out in the worker and a spent day quota
    fails, saying when it resets. With ``deferrable=True`` the task instead finishes its open part file, saves
    its position (interval, window, query offset, the keys the query emitted, the parts written; see
    :mod:`airflow_provider_comagic.landing.checkpoint`) and defers to
    :class:`~airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger` until the quota resets, then
    continues from that call: no page is fetched twice and no row is landed twice.

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
        :func:`airflow_provider_comagic.utils.intervals.partition_name`. (templated)
    :param timestamps: Parquet timestamp columns in the account's zone (``"account"``) or in ``"utc"``.
    :param page_size: rows per API call, 1..10 000. Keep 10 000: smaller pages cost more points.
    :param max_rows_per_file: start a new part file after this many rows.
    :param max_bytes_per_file: start a new part file after this many bytes.
    :param row_group_rows: Parquet row-group size (also the most rows held in memory).
    :param gzip_level: gzip level of JSON Lines parts, 0-9 (1 is fastest; 1-3 are written with ISA-L).
    :param output_schema: ``"raw"`` (the API's rows) or, for ``get.calls_report`` only, ``"unified"``: rows
        of :data:`airflow_provider_comagic.unified.schema.UNIFIED_SCHEMA` (the call table shared with MCN Telecom)
        under ``<output_path>/unified_calls/comagic/...``; ``fields`` is then fixed and must not be given.
    :param user_id: act as this client user of an agent (partner) account: sent in every call instead of the
        connection's ``user_id``. (templated, mappable)
    :param customer_id: the client's customer id: partitions go under ``<report>/customer_id=<id>/`` (without
        it, ``<report>/user_id=<id>/`` when ``user_id`` is given). (templated, mappable)
    :param customer_name: the client's name, for the logs and the manifest. (templated, mappable)
    :param user_login: the client user's login, for the logs and the manifest. (templated, mappable)
    :param skip_on_missing_access: skip the task (logged) instead of failing when the account lacks the
        method's component or permission.
    :param lookback: also re-read and replace the intervals of the same length covering this much time before
        the run's interval, e.g. ``timedelta(days=7)``.
    :param deferrable: wait for a spent point quota in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
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
        "user_id",
        "customer_id",
        "customer_name",
        "user_login",
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
        user_id: int | str | None = None,
        customer_id: int | str | None = None,
        customer_name: str | None = None,
        user_login: str | None = None,
        skip_on_missing_access: bool = False,
        lookback: dt.timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self.user_id = user_id
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.user_login = user_login
        self.skip_on_missing_access = skip_on_missing_access
        self.lookback = lookback
        self.deferrable = deferrable
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
        check_output_options(self.output_format, self.timestamps, self.gzip_level, rendered=rendered)
        if self.lookback is not None and (
            not isinstance(self.lookback, dt.timedelta) or self.lookback < dt.timedelta(0)
        ):
            raise ComagicParameterError(f"lookback must be a non-negative timedelta, got {self.lookback!r}")
        for name in ("user_id", "customer_id"):
            if rendered or not is_templated(getattr(self, name)):
                _optional_id(getattr(self, name), name)
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
        """The hook talking to the Data API (one per task run: it reuses the HTTP session and the quota).

        A deferrable task's hook raises on a spent minute quota instead of sleeping (the task defers)."""
        return ComagicHook(self.comagic_conn_id, wait_for_quota=not self.deferrable)

    def execute(self, context: Context) -> dict[str, Any]:
        self._validate(rendered=True)
        hook = self.get_hook()
        try:
            tz = hook.timezone
            start, end = resolve_interval(self.date_from, self.date_till, context, tz)
            intervals = [(start, end), *lookback_intervals(start, end, tz, self.lookback)]
            if len(intervals) > 1:
                self.log.info(
                    "lookback %s: re-landing %d earlier interval(s) too, %s .. %s",
                    self.lookback,
                    len(intervals) - 1,
                    intervals[-1][0].isoformat(),
                    start.isoformat(),
                )
            return self._run(context, hook, ReportRun(intervals))
        finally:
            hook.close()

    def execute_complete(
        self, context: Context, event: dict[str, Any] | None = None, run: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after :class:`~airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger` fired: continue
        from the saved position (``run``, the JSON of :class:`~airflow_provider_comagic.landing.checkpoint.ReportRun`)."""
        if not event or event.get("status") != "success":
            raise ComagicError(f"CoMagic quota wait ended without success: {event!r}")
        if run is None:
            # the triggerer passes next_kwargs back; `airflow dags test` on Airflow 3.3.2 and earlier drops them
            # (apache/airflow#69942). Starting over is exact (the commit replaces), only slower.
            self.log.warning("The saved position did not come back with the trigger event; landing from the start")
            return self.execute(context)
        self._validate(rendered=True)
        state = ReportRun.from_json(run)
        self.log.info(
            "The CoMagic %s quota has reset; resuming %s (%d of %d interval(s) committed)",
            event.get("limit_type"),
            self.method,
            len(state.done),
            len(state.intervals),
        )
        hook = self.get_hook()
        try:
            return self._run(context, hook, state)
        finally:
            hook.close()

    # -- one run: every interval, deferring on a spent quota -------------------------------------------------------
    def _run(self, context: Context, hook: ComagicHook, run: ReportRun) -> dict[str, Any]:
        try:
            while (interval := run.next_interval()) is not None:
                run.finish(self._land_interval(context, hook, run, *interval))
        except ComagicRateLimitError as error:
            if not self.deferrable:
                raise
            self._defer_until_reset(error, run)
        except (ComagicComponentDisabledError, ComagicPermissionError) as error:
            if self.skip_on_missing_access and _is_missing_access(error):
                self.log.warning(
                    "Skipping %s for %s: %s (%d interval(s) committed before)",
                    self.method,
                    self._client_label(),
                    error,
                    len(run.done),
                )
                raise AirflowSkipException(f"{self._client_label()} has no access to {self.method}: {error}") from None
            raise
        return self._summary(run)

    def _land_interval(
        self, context: Context, hook: ComagicHook, run: ReportRun, start: dt.datetime, end: dt.datetime
    ) -> dict[str, Any]:
        """Land (or continue landing) one interval's partition and commit it; return its summary entry."""
        spec = get_method(self.method)
        tz = hook.timezone
        # always name the fields: some methods' default fields lack the key or the time field, which the
        # paging engine needs to read exactly (it adds them to an explicit list)
        unified = self.output_schema == "unified"
        fields = list(COMAGIC_SOURCE_FIELDS) if unified else _field_list(self.fields) or list(spec.default_fields)
        filter_ = _json_value(self.filter, "filter") or None
        sort = _json_value(self.sort, "sort") or None
        api_params = dict(_json_value(self.api_params, "api_params") or {})
        call_params = dict(api_params)
        user_id = _optional_id(self.user_id, "user_id")
        if user_id is not None:
            call_params["user_id"] = user_id  # sent in every call, overriding the connection's
        plan = hook.plan(
            self.method,
            start,
            end,
            fields=fields,
            filter=filter_,
            sort=sort,
            page_size=self.page_size,
            params=call_params,
        )
        if unified:
            schema = UNIFIED_SCHEMA
        else:
            schema = report_schema(self.method, plan.fields, timestamps=self.timestamps, timezone=hook.config.timezone)
        api_from, api_till = interval_to_api(start, end, tz)
        partition = to_storage_path(self.output_path, self.output_conn_id) / partition_name(
            unified_report_name("comagic") if unified else self.method,
            start,
            end,
            tz,
            self.partition_template,
            customer_id=_optional_id(self.customer_id, "customer_id"),
            user_id=user_id,
        )
        options = {
            "max_rows_per_file": self.max_rows_per_file,
            "max_bytes_per_file": self.max_bytes_per_file,
            "row_group_rows": self.row_group_rows,
            "gzip_level": self.gzip_level,
        }
        fmt: Any = self.output_format
        checkpoint = run.current
        if checkpoint is None:
            writer = PartitionWriter(partition, fmt, schema, **options)
            spent = {"requests": 0, "calls": 0, "points": 0}
            self.log.info(
                "Landing %s [%s, %s] (account zone %s) as %s into %s%s",
                self.method,
                api_from,
                api_till,
                hook.config.timezone,
                self.output_format,
                partition,
                f" for {self._client_label()}" if user_id is not None else "",
            )
        else:
            writer = PartitionWriter.resume(checkpoint["writer"], partition, fmt, schema, **options)
            plan.restore(unpack_plan_state(checkpoint["plan"], writer))
            spent = dict(checkpoint["api"])
            self.log.info(
                "Continuing %s [%s, %s] into %s after %d row(s) in %d part(s): %s",
                self.method,
                api_from,
                api_till,
                partition,
                writer.rows,
                len(writer.files),
                _position(plan.state()),
            )
        quota = hook.quota
        base = {"requests": quota.requests, "calls": quota.calls, "points": quota.points}

        def api_spent() -> dict[str, int]:
            current = {"requests": quota.requests, "calls": quota.calls, "points": quota.points}
            return {k: spent[k] + current[k] - base[k] for k in spent}

        with writer:
            # report rows are landed as the API sent them (JSON Lines bytes, never decoded to dicts), except for
            # the unified schema, which maps each row in Python
            pages = hook.iter_pages(self.method, plan=plan, as_json_lines=not unified)
            try:
                for page in comagic_pages_to_unified(pages, tz) if unified else pages:
                    writer.write(page)
            except ComagicRateLimitError:
                if self.deferrable:
                    # the failed call changed nothing: the plan still points at it, every fed page is written
                    run.suspend(
                        {
                            "writer": writer.suspend(),
                            "plan": pack_plan_state(plan.state(), writer),
                            "api": api_spent(),
                        }
                    )
                raise
            manifest = writer.commit(
                {
                    "method": self.method,
                    "report": report_name(self.method),
                    "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": hook.config.timezone},
                    "api": {"date_from": api_from, "date_till": api_till, **api_spent(), "limits": quota.limits},
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
                    **({"client": self._client()} if user_id is not None else {}),
                    "airflow": _run_info(context),
                }
            )
        entry = {
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
            "Landed %d rows of %s [%s, %s] in %d file(s), %d bytes; %d API calls, %d points",
            entry["rows"],
            self.method,
            api_from,
            api_till,
            entry["files"],
            entry["bytes"],
            entry["api_calls"],
            entry["points"],
        )
        return entry

    def _defer_until_reset(self, error: ComagicRateLimitError, run: ReportRun) -> None:
        """Free the worker until the quota resets; :meth:`execute_complete` continues from ``run``."""
        limit_type = "day" if isinstance(error, ComagicDayLimitExceededError) else "minute"
        wait = max(error.reset_seconds, 1.0) + QUOTA_RESET_MARGIN
        resume_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait)
        state = run.to_json()
        position = _position(state["current"]["plan"].get("inline")) if state["current"] else "between intervals"
        self.log.info(
            "CoMagic %s quota spent (%s); deferring %s for %.0f s until %s. Saved: %d interval(s) committed, %s",
            limit_type,
            error.api_message,
            self.method,
            wait,
            resume_at.isoformat(),
            len(run.done),
            position,
        )
        self.defer(
            trigger=ComagicQuotaResetTrigger(
                resume_at=resume_at.isoformat(), limit_type=limit_type, method=self.method
            ),
            method_name="execute_complete",
            kwargs={"run": state},
        )

    def _summary(self, run: ReportRun) -> dict[str, Any]:
        summary = dict(run.done[0])
        summary["api_calls"] = sum(entry["api_calls"] for entry in run.done)
        summary["points"] = sum(entry["points"] for entry in run.done)
        if len(run.intervals) > 1:
            summary["intervals"] = run.done
        for name in ("user_id", "customer_id"):
            value = _optional_id(getattr(self, name), name)
            if value is not None:
                summary[name] = value
        if run.deferrals:
            summary["deferrals"] = run.deferrals
        return summary

    def _client(self) -> dict[str, Any]:
        client = {
            "customer_id": _optional_id(self.customer_id, "customer_id"),
            "customer_name": self.customer_name,
            "user_id": _optional_id(self.user_id, "user_id"),
            "user_login": self.user_login,
        }
        return {k: v for k, v in client.items() if v not in (None, "")}

    def _client_label(self) -> str:
        client = self._client()
        if not client:
            return "the connection's account"
        name = f"{client['customer_name']!r} " if "customer_name" in client else ""
        ids = ", ".join(f"{k} {v}" for k, v in client.items() if k in ("customer_id", "user_id"))
        return f"customer {name}({ids})"


def _is_missing_access(error: ComagicApiError) -> bool:
    """A client-level gap a fan-out may skip: a disabled component or a missing permission (not the IP list)."""
    if isinstance(error, ComagicIpNotWhitelistedError):
        return False
    return isinstance(error, ComagicComponentDisabledError) or error.mnemonic in (None, "forbidden")


def _optional_id(value: Any, name: str) -> int | None:
    """An id given as an int or as the string a template renders to; None when unset."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ComagicParameterError(f"{name} must be an integer id, got {value!r}")
    try:
        return int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ComagicParameterError(f"{name} must be an integer id, got {value!r}") from None


def _position(plan_state: dict[str, Any] | None) -> str:
    """A one-line description of a plan state, for the logs."""
    if not plan_state:
        return "paging state stored aside"
    query = plan_state.get("query")
    windows = len(plan_state.get("windows") or [])
    if query is None:
        return f"next query of {windows} pending window(s)"
    return (
        f"query from {query['start']} at offset {query['offset']} of {query['total']} "
        f"({len(query['seen'])} keys emitted), {windows} window(s) pending"
    )


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
