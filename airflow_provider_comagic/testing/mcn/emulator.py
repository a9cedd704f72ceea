"""The MCN Telecom REST API v2 emulator: the vPBX list and call log over real HTTP on 127.0.0.1.

Python::

    with McnEmulator(McnEmulatorConfig(seed=1, calls_per_day=40)) as emu:
        emu.base_url, emu.token, emu.account_id, emu.vpbx_ids
        emu.truth("7001", "2024-03-01", "2024-03-01")        # what call_log returns for these dates
        emu.calls("7001", start, end)                         # the calls that started in [start, end)
        emu.faults.add("http_503", calls={1}, method="call_log")

CLI::

    python -m airflow_provider_comagic.testing.mcn.emulator --port 8766 --seed 1 --vpbx 7001 --vpbx 7002

Served (under ``/v2/rest``, with ``Authorization: Bearer <token>``):

* ``GET /account/{account_id}/vpbx`` — the active vPBXs, ``[{"vpbx_id": 7001, "name": ..., "status": "active"}]``;
* ``GET /account/{account_id}/vpbx/{vpbx_id}/call_log?date_from=YYYY-MM-DD&date_to=YYYY-MM-DD`` — the calls
  whose ``date`` falls on ``date_from`` .. ``date_to`` **inclusive**, in time order;
* ``GET /account/{account_id}/vpbx/{vpbx_id}/call_log/record?call_id=<callid>`` — the recording of a call with
  ``has_record`` = 1 (an endpoint our seed does not document: see ``mcn/recordings.py``), an MP3 of its talk time
  (``recording_seconds`` overrides it) once the call ended ``media_ready_after`` seconds ago; 404 for any other
  call or before, 400 without ``call_id``.

Answers ``{"data": [...]}`` (or a bare list with ``envelope="list"``); errors are ``{"error": ..., "message": ...}``
with HTTP 401 (no/wrong/revoked token), 403 (another account), 404 (unknown vPBX), 400 (bad or too long date
range). Faults (``emu.faults``, the CoMagic emulator's :class:`FaultInjector`, ``method`` = ``"vpbx"`` or
``"call_log"``): the HTTP-level kinds — ``http_500/502/503/429``, ``drop``, ``slow``, ``truncate`` — and the drift
kinds (``drift_*`` with a ``field`` and a ``fraction`` of rows, :mod:`~airflow_provider_comagic.testing.drift`),
which ``truth()`` and ``calls()`` apply too.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web

from airflow_provider_comagic.mcn.call_log import row_time
from airflow_provider_comagic.testing.drift import drift_rows
from airflow_provider_comagic.testing.faults import (
    COMMON_FAULTS,
    FAULT_KINDS,
    Fault,
    FaultInjector,
    apply_common_fault,
    parse_fault,
)
from airflow_provider_comagic.testing.mcn.data import McnEmulatorConfig, day_rows
from airflow_provider_comagic.testing.media import AudioFile, audio_file, serve_audio
from airflow_provider_comagic.testing.server import EmulatorServer, ServedEmulator
from airflow_provider_comagic.utils.time import get_timezone

__all__ = ["BASE_PATH", "McnApi", "McnEmulator", "McnEmulatorConfig", "main"]

BASE_PATH = "/v2/rest"


def _error(status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "message": message}


def _date(value: str | None, name: str) -> dt.date:
    if not value:
        raise ValueError(f"{name} is required (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a YYYY-MM-DD date") from None


class McnApi:
    """The emulated account: answers one request (no HTTP) and counts requests in ``stats``."""

    def __init__(self, config: McnEmulatorConfig):
        self.config = config
        self.tz = get_timezone(config.timezone)
        self.stats: collections.Counter[str] = collections.Counter()
        self.revoked: set[str] = set()
        self.active: list[str] = list(config.vpbx_ids)
        self.now = time.time
        """The clock recordings become ready by (tests replace it)."""

    def handle(
        self,
        endpoint: str,
        params: Mapping[str, str],
        query: Mapping[str, str],
        authorization: str | None,
        drift: Sequence[Fault] = (),
    ) -> tuple[int, Any]:
        """``(HTTP status, JSON payload)`` for a request to ``endpoint`` (``"vpbx"`` or ``"call_log"``), the
        call log's rows changed by the ``drift`` faults."""
        self.stats["requests"] += 1
        self.stats[endpoint] += 1
        status, payload = self._answer(endpoint, params, query, authorization, drift)
        self.stats[f"http_{status}"] += 1
        return status, payload

    def _denied(self, params: Mapping[str, str], authorization: str | None) -> tuple[int, Any] | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.config.permanent_token or token in self.revoked:
            return _error(401, "Unauthorized", "Missing, invalid or revoked Bearer token")
        if params.get("account_id") != self.config.account_id:
            return _error(403, "Forbidden", "The token has no access to this account")
        return None

    def record(
        self, params: Mapping[str, str], query: Mapping[str, str], authorization: str | None
    ) -> tuple[int, Any, AudioFile | None]:
        """``(status, error payload, file)`` for a recording request: the file when the status is 200 (the server
        counts the status it finally sends: a fault may change it)."""
        self.stats["requests"] += 1
        self.stats["record"] += 1
        denied = self._denied(params, authorization)
        return (*denied, None) if denied else self._record(params, query)

    def _record(self, params: Mapping[str, str], query: Mapping[str, str]) -> tuple[int, Any, AudioFile | None]:
        call_id = query.get("call_id") or ""
        if not call_id:
            return (*_error(400, "Bad Request", "call_id is required"), None)
        row = self.call(params.get("vpbx_id", ""), call_id)
        if row is None or not row["has_record"]:
            return (*_error(404, "Not Found", "No recording of this call"), None)
        ended = row_time(row, self.tz).timestamp() + row["waittime"] + row["talktime"]
        if self.now() < ended + self.config.media_ready_after:
            return (*_error(404, "Not Found", "No recording of this call yet"), None)
        seconds = self.config.recording_seconds if self.config.recording_seconds is not None else row["talktime"]
        return 200, None, audio_file("mp3", max(seconds, 1), seed=f"mcn|{self.config.seed}|{call_id}")

    def call(self, vpbx_id: str, call_id: str) -> dict[str, Any] | None:
        """The call-log row of ``call_id`` (``<epoch>.<n>``) of ``vpbx_id``, or None."""
        if vpbx_id not in self.config.vpbx_ids:
            return None
        try:
            day = dt.datetime.fromtimestamp(int(call_id.split(".", 1)[0]), self.tz).date()
        except (ValueError, OverflowError, OSError):
            return None
        return next((row for row in day_rows(self.config, vpbx_id, day) if row["callid"] == call_id), None)

    def _answer(
        self,
        endpoint: str,
        params: Mapping[str, str],
        query: Mapping[str, str],
        authorization: str | None,
        drift: Sequence[Fault],
    ) -> tuple[int, Any]:
        denied = self._denied(params, authorization)
        if denied:
            return denied
        if endpoint == "vpbx":
            return 200, self._wrap(
                [
                    {"vpbx_id": int(v) if v.isdigit() else v, "name": f"vPBX {v}", "status": "active"}
                    for v in self.active
                ]
            )
        vpbx_id = params.get("vpbx_id", "")
        if vpbx_id not in self.config.vpbx_ids:
            return _error(404, "Not Found", f"vPBX {vpbx_id} not found")
        try:
            first, last = _date(query.get("date_from"), "date_from"), _date(query.get("date_to"), "date_to")
        except ValueError as error:
            return _error(400, "Bad Request", str(error))
        if last < first:
            return _error(400, "Bad Request", "date_to is before date_from")
        if (last - first).days + 1 > self.config.max_days:
            return _error(400, "Bad Request", f"the date range is limited to {self.config.max_days} days")
        return 200, self._wrap(self.truth(vpbx_id, first, last, drift))

    def _wrap(self, rows: list[dict[str, Any]]) -> Any:
        return rows if self.config.envelope == "list" else {"data": rows}

    def truth(
        self, vpbx_id: str, date_from: dt.date, date_to: dt.date, drift: Sequence[Fault] = ()
    ) -> list[dict[str, Any]]:
        """The rows of every day ``date_from`` .. ``date_to`` (inclusive), copied, changed by the ``drift``
        faults."""
        rows = []
        day = date_from
        while day <= date_to:
            rows.extend(dict(row) for row in day_rows(self.config, vpbx_id, day))
            day += dt.timedelta(days=1)
        drift_rows(rows, drift, seed=self.config.seed, key=("callid",))
        return rows


