"""Report operators: every row of a CoMagic report for a data interval, landed in object storage.

The pieces of one run, each with one job: :class:`ReportQuery` (the query options, parsed once),
:class:`ReportClient` (the agency client acted as), :meth:`ComagicReportOperator._land_interval` (one interval:
plan, schema, partition, writer, pages, manifest) and :class:`~airflow_provider_comagic.landing.checkpoint.ReportRun`
(where a deferred task stands).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_comagic.comagic.catalogue import MethodSpec, get_method
from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID
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
from airflow_provider_comagic.comagic.paging import MAX_LIMIT, PagePlan
from airflow_provider_comagic.landing.assets import partition_key
from airflow_provider_comagic.landing.checkpoint import (
    ClientGroupRun,
    ReportRun,
    pack_plan_state,
    unpack_plan_state,
)
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME
from airflow_provider_comagic.landing.partitions import partition_name, report_name
from airflow_provider_comagic.landing.writer import PartitionWriter
from airflow_provider_comagic.operators.base import BaseLandingOperator
from airflow_provider_comagic.triggers.quota import ComagicQuotaResetTrigger
from airflow_provider_comagic.unified.comagic import COMAGIC_SOURCE_FIELDS, comagic_pages_to_unified
from airflow_provider_comagic.unified.schema import OUTPUT_SCHEMAS, unified_report_name, unified_schema
from airflow_provider_comagic.utils.lineage import dataset
from airflow_provider_comagic.utils.templating import (
    is_templated,
    parse_list,
    parse_optional_int,
    parse_structure,
)
from airflow_provider_comagic.utils.time import (
    check_literal_interval,
    interval_to_api,
    lookback_intervals,
    resolve_interval,
)
from airflow_provider_comagic.version_compat import AirflowSkipException, conf

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook
    from airflow_provider_comagic.version_compat import ObjectStoragePath

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
    "ReportClient",
    "ReportQuery",
]

# request parameters the operator or the hook set themselves
_RESERVED_PARAMS = frozenset(
    {"access_token", "user_id", "date_from", "date_till", "limit", "offset", "fields", "filter", "sort"}
)
QUOTA_RESET_MARGIN = 2.0
"""Seconds added to the API's ``minute_reset``/``day_reset`` before a deferred task resumes."""
_ERROR = ComagicParameterError


@dataclasses.dataclass(frozen=True)
class ReportQuery:
    """The query options of a report task, parsed once from the (rendered) operator arguments.

    :param fields: the row fields to request (``None``: the method's default fields).
    :param filter: the Data API filter, or None.
    :param sort: the Data API sort list, or None.
    :param api_params: method-specific parameters passed through.
    :param user_id: the client user every call acts as (agency fan-out), or None.
    :param customer_id: the client's customer id (partition folder), or None.
    :param customer_name: the client's name (logs, manifest), or None.
    :param user_login: the client user's login (logs, manifest), or None.
    """

    fields: list[str] | None
    filter: dict[str, Any] | None
    sort: list[dict[str, Any]] | None
    api_params: dict[str, Any]
    user_id: int | None
    customer_id: int | None
    customer_name: str | None = None
    user_login: str | None = None

    @classmethod
    def parse(cls, op: ComagicReportOperator, spec: MethodSpec) -> ReportQuery:
        """Read the operator's query arguments (lists, JSON or Python-literal strings once rendered) and check
        each against the catalogue as it is read (before any call)."""
        fields = parse_list(op.fields, "fields", item=str, error=_ERROR)
        if fields is not None:
            spec.validate_fields(fields)
        filter_ = parse_structure(op.filter, "filter", error=_ERROR)
        if filter_:
            spec.validate_filter(filter_)
        sort = parse_structure(op.sort, "sort", kinds=(list,), error=_ERROR)
        if sort:
            spec.validate_sort(sort)
        api_params = dict(parse_structure(op.api_params, "api_params", error=_ERROR) or {})
        check_api_params(spec, api_params)
        return cls(
            fields=fields,
            filter=filter_,
            sort=sort,
            api_params=api_params,
            user_id=parse_optional_int(op.user_id, "user_id", error=_ERROR),
            customer_id=parse_optional_int(op.customer_id, "customer_id", error=_ERROR),
            customer_name=op.customer_name or None,
            user_login=op.user_login or None,
        )

    def for_client(self, client: ReportClient) -> ReportQuery:
        """The same query acting as ``client`` (one client of a group)."""
        return dataclasses.replace(
            self,
            user_id=client.user_id,
            customer_id=client.customer_id,
            customer_name=client.customer_name,
            user_login=client.user_login,
        )

    @property
    def client(self) -> ReportClient:
        """The agency client this query acts as."""
        return ReportClient(self.customer_id, self.customer_name, self.user_id, self.user_login)

    def call_params(self) -> dict[str, Any]:
        """``api_params`` plus the client's ``user_id`` (sent in every call, overriding the connection's)."""
        params = dict(self.api_params)
        if self.user_id is not None:
            params["user_id"] = self.user_id
        return params


