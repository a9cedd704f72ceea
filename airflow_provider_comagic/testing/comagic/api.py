"""The JSON-RPC 2.0 dispatcher of the emulated Data API (no I/O: request bytes in, response bytes out).

Order of checks follows the API: JSON and envelope, method, access token, quota, parameters, execution.
Only successful calls are charged; every response, errors included, carries ``metadata.limits``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_comagic.comagic.catalogue import get_method, report_builder_methods, report_methods
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.testing.clock import EmulatorClock
from airflow_provider_comagic.testing.comagic.aggregates import AGGREGATES, aggregate_rows
from airflow_provider_comagic.testing.comagic.auth import TokenStore
from airflow_provider_comagic.testing.comagic.builder import builder_query, check_builder_query
from airflow_provider_comagic.testing.comagic.config import EmulatorConfig
from airflow_provider_comagic.testing.comagic.data import DataStore
from airflow_provider_comagic.testing.comagic.limits import QuotaLedger
from airflow_provider_comagic.testing.comagic.partner import (
    CUSTOMER_BASE,
    customer_of,
    customer_seed,
    partner_rows,
    user_id_of,
)
from airflow_provider_comagic.testing.comagic.query import (
    Page,
    Query,
    ResultCache,
    parse_query,
    run_report_query,
    run_rows_query,
)
from airflow_provider_comagic.testing.comagic.references import key_of
from airflow_provider_comagic.testing.comagic.rpc import RpcError, error_body, result_body, rows_result_body
from airflow_provider_comagic.testing.comagic.stats import EmulatorStats
from airflow_provider_comagic.testing.comagic.uploads import (
    MAX_BODY_BYTES,
    UploadStore,
    check_uploaded_calls_params,
)
from airflow_provider_comagic.testing.drift import drifted_bytes
from airflow_provider_comagic.testing.faults import Fault
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

AUTH_FREE = frozenset({"login.user"})
PARTNER_METHODS = frozenset({"get.customers", "get.customer_users"})
# client-only by the docs, still answered to an agent: its own account (test_connection's cheap call)
AGENT_OWN = frozenset({"get.account"})
ROW_LISTS = frozenset({"get.deals_history"})  # change logs served like reference lists


@dataclasses.dataclass
class Reply:
    """A response to send: HTTP status, body bytes, and the API error mnemonic if any."""

    body: bytes
    status: int = 200
    mnemonic: str | None = None
    method: str | None = None
    rows: int = 0


class Dispatcher:
    """Executes JSON-RPC requests against the emulated account state."""

    def __init__(self, config: EmulatorConfig, clock: EmulatorClock, tz: dt.tzinfo):
        self.config = config
        self.clock = clock
        self.tz = tz
        self.tokens = TokenStore(
            clock, login=config.login, password=config.password, session_lifetime=config.session_lifetime
        )
        self.tokens.add_permanent(config.permanent_token)
        self.quota = QuotaLedger(clock, tz, minute_limit=config.minute_limit, day_limit=config.day_limit)
        self.media_base: Callable[[], str] = lambda: f"http://{config.host}:{config.port}"
        """The emulator's own root URL (the full links of recordings point at it); the emulator sets it."""
        self.store = self._new_store(config.seed)
        self.stores: dict[int, DataStore] = {}  # agent mode: one account's data per customer user
        self.uploads = UploadStore(
            seed=config.seed,
            now=clock.now,
            format_time=self.format_time,
            step_seconds=config.upload_step_seconds,
            error_ext_ids=frozenset(config.upload_error_ext_ids),
            cancel_ext_ids=frozenset(config.upload_cancel_ext_ids),
            error_rate=config.upload_error_rate,
            order=config.uploaded_calls_order,
            changes=config.uploaded_calls_changes,
        )
        self.stats = EmulatorStats()
        self.results = ResultCache()
        self.reports = frozenset(report_methods())
        # dated row lists whose pages stats.page counts and the add_rows fault grows: classic reports, report builder
        self.dated = self.reports | frozenset(report_methods(all_classic=True)) | frozenset(report_builder_methods())

    def _new_store(self, seed: int) -> DataStore:
        return DataStore(
            seed=seed,
            tz=self.tz,
            rows_per_day=self.rows_per_day,
            spec_of=get_method,
            cache_bytes=self.config.cache_bytes,
            unstable_order=self.config.unstable_order,
            media_base=lambda: self.media_base(),
        )

    def store_for(self, user_id: int | None) -> DataStore:
        """The data of the account a call acts for (the customer of ``user_id`` in agent mode)."""
        if not self.config.partner_customers or user_id is None:
            return self.store
        store = self.stores.get(user_id)
        if store is None:
            store = self.stores[user_id] = self._new_store(customer_seed(self.config.seed, customer_of(user_id)))
        return store

    def partner_rows(self, method: str) -> list[dict[str, Any]]:
        return partner_rows(
            get_method(method),
            seed=self.config.seed,
            count=self.config.partner_customers,
            now=self.clock.now(),
            format_time=self.store.format_time,
        )

    def check_access(self, spec: Any) -> None:
        """The account's role (an agent's with ``partner_customers``), components and permissions."""
        role = "agent" if self.config.partner_customers else "client"
        if not spec.callable_by(role) and spec.name not in AGENT_OWN:
            raise RpcError("forbidden")
        for group in spec.components:
            if all(component in self.config.disabled_components for component in group):
                raise RpcError("method_component_disabled", params={"components": ",".join(group)})
        if any(permission in self.config.denied_permissions for permission in spec.permissions):
            raise RpcError("forbidden")

    def check_user(self, spec: Any, params: Mapping[str, Any]) -> None:
        """Agent mode: calls that take ``user_id`` must name one of the customers' users."""
        if not self.config.partner_customers or "user_id" not in spec.params:
            return
        if "user_id" not in params:
            raise RpcError("required_parameter_missed", field="user_id")
        user_id = params["user_id"]
        valid = {user_id_of(CUSTOMER_BASE + i + 1) for i in range(self.config.partner_customers)}
        if user_id not in valid:
            raise RpcError("forbidden", field="user_id", value=user_id)
        if customer_of(user_id) in self.config.partner_disabled_customers and spec.name in self.reports:
            raise RpcError("method_component_disabled", params={"components": "call_tracking"})

    def account_row(self) -> dict[str, Any]:
        """The one row of ``get.account``: the connection's own (client) account."""
        return {"app_id": self.config.app_id, "name": self.config.account_name, "timezone": self.config.timezone}

    def account_object(self, user_id: int | None) -> dict[str, Any]:
        """``getobj.account``: the account acted for (a client of the agent with ``user_id``) and its zone."""
        customer = customer_of(user_id) if self.config.partner_customers and user_id is not None else None
        zone = self.config.partner_timezones.get(customer, self.config.timezone) if customer else self.config.timezone
        return {
            "app_id": customer or self.config.app_id,
            "app_name": f"Customer {customer}" if customer else self.config.account_name,
            "app_state": "active",
            "is_agent_app": customer is not None,
            "is_agent": bool(self.config.partner_customers) and customer is None,
            "user_id": user_id,
            "timezone": zone,
        }

    # -- helpers -------------------------------------------------------------------------------------
    def rows_per_day(self, method: str) -> int:
        from airflow_provider_comagic.testing.comagic.volumes import ROW_RATIOS

        if method in self.config.rows_per_day:
            return int(self.config.rows_per_day[method])
        return max(1, round(self.config.calls_per_day * ROW_RATIOS.get(method, 1.0)))

    def format_time(self, epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, self.tz).strftime(API_TIME_FORMAT)

    def now_text(self) -> str:
        return self.format_time(self.clock.now())

    def visible_until(self) -> str | None:
        return self.now_text() if self.config.hide_future_rows else None

    def parse(self, method: str, params: Mapping[str, Any]) -> Query:
        """Validate get.* parameters (also used by ``emu.truth``)."""
        return parse_query(get_method(method), params, self.tz)

    def run(self, query: Query, *, cache: bool = True, user_id: int | None = None, served: bool = False) -> Page:
        """Evaluate a validated query (also used by ``emu.truth`` with ``limit=None``).

        ``served``: a call the server answers (reference lists without a sortable key then come in this call's
        order); ``emu.truth`` reads them in key order.
        """
        spec = get_method(query.method)
        if query.method == "get.account":  # the account itself (what the server answers), not a generated list
            return Page(1, [orjson.dumps(self.account_row())])
        if query.method in PARTNER_METHODS:  # the agent's customers and their users
            rows = self.partner_rows(query.method)
            return run_rows_query(
                rows, query, time_field=None, key=lambda row: row["__seq__"], default_fields=spec.default_fields
            )
        if query.method == "get.uploaded_calls":
            return run_rows_query(
                self.uploads.served_rows(),
                query,
                time_field=spec.time_field,
                key=lambda row: row["__seq__"],
                default_fields=spec.default_fields,
                served_order=self.uploads.order != "upload_time",
            )
        store = self.store_for(user_id)
        if spec.family == "reference" or query.method in ROW_LISTS:
            rows, stable = store.references.served(spec.name) if served else (store.references.rows(spec.name), True)
            return run_rows_query(
                rows,
                query,
                time_field=None,
                key=key_of(spec),
                default_fields=spec.default_fields,
                served_order=not stable,
            )
        if query.method in AGGREGATES:
            period = (query.date_from, query.date_till)
            rows = aggregate_rows(spec, store.references, seed=store.seed, period=period, params=dict(query.extra))
            plain = dataclasses.replace(query, extra=())  # site_id chose the rows: not a row filter
            return run_rows_query(rows, plain, time_field=None, key=key_of(spec), default_fields=spec.default_fields)
        if spec.family == "report_builder":
            check_builder_query(spec, query.options, store.references)
            narrowed = builder_query(spec, query, dt.datetime.fromtimestamp(self.clock.now(), self.tz))
            if narrowed is None:
                return Page(0, [])
            query = narrowed
        return run_report_query(store, query, visible_until=self.visible_until(), cache=self.results if cache else None)

    # -- the request ---------------------------------------------------------------------------------
    def handle(self, body: bytes, faults: Sequence[Fault] = ()) -> Reply:
        """Answer one HTTP request body."""
        self.stats.request()
        request_id: Any = None
        method: str | None = None
        try:
            request = self._envelope(body)
            request_id, method = request["id"], request["method"]
            params = request.get("params")
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise RpcError("invalid_request", field="params")
            reply = self._call(method, params, request_id, body, faults)
        except RpcError as err:
            self.stats.record(method=method, error=err.mnemonic)
            return Reply(error_body(err, request_id, self.quota.limits()), mnemonic=err.mnemonic, method=method)
        return reply

    def _envelope(self, body: bytes) -> dict[str, Any]:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise RpcError("parse_error") from None
        if isinstance(request, list):
            raise RpcError("batch_opreations_not_supported")
        if not isinstance(request, dict):
            raise RpcError("invalid_request")
        if "id" not in request:
            raise RpcError("notifications_not_supported")
        if request.get("jsonrpc") != "2.0":
            raise RpcError("invalid_request", field="jsonrpc", value=request.get("jsonrpc"))
        if not isinstance(request["id"], str | int) or isinstance(request["id"], bool):
            raise RpcError("invalid_request", field="id", value=request["id"])
        if not isinstance(request.get("method"), str):
            raise RpcError("invalid_request", field="method", value=request.get("method"))
        return request

    def _call(
        self, method: str, params: dict[str, Any], request_id: Any, body: bytes, faults: Sequence[Fault]
    ) -> Reply:
        try:
            spec = get_method(method)
        except ComagicParameterError:
            raise RpcError("method_not_found", field="method", value=method) from None
        for fault in faults:
            self._before(fault, method, params)
        if method not in AUTH_FREE:
            if "access_token" not in params:
                raise RpcError("required_parameter_missed", field="access_token")
            if not isinstance(params["access_token"], str):
                raise RpcError("data_type_error", field="access_token")
            self.tokens.check(params["access_token"])
            self.check_access(spec)
            self.check_user(spec, params)
        weight = int(spec.weight or 1)
        self.quota.check(weight)
        data, total, page = self._execute(method, spec, params, request_id, body)
        drift = [fault for fault in faults if fault.is_drift]
        if page is not None and drift:
            page = dataclasses.replace(page, rows=self.drifted(spec, page.rows, drift))
        self.quota.charge(weight)
        rows = len(page.rows) if page is not None else 0
        self.stats.record(method=method, points=weight, rows=rows)
        if page is not None and method in self.dated:
            request = {"method": method, **{k: v for k, v in params.items() if k != "access_token"}}
            self.stats.page(orjson.dumps(request, option=orjson.OPT_SORT_KEYS))
        metadata: dict[str, Any] = {"limits": self.quota.limits()}
        if total is not None:
            metadata["total_items"] = total
        if page is not None:
            return Reply(rows_result_body(request_id, page.rows, metadata), method=method, rows=rows)
        return Reply(result_body(request_id, data, metadata), method=method)

    def drifted(self, spec: Any, rows: Sequence[bytes], faults: Sequence[Fault]) -> list[bytes]:
        """``rows`` with the drift ``faults`` applied (the same rows on every call and in the truth)."""
        return drifted_bytes(rows, faults, seed=self.config.seed, key=spec.key)

    def _before(self, fault: Fault, method: str, params: Mapping[str, Any]) -> None:
        """API-level faults that act before the call is executed."""
        kind = fault.kind
        self.stats.fault(kind)
        if kind == "internal_error":
            raise RpcError("internal_error")
        if kind == "limit_exceeded":
            if fault.exhaust:
                self.quota.exhaust(fault.limit_type)
                return
            limit = self.quota.day_limit if fault.limit_type == "day" else self.quota.minute_limit
            raise RpcError("limit_exceeded", params={"limit_type": fault.limit_type, "limit_max_value": limit})
        if kind == "revoke_token" and isinstance(params.get("access_token"), str):
            self.tokens.revoke(params["access_token"])
        elif kind == "expire_session":
            self.tokens.expire_sessions()
        elif kind == "add_rows" and method in self.dated and method not in AGGREGATES:
            t_from, t_till = params.get("date_from"), params.get("date_till")
            if isinstance(t_from, str) and isinstance(t_till, str) and t_from <= t_till:
                try:
                    self.store_for(params.get("user_id")).add_rows(
                        method, count=fault.rows, t_from=t_from, t_till=min(t_till, self.now_text())
                    )
                except ValueError:
                    pass  # malformed dates: the call itself will report them

    def _execute(
        self, method: str, spec: Any, params: dict[str, Any], request_id: Any, body: bytes
    ) -> tuple[Any, int | None, Page | None]:
        """Run the method; returns (data, total_items, page) — ``page`` for row-returning get.* calls."""
        if method == "login.user":
            self._check_params(spec, params)
            login, password = params["login"], params["password"]
            if not isinstance(login, str) or not isinstance(password, str):
                raise RpcError("data_type_error", field="login")
            token = self.tokens.login_user(login, password)
            return {"access_token": token.value, "expire_at": token.expire_at, "app_id": self.config.app_id}, None, None
        if method == "logout.user":
            self._check_params(spec, params)
            self.tokens.logout(params["access_token"])
            return {}, None, None
        if method == "get.account":
            self._check_params(spec, params)
            return [self.account_row()], 1, None
        if method == "getobj.account":
            self._check_params(spec, params)
            return self.account_object(params.get("user_id")), None, None
        if method in PARTNER_METHODS:
            page = self.run(self.parse(method, params))
            return None, page.total, page
        if method == "upload.calls":
            self._check_params(spec, params)
            if len(body) > MAX_BODY_BYTES:
                raise RpcError("invalid_parameter_value", field="calls", value=f"{len(body)} bytes > 512 KB")
            self.uploads.upload(params["calls"], str(request_id))
            return {"success": True}, None, None
        if method == "get.uploaded_calls":
            check_uploaded_calls_params(
                params, reject_in=self.config.uploaded_calls_reject_in, report_id=self.config.uploaded_calls_report_id
            )
        query = self.parse(method, params)
        page = self.run(query, user_id=params.get("user_id"), served=True)
        if method == "get.uploaded_calls":
            self.uploads.answered()
        return None, page.total, page

    @staticmethod
    def _check_params(spec: Any, params: Mapping[str, Any]) -> None:
        for name in params:
            if name not in spec.params:
                raise RpcError("unexpected_parameters", field=name)
        for name, param in spec.params.items():
            if param.required and name not in params:
                raise RpcError("required_parameter_missed", field=name)
        if "user_id" in params and (not isinstance(params["user_id"], int) or isinstance(params["user_id"], bool)):
            raise RpcError("data_type_error", field="user_id", value=params["user_id"])
