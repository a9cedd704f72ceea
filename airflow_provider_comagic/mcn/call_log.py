"""The MCN Telecom vPBX call log, without I/O: vocabularies, response envelope, date chunks, row times, schema.

What the seed (``GET /account/{account_id}/vpbx/{vpbx_id}/call_log``) documents, and how this package reads it:

* ``date_from`` / ``date_to`` are whole dates ``YYYY-MM-DD``. **Reading: both inclusive** (``date_from=date_to``
  = one day of calls), in the account's zone. A half-open aware interval ``[start, end)`` is requested as the
  dates that cover it (:func:`covering_chunks`, at most ``chunk_days`` per request) and the rows are then kept
  only when their ``date`` falls in ``[start, end)`` *and* in the chunk's own dates (:func:`keep_row`), so
  adjacent intervals and adjacent chunks never yield a call twice, whatever the server adds at the edges.
* ``date`` is the call's start as a wall-clock time in the account's zone, ``YYYY-MM-DD hh:mm:ss`` (the seed
  gives no format; an ISO 8601 value with a ``T`` or an explicit offset is accepted too).
* The response envelope is not documented: a top-level JSON list of rows, or an object with the list under
  ``data`` (:func:`response_rows`). The same holds for the vPBX list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_comagic.mcn.errors import McnApiError
from airflow_provider_comagic.utils.arrow_fields import (
    DEFAULT_TIME_FORMAT,
    ENUM_VALUES,
    SENSITIVE,
    SOURCE_FORMAT,
    SOURCE_TIMEZONE,
    TIMESTAMP_UNIT,
    TimestampMode,
)
from airflow_provider_comagic.utils.time import localize

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "CALL_LOG_FIELDS",
    "CALL_TYPES",
    "DEFAULT_CHUNK_DAYS",
    "DST_TYPES",
    "SRC_TYPES",
    "STATUSES",
    "call_log_schema",
    "chunk_params",
    "covering_chunks",
    "keep_row",
    "normalize_row",
    "response_rows",
    "row_time",
    "to_int",
    "vpbx_ids",
]

# the values the seed lists, spelled as it spells them ("PSNT" for dst_type is the seed's own spelling)
CALL_TYPES = ("Out", "Inb", "Int")
STATUSES = ("ANSWERED", "BUSY", "LOST", "FAILED", "NO ANSWER")
SRC_TYPES = ("PSTN", "Phone", "callback")
DST_TYPES = ("PSNT", "phone", "queue", "callback")

CALL_LOG_FIELDS = (
    "callid",
    "date",
    "type",
    "src_num",
    "src_name",
    "src_type",
    "dst_num",
    "dst_name",
    "dst_type",
    "did",
    "waittime",
    "talktime",
    "billsec",
    "status",
    "has_record",
)
_INT_FIELDS = frozenset({"waittime", "talktime", "billsec", "has_record"})
_SENSITIVE_FIELDS = frozenset({"src_num", "src_name", "dst_num", "dst_name", "did"})  # numbers and names of people

DEFAULT_CHUNK_DAYS = 7
_VOCABULARIES = {"type": CALL_TYPES, "status": STATUSES, "src_type": SRC_TYPES, "dst_type": DST_TYPES}
_DESCRIPTIONS = {
    "callid": "Call id",
    "date": "Start of the call (the API's wall clock in the account zone)",
    "type": "Out (outbound) | Inb (inbound) | Int (internal)",
    "src_num": "Caller number",
    "src_name": "Caller: SIP account, vPBX user name, WebCall, CallBack...",
    "src_type": "Caller type: PSTN | Phone | callback",
    "dst_num": "Callee number",
    "dst_name": "Callee: SIP account, vPBX user, queue name, CallBack...; null when unknown",
    "dst_type": "Callee type: PSNT (PSTN) | phone | queue | callback",
    "did": "External number the call went through",
    "waittime": "Seconds until answered",
    "talktime": "Seconds of conversation",
    "billsec": "Billable seconds (paid calls)",
    "status": "ANSWERED | BUSY | LOST | FAILED | NO ANSWER",
    "has_record": "1: the call is recorded, 0: not",
}


def response_rows(payload: Any, *, what: str) -> list[dict[str, Any]]:
    """The list of row objects in a decoded response: a top-level list, or ``{"data": [...]}``."""
    rows = payload.get("data") if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
        keys = sorted(payload)[:10] if isinstance(payload, Mapping) else type(payload).__name__
        raise McnApiError(
            f"MCN Telecom {what}: expected a JSON list of objects or {{'data': [...]}}, got {keys}", status=200
        )
    return [dict(row) for row in rows]


def covering_chunks(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, chunk_days: int = DEFAULT_CHUNK_DAYS
) -> list[tuple[dt.date, dt.date]]:
    """Inclusive ``(date_from, date_to)`` pairs of at most ``chunk_days`` days covering ``[start, end)`` in ``tz``."""
    if not isinstance(chunk_days, int) or isinstance(chunk_days, bool) or chunk_days < 1:
        raise ValueError(f"chunk_days must be a positive integer, got {chunk_days!r}")
    if end <= start:
        raise ValueError(f"the interval [{start.isoformat()}, {end.isoformat()}) is empty")
    first = start.astimezone(tz).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()  # end is exclusive
    chunks = []
    day = first
    while day <= last:
        stop = min(day + dt.timedelta(days=chunk_days - 1), last)
        chunks.append((day, stop))
        day = stop + dt.timedelta(days=1)
    return chunks


def row_time(row: Mapping[str, Any], tz: dt.tzinfo) -> dt.datetime:
    """The aware start time of a call-log row (``date``; naive values are wall clock in ``tz``)."""
    value = row.get("date")
    parsed = None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            parsed = None
    if parsed is None:
        raise McnApiError(
            f"MCN Telecom call log: row {row.get('callid')!r} has no readable 'date' ({value!r}); "
            "expected 'YYYY-MM-DD hh:mm:ss'",
            status=200,
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = localize(parsed.replace(tzinfo=None), tz)
    return parsed


def keep_row(
    moment: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    chunk: tuple[dt.date, dt.date],
    tz: dt.tzinfo,
) -> bool:
    """True when a call starting at ``moment`` belongs to ``[start, end)`` and to the dates of ``chunk``."""
    return start <= moment < end and chunk[0] <= moment.astimezone(tz).date() <= chunk[1]


def to_int(value: Any, name: str) -> int | None:
    """An integer from a JSON number, a numeric string or a boolean (``has_record`` may come as any)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number)
    raise McnApiError(f"MCN Telecom call log: {name}={value!r} is not a whole number", status=200)


