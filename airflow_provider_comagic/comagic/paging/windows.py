"""The windows a date range is cut into so that each call stays within the method's window cap."""

from __future__ import annotations

import datetime as dt

import pendulum

from airflow_provider_comagic.utils.time import add_months

__all__ = ["MAX_INTERVAL_MONTHS", "split_windows"]

MAX_INTERVAL_MONTHS = 3
"""The classic reports' cap, and the split of a dated method whose page states none."""


def split_windows(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, months: int = MAX_INTERVAL_MONTHS, *, days: int | None = None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Cut ``[start, end)`` into consecutive windows of at most ``months`` calendar months, or ``days`` days when
    given (both on the account's wall clock, as the API counts its caps)."""
    if (days is not None and days < 1) or (days is None and months < 1):
        raise ValueError(f"a window is at least one day or month, got months={months}, days={days}")
    windows = []
    cursor = start
    while cursor < end:
        if days is not None:
            limit = pendulum.instance(cursor.astimezone(tz)).add(days=days)
        else:
            limit = add_months(cursor, months, tz)
        window_end = min(end, limit)
        windows.append((cursor, window_end))
        cursor = window_end
    return windows
