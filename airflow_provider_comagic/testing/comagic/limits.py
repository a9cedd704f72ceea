"""Points quota of the emulated account: per-minute and per-day budgets, as ``metadata.limits`` reports them.

Minutes are fixed windows aligned to the clock's whole minutes; days start at midnight in the account zone.
Only successful calls are charged (index.txt, "Лимиты и ограничения").
"""

from __future__ import annotations

import datetime as dt
import math
import threading

from airflow_provider_comagic.testing.clock import EmulatorClock
from airflow_provider_comagic.testing.comagic.rpc import RpcError


class QuotaLedger:
    """Counts spent points and builds ``metadata.limits``."""

    def __init__(self, clock: EmulatorClock, tz: dt.tzinfo, *, minute_limit: int, day_limit: int):
        self._clock = clock
        self._tz = tz
        self._lock = threading.Lock()
        self.minute_limit = minute_limit
        self.day_limit = day_limit
        self._minute_start = -1.0
        self._minute_spent = 0
        self._day_start = -1.0
        self._day_spent = 0

    def _windows(self, now: float) -> tuple[float, float, float]:
        """Roll the windows forward; return (now, minute_end, day_end)."""
        minute_start = math.floor(now / 60.0) * 60.0
        if minute_start != self._minute_start:
            self._minute_start, self._minute_spent = minute_start, 0
        local = dt.datetime.fromtimestamp(now, self._tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        day_start = midnight.timestamp()
        if day_start != self._day_start:
            self._day_start, self._day_spent = day_start, 0
        day_end = (midnight.replace(tzinfo=None) + dt.timedelta(days=1)).replace(tzinfo=self._tz).timestamp()
        return now, minute_start + 60.0, day_end

    def limits(self) -> dict[str, int]:
        """The ``metadata.limits`` object as of now."""
        with self._lock:
            return self._limits_locked()

    def _limits_locked(self) -> dict[str, int]:
        now, minute_end, day_end = self._windows(self._clock.now())
        return {
            "day_limit": self.day_limit,
            "day_remaining": max(0, self.day_limit - self._day_spent),
            "day_reset": max(1, math.ceil(day_end - now)),
            "minute_limit": self.minute_limit,
            "minute_remaining": max(0, self.minute_limit - self._minute_spent),
            "minute_reset": max(1, math.ceil(minute_end - now)),
        }

    def check(self, weight: int) -> None:
        """Raise ``limit_exceeded`` when ``weight`` points are not available."""
        with self._lock:
            limits = self._limits_locked()
        if limits["day_remaining"] < weight:
            raise RpcError("limit_exceeded", params={"limit_type": "day", "limit_max_value": self.day_limit})
        if limits["minute_remaining"] < weight:
            raise RpcError("limit_exceeded", params={"limit_type": "minute", "limit_max_value": self.minute_limit})

    def charge(self, weight: int) -> None:
        with self._lock:
            self._windows(self._clock.now())
            self._minute_spent += weight
            self._day_spent += weight

    def exhaust(self, limit_type: str = "minute") -> None:
        """Spend the remaining points of the minute (or the day) — for tests of the limit path."""
        with self._lock:
            self._windows(self._clock.now())
            if limit_type == "day":
                self._day_spent = self.day_limit
            else:
                self._minute_spent = self.minute_limit

    def set_limits(self, *, minute_limit: int | None = None, day_limit: int | None = None) -> None:
        with self._lock:
            if minute_limit is not None:
                self.minute_limit = minute_limit
            if day_limit is not None:
                self.day_limit = day_limit
