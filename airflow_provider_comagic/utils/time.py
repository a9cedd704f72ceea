"""Time semantics shared by the hook, the operators, the trigger and the emulator.

The provider works with half-open intervals ``[start, end)`` of time-zone-aware datetimes. The Data API takes
wall-clock times ``YYYY-MM-DD hh:mm:ss`` in the account's zone, with an *inclusive* ``date_till`` at one-second
resolution. An API row stamped at whole second ``t`` belongs to ``[start, end)`` exactly when
``ceil(start) <= t <= ceil(end) - 1s``, so consecutive intervals cover every second exactly once.
"""

from __future__ import annotations

import datetime as dt

import pendulum

from airflow_provider_comagic.comagic.errors import ComagicParameterError

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TIMEZONE = "Europe/Moscow"
ONE_SECOND = dt.timedelta(seconds=1)


def get_timezone(name: str | None) -> pendulum.Timezone:
    """Return the pendulum zone for an IANA name, raising ValueError that names the bad value."""
    try:
        return pendulum.timezone(name or DEFAULT_TIMEZONE)
    except Exception as err:  # pendulum raises its own InvalidTimezone
        raise ValueError(f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Moscow'") from err


def ensure_aware(value: dt.datetime, name: str) -> dt.datetime:
    """Reject naive datetimes, naming the parameter."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ComagicParameterError(f"{name} must be time-zone aware, got the naive datetime {value.isoformat()}")
    return value


def ceil_second(value: dt.datetime) -> dt.datetime:
    """Round up to the next whole second (identity for whole seconds)."""
    if value.microsecond:
        return value.replace(microsecond=0) + ONE_SECOND
    return value


def format_api_time(value: dt.datetime, tz: dt.tzinfo) -> str:
    """Format an aware datetime as the API's wall-clock string in ``tz``."""
    return value.astimezone(tz).strftime(API_TIME_FORMAT)


def parse_api_time(text: str, tz: dt.tzinfo) -> dt.datetime:
    """Parse an API wall-clock string as an aware datetime in ``tz``."""
    naive = dt.datetime.strptime(text, API_TIME_FORMAT)
    if isinstance(tz, pendulum.Timezone):
        return tz.convert(naive)
    return naive.replace(tzinfo=tz)


def validate_interval(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Check an interval given by a user: both aware, ``end`` after ``start``."""
    ensure_aware(start, "date_from")
    ensure_aware(end, "date_till")
    if end <= start:
        raise ComagicParameterError(
            f"date_till ({end.isoformat()}) must be after date_from ({start.isoformat()}): "
            "the interval is half-open [date_from, date_till) and must not be empty"
        )
    return start, end


def interval_to_api(start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> tuple[str, str]:
    """Convert ``[start, end)`` to the API's inclusive ``(date_from, date_till)`` strings in ``tz``."""
    validate_interval(start, end)
    first, last = ceil_second(start), ceil_second(end) - ONE_SECOND
    if last < first:
        raise ComagicParameterError(
            f"The interval [{start.isoformat()}, {end.isoformat()}) contains no whole second to query"
        )
    return format_api_time(first, tz), format_api_time(last, tz)


def add_months(value: dt.datetime, months: int, tz: dt.tzinfo) -> dt.datetime:
    """Add calendar months in the account's wall clock (the API measures its 3-month limit that way)."""
    local = pendulum.instance(value.astimezone(tz))
    return local.add(months=months)
