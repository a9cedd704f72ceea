"""Fault injection: HTTP errors, dropped connections, slow or truncated responses, API-level failures, and
drift (rows whose values do not match the docs).

Requests for recordings (both emulators' media paths, :mod:`~airflow_provider_comagic.testing.media`) match the
method ``"media"``: ``emu.faults.add("http_503", method="media", calls={1})``.

A fault fires for the requests it matches (all, or one ``method``), either with a ``probability`` drawn from
a seeded RNG or on a schedule of ``calls`` — 1-based numbers counted among the matching requests
(``calls={3}`` fails the third call, ``calls=range(5, 8)`` the 5th to 7th) — at most ``times`` times.

A drift fault (``drift_*``, :mod:`~airflow_provider_comagic.testing.drift`) changes one ``field`` in a
``fraction`` of the rows of every response (and of the emulator's truth); give it no ``calls``, ``times`` or
``probability``: the truth assumes every call drifts the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import threading
from collections.abc import Collection
from typing import Any

from aiohttp import web

from airflow_provider_comagic.testing.drift import DRIFT_KINDS

# kind -> what happens
FAULT_KINDS: dict[str, str] = {
    "http_500": "HTTP 500 with a text body; the call is not executed",
    "http_502": "HTTP 502; not executed",
    "http_503": "HTTP 503; not executed",
    "http_429": "HTTP 429 with Retry-After (retry_after seconds); not executed",
    "http_404": "HTTP 404; not executed (a recording: expired or absent)",
    "http_400": "HTTP 400; not executed (a recording: nothing to join)",
    "drop": "the connection is closed without any response; not executed",
    "slow": "the response is delayed by `delay` real seconds; executed normally",
    "truncate": "HTTP 200 whose JSON body is cut in half; executed (and charged) normally (a recording: the full "
    "Content-Length is declared, then the connection closes halfway)",
    "slow_body": "media only: each chunk of a recording's body waits `delay` real seconds",
    "wrong_content_type": "media only: HTTP 200 with an HTML page instead of the recording",
    "internal_error": "JSON-RPC internal_error (-32603); not executed, not charged",
    "limit_exceeded": "JSON-RPC limit_exceeded for `limit_type`; with exhaust=True the quota is really spent",
    "revoke_token": "the request's token is revoked before the call (access_token_invalid from then on)",
    "expire_session": "every login session expires before the call (permanent tokens keep working)",
    "add_rows": "`rows` new rows appear inside the request's date range before the call",
    **DRIFT_KINDS,
}


HTTP_FAULT_STATUS = {
    "http_500": 500,
    "http_502": 502,
    "http_503": 503,
    "http_429": 429,
    "http_404": 404,
    "http_400": 400,
}
COMMON_FAULTS = frozenset({"slow", "drop", *HTTP_FAULT_STATUS})
"""The HTTP-level faults every served path applies the same way (:func:`apply_common_fault`)."""


async def apply_common_fault(request: web.Request, fault: Fault) -> web.Response | None:
    """A fault of :data:`COMMON_FAULTS`: ``slow`` waits ``delay`` seconds (None: go on), ``drop`` closes the
    connection without an answer, ``http_<status>`` is the answer to send (429 with ``Retry-After``)."""
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind == "drop":
        with contextlib.suppress(Exception):
            request.transport.abort()
        raise asyncio.CancelledError
    status = HTTP_FAULT_STATUS[fault.kind]
    headers = {"Retry-After": str(int(fault.retry_after))} if status == 429 else {}
    return web.Response(status=status, text=f"{status} emulated fault", headers=headers)


@dataclasses.dataclass
class Fault:
    """One fault rule; ``hits`` counts how often it fired, ``seen`` how many requests it matched."""

    kind: str
    probability: float = 1.0
    calls: Collection[int] | None = None
    method: str | None = None
    times: int | None = None
    delay: float = 1.0
    retry_after: float = 1.0
    limit_type: str = "minute"
    exhaust: bool = False
    rows: int = 5
    field: str | None = None
    fraction: float = 1.0
    hits: int = 0
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.is_drift and not self.field:
            raise ValueError(f"a {self.kind} fault needs the field it changes (field=...)")
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction is a share of rows, 0..1, got {self.fraction!r}")
        if self.limit_type not in ("minute", "day"):
            raise ValueError("limit_type is 'minute' or 'day'")

    @property
    def is_drift(self) -> bool:
        """Whether this fault changes values of rows (``drift_*``) rather than a call."""
        return self.kind in DRIFT_KINDS


class FaultInjector:
    """The emulator's fault rules (``emu.faults``); safe to change from tests while the server runs."""

    def __init__(self, seed: int = 1, faults: Collection[Fault] = ()):
        self._rng = random.Random(f"faults|{seed}")
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults)

    def add(self, kind: str | Fault, **options: Any) -> Fault:
        """Install a fault: ``emu.faults.add("http_503", calls={2})``, ``add("slow", delay=3, probability=.1)``."""
        fault = kind if isinstance(kind, Fault) else Fault(kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            if fault in self._faults:
                self._faults.remove(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __iter__(self):
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)

    def drift(self, method: str | None) -> list[Fault]:
        """The drift faults that change the rows of ``method`` (what a truth applies; nothing counted)."""
        with self._lock:
            return [f for f in self._faults if f.is_drift and (f.method is None or f.method == method)]

    def pick(self, method: str | None) -> list[Fault]:
        """The faults that fire for a request to ``method`` (counting it for every matching rule)."""
        fired = []
        with self._lock:
            for fault in self._faults:
                if fault.method is not None and fault.method != method:
                    continue
                fault.seen += 1
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                if fault.calls is not None:
                    hit = fault.seen in fault.calls
                else:
                    hit = fault.probability >= 1.0 or self._rng.random() < fault.probability
                if hit:
                    fault.hits += 1
                    fired.append(fault)
        return fired


def parse_fault(text: str) -> Fault:
    """A fault given on an emulator's command line (both emulators): ``kind[:probability][@method]`` or
    ``kind#3,5-7`` (call numbers), e.g. ``http_503:0.1``; a drift fault ``kind[:fraction][@method]/field``, e.g.
    ``drift_number_as_string:0.01@get.calls_report/talk_duration``."""
    method = field = None
    if "/" in text:
        text, field = text.rsplit("/", 1)
    if "@" in text:
        text, method = text.split("@", 1)
    calls = None
    probability = 1.0
    if "#" in text:
        text, spec = text.split("#", 1)
        numbers: set[int] = set()
        for part in spec.split(","):
            low, _, high = part.partition("-")
            numbers.update(range(int(low), int(high or low) + 1))
        calls = numbers
    elif ":" in text:
        text, value = text.split(":", 1)
        probability = float(value)
    if text in DRIFT_KINDS:  # the number is the share of rows; the fault acts on every call
        return Fault(text, method=method, field=field, fraction=probability)
    return Fault(text, probability=probability, calls=calls, method=method, field=field)
