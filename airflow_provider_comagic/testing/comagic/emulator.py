"""The CoMagic Data API emulator: a real HTTP JSON-RPC server for tests, demos and benchmarks.

Python::

    with ComagicEmulator(EmulatorConfig(seed=1, calls_per_day=5000)) as emu:
        emu.url, emu.access_token, emu.truth("get.calls_report", "2024-01-01 00:00:00", "2024-01-01 23:59:59")

CLI::

    python -m airflow_provider_comagic.testing.comagic.emulator --port 8765 --seed 1 --calls-per-day 5000

Latency (``response_delay``, ``delay_per_row``; CLI ``--response-delay 1.5 --delay-per-row 0.0001``): each
response is held until that long after its request arrived, the server's own work included, while the server
keeps answering other requests; ``emu.stats.delayed_responses`` and ``delay_seconds`` count what was applied.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.testing.clock import EmulatorClock
from airflow_provider_comagic.testing.comagic.api import Dispatcher
from airflow_provider_comagic.testing.comagic.config import EmulatorConfig
from airflow_provider_comagic.testing.comagic.data import REMOVED
from airflow_provider_comagic.testing.comagic.media import ComagicServer
from airflow_provider_comagic.testing.comagic.stats import EmulatorStats
from airflow_provider_comagic.testing.comagic.uploads import ROW_ORDERS
from airflow_provider_comagic.testing.faults import FAULT_KINDS, FaultInjector, parse_fault
from airflow_provider_comagic.testing.server import API_PATH, ServedEmulator
from airflow_provider_comagic.utils.time import get_timezone


class ComagicEmulator(ServedEmulator):
    """An emulated CoMagic account behind a local Data API server (``start``/``stop`` or a ``with`` block).

    ``emu.clock`` is the emulated time (``advance``/``freeze``), ``emu.faults`` the fault rules,
    ``emu.stats`` the counters, ``emu.truth(...)`` the exact rows a query should return. The recordings the
    calls and legs rows name are served at the media paths (:mod:`~airflow_provider_comagic.testing.comagic.media`).
    """

    api_path = API_PATH

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any):
        config = dataclasses.replace(config or EmulatorConfig(), **overrides)
        self.config = config
        self.tz = get_timezone(config.timezone)
        self.clock = EmulatorClock(config.start_time, frozen=config.frozen_clock)
        self.faults = FaultInjector(config.seed, list(config.faults))
        self.dispatcher = Dispatcher(config, self.clock, self.tz)
        self.server = ComagicServer(
            self.dispatcher,
            self.faults,
            config.host,
            config.port,
            response_delay=config.response_delay,
            delay_per_row=config.delay_per_row,
        )
        self.dispatcher.media_base = lambda: self.base_url  # full links point at this server, its port once bound

    # -- credentials (start/stop, port, base_url, url: ServedEmulator) -------------------------------
    @property
    def access_token(self) -> str:
        return self.config.permanent_token

    @property
    def login(self) -> str:
        return self.config.login

    @property
    def password(self) -> str:
        return self.config.password

    @property
    def stats(self) -> EmulatorStats:
        return self.dispatcher.stats

    @property
    def quota(self):  # -> QuotaLedger
        """Points ledger: ``limits()``, ``exhaust("minute"|"day")``, ``set_limits(...)``."""
        return self.dispatcher.quota

    @property
    def tokens(self):  # -> TokenStore
        return self.dispatcher.tokens

    @property
    def uploads(self):  # -> UploadStore
        """Uploaded calls: ``set_outcome(ext_id, "error", error_code=...)``, ``rows()``."""
        return self.dispatcher.uploads

    # -- direct calls and truth ----------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None, *, request_id: Any = 1) -> dict[str, Any]:
        """Execute one JSON-RPC call in-process (no HTTP, no faults); returns the decoded response."""
        params = dict(params or {})
        if method != "login.user":
            params.setdefault("access_token", self.access_token)
        body = orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        with self.server.locked():
            return orjson.loads(self.dispatcher.handle(body).body)

    def truth(
        self,
        method: str,
        date_from: str | None = None,
        date_till: str | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """Every row ``method`` returns for these parameters (no paging), evaluated like the server does, with the
        drift faults of ``emu.faults`` applied as the server applies them.

        Raises :class:`~airflow_provider_comagic.testing.comagic.rpc.RpcError` for parameters the API would reject.
        """
        params = dict(params)
        for name, value in (
            ("date_from", date_from),
            ("date_till", date_till),
            ("filter", filter),
            ("fields", list(fields) if fields is not None else None),
            ("sort", list(sort) if sort is not None else None),
        ):
            if value is not None:
                params[name] = value
        with self.server.locked():
            query = self.dispatcher.parse(method, params)
            query.offset, query.limit = 0, None
            page = self.dispatcher.run(query, cache=False, user_id=params.get("user_id"))
        rows = self.dispatcher.drifted(get_method(method), page.rows, self.faults.drift(method))
        return [orjson.loads(row) for row in rows]

    # -- data mutations ------------------------------------------------------------------------------
    def add_rows(
        self,
        method: str,
        rows: Sequence[Mapping[str, Any]] = (),
        *,
        count: int = 0,
        date_from: str | None = None,
        date_till: str | None = None,
        user_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Add rows to a report (late-arriving data); missing fields are generated. Returns the new rows."""
        with self.server.locked():
            store = self.dispatcher.store_for(user_id)
            return store.add_rows(method, rows, count=count, t_from=date_from, t_till=date_till)

    def update_row(self, method: str, key: Any, changes: Mapping[str, Any], *, day: str | None = None) -> None:
        """Change fields of an existing row after the fact (e.g. tags set later)."""
        with self.server.locked():
            self.dispatcher.store.update_row(method, key, changes, day)

    def set_tags(self, method: str, key: Any, tags: Sequence[Mapping[str, Any]]) -> None:
        """Replace a row's ``tags`` (the classic late change of a call)."""
        self.update_row(method, key, {"tags": [dict(t) for t in tags]})

    def remove_row(self, method: str, key: Any, *, day: str | None = None) -> None:
        with self.server.locked():
            self.dispatcher.store.update_row(method, key, REMOVED, day)

    # -- auth and quota controls ---------------------------------------------------------------------
    def issue_token(self, *, expire_at: float | None = None) -> str:
        """A new permanent token (optionally expiring at ``expire_at`` emulated time)."""
        return self.tokens.add_permanent(expire_at=expire_at)

    def revoke_token(self, token: str | None = None, mnemonic: str = "access_token_invalid") -> None:
        """Make ``token`` (default: the permanent one) fail with ``mnemonic`` from now on."""
        self.tokens.revoke(token or self.access_token, mnemonic)

    def restore_token(self, token: str | None = None) -> None:
        self.tokens.restore(token or self.access_token)

    def expire_sessions(self) -> int:
        """Expire every login.user session now; returns how many."""
        return self.tokens.expire_sessions()

    def now(self) -> dt.datetime:
        """Emulated now, in the account zone."""
        return dt.datetime.fromtimestamp(self.clock.now(), self.tz)


