"""Which MCN Telecom calls have a recording, and where it is downloaded: the one place for these rules.

A call-log row (``GET /account/{account_id}/vpbx/{vpbx_id}/call_log``) marks a recorded call with
``has_record`` = 1. Its file is downloaded from :data:`RECORD_PATH`,
``GET /account/{account_id}/vpbx/{vpbx_id}/call_log/record?call_id=<callid>`` with the same Bearer token.

**Not in our documentation.** The seed this package follows documents the call log, not this endpoint; its path and
``call_id`` parameter are what public clients of the API use, and they receive an MP3 (``audio/mpeg``). So each
call has one recording, of kind ``mp3``, whose record id is the call id; the hook
(:meth:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook.record_downloader`) treats its HTTP 404 as "absent" and
400 as "nothing to join", as for CoMagic, and 401/403 as a fault of the connection (the task fails at once).

Directions: ``type`` ``Inb`` -> ``in``, ``Out`` -> ``out``, ``Int`` -> ``internal``; the talk time is ``talktime``;
the call ends at ``date`` + ``waittime`` + ``talktime``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_comagic.mcn.call_log import row_time, to_int
from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.utils.recordings import Recording, RecordingFilter, check_kinds
from airflow_provider_comagic.utils.time import localize

__all__ = ["DIRECTION_OF_TYPE", "KINDS", "RECORDING_FIELDS", "RECORD_PATH", "McnRecordLocator", "call_log_recordings"]

RECORD_PATH = "/account/{account_id}/vpbx/{vpbx_id}/call_log/record"
"""The download path under the API base URL (undocumented in our seed: see the module docstring)."""
KINDS = ("mp3",)
DIRECTION_OF_TYPE: Mapping[str, str] = {"Inb": "in", "Out": "out", "Int": "internal"}
RECORDING_FIELDS = ("callid", "date", "type", "waittime", "talktime", "has_record")
"""The call-log fields :func:`call_log_recordings` reads."""


@dataclasses.dataclass(frozen=True)
class McnRecordLocator:
    """Where the hook fetches one MCN recording: the vPBX and the call (the account is the connection's)."""

    vpbx_id: str
    call_id: str


def call_log_recordings(
    rows: Iterable[Mapping[str, Any]],
    *,
    vpbx_id: str | int,
    tz: dt.tzinfo,
    kinds: Iterable[str] | str | None = None,
    filter: RecordingFilter | None = None,
) -> Iterator[Recording]:
    """The recordings of the call-log rows of ``vpbx_id`` that have ``has_record`` set and pass ``filter``.

    ``tz`` is the account's zone (the rows' wall-clock ``date``)."""
    check_kinds(kinds, KINDS, error=McnParameterError)
    filter = filter or RecordingFilter()
    vpbx = str(vpbx_id)
    for row in rows:
        call_id = row.get("callid")
        if call_id in (None, "") or not to_int(row.get("has_record"), "has_record"):
            continue
        talk = to_int(row.get("talktime"), "talktime")
        if not filter.accepts(DIRECTION_OF_TYPE.get(str(row.get("type"))), talk):
            continue
        waited = to_int(row.get("waittime"), "waittime") or 0
        end = _start(row, tz) + dt.timedelta(seconds=waited + (talk or 0))
        call = str(call_id)
        yield Recording(call, call, "mp3", "mp3", McnRecordLocator(vpbx, call), end)


def _start(row: Mapping[str, Any], tz: dt.tzinfo) -> dt.datetime:
    """The call's start: the API's ``date`` text, or a datetime (rows read back from a landed Parquet partition)."""
    value = row.get("date")
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else localize(value, tz)
    return row_time(row, tz)
