"""MCN Telecom call-log rows -> rows of the unified call table (:mod:`~airflow_provider_comagic.unified.schema`)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.mcn.call_log import row_time, to_int
from airflow_provider_comagic.unified.schema import text_or_none as _text
from airflow_provider_comagic.unified.schema import utc_text as _utc_text

__all__ = ["MCN_DIRECTIONS", "MCN_OUTCOMES", "mcn_direction", "mcn_outcome", "mcn_pages_to_unified", "mcn_to_unified"]

log = logging.getLogger(__name__)

# the seed's values -> unified
MCN_DIRECTIONS: dict[str, str] = {"Out": "out", "Inb": "in", "Int": "internal"}
MCN_OUTCOMES: dict[str, str] = {
    "ANSWERED": "answered",
    "BUSY": "busy",
    "LOST": "lost",  # no queue operator answered
    "FAILED": "failed",  # the callee was unreachable
    "NO ANSWER": "no_answer",  # a direct call the callee did not pick up
}


def mcn_direction(value: Any) -> str:
    """``Out``/``Inb``/``Int`` -> ``out``/``in``/``internal``; any other value -> ``unknown`` (logged)."""
    direction = MCN_DIRECTIONS.get(str(value).strip().capitalize()) if value is not None else None
    if direction is None:
        log.warning("MCN call type %r is not documented; mapped to direction 'unknown'", value)
        return "unknown"
    return direction


def mcn_outcome(value: Any) -> str:
    """``ANSWERED``/``BUSY``/``LOST``/``FAILED``/``NO ANSWER`` -> unified; any other value -> ``unknown``."""
    key = " ".join(str(value).replace("_", " ").upper().split()) if value is not None else ""
    outcome = MCN_OUTCOMES.get(key)
    if outcome is None:
        log.warning("MCN call status %r is not documented; mapped to outcome 'unknown'", value)
        return "unknown"
    return outcome


def mcn_to_unified(
    rows: Iterable[Mapping[str, Any]], tz: dt.tzinfo, *, account_id: Any, vpbx_id: Any
) -> list[dict[str, Any]]:
    """Map MCN call-log rows of one vPBX (``date`` in the account zone ``tz``)."""
    out = []
    for row in rows:
        start = row_time(row, tz)
        wait, talk = to_int(row.get("waittime"), "waittime"), to_int(row.get("talktime"), "talktime")
        # the log has no end time: the call rang for waittime, then talked for talktime
        finish = start + dt.timedelta(seconds=(wait or 0) + (talk or 0))
        out.append(
            {
                "vendor": "mcn",
                "account_id": _text(account_id),
                "pbx_id": _text(vpbx_id),
                "call_id": _text(row.get("callid")),
                "direction": mcn_direction(row.get("type")),
                "start_time_utc": _utc_text(start),
                "finish_time_utc": _utc_text(finish),
                "caller": _text(row.get("src_num")),
                "callee": _text(row.get("dst_num")),
                "did": _text(row.get("did")),
                "wait_seconds": wait,
                "talk_seconds": talk,
                "outcome": mcn_outcome(row.get("status")),
                "vendor_status": _text(row.get("status")),
                "has_recording": bool(to_int(row.get("has_record"), "has_record")),
            }
        )
    return out


def mcn_pages_to_unified(
    pages: Iterable[Sequence[Mapping[str, Any]]], tz: dt.tzinfo, *, account_id: Any, vpbx_id: Any
) -> Iterator[list[dict[str, Any]]]:
    """Map every page of an MCN call-log reader lazily."""
    for page in pages:
        yield mcn_to_unified(page, tz, account_id=account_id, vpbx_id=vpbx_id)
