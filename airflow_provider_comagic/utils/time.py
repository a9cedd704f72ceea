"""Time semantics shared by the hooks, the operators, the triggers and the emulators of every vendor.

* :func:`resolve_interval`: explicit ``date_from``/``date_till`` (datetimes, dates or ISO strings; naive values
  are wall-clock times in the account's zone), else the run's ``[data_interval_start, data_interval_end)``;
  a missing or zero-length data interval is an error that says what to do.
* :func:`lookback_intervals`: the whole intervals of the same length just before a run's interval, which a
  run re-reads to pick up late changes.
* :data:`API_TIME_FORMAT`: the one wall-clock format of the vendors' APIs (``YYYY-MM-DD hh:mm:ss``).

The provider works with half-open intervals ``[start, end)`` of time-zone-aware datetimes. The Data API takes
wall-clock times ``YYYY-MM-DD hh:mm:ss`` in the account's zone, with an *inclusive* ``date_till`` at one-second
resolution. An API row stamped at whole second ``t`` belongs to ``[start, end)`` exactly when
``ceil(start) <= t <= ceil(end) - 1s``, so consecutive intervals cover every second exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pendulum

from airflow_provider_comagic.exceptions import ParameterError

ErrorClass = type[ParameterError]
"""Each vendor passes its own ``ParameterError`` subclass as ``error``, so bad input names the vendor."""

API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TIMEZONE = "Europe/Moscow"
ONE_SECOND = dt.timedelta(seconds=1)


def get_timezone(name: str | None) -> pendulum.Timezone:
    """Return the pendulum zone for an IANA name, raising ValueError that names the bad value."""
    try:
        return pendulum.timezone(name or DEFAULT_TIMEZONE)
    except Exception as err:  # pendulum raises its own InvalidTimezone
        raise ValueError(f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Moscow'") from err


def zone_name(tz: dt.tzinfo) -> str:
    """The IANA name of a zone (``Europe/Moscow``; ``UTC`` for a fixed UTC)."""
    name = getattr(tz, "name", None) or getattr(tz, "key", None)
    return str(name) if name else str(tz.tzname(None) or tz)


def ensure_aware(value: dt.datetime, name: str, *, error: ErrorClass = ParameterError) -> dt.datetime:
    """Reject naive datetimes, naming the parameter."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(f"{name} must be time-zone aware, got the naive datetime {value.isoformat()}")
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
    return localize(dt.datetime.strptime(text, API_TIME_FORMAT), tz)


def validate_interval(
    start: dt.datetime, end: dt.datetime, *, error: ErrorClass = ParameterError
) -> tuple[dt.datetime, dt.datetime]:
    """Check an interval given by a user: both aware, ``end`` after ``start``."""
    ensure_aware(start, "date_from", error=error)
    ensure_aware(end, "date_till", error=error)
    if end <= start:
        raise error(
            f"date_till ({end.isoformat()}) must be after date_from ({start.isoformat()}): "
            "the interval is half-open [date_from, date_till) and must not be empty"
        )
    return start, end


def interval_to_api(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, *, error: ErrorClass = ParameterError
) -> tuple[str, str]:
    """Convert ``[start, end)`` to the API's inclusive ``(date_from, date_till)`` strings in ``tz``."""
    validate_interval(start, end, error=error)
    first, last = ceil_second(start), ceil_second(end) - ONE_SECOND
    if last < first:
        raise error(f"The interval [{start.isoformat()}, {end.isoformat()}) contains no whole second to query")
    return format_api_time(first, tz), format_api_time(last, tz)


def add_months(value: dt.datetime, months: int, tz: dt.tzinfo) -> dt.datetime:
    """Add calendar months in the account's wall clock (the API measures its 3-month limit that way)."""
    local = pendulum.instance(value.astimezone(tz))
    return local.add(months=months)


ZERO_LENGTH_HINT = (
    "Airflow 3 gives schedule='@daily' and other cron strings a CronTriggerTimetable, whose runs have zero-length "
    "data intervals. Use schedule=CronDataIntervalTimetable('@daily', timezone=...) (or "
    "DeltaDataIntervalTimetable) so each run covers [previous run, this run), or give date_from and date_till "
    "explicitly."
)


def timetable_of(context: Mapping[str, Any]) -> str:
    """How the logs and errors name the timetable of the running DAG: its class and its summary."""
    timetable = getattr(context.get("dag"), "timetable", None)
    if timetable is None:
        return "its timetable"
    summary = getattr(timetable, "summary", None)
    return f"its timetable {type(timetable).__name__}" + (f" ({summary})" if summary else "")


NO_INTERVAL_HINT = (
    "This run has no data interval (in Airflow 3, manual and asset-triggered runs have none). Give date_from "
    "and date_till (both templated, e.g. date_from='{{ macros.ds_add(ds, -1) }}', date_till='{{ ds }}'), or "
    "run the DAG on a data-interval timetable such as CronDataIntervalTimetable."
)


