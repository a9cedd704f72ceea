"""Bookkeeping of the API point quota from ``metadata.limits``, without I/O.

Every response (success or error) carries ``metadata.limits``; resets are given in seconds from the response.
The tracker remembers when it saw them, so it can tell how long to wait before the next call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_comagic.comagic.errors import ComagicDayLimitExceededError, ComagicMinuteLimitExceededError


class QuotaTracker:
    """Tracks the remaining minute/day points and what this client spent (calls, points)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()  # a call sent ahead (``ComagicHook.iter_pages``) counts from its own thread
        self._limits: dict[str, Any] = {}
        self._seen_at = 0.0
        self.requests = 0
        """HTTP requests sent (including failed ones)."""
        self.calls = 0
        """Successful API calls."""
        self.points = 0
        """Points spent (the weights of successful calls; failed calls are free)."""

    def observe(self, limits: Mapping[str, Any] | None) -> None:
        """Remember the ``metadata.limits`` of a response."""
        if limits:
            with self._lock:
                self._limits, self._seen_at = dict(limits), self._clock()

    def count_request(self) -> None:
        """Count one HTTP request sent."""
        with self._lock:
            self.requests += 1

    def charge(self, weight: int) -> None:
        """Count one successful call of the given weight."""
        with self._lock:
            self.calls += 1
            self.points += weight

    def minute_waited(self) -> None:
        """Forget the spent minute counter once its reset has been waited out (the next response refreshes it)."""
        with self._lock:
            self._limits = {k: v for k, v in self._limits.items() if k != "minute_remaining"}

    @property
    def limits(self) -> dict[str, Any]:
        """The last limits seen, with the reset counters brought forward to now."""
        with self._lock:
            seen, seen_at = self._limits, self._seen_at
        if not seen:
            return {}
        elapsed = self._clock() - seen_at
        current = dict(seen)
        for key in ("minute_reset", "day_reset"):
            if isinstance(current.get(key), int | float):
                current[key] = max(0.0, float(current[key]) - elapsed)
        return current

    def _remaining(self, kind: str) -> tuple[float | None, float]:
        """(points remaining or None if unknown or already reset, seconds until reset) for 'minute'/'day'."""
        limits = self.limits
        remaining, reset = limits.get(f"{kind}_remaining"), limits.get(f"{kind}_reset")
        if not isinstance(remaining, int | float) or not isinstance(reset, int | float):
            return None, 0.0
        if reset <= 0:
            return None, 0.0  # the counter has been reset since we saw it
        return float(remaining), float(reset)

    def seconds_before_call(self, weight: int = 1) -> float:
        """How long to wait for the minute quota before a call of ``weight`` points (0 when it fits)."""
        remaining, reset = self._remaining("minute")
        if remaining is None or remaining >= weight:
            return 0.0
        return reset

    def check_minute(self, method: str, weight: int = 1) -> None:
        """Raise, before sending, when the call would have to wait for the minute quota (for callers that
        free their worker instead of sleeping: a deferrable operator)."""
        wait = self.seconds_before_call(weight)
        if wait > 0:
            raise ComagicMinuteLimitExceededError(
                code=-32029,
                mnemonic="limit_exceeded",
                message=f"Limit per minute has been exceeded (resets in {wait:.0f} s, the call costs {weight})",
                method=method,
                limits=self.limits,
            )

    def affords(self, weight: int = 1) -> bool:
        """Whether a call of ``weight`` points can be sent now without waiting or failing for the quota."""
        day_remaining, _reset = self._remaining("day")
        return self.seconds_before_call(weight) <= 0 and (day_remaining is None or day_remaining >= weight)

    def check_day(self, method: str, weight: int = 1) -> None:
        """Fail fast, before sending, when the day quota cannot pay for the call."""
        remaining, _reset = self._remaining("day")
        if remaining is not None and remaining < weight:
            raise ComagicDayLimitExceededError(
                code=-32029,
                mnemonic="limit_exceeded",
                message=f"Limit per day has been exceeded ({remaining:g} points left, the call costs {weight})",
                method=method,
                limits=self.limits,
            )

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary for manifests and XCom."""
        return {"requests": self.requests, "calls": self.calls, "points": self.points, "limits": self.limits}


class ApiMeter:
    """What one partition has spent of a :class:`QuotaTracker` (requests, calls, points): what it had spent
    before a deferral (``before``) plus what the tracker counted since this meter was made."""

    def __init__(self, quota: QuotaTracker, before: Mapping[str, int] | None = None):
        self._quota = quota
        self._before = {name: int((before or {}).get(name, 0)) for name in ("requests", "calls", "points")}
        self._base = self._now()

    def _now(self) -> dict[str, int]:
        return {"requests": self._quota.requests, "calls": self._quota.calls, "points": self._quota.points}

    def spent(self) -> dict[str, int]:
        current = self._now()
        return {name: self._before[name] + current[name] - self._base[name] for name in self._before}
