"""The partition folder a landed interval goes to, relative to the output path (every vendor's operators)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow_provider_comagic.exceptions import ParameterError

__all__ = ["partition_name", "report_name"]

_COMPACT = "%Y%m%dT%H%M%S"


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
    monthly: bool = False,
    error: type[ParameterError] = ParameterError,
) -> str:
    """The partition folder of ``[start, end)`` relative to the output path.

    ``template`` is a :meth:`str.format` string with the keys ``report``, ``method``, ``date`` (start date in
    the account's zone), ``start``/``end`` (``YYYYMMDDThhmmss`` wall clock in the account's zone),
    ``start_iso``/``end_iso``, ``year``, ``month``, ``day``, and ``customer_id``/``user_id`` when given. Keep
    ``start`` and ``end`` (or ``date`` with daily intervals only) in it, or different intervals overwrite each
    other; with an agency's clients keep ``customer_id`` (or ``user_id``) too.

    The default layout puts ``customer_id=<id>/`` (else ``user_id=<id>/``) after the report folder, then
    ``date=YYYY-MM-DD`` for one day of the account's zone, ``interval=<start>_<end>`` otherwise, or
    ``month=YYYY-MM`` for a ``monthly`` report (one calendar month per partition).
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
        except (KeyError, IndexError, ValueError) as bad:
            raise error(
                f"partition_template {template!r} is invalid ({bad}); keys: {', '.join(sorted(keys))}"
            ) from None
    if monthly:
        return "{report}/{client}month={year}-{month}".format(client=client, **keys)
    if _is_one_local_day(local_start, local_end):
        return "{report}/{client}date={date}".format(client=client, **keys)
    return "{report}/{client}interval={start}_{end}".format(client=client, **keys)


def _is_one_local_day(start: dt.datetime, end: dt.datetime) -> bool:
    midnight = dt.time()
    next_day = start.date() + dt.timedelta(days=1)
    return start.timetz().replace(tzinfo=None) == midnight and end.date() == next_day and end.time() == midnight
