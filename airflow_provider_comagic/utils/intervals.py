"""Which interval a report task reads, and the partition it lands in.

* :func:`resolve_interval`: explicit ``date_from``/``date_till`` (datetimes, dates or ISO strings; naive values
  are wall-clock times in the account's zone), else the run's ``[data_interval_start, data_interval_end)``;
  a missing or zero-length data interval is an error that says what to do.
* :func:`lookback_intervals`: the whole intervals of the same length just before a run's interval, which a
  run re-reads to pick up late changes.
* :func:`partition_name`: ``<report>/date=YYYY-MM-DD`` for one calendar day of the account's zone,
  ``<report>/interval=<start>_<end>`` for any other interval (``<report>/customer_id=<id>/...`` for an
  agency's client), or a user template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pendulum

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.time import add_months

__all__ = ["localize", "lookback_intervals", "parse_user_time", "partition_name", "report_name", "resolve_interval"]

_COMPACT = "%Y%m%dT%H%M%S"

ZERO_LENGTH_HINT = (
    "The DAG's timetable gives zero-length data intervals: that is CronTriggerTimetable, which Airflow 3 uses "
    "for schedule='@daily' and other cron strings. Use schedule=CronDataIntervalTimetable('@daily', "
    "timezone=...) (or DeltaDataIntervalTimetable) so each run covers [previous run, this run), or give "
    "date_from and date_till explicitly."
)
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


def parse_user_time(value: Any, tz: dt.tzinfo, name: str) -> dt.datetime:
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
            raise ComagicParameterError(
                f"{name}={value!r} is not an ISO 8601 date or date-time (e.g. '2024-05-01' or "
                "'2024-05-01 00:00:00' in the account's zone, or '2024-05-01T00:00:00+03:00')"
            ) from None
    else:
        raise ComagicParameterError(f"{name} must be a datetime, a date or an ISO string, got {value!r}")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = localize(parsed.replace(tzinfo=None), tz)
    return parsed


def resolve_interval(
    date_from: Any, date_till: Any, context: Mapping[str, Any], tz: dt.tzinfo
) -> tuple[dt.datetime, dt.datetime]:
    """The half-open interval ``[start, end)`` a report task reads (see the module docstring)."""
    if date_from not in (None, "") or date_till not in (None, ""):
        if date_from in (None, "") or date_till in (None, ""):
            raise ComagicParameterError("give both date_from and date_till, or neither (to use the data interval)")
        start = parse_user_time(date_from, tz, "date_from")
        end = parse_user_time(date_till, tz, "date_till")
        if end <= start:
            raise ComagicParameterError(
                f"date_till ({end.isoformat()}) must be after date_from ({start.isoformat()}): the interval is "
                "half-open [date_from, date_till)"
            )
        return start, end
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        raise ComagicParameterError(NO_INTERVAL_HINT)
    start, end = parse_user_time(start, tz, "data_interval_start"), parse_user_time(end, tz, "data_interval_end")
    if end == start:
        raise ComagicParameterError(
            f"The data interval [{start.isoformat()}, {end.isoformat()}) is empty. {ZERO_LENGTH_HINT}"
        )
    if end < start:
        raise ComagicParameterError(
            f"The data interval ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    return start, end


def lookback_intervals(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, lookback: dt.timedelta | None
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The intervals just before ``[start, end)`` that cover ``lookback``, newest first.

    Each has the wall-clock length of ``[start, end)`` in the account's zone (a day stays a calendar day across
    DST changes; an interval of whole calendar months steps by months), so they line up with the partitions
    earlier runs wrote. A ``lookback`` that is not a multiple of the length is rounded up to whole intervals.
    """
    if not lookback:
        return []
    if lookback < dt.timedelta(0):
        raise ComagicParameterError(f"lookback must not be negative, got {lookback}")
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


def report_name(method: str) -> str:
    """``get.calls_report`` -> ``calls_report`` (the folder of a report's partitions)."""
    return method.split(".", 1)[1] if method.startswith("get.") else method.replace(".", "_")


def partition_name(
    method: str,
    start: dt.datetime,
    end: dt.datetime,
    tz: dt.tzinfo,
    template: str | None = None,
    *,
    customer_id: Any = None,
    user_id: Any = None,
) -> str:
    """The partition folder of ``[start, end)`` relative to the output path.

    ``template`` is a :meth:`str.format` string with the keys ``report``, ``method``, ``date`` (start date in
    the account's zone), ``start``/``end`` (``YYYYMMDDThhmmss`` wall clock in the account's zone),
    ``start_iso``/``end_iso``, ``year``, ``month``, ``day``, and ``customer_id``/``user_id`` when given. Keep
    ``start`` and ``end`` (or ``date`` with daily intervals only) in it, or different intervals overwrite each
    other; with an agency's clients keep ``customer_id`` (or ``user_id``) too.

    The default layout puts ``customer_id=<id>/`` (else ``user_id=<id>/``) after the report folder.
    """
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    keys = {
        "report": report_name(method),
        "method": method,
        "date": local_start.date().isoformat(),
        "start": local_start.strftime(_COMPACT),
        "end": local_end.strftime(_COMPACT),
        "start_iso": local_start.isoformat(),
        "end_iso": local_end.isoformat(),
        "year": f"{local_start.year:04d}",
        "month": f"{local_start.month:02d}",
        "day": f"{local_start.day:02d}",
    }
    client = ""
    for name, value in (("user_id", user_id), ("customer_id", customer_id)):
        if value not in (None, ""):
            keys[name] = str(value)
            client = f"{name}={value}/"  # customer_id wins when both are given
    if template:
        try:
            return template.format(**keys).strip("/")
        except (KeyError, IndexError, ValueError) as error:
            raise ComagicParameterError(
                f"partition_template {template!r} is invalid ({error}); keys: {', '.join(sorted(keys))}"
            ) from None
    if _is_one_local_day(local_start, local_end):
        return "{report}/{client}date={date}".format(client=client, **keys)
    return "{report}/{client}interval={start}_{end}".format(client=client, **keys)


def _is_one_local_day(start: dt.datetime, end: dt.datetime) -> bool:
    midnight = dt.time()
    next_day = start.date() + dt.timedelta(days=1)
    return start.timetz().replace(tzinfo=None) == midnight and end.date() == next_day and end.time() == midnight
