"""Which recordings a CoMagic / UIS calls row names, and where they are served: the one place for these rules.

``get.calls_report`` (``report.get_calls_report.txt``) names a call's files in four fields, each a **kind**:

========== ========================= ======== =====================================================================
kind       field                     format   URL
========== ========================= ======== =====================================================================
mp3        ``call_records``          mp3      ``<media>/system/media/talk/{id}/{record}/``
wav        ``wav_call_records``      wav      ``<media>/system/media/wav/{id}/{record}/`` (one file per channel)
voice_mail ``voice_mail_records``    mp3      ``<media>/system/media/voice_mail/{id}/{record}/``
full       ``full_record_file_link`` mp3      the field is the whole URL (``https://media.comagic.ru/{id}/{record}``)
========== ========================= ======== =====================================================================

``get.call_legs_report`` names ``call_records`` and ``wav_call_records`` per leg, with the leg's
``call_session_id``; its files are those of the session (the call), so they land under the session's call id.

**Which id goes in the path.** The calls report's page writes ``{communication_id}``; the legs report's writes
``{call_session_id}`` for mp3 and ``{communication_id}`` for wav; public clients use either. ``path_id`` chooses,
in one place (:func:`media_url`): ``"communication_id"`` (the default, as the calls report documents; a row
without one falls back to the session id) or ``"call_session_id"`` (the row's ``id`` in the calls report, its
``call_session_id`` in the legs report). A legs row has no ``communication_id``, so it always uses the session id.

**Media host.** The media paths are served by the web application of the connection's platform, not by the Data
API host: ``dataapi.comagic.ru`` -> ``https://app.comagic.ru`` (the docs' URLs), ``dataapi.uiscom.ru`` ->
``https://app.uiscom.ru`` (not in our docs: the host UIS accounts' public clients download from), any other
``dataapi.<domain>`` -> ``https://app.<domain>`` (white-label platforms), and any other host (the bundled emulator,
a proxy) -> that host itself. The connection extra ``media_host`` (or a parameter) overrides it.

Every URL built here is a capability (the record id is its secret part): it stays inside
:class:`~airflow_provider_comagic.utils.recordings.Recording.source` and is never logged or stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.recordings import Recording, RecordingFilter, check_kinds
from airflow_provider_comagic.utils.time import localize, parse_api_time

__all__ = [
    "CALLS_METHOD",
    "DEFAULT_PATH_ID",
    "KINDS",
    "LEGS_METHOD",
    "MEDIA_HOSTS",
    "PATH_IDS",
    "RecordingKind",
    "media_base_url",
    "media_url",
    "recording_fields",
    "recordings_of",
]

CALLS_METHOD = "get.calls_report"
LEGS_METHOD = "get.call_legs_report"


@dataclasses.dataclass(frozen=True)
class RecordingKind:
    """One kind of file a row names: its row field, its media path segment (None: the field is a URL), its
    format, and whether the legs report carries it."""

    name: str
    field: str
    segment: str | None
    audio_format: str
    in_legs: bool


KINDS: Mapping[str, RecordingKind] = {
    kind.name: kind
    for kind in (
        RecordingKind("mp3", "call_records", "talk", "mp3", in_legs=True),
        RecordingKind("wav", "wav_call_records", "wav", "wav", in_legs=True),
        RecordingKind("voice_mail", "voice_mail_records", "voice_mail", "mp3", in_legs=False),
        RecordingKind("full", "full_record_file_link", None, "mp3", in_legs=False),
    )
}
"""The kinds in their canonical order (what ``kinds=None`` selects)."""
MEDIA_HOSTS: Mapping[str, str] = {
    "dataapi.comagic.ru": "https://app.comagic.ru",
    "dataapi.uiscom.ru": "https://app.uiscom.ru",
}
PATH_IDS = ("communication_id", "call_session_id")
DEFAULT_PATH_ID = "communication_id"
_METHODS = (CALLS_METHOD, LEGS_METHOD)


def media_base_url(endpoint: str, override: str | None = None) -> str:
    """``https://app.comagic.ru`` for a connection endpoint (or ``override``): the module docstring's rules."""
    if override:
        parts = urlsplit(override.strip() if "://" in override else "https://" + override.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ComagicParameterError(f"media_host must be a host name or an http(s) URL, got {override!r}")
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if host in MEDIA_HOSTS:
        return MEDIA_HOSTS[host]
    if host.startswith("dataapi."):
        return "https://app." + host.removeprefix("dataapi.")
    return f"{parts.scheme}://{parts.netloc}"


def media_url(base: str, kind: str, path_id: str | int, record_id: str) -> str:
    """The URL of one file of kind ``mp3``, ``wav`` or ``voice_mail`` (``full`` links are given whole)."""
    segment = KINDS[kind].segment
    if segment is None:
        raise ValueError(f"kind {kind!r} names its file by a full URL, not a path")
    return f"{base}/system/media/{segment}/{quote(str(path_id), safe='')}/{quote(record_id, safe='')}/"


def _check_path_id(path_id: str) -> str:
    if path_id not in PATH_IDS:
        raise ComagicParameterError(f"path_id must be one of {', '.join(PATH_IDS)}, got {path_id!r}")
    return path_id


def recording_fields(method: str, kinds: Iterable[str] | None = None) -> list[str]:
    """The report fields the rules read (what to ask ``method`` for when only the recordings are needed)."""
    chosen = _kinds_for(method, kinds)
    if method == CALLS_METHOD:
        base = ["id", "communication_id", "start_time", "finish_time", "total_duration", "direction", "talk_duration"]
    else:
        base = ["id", "call_session_id", "start_time", "total_duration", "direction", "duration"]
    return base + [KINDS[kind].field for kind in chosen]


def _kinds_for(method: str, kinds: Iterable[str] | str | None) -> tuple[str, ...]:
    if method not in _METHODS:
        raise ComagicParameterError(f"recordings are read from {' or '.join(_METHODS)}, not {method!r}")
    chosen = check_kinds(kinds, tuple(KINDS), error=ComagicParameterError)
    return chosen if method == CALLS_METHOD else tuple(k for k in chosen if KINDS[k].in_legs)


def _record_values(value: Any) -> list[str]:
    """A row field's record ids (a list, one string, or nothing), as non-empty strings."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [str(item).strip() for item in items if item is not None and str(item).strip()]


def _link_record_id(url: str) -> str:
    """The record id of a full URL: its last non-empty path segment (the part after the call id)."""
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    return segments[-1] if segments else ""


def _number(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def _parsed_time(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    """A row's time: the API's wall-clock text, or a datetime (rows read back from a landed Parquet partition)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else localize(value, tz)
    try:
        return parse_api_time(value, tz) if isinstance(value, str) else None
    except ValueError:
        return None


def _call_end(row: Mapping[str, Any], finish_field: str | None, tz: dt.tzinfo) -> dt.datetime | None:
    """When the call (or leg) ended: its finish time, else its start plus its total duration."""
    if finish_field and (finish := _parsed_time(row.get(finish_field), tz)) is not None:
        return finish
    start = _parsed_time(row.get("start_time"), tz)
    return None if start is None else start + dt.timedelta(seconds=_number(row.get("total_duration")) or 0)


def _row_recordings(
    row: Mapping[str, Any],
    *,
    call_id: Any,
    path_value: Any,
    kinds: Sequence[str],
    base: str,
    end: dt.datetime | None,
) -> Iterator[Recording]:
    for kind in kinds:
        spec = KINDS[kind]
        for value in _record_values(row.get(spec.field)):
            if value.startswith(("http://", "https://")):  # some pages give whole URLs instead of record ids
                url, record_id = value, _link_record_id(value)
            elif spec.segment is None:
                continue  # a full link that is not a URL: nothing to fetch
            else:
                url, record_id = media_url(base, kind, path_value, value), value
            if record_id:
                yield Recording(str(call_id), record_id, kind, spec.audio_format, url, end)


@dataclasses.dataclass(frozen=True)
class _RowShape:
    """Where a report's row keeps the call id, the talk time and the end time."""

    call_field: str
    talk_field: str
    finish_field: str | None


_SHAPES: Mapping[str, _RowShape] = {
    CALLS_METHOD: _RowShape("id", "talk_duration", "finish_time"),
    LEGS_METHOD: _RowShape("call_session_id", "duration", None),
}


def recordings_of(
    method: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    media_base: str,
    tz: dt.tzinfo,
    kinds: Iterable[str] | str | None = None,
    path_id: str = DEFAULT_PATH_ID,
    filter: RecordingFilter | None = None,
) -> Iterator[Recording]:
    """The recordings the rows of ``method`` (``get.calls_report`` or ``get.call_legs_report``) name, filtered.

    Rows need the fields :func:`recording_fields` lists. A calls row is filtered on its ``direction`` and
    ``talk_duration``; a legs row on its own ``direction`` and ``duration`` and lands under its session's id.
    ``media_base`` is :func:`media_base_url`'s answer, ``tz`` the account's zone (the rows' wall-clock times).
    """
    chosen, path_id, filter = _kinds_for(method, kinds), _check_path_id(path_id), filter or RecordingFilter()
    shape = _SHAPES[method]
    return _recordings(rows, shape, chosen, path_id, filter, media_base, tz)


def _recordings(
    rows: Iterable[Mapping[str, Any]],
    shape: _RowShape,
    kinds: Sequence[str],
    path_id: str,
    filter: RecordingFilter,
    base: str,
    tz: dt.tzinfo,
) -> Iterator[Recording]:
    for row in rows:
        call_id = row.get(shape.call_field)
        if call_id is None or not filter.accepts(row.get("direction"), _number(row.get(shape.talk_field))):
            continue
        path_value = call_id  # the session id: a calls row's id, a legs row's call_session_id
        if path_id == "communication_id" and row.get("communication_id") is not None:
            path_value = row["communication_id"]
        end = _call_end(row, shape.finish_field, tz)
        yield from _row_recordings(row, call_id=call_id, path_value=path_value, kinds=kinds, base=base, end=end)
