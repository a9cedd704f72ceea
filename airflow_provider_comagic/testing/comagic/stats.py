"""What the emulator saw: requests, calls per method, successes, points spent, errors by mnemonic, and how many
times each page of a report was served (a page fetched twice is a client that lost its place)."""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any


@dataclasses.dataclass
class EmulatorStats:
    """Counters of one emulator (``emu.stats``); ``reset()`` zeroes them."""

    requests: int = 0
    calls: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    successes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    faults: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    points: int = 0
    rows_served: int = 0
    pages: collections.Counter[bytes] = dataclasses.field(default_factory=collections.Counter)
    """Successful report calls by their parameters (everything but the token, as canonical JSON)."""
    media: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    """Recording requests: ``requests``, ``http_<status>``, ``fault_<kind>``, ``bytes`` (declared bodies sent)."""
    delayed_responses: int = 0
    delay_seconds: float = 0.0
    """Real seconds the responses were held back by the latency option (``response_delay``, ``delay_per_row``)."""
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False, compare=False)

    def record(self, *, method: str | None, error: str | None = None, points: int = 0, rows: int = 0) -> None:
        with self._lock:
            if method:
                self.calls[method] += 1
            if error:
                self.errors[error] += 1
            elif method:
                self.successes[method] += 1
            self.points += points
            self.rows_served += rows

    def page(self, key: bytes) -> None:
        """Count one served page of a report, identified by its request parameters."""
        with self._lock:
            self.pages[key] += 1

    def repeated_pages(self) -> dict[bytes, int]:
        """The report pages served more than once (same method, client, interval, offset, fields, filter)."""
        with self._lock:
            return {key: count for key, count in self.pages.items() if count > 1}

    def request(self) -> None:
        with self._lock:
            self.requests += 1

    def delayed(self, seconds: float) -> None:
        with self._lock:
            self.delayed_responses += 1
            self.delay_seconds += seconds

    def media_event(self, event: str, amount: int = 1) -> None:
        with self._lock:
            self.media[event] += amount

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    @property
    def successful_calls(self) -> int:
        return sum(self.successes.values())

    def reset(self) -> None:
        with self._lock:
            self.requests = self.points = self.rows_served = self.delayed_responses = 0
            self.delay_seconds = 0.0
            for counter in (self.calls, self.successes, self.errors, self.faults, self.pages, self.media):
                counter.clear()

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, e.g. for printing or JSON."""
        with self._lock:
            return {
                "requests": self.requests,
                "calls": dict(self.calls),
                "successes": dict(self.successes),
                "errors": dict(self.errors),
                "faults": dict(self.faults),
                "points": self.points,
                "rows_served": self.rows_served,
                "pages": sum(self.pages.values()),
                "repeated_pages": sum(1 for count in self.pages.values() if count > 1),
                "delayed_responses": self.delayed_responses,
                "delay_seconds": self.delay_seconds,
                "media": dict(self.media),
            }