class McnServer(EmulatorServer):
    """The CoMagic emulator's server thread and site, serving the MCN paths with GET."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(BASE_PATH + "/account/{account_id}/vpbx", self._handle)
        app.router.add_get(BASE_PATH + "/account/{account_id}/vpbx/{vpbx_id}/call_log", self._handle)
        app.router.add_get(BASE_PATH + "/account/{account_id}/vpbx/{vpbx_id}/call_log/record", self._record)

    async def _record(self, request: web.Request) -> web.StreamResponse:
        api: McnApi = self.dispatcher  # type: ignore[assignment]
        faults = self.faults.pick("media") if len(self.faults) else []
        with self._lock:
            status, payload, file = api.record(
                dict(request.match_info), dict(request.query), request.headers.get("Authorization")
            )

        def count(event: str) -> None:
            api.stats[event] += 1

        if status not in (200, 404):  # no access, or no call_id: the API's own error
            count(f"http_{status}")
            return web.Response(body=orjson.dumps(payload), status=status, content_type="application/json")
        return await serve_audio(request, file, faults, count)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = "call_log" if "vpbx_id" in request.match_info else "vpbx"
        api: McnApi = self.dispatcher  # type: ignore[assignment]
        truncate = False
        drift = []
        for fault in self.faults.pick(endpoint) if len(self.faults) else []:
            api.stats[f"fault_{fault.kind}"] += 1
            if fault.is_drift:
                drift.append(fault)
            elif fault.kind in COMMON_FAULTS:
                if (answer := await apply_common_fault(request, fault)) is not None:
                    return answer
            elif fault.kind == "truncate":
                truncate = True
        with self._lock:
            status, payload = api.handle(
                endpoint, dict(request.match_info), dict(request.query), request.headers.get("Authorization"), drift
            )
        body = orjson.dumps(payload)
        if truncate:
            body = body[: len(body) // 2]
        return web.Response(body=body, status=status, content_type="application/json", charset="utf-8")


class McnEmulator(ServedEmulator):
    """An emulated MCN Telecom account behind a local REST server (``start``/``stop`` or a ``with`` block).

    ``base_url`` is ``http://127.0.0.1:PORT`` (the connection's Host; the hook adds ``/v2/rest``).
    """

    api_path = BASE_PATH

    def __init__(self, config: McnEmulatorConfig | None = None, **overrides: Any):
        self.config = dataclasses.replace(config or McnEmulatorConfig(), **overrides)
        self.tz = get_timezone(self.config.timezone)
        self.api = McnApi(self.config)
        self.faults = FaultInjector(self.config.seed)
        self.server = McnServer(self.api, self.faults, self.config.host, self.config.port)  # type: ignore[arg-type]

    @property
    def token(self) -> str:
        return self.config.permanent_token

    @property
    def account_id(self) -> str:
        return self.config.account_id

    @property
    def vpbx_ids(self) -> tuple[str, ...]:
        return self.config.vpbx_ids

    @property
    def stats(self) -> collections.Counter[str]:
        """Counters: ``requests``, per endpoint, per HTTP status (``http_200``...), per fault (``fault_drop``...)."""
        return self.api.stats

    def truth(self, vpbx_id: str, date_from: str | dt.date, date_to: str | dt.date) -> list[dict[str, Any]]:
        """What ``call_log`` returns for these inclusive dates (drift faults applied)."""
        first = dt.date.fromisoformat(date_from) if isinstance(date_from, str) else date_from
        last = dt.date.fromisoformat(date_to) if isinstance(date_to, str) else date_to
        with self.server.locked():
            return self.api.truth(str(vpbx_id), first, last, self.faults.drift("call_log"))

    def calls(self, vpbx_id: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """The calls of ``vpbx_id`` that started in the half-open aware interval ``[start, end)``."""
        first = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        return [row for row in self.truth(vpbx_id, first, last) if start <= row_time(row, self.tz) < end]

    def revoke_token(self) -> None:
        """Answer HTTP 401 to the token from now on."""
        self.api.revoked.add(self.token)

    def restore_token(self) -> None:
        self.api.revoked.discard(self.token)

    def set_active(self, vpbx_ids: Sequence[str]) -> None:
        """Which vPBXs the vPBX list reports as active (their call logs stay readable)."""
        self.api.active = [str(v) for v in vpbx_ids]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_comagic.testing.mcn.emulator",
        description="Run the MCN Telecom REST API emulator until Ctrl-C / SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--account-id", default="100500")
    parser.add_argument("--vpbx", action="append", default=[], help="a vPBX id (repeat); default 7001 and 7002")
    parser.add_argument("--calls-per-day", type=int, default=40)
    parser.add_argument("--timezone", default="Europe/Moscow")
    parser.add_argument("--token", default=None, help="the Bearer token (default: derived from the seed)")
    parser.add_argument("--envelope", choices=("data", "list"), default="data")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        help="kind[:probability][@endpoint], a drift fault kind[:fraction of rows][@call_log]/field; "
        + ", ".join(FAULT_KINDS),
    )
    args = parser.parse_args(argv)
    config = McnEmulatorConfig(
        seed=args.seed,
        account_id=args.account_id,
        vpbx_ids=tuple(args.vpbx) or McnEmulatorConfig.vpbx_ids,
        calls_per_day=args.calls_per_day,
        timezone=args.timezone,
        token=args.token,
        envelope=args.envelope,
        host=args.host,
        port=args.port,
    )
    emulator = McnEmulator(config)
    for text in args.fault:
        emulator.faults.add(parse_fault(text))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    emulator.start()
    print(f"MCN Telecom API emulator listening on {emulator.url}", flush=True)
    print(
        f"token: {emulator.token}  account_id: {emulator.account_id}  vpbx: {', '.join(emulator.vpbx_ids)}", flush=True
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        print("emulator stopped; " + orjson.dumps(dict(emulator.stats)).decode(), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
