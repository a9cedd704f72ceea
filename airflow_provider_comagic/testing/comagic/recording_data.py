"""The recording fields of the emulator's calls and legs rows: record ids it can serve, and links to itself.

A record id is 32 hex digits like the API's: a keyed digest (16) of what it names, then the id of the row that
names it (16), so the media server (:mod:`~airflow_provider_comagic.testing.comagic.media`) finds the row again
from the id alone, and a made-up id is refused. Which calls have which files is a function of the seed and the
row id, so every field of one row agrees: a lost call has no talk recording and may have a voice mail; a talked
one has one talk recording (two now and then, none rarely), often two wav tracks, and a full link
(``full_record_file_link``: ``<emulator>/media/{communication_id}/{record}``, the emulator's stand-in for
``media.comagic.ru``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "CALLS",
    "FULL_LINK",
    "FULL_PATH",
    "LEGS",
    "RECORD_FIELDS",
    "owners",
    "record_id",
    "recording_column",
    "recording_fields",
]

CALLS, LEGS = "get.calls_report", "get.call_legs_report"
RECORD_FIELDS = {
    CALLS: ("call_records", "wav_call_records", "voice_mail_records", "full_record_file_link"),
    LEGS: ("call_records", "wav_call_records"),
}
FULL_LINK = "full_record_file_link"
FULL_PATH = "/media"
_OWNER = {CALLS: "call", LEGS: "leg"}


def record_id(seed: int, method: str, row_id: int, field: str, index: int) -> str:
    mac = hashlib.blake2b(f"{seed}|{_OWNER[method]}|{row_id}|{field}|{index}".encode(), digest_size=8).hexdigest()
    return f"{mac}{int(row_id) % 2**64:016x}"


def owners(seed: int, record: str) -> list[tuple[str, int, str, int]]:
    """Every (method, row id, field, index) whose record id ``record`` is (none for an id the emulator never
    issued)."""
    if len(record) != 32:
        return []
    try:
        row_id = int(record[16:], 16)
    except ValueError:
        return []
    return [
        (method, row_id, field, index)
        for method, fields in RECORD_FIELDS.items()
        for field in fields
        for index in range(2)
        if record_id(seed, method, row_id, field, index) == record
    ]


def _chance(seed: int, what: str, row_id: int) -> float:
    digest = hashlib.blake2b(f"{seed}|{what}|{row_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _talks(seed: int, row_id: int, lost: bool) -> int:
    """How many talk recordings a call has: none when lost (or rarely), two now and then, else one."""
    if lost:
        return 0
    u = _chance(seed, "talk", row_id)
    return 0 if u < 0.05 else 2 if u < 0.15 else 1


def _field(seed: int, method: str, name: str, row_id: int, lost: bool, path_id: Any, media_base: str) -> Any:
    """One recording field of one row (only the work that field needs: a day of a million calls stays quick)."""
    if method == LEGS:
        share = 0.6 if name == "call_records" else 0.3
        return [record_id(seed, method, row_id, name, 0)] if _chance(seed, f"leg|{name}", row_id) < share else []
    if name == "voice_mail_records":
        voice_mail = lost and _chance(seed, "voice_mail", row_id) < 0.3
        return [record_id(seed, method, row_id, name, 0)] if voice_mail else []
    talks = _talks(seed, row_id, lost)
    if name == "call_records":
        return [record_id(seed, method, row_id, name, i) for i in range(talks)]
    if name == "wav_call_records":
        wav = talks and _chance(seed, "wav", row_id) < 0.6
        return [record_id(seed, method, row_id, name, i) for i in range(2)] if wav else []
    if not talks:
        return None
    where = path_id if path_id is not None else row_id
    return f"{media_base}{FULL_PATH}/{where}/{record_id(seed, method, row_id, FULL_LINK, 0)}"


def recording_fields(
    seed: int, method: str, row_id: int, *, lost: bool = False, path_id: Any = None, media_base: str = ""
) -> dict[str, Any]:
    """The recording fields of one row (``path_id``: the communication id of a call, for its full link)."""
    return {name: _field(seed, method, name, row_id, lost, path_id, media_base) for name in RECORD_FIELDS[method]}


def recording_column(
    seed: int,
    method: str,
    name: str,
    ids: Sequence[int],
    column: Callable[[str], Sequence[Any]],
    media_base: str,
) -> list[Any]:
    """One recording field for rows ``ids`` of ``method``; ``column(name)`` gives another field of the same rows
    (``is_lost``, ``communication_id``)."""
    lost = column("is_lost") if method == CALLS else [False] * len(ids)
    path_ids = column("communication_id") if method == CALLS and name == FULL_LINK else [None] * len(ids)
    return [
        _field(seed, method, name, row_id, bool(is_lost), path_id, media_base)
        for row_id, is_lost, path_id in zip(ids, lost, path_ids, strict=True)
    ]
