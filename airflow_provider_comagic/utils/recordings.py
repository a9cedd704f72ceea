"""Call recordings as plain data, for every vendor: what to download, which calls qualify, what became of each.

A vendor's rules (:mod:`~airflow_provider_comagic.comagic.recordings`, :mod:`~airflow_provider_comagic.mcn.recordings`)
turn call rows into :class:`Recording` objects; the vendor's hook downloads them
(:mod:`~airflow_provider_comagic.hooks.media`) and the landing stores them
(:mod:`~airflow_provider_comagic.landing.recordings`). Nothing here does I/O.

A recording's ``source`` says where to fetch it (a media URL carrying a capability hash, or a vendor locator). It
is a secret: never in ``repr``, logs, manifests, XComs or exception texts. Manifests keep the call id, the record
id and the kind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.utils.audio import AUDIO_FORMATS

__all__ = [
    "DIRECTIONS",
    "FETCH_EMPTY",
    "FETCH_FAILED",
    "FETCH_NOT_FOUND",
    "FETCH_OK",
    "OUTCOMES",
    "PROXY_RULE",
    "PROXY_SCHEMES",
    "STATUS_ABSENT",
    "STATUS_EMPTY",
    "STATUS_FAILED",
    "STATUS_LANDED",
    "STATUS_NOT_READY",
    "Downloader",
    "Fetched",
    "Recording",
    "RecordingFilter",
    "RecordingOptions",
    "Sink",
    "check_kinds",
    "dedupe",
    "is_proxy_url",
]

STATUS_LANDED = "landed"
"""The file is stored (downloaded by this run, or kept from an earlier one with the same size and hash)."""
STATUS_ABSENT = "absent"
"""HTTP 404 for a call that ended long enough ago: the recording expired or was never made."""
STATUS_NOT_READY = "not_ready"
"""HTTP 404 for a call that ended recently: the recording is probably still being made; a later run retries."""
STATUS_EMPTY = "empty"
"""HTTP 400: the server had nothing to join into a file (a call without audio)."""
STATUS_FAILED = "failed"
"""Transient faults beyond the retries, or a body that is not the expected audio."""
OUTCOMES = (STATUS_LANDED, STATUS_ABSENT, STATUS_NOT_READY, STATUS_EMPTY, STATUS_FAILED)
FETCH_OK, FETCH_NOT_FOUND, FETCH_EMPTY, FETCH_FAILED = "ok", "not_found", "empty", "failed"
"""What one download came to (:class:`Fetched`); the landing turns ``not_found`` into absent or not ready."""
DIRECTIONS = ("in", "out", "internal")
"""Call directions a :class:`RecordingFilter` selects on (each vendor maps its own values to these)."""


@dataclasses.dataclass(frozen=True)
class Recording:
    """One recording of one call: the call and record ids, its kind (a vendor's name for the file: ``mp3``,
    ``wav``, ``voice_mail``, ``full``), the audio format expected, where to fetch it (``source``, secret: not in
    ``repr``) and when the call ended (an aware datetime, to tell "not ready yet" from "absent")."""

    call_id: str
    record_id: str
    kind: str
    audio_format: str
    source: Any = dataclasses.field(repr=False, compare=False)
    call_end: dt.datetime | None = dataclasses.field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.audio_format not in AUDIO_FORMATS:
            raise ValueError(f"unknown audio format {self.audio_format!r}")
        if not self.call_id or not self.record_id:
            raise ValueError("a recording needs a call id and a record id")

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies a recording across runs: (call id, kind, record id)."""
        return (self.call_id, self.kind, self.record_id)

    def describe(self) -> str:
        """A label for logs and errors that never names the source: ``call 123 (mp3)``."""
        return f"call {self.call_id} ({self.kind})"


@dataclasses.dataclass(frozen=True)
class RecordingFilter:
    """Which calls' recordings to land: ``directions`` (a subset of :data:`DIRECTIONS`; None for all) and a
    minimum talk time in seconds (0: every call, talked or not)."""

    directions: frozenset[str] | None = None
    min_talk_seconds: int = 0

    @classmethod
    def build(
        cls,
        directions: Iterable[str] | str | None = None,
        min_talk_seconds: int | None = 0,
        *,
        error: type[ParameterError] = ParameterError,
    ) -> RecordingFilter:
        """A filter from user input, checked: an unknown direction or a negative talk time raises ``error``
        naming the parameter."""
        chosen = None
        if directions is not None:
            values = [directions] if isinstance(directions, str) else list(directions)
            unknown = sorted(str(v) for v in values if v not in DIRECTIONS)
            if unknown or not values:
                raise error(
                    f"directions: {', '.join(unknown) or 'empty'} not allowed; choose from {', '.join(DIRECTIONS)}"
                )
            chosen = frozenset(values)
        seconds = 0 if min_talk_seconds is None else min_talk_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise error(f"min_talk_seconds must be an integer >= 0, got {min_talk_seconds!r}")
        return cls(chosen, seconds)

    def accepts(self, direction: str | None, talk_seconds: int | None) -> bool:
        """Whether a call of this direction (one of :data:`DIRECTIONS`, or None when unknown) and talk time
        qualifies. An unknown direction passes only an unrestricted filter; an unknown talk time counts as 0."""
        if self.directions is not None and direction not in self.directions:
            return False
        return (talk_seconds or 0) >= self.min_talk_seconds