def check_api_params(spec: MethodSpec, params: Mapping[str, Any]) -> None:
    """Required method parameters present, no unknown or reserved ones."""
    required = [p.name for p in spec.params.values() if p.required and p.name not in _RESERVED_PARAMS]
    missing = [name for name in required if name not in params]
    if missing:
        raise _ERROR(f"{spec.name} requires {', '.join(missing)}: pass api_params={{{missing[0]!r}: ...}}")
    unknown = set(params) - (set(spec.params) - _RESERVED_PARAMS)
    if unknown:
        allowed = sorted(set(spec.params) - _RESERVED_PARAMS)
        raise _ERROR(
            f"{spec.name}: invalid 'api_params' {sorted(unknown)}; allowed: {', '.join(allowed) or '(none)'}"
            " (date range, fields, filter, sort and paging have their own arguments)"
        )


CLIENT_KEYS = ("user_id", "customer_id", "customer_name", "user_login")
"""The keys of one client entry (of ``clients``, or of a per-client fan-out)."""


@dataclasses.dataclass(frozen=True)
class ReportClient:
    """The agency client a report task acts as (all None for the connection's own account)."""

    customer_id: int | None = None
    customer_name: str | None = None
    user_id: int | None = None
    user_login: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The set fields, for the manifest."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, "")}

    @classmethod
    def parse_group(cls, value: Any) -> list[ReportClient] | None:
        """The ``clients`` argument (entries of
        :class:`~airflow_provider_comagic.operators.customers.ComagicCustomerUsersOperator`, or their JSON once
        rendered) as clients; None when not given. Each entry needs ``user_id``; a client listed twice would be
        landed twice, so it is refused."""
        items = parse_structure(value, "clients", kinds=(list,), error=_ERROR)
        if items is None:
            if value is None:
                return None
            raise _ERROR(
                "clients is empty: give at least one {'user_id': ..., 'customer_id': ...} entry or leave it unset"
            )
        clients: list[ReportClient] = []
        seen: set[tuple[str, int]] = set()
        for index, item in enumerate(items):
            client = cls._from_entry(item, f"clients[{index}]")
            key = ("customer_id", client.customer_id) if client.customer_id is not None else ("user_id", client.user_id)
            if key in seen:
                raise _ERROR(f"clients lists {key[0]} {key[1]} twice: its partitions would be landed twice")
            seen.add(key)  # type: ignore[arg-type]

            clients.append(client)
        return clients

    @classmethod
    def _from_entry(cls, item: Any, name: str) -> ReportClient:
        if not isinstance(item, Mapping):
            raise _ERROR(f"{name} must be a mapping with user_id (and customer_id, ...), got {item!r:.100}")
        unknown = set(item) - set(CLIENT_KEYS)
        if unknown:
            raise _ERROR(f"{name} has unknown key(s) {sorted(unknown)}; allowed: {', '.join(CLIENT_KEYS)}")
        user_id = parse_optional_int(item.get("user_id"), f"{name}.user_id", error=_ERROR)
        if user_id is None:
            raise _ERROR(f"{name} has no user_id: every client of a group is acted as through its user")
        return cls(
            parse_optional_int(item.get("customer_id"), f"{name}.customer_id", error=_ERROR),
            str(item["customer_name"]) if item.get("customer_name") not in (None, "") else None,
            user_id,
            str(item["user_login"]) if item.get("user_login") not in (None, "") else None,
        )

    @property
    def key(self) -> int:
        """The id a group records the client by: its customer id, else its user id."""
        return self.customer_id if self.customer_id is not None else self.user_id  # type: ignore[return-value]

    def label(self) -> str:
        """How the logs name the client."""
        client = self.as_dict()
        if not client:
            return "the connection's account"
        name = f"{client['customer_name']!r} " if "customer_name" in client else ""
        ids = ", ".join(f"{k} {v}" for k, v in client.items() if k in ("customer_id", "user_id"))
        return f"customer {name}({ids})"


