"""The CoMagic emulator's media paths: the recordings its calls and legs rows name, served over HTTP.

Served by the emulator's own server (the connection's host, as
:func:`~airflow_provider_comagic.comagic.recordings.media_base_url` expects of any host but the real ones):

* ``GET /system/media/{talk|wav|voice_mail}/{id}/{record}/`` (trailing slash optional): ``{id}`` is the call's
  ``communication_id`` or its session id (``id``; a leg's ``call_session_id``): both are accepted, any other id is
  a 404, as is a record the row does not name;
* ``GET /media/{id}/{record}``: the full links (``full_record_file_link``; the stand-in for ``media.comagic.ru``).

A recording is served once the call ended ``EmulatorConfig.media_ready_after`` emulated seconds ago (404 before:
"not ready yet"; move ``emu.clock`` to make it appear on a later run), as valid MP3 or WAV
(:mod:`~airflow_provider_comagic.testing.media`) of the call's talk time (``recording_seconds`` overrides it).
Faults: ``emu.faults.add(kind, method="media", ...)``; ``emu.stats.media`` counts what was served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from aiohttp import web

from airflow_provider_comagic.testing.comagic.recording_data import CALLS, FULL_LINK, FULL_PATH, owners
from airflow_provider_comagic.testing.media import AudioFile, audio_file, serve_audio
from airflow_provider_comagic.testing.server import EmulatorServer
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

__all__ = ["ComagicServer", "MediaLibrary"]

SEGMENTS = {"talk": "call_records", "wav": "wav_call_records", "voice_mail": "voice_mail_records"}
_FORMATS = {"call_records": "mp3", "wav_call_records": "wav", "voice_mail_records": "mp3", FULL_LINK: "mp3"}
_CALL_FIELDS = ("id", "communication_id", "finish_time", "talk_duration", *_FORMATS)
_LEG_FIELDS = ("call_session_id", "start_time", "total_duration", "duration", "call_records", "wav_call_records")
_MIN_SECONDS = 5.0
_VOICE_MAIL_SECONDS = 20.0


@dataclasses.dataclass(frozen=True)
class _Facts:
    row: dict[str, Any]
    path_ids: set[Any]
    ended: float | None
    seconds: float | None


class MediaLibrary:
    """Finds the file a media path names in the emulator's data (no I/O): :meth:`resolve`."""

    def __init__(self, dispatcher: Any):
        self.dispatcher = dispatcher

    def _stores(self) -> list[Any]:
        return [self.dispatcher.store, *self.dispatcher.stores.values()]

    def _epoch(self, text: Any) -> float | None:
        if not isinstance(text, str):
            return None
        return dt.datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=self.dispatcher.tz).timestamp()

    def resolve(self, field: str, path_id: str, record: str) -> AudioFile | None:
        """The file of ``field`` (``call_records``... or ``full_record_file_link``) at ``/{path_id}/{record}``,
        or None (unknown, not named by its row, another id in the path, or not ready yet)."""
        for store in self._stores():  # an agent's clients: each account's record ids come from its own seed
            for method, row_id, owner_field, _ in owners(store.seed, record):
                if owner_field != field:
                    continue
                found = self._file(store, method, row_id, field, path_id, record)
                if found is not None:
                    return found
        return None

    def _facts(self, store: Any, method: str, row_id: int, field: str) -> _Facts | None:
        """The row, the ids its path may carry, when it ended and how long it talked."""
        if method == CALLS:
            row = store.row_fields(method, row_id, _CALL_FIELDS)
            if row is None:
                return None
            seconds = _VOICE_MAIL_SECONDS if field == "voice_mail_records" else row["talk_duration"]
            return _Facts(row, {row["id"], row["communication_id"]}, self._epoch(row["finish_time"]), seconds)
        row = store.row_fields(method, row_id, _LEG_FIELDS)
        if row is None:
            return None
        parent = store.row_fields(CALLS, row["call_session_id"], ("communication_id",)) or {}
        start = self._epoch(row["start_time"])
        ended = None if start is None else start + (row["total_duration"] or 0)
        return _Facts(row, {row["call_session_id"], parent.get("communication_id")}, ended, row["duration"])

    def _file(self, store: Any, method: str, row_id: int, field: str, path_id: str, record: str) -> AudioFile | None:
        config = self.dispatcher.config
        facts = self._facts(store, method, row_id, field)
        if facts is None or path_id not in {str(i) for i in facts.path_ids if i is not None}:
            return None
        value = facts.row[field]
        named = value if field != FULL_LINK else [str(value or "").rsplit("/", 1)[-1]]
        if record not in (named or ()):
            return None
        if facts.ended is None or self.dispatcher.clock.now() < facts.ended + config.media_ready_after:
            return None  # the call is not over long enough: the recording is not ready yet
        seconds = config.recording_seconds
        if seconds is None:
            seconds = max(facts.seconds or 0, _MIN_SECONDS)
        return audio_file(_FORMATS[field], seconds, seed=f"{config.seed}|{record}")


class ComagicServer(EmulatorServer):
    """The Data API server plus the media paths of the module docstring."""

    def add_routes(self, app: web.Application) -> None:
        super().add_routes(app)
        self.media = MediaLibrary(self.dispatcher)
        for path in ("/system/media/{segment}/{path_id}/{record}", "/system/media/{segment}/{path_id}/{record}/"):
            app.router.add_get(path, self._media)
        app.router.add_get(FULL_PATH + "/{path_id}/{record}", self._media)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        stats = self.dispatcher.stats
        stats.media_event("requests")
        segment = request.match_info.get("segment")
        field = SEGMENTS.get(segment or "") if segment is not None else FULL_LINK
        faults = self.faults.pick("media") if len(self.faults) else []
        file = None
        if field is not None:
            with self._lock:
                file = self.media.resolve(field, request.match_info["path_id"], request.match_info["record"])
        if file is not None and not any(f.kind.startswith("http_") or f.kind == "wrong_content_type" for f in faults):
            stats.media_event("bytes", file.size)
        return await serve_audio(request, file, faults, stats.media_event)