def normalize_row(row: Mapping[str, Any], tz: dt.tzinfo) -> dict[str, Any]:
    """A row shaped for :func:`call_log_schema`: ``date`` as UTC wall clock; every other value as the API sent
    it, fields the seed does not document included (the landing's drift rules coerce, rescue or add them, and
    count what they did)."""
    out = dict(row)
    out["date"] = row_time(row, tz).astimezone(dt.timezone.utc).strftime(DEFAULT_TIME_FORMAT)
    return out


def call_log_schema(timezone: str, timestamps: TimestampMode = "account") -> pa.Schema:
    """Arrow schema of :func:`normalize_row` rows: ``date`` is ``timestamp[us]`` in the account zone or UTC;
    ``type``, ``status``, ``src_type`` and ``dst_type`` carry their documented values, the numbers and names of
    the call's sides are marked sensitive (drift examples of them are masked)."""
    import pyarrow as pa  # here, not at import: operator modules stay light for DAG parsing

    if timestamps not in ("account", "utc"):
        raise ValueError(f"timestamps must be 'account' or 'utc', got {timestamps!r}")
    fields = []
    for name in CALL_LOG_FIELDS:
        metadata = {b"description": _DESCRIPTIONS[name].encode()}
        if name in _VOCABULARIES:
            metadata[ENUM_VALUES] = orjson.dumps(list(_VOCABULARIES[name]))
        if name in _SENSITIVE_FIELDS:
            metadata[SENSITIVE] = b"1"
        kind: pa.DataType
        if name == "date":
            # normalize_row writes UTC wall clock, so no DST fold is ever ambiguous
            metadata[SOURCE_FORMAT] = DEFAULT_TIME_FORMAT.encode()
            metadata[SOURCE_TIMEZONE] = b"UTC"
            kind = pa.timestamp(TIMESTAMP_UNIT, tz=timezone if timestamps == "account" else "UTC")
        elif name in _INT_FIELDS:
            kind = pa.int64()
        else:
            kind = pa.string()
        fields.append(pa.field(name, kind, nullable=True, metadata=metadata))
    return pa.schema(fields, metadata={b"report": b"mcn_call_log", b"timestamps": timestamps.encode()})


def chunk_params(chunk: tuple[dt.date, dt.date]) -> dict[str, str]:
    """Query parameters of one request: ``{"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD"}`` (inclusive)."""
    return {"date_from": chunk[0].isoformat(), "date_to": chunk[1].isoformat()}


def vpbx_ids(vpbxs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The ``vpbx_id`` of every entry of a vPBX list (entries without one are an API error)."""
    ids = []
    for entry in vpbxs:
        value = entry.get("vpbx_id", entry.get("id"))
        if value in (None, ""):
            raise McnApiError(f"MCN Telecom vpbx list: an entry has no vpbx_id: {dict(entry)!r}", status=200)
        ids.append(str(value))
    return ids
