"""The periods of the classic reports that are not rows of an interval.

* ``get.financial_summary_report`` takes a ``year`` and a ``month`` instead of dates: one row per charge day of
  that calendar month. It is landed one partition per month (:func:`month_intervals`, :func:`month_params`).
* ``get.ct_summary_report``, ``get.ct_ac_summary_report``, ``get.employee_stat`` and ``get.source_costs`` total a
  period per entity (:func:`totals_a_period`): their rows are not selected by a time, so an interval cannot be
  split into windows and glued back. The whole interval is one call, which must fit the method's window cap
  (:func:`check_period`: checked before any report call, naming ``date_till``); ``get.source_costs`` ignores
  the time of its dates, so its intervals must be whole days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pendulum

from airflow_provider_comagic.comagic.catalogue import MethodSpec
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.time import format_api_time, localize

__all__ = ["WHOLE_DAYS", "check_period", "month_intervals", "month_params", "totals_a_period"]

WHOLE_DAYS = frozenset({"get.source_costs"})
"""Methods that read only the date of ``date_from``/``date_till`` ("the page ignores the time part")."""


def totals_a_period(spec: MethodSpec) -> bool:
    """Whether ``spec`` is a classic report whose rows total the requested period (no time field)."""
    return spec.family == "classic_report" and spec.date_range and spec.time_field is None


def check_period(spec: MethodSpec, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> None:
    """Fail, naming the parameter, when ``[start, end)`` cannot be one call of a period-total method: longer than
    its window cap (``date_till``), or not whole days where the method reads only dates."""
    date_from, date_till = format_api_time(start, tz), format_api_time(end - dt.timedelta(seconds=1), tz)
    if spec.name in WHOLE_DAYS:
        for name, value in (("date_from", start), ("date_till", end)):
            if value.astimezone(tz).timetz().replace(tzinfo=None) != dt.time():
                raise ComagicParameterError(
                    f"{spec.name}: invalid '{name}': {format_api_time(value, tz)} is not midnight; the method reads "
                    "whole days (it ignores the time of date_from and date_till), so its intervals are whole days"
                )
    try:
        spec.validate_window(date_from, date_till)
    except ComagicParameterError as error:
        raise ComagicParameterError(
            f"{error}; {spec.name} totals the period, so the interval cannot be split into windows: use a shorter "
            "interval (a data interval of a day, a week or a month)"
        ) from None


def month_intervals(
    intervals: Iterable[tuple[dt.datetime, dt.datetime]], tz: dt.tzinfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The calendar months of the account's zone that ``intervals`` touch, each ``[first day, next month's first
    day)``, in the order they are first touched, each once."""
    months: dict[tuple[int, int], tuple[dt.datetime, dt.datetime]] = {}
    for start, end in intervals:
        cursor = pendulum.instance(start.astimezone(tz)).start_of("month")
        last = end - dt.timedelta(microseconds=1)
        while cursor <= last:
            following = cursor.add(months=1)
            month_start = localize(dt.datetime(cursor.year, cursor.month, 1), tz)
            month_end = localize(dt.datetime(following.year, following.month, 1), tz)
            months.setdefault((cursor.year, cursor.month), (month_start, month_end))
            cursor = following
    return list(months.values())


def month_params(start: dt.datetime, tz: dt.tzinfo) -> dict[str, int]:
    """``{"year", "month"}`` of the month starting at ``start`` (account zone)."""
    local = start.astimezone(tz)
    return {"year": local.year, "month": local.month}
