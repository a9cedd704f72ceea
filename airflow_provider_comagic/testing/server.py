"""The HTTP side: an aiohttp server on its own event loop in a background thread.

HTTP/1.1 keep-alive, ``POST /v2.0`` only. HTTP-level faults (status codes, dropped connections, delays,
truncated bodies) are applied here; API-level ones by the dispatcher.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, TypeVar

import orjson
from aiohttp import web

from airflow_provider_comagic.testing.comagic.api import Dispatcher
from airflow_provider_comagic.testing.faults import COMMON_FAULTS, FaultInjector, apply_common_fault

API_PATH = "/v2.0"

_STREAM_CHUNK = 2 * 2**20
"""Bodies over this size are sent in chunks of it (see :func:`_stream`)."""

_E = TypeVar("_E", bound="ServedEmulator")


async def _stream(request: web.Request, body: bytes, status: int) -> web.StreamResponse:
    """Send a large body chunk by chunk, each written once the last has drained: handing a 40 MB page to the
    transport at once copies it in one go and stalls every other connection for tens of milliseconds (a
    request arriving then would see its latency start late). The length is declared: no chunked encoding."""
    response = web.StreamResponse(status=status, headers={"Content-Type": "application/json; charset=utf-8"})
    response.content_length = len(body)
    await response.prepare(request)
    view = memoryview(body)
    for start in range(0, len(body), _STREAM_CHUNK):
        await response.write(view[start : start + _STREAM_CHUNK])
    await response.write_eof()
    return response


class ServedEmulator:
    """What both emulators (CoMagic, MCN Telecom) do with their server: ``start``/``stop`` or a ``with`` block,
    and its addresses. The emulator sets ``config`` (with ``host``), ``server`` and ``api_path``."""

    config: Any
    server: EmulatorServer
    api_path: str
    _started = False

    def start(self: _E) -> _E:
        if not self._started:
            self.server.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self.server.stop()
            self._started = False

    def __enter__(self: _E) -> _E:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (a connection's Host: the hooks add the API path)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def url(self) -> str:
        """The API's root URL: ``base_url`` + ``api_path``."""
        return self.base_url + self.api_path


def _method_of(body: bytes) -> str | None:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    method = request.get("method") if isinstance(request, dict) else None
    return method if isinstance(method, str) else None


class EmulatorServer:
    """Serves a :class:`Dispatcher` on ``host:port`` (port 0 picks a free one) until :meth:`stop`."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        faults: FaultInjector,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        response_delay: float = 0.0,
        delay_per_row: float = 0.0,
    ):
        if response_delay < 0 or delay_per_row < 0:
            raise ValueError(
                f"response_delay and delay_per_row must be >= 0, got {response_delay!r} and {delay_per_row!r}"
            )
        self.dispatcher = dispatcher
        self.response_delay = response_delay
        self.delay_per_row = delay_per_row
        self.faults = faults
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # the dispatcher is also used by test threads (truth, mutations)

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as err:  # report bind errors to the caller
                failure.append(err)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="comagic-emulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]

    def add_routes(self, app: web.Application) -> None:
        """Register the served paths (a subclass serving another API overrides this)."""
        app.router.add_route("*", API_PATH, self._handle)
        app.router.add_route("*", API_PATH + "/", self._handle)

    async def _start_site(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # the bound socket tells the real port when port=0
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        self._loop = self._thread = None

    def locked(self) -> threading.Lock:
        return self._lock

    async def _hold(self, reply: Any, arrived: float) -> None:
        """Latency: hold ``reply`` until ``response_delay + delay_per_row x rows`` after its request arrived
        (an asyncio sleep: the server answers other requests meanwhile)."""
        if not (self.response_delay or self.delay_per_row):
            return
        target = self.response_delay + self.delay_per_row * getattr(reply, "rows", 0)
        wait = target - (time.monotonic() - arrived)
        if wait > 0:
            await asyncio.sleep(wait)
        self.dispatcher.stats.delayed(target)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return web.Response(
                status=405, text="Method Not Allowed: the Data API accepts POST only", headers={"Allow": "POST"}
            )
        arrived = time.monotonic()
        body = await request.read()
        fired = self.faults.pick(_method_of(body)) if len(self.faults) else []
        api_faults = []
        truncate = False
        for fault in fired:
            if fault.kind in COMMON_FAULTS:
                self.dispatcher.stats.fault(fault.kind)
                if (answer := await apply_common_fault(request, fault)) is not None:
                    return answer
            elif fault.kind == "truncate":
                self.dispatcher.stats.fault("truncate")
                truncate = True
            else:
                api_faults.append(fault)
        with self._lock:
            reply = self.dispatcher.handle(body, api_faults)
        await self._hold(reply, arrived)
        payload = reply.body[: len(reply.body) // 2] if truncate else reply.body
        if len(payload) <= _STREAM_CHUNK:
            return web.Response(body=payload, status=reply.status, content_type="application/json", charset="utf-8")
        return await _stream(request, payload, reply.status)