def build_parser() -> argparse.ArgumentParser:
    """The emulator's command line (every option with its help, shown by ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_comagic.testing.comagic.emulator",
        description="Run the CoMagic Data API emulator until Ctrl-C / SIGTERM. It prints its URL and credentials; "
        "point a comagic connection's Host at the URL and its Password at the access token.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (keep 127.0.0.1: the emulator has no TLS)")
    add("--port", type=int, default=8765, help="port to listen on; 0 picks a free port")
    add("--seed", type=int, default=1, help="seed of the generated account: the same seed serves the same rows")
    add("--calls-per-day", type=int, default=1000, help="calls per day; the other reports scale from it")
    add("--timezone", default="Europe/Moscow", help="the account's IANA time zone (get.account answers it)")
    add("--minute-limit", type=int, default=1000, help="API points per minute before limit_exceeded")
    add("--day-limit", type=int, default=100_000, help="API points per day before limit_exceeded")
    add("--session-lifetime", type=float, default=3600.0, help="seconds a login.user session token lives")
    add("--login", default="emulator", help="login accepted by login.user")
    add("--password", default="emulator-password", help="password accepted by login.user")
    add("--token", default=None, help="permanent access token (default: derived from the seed)")
    add("--upload-step", type=float, default=30.0, help="seconds per upload.calls status step (new -> processed)")
    add("--upload-error-rate", type=float, default=0.0, help="share of uploaded calls that end in error (0..1)")
    add(
        "--uploaded-calls-order",
        choices=ROW_ORDERS,
        default="upload_time",
        help="order of get.uploaded_calls rows without a sort (and of rows a sort ties)",
    )
    add("--uploaded-calls-reject-in", action="store_true", help="get.uploaded_calls rejects the 'in' filter operator")
    add(
        "--fault",
        action="append",
        default=[],
        help="inject a fault (repeat): kind[:probability][@method] or kind#3,5-7[@method]; a drift fault "
        "kind[:fraction of rows][@method]/field (e.g. drift_number_as_string:0.01@get.calls_report/talk_duration); "
        "kinds: " + ", ".join(FAULT_KINDS),
    )
    add(
        "--response-delay",
        type=float,
        default=0.0,
        help="latency: each response is sent this many seconds after its request arrived (the work included)",
    )
    add("--delay-per-row", type=float, default=0.0, help="latency: seconds added per row of a response")
    _add_account_options(add)
    return parser


def _add_account_options(add: Callable[..., Any]) -> None:
    """The options that shape the emulated account: its recordings, partner mode, components, list order."""
    add(
        "--recording-seconds",
        type=float,
        default=None,
        help="seconds of audio of every recording served (default: the call's talk time)",
    )
    add(
        "--media-ready-after",
        type=float,
        default=120.0,
        help="seconds after a call ended before its recordings are served (404 before)",
    )
    add(
        "--partner-customers",
        type=int,
        default=0,
        help="agent (partner) mode with N client customers, ids 500001.. (get.customers, get.customer_users); "
        "every client method then needs a user_id",
    )
    add(
        "--partner-disabled-customer",
        type=int,
        action="append",
        default=[],
        metavar="CUSTOMER_ID",
        help="in agent mode, a client whose report methods answer method_component_disabled (repeat)",
    )
    add(
        "--disable-component",
        action="append",
        default=[],
        metavar="COMPONENT",
        help="a component the account lacks (va, call_center, sales_funnel, data_api_settings, call_tracking_3...): "
        "methods that need it answer method_component_disabled (repeat)",
    )
    add(
        "--stable-order",
        action="store_true",
        help="reference lists that cannot sort by their key keep key order (default: a new order on every call)",
    )


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> EmulatorConfig:
    """The :class:`EmulatorConfig` of parsed command-line arguments (bad combinations end the program)."""
    for name in ("response_delay", "delay_per_row"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.partner_disabled_customer and not args.partner_customers:
        parser.error("--partner-disabled-customer needs --partner-customers")
    return EmulatorConfig(
        seed=args.seed,
        calls_per_day=args.calls_per_day,
        timezone=args.timezone,
        minute_limit=args.minute_limit,
        day_limit=args.day_limit,
        session_lifetime=args.session_lifetime,
        login=args.login,
        password=args.password,
        access_token=args.token,
        host=args.host,
        port=args.port,
        upload_step_seconds=args.upload_step,
        upload_error_rate=args.upload_error_rate,
        uploaded_calls_order=args.uploaded_calls_order,
        uploaded_calls_reject_in=args.uploaded_calls_reject_in,
        faults=[parse_fault(f) for f in args.fault],
        response_delay=args.response_delay,
        delay_per_row=args.delay_per_row,
        partner_customers=args.partner_customers,
        partner_disabled_customers=frozenset(args.partner_disabled_customer),
        disabled_components=frozenset(args.disable_component),
        unstable_order=not args.stable_order,
        recording_seconds=args.recording_seconds,
        media_ready_after=args.media_ready_after,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    config = config_from_args(parser, parser.parse_args(argv))
    emulator = ComagicEmulator(config)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emulator.start()
    print(f"CoMagic Data API emulator listening on {emulator.url}", flush=True)
    print(f"access_token: {emulator.access_token}", flush=True)
    print(f"login: {emulator.login}  password: {emulator.password}  timezone: {config.timezone}", flush=True)
    if config.partner_customers:
        disabled = ", ".join(map(str, sorted(config.partner_disabled_customers))) or "none"
        print(f"agent mode: {config.partner_customers} client customers; component disabled: {disabled}", flush=True)
    if config.disabled_components:
        print(f"components disabled: {', '.join(sorted(config.disabled_components))}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        print("emulator stopped; " + orjson.dumps(emulator.stats.snapshot()).decode(), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