def localize(naive: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Attach ``tz`` to a wall-clock datetime (pendulum resolves DST gaps and folds)."""
    if isinstance(tz, pendulum.Timezone):
        return tz.convert(naive)
    return naive.replace(tzinfo=tz)


def parse_user_time(value: Any, tz: dt.tzinfo, name: str, *, error: ErrorClass = ParameterError) -> dt.datetime:
    """An aware datetime from a datetime, a date or an ISO 8601 string; naive means the account's wall clock."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise error(
                f"{name}={value!r} is not an ISO 8601 date or date-time (e.g. '2024-05-01' or "
                "'2024-05-01 00:00:00' in the account's zone, or '2024-05-01T00:00:00+03:00')"
            ) from None
    else:
        raise error(f"{name} must be a datetime, a date or an ISO string, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = localize(parsed.replace(tzinfo=None), tz)
    return parsed


def resolve_interval(
    date_from: Any, date_till: Any, context: Mapping[str, Any], tz: dt.tzinfo, *, error: ErrorClass = ParameterError
) -> tuple[dt.datetime, dt.datetime]:
    """The half-open interval ``[start, end)`` a report task reads (see the module docstring)."""
    if date_from not in (None, "") or date_till not in (None, ""):
        if date_from in (None, "") or date_till in (None, ""):
            raise error("give both date_from and date_till, or neither (to use the data interval)")
        start = parse_user_time(date_from, tz, "date_from", error=error)
        end = parse_user_time(date_till, tz, "date_till", error=error)
        if end <= start:
            raise error(
                f"date_till ({end.isoformat()}) must be after date_from ({start.isoformat()}): the interval is "
                "half-open [date_from, date_till)"
            )
        return start, end
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise error(NO_INTERVAL_HINT)
    start, end = parse_user_time(start, tz, "data_interval_start"), parse_user_time(end, tz, "data_interval_end")
    if end == start:
        raise error(
            f"The data interval [{start.isoformat()}, {end.isoformat()}) is empty: the DAG runs on "
            f"{timetable_of(context)}, whose runs have no data interval to read. {ZERO_LENGTH_HINT}"
        )
    if end < start:
        raise error(f"The data interval ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    return start, end


def lookback_intervals(
    start: dt.datetime,
    end: dt.datetime,
    tz: dt.tzinfo,
    lookback: dt.timedelta | None,
    *,
    error: ErrorClass = ParameterError,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The intervals just before ``[start, end)`` that cover ``lookback``, newest first.

    Each has the wall-clock length of ``[start, end)`` in the account's zone (a day stays a calendar day across
    DST changes; an interval of whole calendar months steps by months), so they line up with the partitions
    earlier runs wrote. A ``lookback`` that is not a multiple of the length is rounded up to whole intervals.
    """
    if not lookback:
        return []
    if lookback < dt.timedelta(0):
        raise error(f"lookback must not be negative, got {lookback}")
    local_start, local_end = _wall(start, tz), _wall(end, tz)
    months = _whole_months(local_start, local_end)
    length = local_end - local_start

    def previous(edge: dt.datetime) -> dt.datetime:
        if months:
            return add_months(edge, -months, tz)
        return localize(_wall(edge, tz) - length, tz)

    intervals: list[tuple[dt.datetime, dt.datetime]] = []
    covered = dt.timedelta(0)
    edge = start
    while covered < lookback:
        earlier = previous(edge)
        intervals.append((earlier, edge))
        covered += _wall(edge, tz) - _wall(earlier, tz)
        edge = earlier
    return intervals


def _wall(value: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return value.astimezone(tz).replace(tzinfo=None)


def _whole_months(start: dt.datetime, end: dt.datetime) -> int:
    """Months between two naive wall-clock times that both fall on the 1st at midnight (else 0)."""
    first = dt.time()
    if start.day != 1 or end.day != 1 or start.time() != first or end.time() != first:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month


def check_literal_interval(date_from: Any, date_till: Any, *, error: ErrorClass = ParameterError) -> None:
    """At DAG parse time: reject a literal ``[date_from, date_till)`` that is empty or reversed.

    Without the connection (never read at parse time) the account's zone is unknown, so only values whose order
    needs no zone are compared: both naive (the same wall clock) or both aware. Templated or missing values are
    checked when the task runs (:func:`resolve_interval`)."""
    given = [value not in (None, "") for value in (date_from, date_till)]
    if given[0] != given[1]:
        raise error("give both date_from and date_till, or neither (to use the data interval)")
    if not given[0]:
        return
    start = parse_user_time(date_from, dt.timezone.utc, "date_from", error=error)
    end = parse_user_time(date_till, dt.timezone.utc, "date_till", error=error)
    naive = [_is_naive(value) for value in (date_from, date_till)]
    if naive[0] != naive[1]:
        return  # one is a wall-clock time of the unknown account zone
    if end <= start:
        raise error(
            f"date_till ({date_till}) must be after date_from ({date_from}): the interval is half-open "
            "[date_from, date_till) and must not be empty"
        )


def check_interval_args(
    date_from: Any, date_till: Any, context: Mapping[str, Any], *, error: ErrorClass = ParameterError
) -> None:
    """Everything :func:`resolve_interval` checks that needs no account zone (run before the zone is read, so bad
    dates fail before any call): both dates or neither, their order when it needs no zone, and a data interval
    that exists and is not empty."""
    check_literal_interval(date_from, date_till, error=error)
    if date_from in (None, "") and date_till in (None, ""):
        resolve_interval(None, None, context, dt.timezone.utc, error=error)  # Airflow's bounds are aware


def _is_naive(value: Any) -> bool:
    if isinstance(value, dt.datetime):
        return value.tzinfo is None or value.utcoffset() is None
    if isinstance(value, dt.date):
        return True
    text = str(value).strip()
    if text.endswith("Z"):
        return False
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return True
    return parsed.tzinfo is None