class ComagicReportOperator(BaseLandingOperator):
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
    with ``user_id``/``customer_id`` also those; ``deferrals`` when the task waited for the quota.

    **Agencies (dynamic task mapping).** ``user_id`` makes every call act as that client user; map it over
    :class:`~airflow_provider_comagic.operators.customers.ComagicCustomerUsersOperator`'s output with
    ``.partial(...).expand_kwargs(users.output)`` to land each client under
    ``<output_path>/<report>/customer_id=<id>/date=.../``. With ``skip_on_missing_access=True`` a client whose
    account lacks the method's component (``method_component_disabled``, -32008) or the permission
    (``forbidden``, -32003) is logged and skipped instead of failing its task.

    **Groups of clients (more clients than ``[core] max_map_length``).** ``clients=[{"user_id", "customer_id",
    ...}, ...]`` makes one task land several clients, one after the other, each into its own
    ``customer_id=<id>`` partitions exactly as a per-client task would. Map it over
    ``ComagicCustomerUsersOperator(group_size=N)``, whose entries are ``{"clients": [...]}``. A client without
    access is skipped (with ``skip_on_missing_access``) and the group goes on; a deferral saves which clients are
    done and where the current one stands. The XCom is a summary of the group (``clients``, ``landed``,
    ``skipped``, ``partitions``, ``rows``, ``files``, ``bytes``, ``api_calls``, ``points``), never one entry per
    client: each client's partitions are described by their manifests.

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

    The output options (``output_path``, ``output_format``, ``output_conn_id``, ``timestamps``, part sizes,
    ``gzip_level``) are those of :class:`~airflow_provider_comagic.operators.base.BaseLandingOperator`.

    :param method: report method, e.g. ``get.calls_report`` (see ``report_methods()``).


    :param comagic_conn_id: the ``comagic`` connection.

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
        :func:`airflow_provider_comagic.landing.partitions.partition_name`. (templated)

    :param page_size: rows per API call, 1..10 000. Keep 10 000: smaller pages cost more points.




    :param output_schema: ``"raw"`` (the API's rows) or, for ``get.calls_report`` only, ``"unified"``: rows
        of :data:`airflow_provider_comagic.unified.schema.UNIFIED_SCHEMA` (the call table shared with MCN Telecom)
        under ``<output_path>/unified_calls/comagic/...``; ``fields`` is then fixed and must not be given.
    :param user_id: act as this client user of an agent (partner) account: sent in every call instead of the
        connection's ``user_id``. (templated, mappable)
    :param customer_id: the client's customer id: partitions go under ``<report>/customer_id=<id>/`` (without
        it, ``<report>/user_id=<id>/`` when ``user_id`` is given). (templated, mappable)
    :param customer_name: the client's name, for the logs and the manifest. (templated, mappable)
    :param user_login: the client user's login, for the logs and the manifest. (templated, mappable)
    :param clients: land these clients one after the other instead of one: entries with ``user_id`` and
        optionally ``customer_id``, ``customer_name``, ``user_login`` (a list, or its JSON once rendered). Not
        together with ``user_id``/``customer_id``/``customer_name``/``user_login``. (templated, mappable)
    :param skip_on_missing_access: skip the task (logged) instead of failing when the account lacks the
        method's component or permission.
    :param lookback: also re-read and replace the intervals of the same length covering this much time before
        the run's interval, e.g. ``timedelta(days=7)``.
    :param deferrable: wait for a spent point quota in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = (
        *BaseLandingOperator.template_fields,
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
        "clients",
    )
    template_fields_renderers = {
        "filter": "json",
        "sort": "json",
        "api_params": "json",
        "fields": "json",
        "clients": "json",
    }
    ui_color = "#e8f4fd"
    parameter_error = ComagicParameterError

    def __init__(
        self,
        *,
        method: str,
        comagic_conn_id: str = DEFAULT_CONN_ID,
        date_from: str | dt.datetime | dt.date | None = None,
        date_till: str | dt.datetime | dt.date | None = None,
        fields: Sequence[str] | str | None = None,
        filter: Mapping[str, Any] | str | None = None,
        sort: Sequence[Mapping[str, Any]] | str | None = None,
        api_params: Mapping[str, Any] | None = None,
        partition_template: str | None = None,
        page_size: int = MAX_LIMIT,
        output_schema: str = "raw",
        user_id: int | str | None = None,
        customer_id: int | str | None = None,
        customer_name: str | None = None,
        user_login: str | None = None,
        clients: Sequence[Mapping[str, Any]] | str | None = None,
        skip_on_missing_access: bool = False,
        lookback: dt.timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.method = method
        self.comagic_conn_id = comagic_conn_id
        self.date_from = date_from
        self.date_till = date_till
        self.fields = fields
        self.filter = filter
        self.sort = sort
        self.api_params = api_params
        self.partition_template = partition_template
        self.page_size = page_size
        self.output_schema = output_schema
        self.user_id = user_id
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.user_login = user_login
        self.clients = clients
        self.skip_on_missing_access = skip_on_missing_access
        self.lookback = lookback
        self.deferrable = deferrable
        self._validate(rendered=False)
        if not (is_templated(date_from) or is_templated(date_till)):
            check_literal_interval(date_from, date_till, error=ComagicParameterError)
        self.declare_output_asset(rendered=False)

    def asset_folder(self) -> str:
        """``<report>`` (``unified_calls/comagic`` with ``output_schema="unified"``): the folder of the asset."""
        return unified_report_name("comagic") if self.output_schema == "unified" else report_name(self.method)

    def api_dataset(self) -> Any:
        """OpenLineage: ``comagic://<Data API host>``, name ``<method>`` (``<method>/customer_id=<id>`` for an agency's
        client, ``.../user_id=<id>`` for a user),
        schema = the requested fields as the catalogue describes them."""
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
        """Check every option; once rendered, return the parsed :class:`ReportQuery`."""
        spec = get_method(self.method)  # unknown method: lists the known ones
        if not spec.date_range:
            raise ComagicParameterError(f"{self.method} is not a report method (it takes no date range)")
        self._check_output_schema()
        self.check_output_options(rendered=rendered)
        if self.lookback is not None and (
            not isinstance(self.lookback, dt.timedelta) or self.lookback < dt.timedelta(0)
        ):
            raise ComagicParameterError(f"lookback must be a non-negative timedelta, got {self.lookback!r}")
        page_size = self.page_size
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_LIMIT:
            raise ComagicParameterError(f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}")
        if self.clients is not None:
            given = [name for name in CLIENT_KEYS if getattr(self, name) not in (None, "")]
            if given:
                raise _ERROR(
                    f"clients lists the clients to land; do not pass {', '.join(given)} with it (each entry has them)"
                )
        if rendered:
            return ReportQuery.parse(self, spec)
        self._check_literal_query(spec)
        return None

    def _check_output_schema(self) -> None:
        if self.output_schema not in OUTPUT_SCHEMAS:
            raise ComagicParameterError(f"output_schema must be 'raw' or 'unified', got {self.output_schema!r}")
        if self.output_schema == "unified":
            if self.method != "get.calls_report":
                raise ComagicParameterError(
                    f"output_schema='unified' maps get.calls_report rows only; {self.method} has no unified form"
                )
            if self.fields is not None:
                raise ComagicParameterError("output_schema='unified' requests its own fields; do not pass fields")

    def _check_literal_query(self, spec: MethodSpec) -> None:
        """At parse time, check the query arguments that are not templates."""
        for name in ("user_id", "customer_id"):
            if not is_templated(getattr(self, name)):
                parse_optional_int(getattr(self, name), name, error=_ERROR)
        if self.clients is not None and not is_templated(self.clients):
            ReportClient.parse_group(self.clients)
        if not is_templated(self.fields):
            fields = parse_list(self.fields, "fields", item=str, error=_ERROR)
            if fields is not None:
                spec.validate_fields(fields)
        if self.filter and not is_templated(self.filter, skip_keys=frozenset({"value"})):
            spec.validate_filter(parse_structure(self.filter, "filter", error=_ERROR))
        if self.sort and not is_templated(self.sort):
            spec.validate_sort(parse_structure(self.sort, "sort", kinds=(list,), error=_ERROR))
        if not is_templated(self.api_params):
            check_api_params(spec, parse_structure(self.api_params, "api_params", error=_ERROR) or {})

    # -- execution ----------------------------------------------------------------------------------------------
    def get_hook(self) -> ComagicHook:
        """The hook talking to the Data API (one per task run: it reuses the HTTP session and the quota).

        A deferrable task's hook raises on a spent minute quota instead of sleeping (the task defers)."""
        from airflow_provider_comagic.hooks.comagic import ComagicHook  # requests: not at DAG parse time

        return ComagicHook(self.comagic_conn_id, wait_for_quota=not self.deferrable)

    def execute(self, context: Context) -> dict[str, Any]:
        query = self._rendered_query()
        clients = ReportClient.parse_group(self.clients)
        hook = self.get_hook()
        try:
            intervals = self._intervals(context, hook)
            if clients is not None:
                return self._run_group(context, hook, query, ClientGroupRun(len(clients), ReportRun(intervals)))
            return self._run(context, hook, query, ReportRun(intervals))
        finally:
            hook.close()

    def _intervals(self, context: Context, hook: ComagicHook) -> list[tuple[dt.datetime, dt.datetime]]:
        """The data interval (or the explicit dates), then the lookback intervals."""
        tz = hook.timezone
        start, end = resolve_interval(self.date_from, self.date_till, context, tz, error=_ERROR)
        intervals = [(start, end), *lookback_intervals(start, end, tz, self.lookback, error=_ERROR)]
        if len(intervals) > 1:
            self.log.info(
                "lookback %s: re-landing %d earlier interval(s) too, %s .. %s",
                self.lookback,
                len(intervals) - 1,
                intervals[-1][0].isoformat(),
                start.isoformat(),
            )
        return intervals

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
        group: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Resume after :class:`~airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger` fired: continue
        from the saved position (``run``, the JSON of :class:`~airflow_provider_comagic.landing.checkpoint.ReportRun`,
        or ``group``, that of :class:`~airflow_provider_comagic.landing.checkpoint.ClientGroupRun`)."""
        if not event or event.get("status") != "success":
            raise ComagicError(f"CoMagic quota wait ended without success: {event!r}")
        if run is None and group is None:
            # the triggerer passes next_kwargs back; `airflow dags test` on Airflow 3.3.2 and earlier drops them
            # (apache/airflow#69942). Starting over is exact (the commit replaces), only slower.
            self.log.warning("The saved position did not come back with the trigger event; landing from the start")
            return self.execute(context)
        query = self._rendered_query()
        clients = ReportClient.parse_group(self.clients)
        keys = [client.key for client in clients] if clients is not None else None
        saved = ClientGroupRun.from_json(group, keys) if group is not None else None
        state = saved.current if saved is not None else ReportRun.from_json(run)
        self.log.info(
            "The CoMagic %s quota has reset; resuming %s (%d of %d interval(s) committed%s)",
            event.get("limit_type"),
            self.method,
            len(state.done),
            len(state.intervals),
            f"; client {saved.position + 1} of {saved.size}" if saved is not None else "",
        )
        hook = self.get_hook()
        try:
            if saved is not None:
                return self._run_group(context, hook, query, saved, clients)
            return self._run(context, hook, query, state)
        finally:
            hook.close()

    def _rendered_query(self) -> ReportQuery:
        query = self._validate(rendered=True)
        assert query is not None
        return query

    def client(self, query: ReportQuery) -> ReportClient:
        """The agency client this task (or this step of a group) acts as."""
        return query.client

    # -- one run: every interval, deferring on a spent quota -------------------------------------------------------
    def _run(self, context: Context, hook: ComagicHook, query: ReportQuery, run: ReportRun) -> dict[str, Any]:
        try:
            self._land_intervals(context, hook, query, run)
        except ComagicRateLimitError as error:
            if not self.deferrable:
                raise
            self._defer_until_reset(error, run, {"run": run.to_json()})
        except (ComagicComponentDisabledError, ComagicPermissionError) as error:
            if self._may_skip(error):
                label = self.client(query).label()
                self._log_skip(label, error, run)
                raise AirflowSkipException(f"{label} has no access to {self.method}: {error}") from None
            raise
        self.emit_landed(context, run.done)  # every interval committed by this task, across deferrals
        return self._summary(query, run)

    def _land_intervals(self, context: Context, hook: ComagicHook, query: ReportQuery, run: ReportRun) -> None:
        while (interval := run.next_interval()) is not None:
            run.finish(self._land_interval(context, hook, query, run, *interval))

    def _may_skip(self, error: ComagicApiError) -> bool:
        return self.skip_on_missing_access and _is_missing_access(error)

    def _log_skip(self, label: str, error: ComagicApiError, run: ReportRun) -> None:
        self.log.warning(
            "Skipping %s for %s: %s (%d interval(s) committed before)", self.method, label, error, len(run.done)
        )

    def _run_group(
        self,
        context: Context,
        hook: ComagicHook,
        query: ReportQuery,
        group: ClientGroupRun,
        clients: list[ReportClient] | None = None,
    ) -> dict[str, Any]:
        """Land each client of ``clients`` in turn from ``group.position``; skip those without access (when
        allowed); on a spent quota, defer with the group's position."""
        clients = clients if clients is not None else ReportClient.parse_group(self.clients) or []
        while group.position < len(clients):
            client = clients[group.position]
            client_query = query.for_client(client)
            run = group.current
            if group.client is None:
                self.log.info("Client %d of %d: %s", group.position + 1, group.size, client.label())
            try:
                self._land_intervals(context, hook, client_query, run)
            except ComagicRateLimitError as error:
                if not self.deferrable:
                    raise
                group.suspend(client.key)
                self._defer_until_reset(error, run, {"group": group.to_json()})
            except (ComagicComponentDisabledError, ComagicPermissionError) as error:
                if not self._may_skip(error):
                    raise
                self._log_skip(client.label(), error, run)
                group.skip(client.key)
                continue
            group.finish()
        self.emit_landed(context, group.landed)  # every client's partitions, across deferrals
        return self._group_summary(group, clients)

    def _land_interval(
        self,
        context: Context,
        hook: ComagicHook,
        query: ReportQuery,
        run: ReportRun,
        start: dt.datetime,
        end: dt.datetime,
    ) -> dict[str, Any]:
        """Land (or continue landing) one interval's partition and commit it; return its summary entry."""
        plan = self._plan(hook, query, start, end)
        self._api_lineage = {
            "host": hook.config.host,
            "fields": list(plan.fields),
            "customer_id": query.customer_id,
            "user_id": query.user_id,
        }
        schema = self._schema(hook, plan)
        partition = self._partition(hook, query, start, end)
        api_dates = interval_to_api(start, end, hook.timezone, error=_ERROR)
        writer, spent = self._open_writer(run.current, partition, schema, plan, hook, query, api_dates)
        meter = _ApiMeter(hook, spent)
        with writer:
            self._write_pages(writer, hook, plan, run, meter)
            manifest = writer.commit(self._manifest_extra(context, hook, query, plan, start, end, api_dates, meter))
        client = query.customer_id if query.customer_id is not None else query.user_id
        return self._interval_entry(
            partition, manifest, api_dates, partition_key(start, end, hook.timezone, client), query
        )

    def _plan(self, hook: ComagicHook, query: ReportQuery, start: dt.datetime, end: dt.datetime) -> PagePlan:
        """The paging plan of one interval. Fields are always named: some methods' default fields lack the key
        or the time field, which the engine needs to read exactly (it adds them to an explicit list)."""
        if self.output_schema == "unified":
            fields = list(COMAGIC_SOURCE_FIELDS)
        else:
            fields = query.fields or list(get_method(self.method).default_fields)
        return hook.plan(
            self.method,
            start,
            end,
            fields=fields,
            filter=query.filter,
            sort=query.sort,
            page_size=self.page_size,
            params=query.call_params(),
        )

    def _schema(self, hook: ComagicHook, plan: PagePlan) -> pa.Schema:
        """The Arrow schema of the landed rows: the unified table, or the report's fields from the catalogue."""
        if self.output_schema == "unified":
            return unified_schema()
        from airflow_provider_comagic.comagic.schemas import report_schema  # pyarrow: not at DAG parse time

        return report_schema(self.method, plan.fields, timestamps=self.timestamps, timezone=hook.config.timezone)

    def _partition(
        self, hook: ComagicHook, query: ReportQuery, start: dt.datetime, end: dt.datetime
    ) -> ObjectStoragePath:
        """The partition folder of ``[start, end)`` under the output path."""
        report = unified_report_name("comagic") if self.output_schema == "unified" else self.method
        name = partition_name(
            report,
            start,
            end,
            hook.timezone,
            self.partition_template,
            customer_id=query.customer_id,
            user_id=query.user_id,
            error=_ERROR,
        )
        return self.output_base() / name

    def _open_writer(
        self,
        checkpoint: Mapping[str, Any] | None,
        partition: ObjectStoragePath,
        schema: pa.Schema,
        plan: PagePlan,
        hook: ComagicHook,
        query: ReportQuery,
        api_dates: tuple[str, str],
    ) -> tuple[PartitionWriter, dict[str, int]]:
        """A new writer, or the suspended one of a deferred task (its plan restored); the API use so far."""
        fmt: Any = self.output_format
        options = self.writer_options()
        if checkpoint is None:
            self.log.info(
                "Landing %s [%s, %s] (account zone %s) as %s into %s%s",
                self.method,
                *api_dates,
                hook.config.timezone,
                self.output_format,
                partition,
                f" for {self.client(query).label()}" if query.user_id is not None else "",
            )
            return PartitionWriter(partition, fmt, schema, **options), {"requests": 0, "calls": 0, "points": 0}
        writer = PartitionWriter.resume(checkpoint["writer"], partition, fmt, schema, **options)
        plan.restore(unpack_plan_state(checkpoint["plan"], writer))
        self.log.info(
            "Continuing %s [%s, %s] into %s after %d row(s) in %d part(s): %s",
            self.method,
            *api_dates,
            partition,
            writer.rows,
            len(writer.files),
            _position(plan.state()),
        )
        return writer, dict(checkpoint["api"])

    def _write_pages(
        self, writer: PartitionWriter, hook: ComagicHook, plan: PagePlan, run: ReportRun, meter: _ApiMeter
    ) -> None:
        """Feed every page of the plan to the writer; on a spent quota, save the position for a deferral."""
        unified = self.output_schema == "unified"
        # report rows are landed as the API sent them (JSON Lines bytes, never decoded to dicts), except for the
        # unified schema, which maps each row in Python
        pages = hook.iter_pages(self.method, plan=plan, as_json_lines=not unified)
        try:
            for page in comagic_pages_to_unified(pages, hook.timezone) if unified else pages:
                writer.write(page)
                del page  # landed: not held while the next page is made
        except ComagicRateLimitError:
            if self.deferrable:
                # the failed call changed nothing: the plan still points at it, every fed page is written
                run.suspend(
                    {
                        "writer": writer.suspend(),
                        "plan": pack_plan_state(plan.state(), writer),
                        "api": meter.spent(),
                    }
                )
            raise

    def _manifest_extra(
        self,
        context: Context,
        hook: ComagicHook,
        query: ReportQuery,
        plan: PagePlan,
        start: dt.datetime,
        end: dt.datetime,
        api_dates: tuple[str, str],
        meter: _ApiMeter,
    ) -> dict[str, Any]:
        """What the manifest records besides the files: the interval, the API use, the query and the run."""
        client = self.client(query)
        return {
            "method": self.method,
            "report": report_name(self.method),
            "interval": {"start": start.isoformat(), "end": end.isoformat(), "timezone": hook.config.timezone},
            "api": {
                "date_from": api_dates[0],
                "date_till": api_dates[1],
                **meter.spent(),
                "limits": hook.quota.limits,
            },
            "query": {
                "fields": plan.fields,
                "filter": query.filter,
                "sort": query.sort,
                "params": query.api_params,
                "page_size": self.page_size,
            },
            "plan": plan.stats.as_dict(),
            "timestamps": self.timestamps,
            "output_schema": self.output_schema,
            **({"client": client.as_dict()} if query.user_id is not None else {}),
            "airflow": self.airflow_run_info(context),
        }

    def _interval_entry(
        self,
        partition: ObjectStoragePath,
        manifest: Mapping[str, Any],
        api_dates: tuple[str, str],
        key: str,
        query: ReportQuery,
    ) -> dict[str, Any]:
        """The summary of one committed interval (an item of the XCom, and what its asset event says)."""
        clients = (("customer_id", query.customer_id), ("user_id", query.user_id))
        entry = {
            "partition_key": key,
            **{name: value for name, value in clients if value is not None},
            "replaced": bool(manifest.get("replaces")),
            "manifest": str(partition / MANIFEST_NAME),
            "partition": str(partition),
            "rows": manifest["rows"],
            "files": len(manifest["files"]),
            "bytes": manifest["bytes"],
            "api_calls": manifest["api"]["calls"],
            "points": manifest["api"]["points"],
            "date_from": api_dates[0],
            "date_till": api_dates[1],
        }
        if manifest.get("superseded_by"):  # a later run of the same partition committed after this one
            entry["superseded_by"] = manifest["superseded_by"]
        self.log.info(
            "Landed %d rows of %s [%s, %s] in %d file(s), %d bytes; %d API calls, %d points",
            entry["rows"],
            self.method,
            *api_dates,
            entry["files"],
            entry["bytes"],
            entry["api_calls"],
            entry["points"],
        )
        return entry

    def _defer_until_reset(self, error: ComagicRateLimitError, run: ReportRun, saved: dict[str, Any]) -> None:
        """Free the worker until the quota resets; :meth:`execute_complete` gets ``saved`` (``run`` or ``group``)
        back as its keyword arguments and continues from there (``run``: the interval in progress, for the log)."""
        limit_type = "day" if isinstance(error, ComagicDayLimitExceededError) else "minute"
        wait = max(error.reset_seconds, 1.0) + QUOTA_RESET_MARGIN
        resume_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait)
        position = _position(run.current["plan"].get("inline")) if run.current else "between intervals"
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
            kwargs=saved,
        )

    def _summary(self, query: ReportQuery, run: ReportRun) -> dict[str, Any]:
        summary = dict(run.done[0])
        summary["api_calls"] = sum(entry["api_calls"] for entry in run.done)
        summary["points"] = sum(entry["points"] for entry in run.done)
        if len(run.intervals) > 1:
            summary["intervals"] = run.done
        for name in ("user_id", "customer_id"):
            value = getattr(query, name)
            if value is not None:
                summary[name] = value
        if run.deferrals:
            summary["deferrals"] = run.deferrals
        return summary

    def _group_summary(self, group: ClientGroupRun, clients: Sequence[ReportClient]) -> dict[str, Any]:
        """The XCom of a group: totals over its clients (each client's partitions have their own manifests)."""
        summary = {
            "clients": group.size,
            "landed": group.size - len(group.skipped),
            "skipped": group.skipped,
            **group.totals,
            "output": str(self.output_base()),
        }
        if group.deferrals:
            summary["deferrals"] = group.deferrals
        self.log.info(
            "Group of %d client(s) from %s: %d landed, %d skipped; %d partition(s), %d rows, %d API calls, %d points",
            group.size,
            clients[0].label() if clients else "(none)",
            summary["landed"],
            len(group.skipped),
            group.totals["partitions"],
            group.totals["rows"],
            group.totals["api_calls"],
            group.totals["points"],
        )
        return summary


class _ApiMeter:
    """API requests, calls and points one interval has spent: before a resume (``spent``) plus this hook's."""

    def __init__(self, hook: ComagicHook, spent: Mapping[str, int]):
        self._quota = hook.quota
        self._before = dict(spent)
        self._base = self._now()

    def _now(self) -> dict[str, int]:
        return {"requests": self._quota.requests, "calls": self._quota.calls, "points": self._quota.points}

    def spent(self) -> dict[str, int]:
        current = self._now()
        return {k: self._before[k] + current[k] - self._base[k] for k in self._before}


def _is_missing_access(error: ComagicApiError) -> bool:
    """A client-level gap a fan-out may skip: a disabled component or a missing permission (not the IP list)."""
    if isinstance(error, ComagicIpNotWhitelistedError):
        return False
    return isinstance(error, ComagicComponentDisabledError) or error.mnemonic in (None, "forbidden")


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
