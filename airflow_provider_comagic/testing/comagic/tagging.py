"""``get.tags_history``: the tagging events of the account's calls, derived from ``get.calls_report`` rows.

Every tag on a call is one event, stamped at the tag's ``tag_change_time`` (the call's start when the row has
none). Generated tags are set within 30 minutes of the call; tags set later (``emu.set_tags``, whose tags carry
their own ``tag_change_time``) are events of the day they were set, so an incremental load of
``get.tags_history`` sees the retagging of old calls that the calls' own day never shows again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_comagic.testing.comagic.data import DataStore

SOURCE = "get.calls_report"
TAGS_HISTORY = "get.tags_history"
_CALL = {"value": "Звонки", "value_id": "call"}
_NO = {"value": "Нет", "value_id": False}
_YES = {"value": "Да", "value_id": True}
_COLORS = ("color1", "color2", "color3", "color4", "color5", "color6")


def tag_color(tag_id: int) -> str:
    """A tag's colour, the same in get.tags and in every tagging event."""
    return _COLORS[int(hashlib.blake2b(str(tag_id).encode(), digest_size=2).hexdigest(), 16) % len(_COLORS)]


def tag_stamps(tags: Any) -> set[dt.date]:
    """The days the tags of a row were set on (for the days a retagging touches)."""
    days = set()
    for tag in tags or ():
        stamp = tag.get("tag_change_time") if isinstance(tag, Mapping) else None
        if stamp:
            days.add(dt.date.fromisoformat(str(stamp)[:10]))
    return days


def _event(call_id: Any, stamp: str, tag: Mapping[str, Any]) -> dict[str, Any]:
    tag_id = tag["tag_id"]
    return {
        "tag_id": tag_id,
        "tag_name": {"id": tag_id, "name": tag.get("tag_name"), "color": tag_color(tag_id)},
        "tagging_date_time": stamp,
        "communication_type": dict(_CALL),
        "communication_id": call_id,
        "employee_full_name": tag.get("tag_employee_full_name"),
        "employee_login": tag.get("tag_user_login"),
        "tag_is_system": dict(_NO),
        "tagging_is_auto": dict(_YES if tag.get("tag_type") == "auto" else _NO),
    }


def tagging_rows(store: DataStore, day: dt.date) -> list[dict[str, Any]]:
    """The tagging events stamped on ``day``, in (time, communication, tag) order, one per key."""
    wanted = day.isoformat()
    call_days = {day - dt.timedelta(days=1), day} | store.retagged_call_days(day)
    events: dict[tuple[Any, ...], dict[str, Any]] = {}
    for call_day in sorted(call_days):
        data = store.day(SOURCE, call_day)
        ids, starts, tags = (store.column_uncached(data, name) for name in ("id", "start_time", "tags"))
        for call_id, start, call_tags in zip(ids, starts, tags, strict=True):
            for tag in call_tags or ():
                stamp = tag.get("tag_change_time") or start
                if tag.get("tag_id") is not None and stamp and stamp[:10] == wanted:
                    events.setdefault((call_id, tag["tag_id"], stamp), _event(call_id, stamp, tag))
    return sorted(events.values(), key=lambda e: (e["tagging_date_time"], e["communication_id"], e["tag_id"]))
