"""What the emulator saw: requests, calls per method, successes, points spent, errors by mnemonic."""

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

    def request(self) -> None:
        with self._lock:
            self.requests += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    @property
    def successful_calls(self) -> int:
        return sum(self.successes.values())

    def reset(self) -> None:
        with self._lock:
            self.requests = self.points = self.rows_served = 0
            for counter in (self.calls, self.successes, self.errors, self.faults):
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
            }