def check_kinds(
    kinds: Iterable[str] | str | None, known: Sequence[str], *, error: type[ParameterError] = ParameterError
) -> tuple[str, ...]:
    """The kinds asked for (None: every known kind), in ``known`` order; an unknown or empty choice raises
    ``error`` naming the parameter and the known kinds."""
    if kinds is None:
        return tuple(known)
    values = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = sorted({str(v) for v in values} - set(known))
    if unknown or not values:
        raise error(f"kinds: {', '.join(unknown) or 'empty'} not allowed; choose from {', '.join(known)}")
    return tuple(kind for kind in known if kind in values)


def dedupe(recordings: Iterable[Recording]) -> list[Recording]:
    """Each recording once (the first of equal keys), in the order given: a calls report and its legs, or two
    rows of one call, may name the same file."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for recording in recordings:
        if recording.key not in seen:
            seen.add(recording.key)
            out.append(recording)
    return out


@dataclasses.dataclass(frozen=True)
class Fetched:
    """What one recording's download came to: ``status`` (``ok``, ``not_found``, ``empty``, ``failed``), a reason
    without any URL, the bytes and SHA-256 of a stored body, the attempts made and the last HTTP status."""

    status: str
    reason: str | None = None
    bytes: int = 0
    sha256: str | None = None
    attempts: int = 1
    http_status: int | None = None


class Sink(Protocol):
    """Where one download attempt's body goes: :meth:`write` each chunk, then :meth:`finish` (the file is
    complete) or :meth:`discard` (the attempt failed: nothing of it may stay)."""

    def write(self, chunk: bytes) -> None: ...

    def finish(self) -> None: ...

    def discard(self) -> None: ...


class Downloader(Protocol):
    """What the landing needs of a vendor's downloader
    (:class:`~airflow_provider_comagic.hooks.media.MediaDownloader`): how many downloads at once, and one
    download into a sink opened per attempt."""

    @property
    def concurrency(self) -> int: ...

    def fetch(self, recording: Recording, open_sink: Callable[[], Sink]) -> Fetched: ...


PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
PROXY_RULE = "proxy must be an http://, https:// or socks5:// URL"


def is_proxy_url(url: Any) -> bool:
    """Whether ``url`` names a proxy the downloads can use (:data:`PROXY_SCHEMES`)."""
    return urlsplit(str(url)).scheme in PROXY_SCHEMES


@dataclasses.dataclass(frozen=True)
class RecordingOptions:
    """What a recordings task passes to the downloads and the landing, checked once (at DAG parse time): downloads
    at once, a proxy, how recent a call may be for its 404 to mean "not ready", the store's write options (e.g.
    server-side encryption) and whether failed downloads fail the task."""

    concurrency: int
    proxy: str | None
    ready_within: dt.timedelta
    storage_options: Mapping[str, Any] | None
    fail_on_errors: bool

    def check(self, error: type[ParameterError] = ParameterError) -> None:
        """Raise ``error`` naming the first bad option."""
        if (
            isinstance(self.concurrency, bool)
            or not isinstance(self.concurrency, int)
            or not 1 <= self.concurrency <= 64
        ):
            raise error(f"concurrency must be an integer from 1 to 64, got {self.concurrency!r}")
        if self.proxy is not None and not is_proxy_url(self.proxy):
            raise error(PROXY_RULE)
        if not isinstance(self.ready_within, dt.timedelta) or self.ready_within < dt.timedelta(0):
            raise error(f"ready_within must be a non-negative timedelta, got {self.ready_within!r}")
        if self.storage_options is not None and not isinstance(self.storage_options, Mapping):
            raise error(f"storage_options must be a mapping, got {type(self.storage_options).__name__}")
        if not isinstance(self.fail_on_errors, bool):
            raise error(f"fail_on_errors must be True or False, got {self.fail_on_errors!r}")

    def landing_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~airflow_provider_comagic.landing.recordings.land_recordings`."""
        return {
            "ready_within": self.ready_within,
            "storage_options": dict(self.storage_options or {}),
            "fail_on_errors": self.fail_on_errors,
        }
