"""What a downloaded recording must look like, without I/O: its content type, its magic bytes, a size, a hash.

Two formats are landed: ``mp3`` (MPEG audio: an ID3v2 tag or an MPEG audio frame header first) and ``wav``
(``RIFF....WAVE``). :class:`AudioCheck` validates a body as it streams in, chunk by chunk, so a wrong answer (an
HTML error page served with status 200, a JSON error) is refused after its first bytes, and counts and hashes
the bytes on the way, so nothing is read twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

__all__ = [
    "AUDIO_FORMATS",
    "MAGIC_BYTES",
    "AudioCheck",
    "AudioFormat",
    "IncompleteBody",
    "InvalidAudio",
    "content_type_problem",
    "get_audio_format",
    "magic_problem",
]


@dataclasses.dataclass(frozen=True)
class AudioFormat:
    """One landed audio format: its file suffix and the content types a server may label it with."""

    name: str
    suffix: str
    content_types: frozenset[str]


AUDIO_FORMATS: Mapping[str, AudioFormat] = {
    "mp3": AudioFormat("mp3", ".mp3", frozenset({"audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mpeg"})),
    "wav": AudioFormat("wav", ".wav", frozenset({"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"})),
}
MAGIC_BYTES = 12
"""How many leading bytes :func:`magic_problem` needs (``RIFF`` + size + ``WAVE``)."""


class InvalidAudio(ValueError):
    """A response body is not the audio file it should be (reason in the message; never a URL)."""


class IncompleteBody(InvalidAudio):
    """A body shorter than its declared ``Content-Length``: the transfer broke off (transient, unlike a wrong
    body)."""


def get_audio_format(name: str) -> AudioFormat:
    try:
        return AUDIO_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown audio format {name!r}; known: {', '.join(AUDIO_FORMATS)}") from None


def content_type_problem(fmt: str, header: str | None) -> str | None:
    """Why a ``Content-Type`` header does not fit ``fmt`` (None when it does): any ``audio/*`` type is accepted
    (servers label MP3 as ``audio/mpeg`` or ``audio/mp3`` alike; the magic bytes decide the format)."""
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if media_type.startswith("audio/"):
        return None
    return f"not audio: Content-Type {media_type or 'missing'!r} (expected {fmt}, e.g. audio/*)"


def _mpeg_frame_header(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a known version and layer, a valid bitrate and sample rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and sample_rate != 0b11


def magic_problem(fmt: str, head: bytes) -> str | None:
    """Why the first bytes of a body are not ``fmt`` (None when they are). ``head``: at least
    :data:`MAGIC_BYTES` bytes unless the body is shorter."""
    if fmt == "mp3":
        if head.startswith(b"ID3") or _mpeg_frame_header(head):
            return None
        return "not an MP3 file: neither an ID3 tag nor an MPEG frame header first"
    if fmt == "wav":
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            return None
        return "not a WAV file: no RIFF....WAVE header"
    raise ValueError(f"unknown audio format {fmt!r}")


class AudioCheck:
    """Validates one body of format ``fmt`` while it streams: :meth:`feed` each chunk (raises
    :class:`InvalidAudio` as soon as the leading bytes are wrong), then :meth:`finish` (raises for an empty or
    short body). ``size`` and :attr:`sha256` are the bytes fed so far."""

    def __init__(self, fmt: str, *, content_type: str | None, expected_size: int | None = None):
        get_audio_format(fmt)
        problem = content_type_problem(fmt, content_type)
        if problem:
            raise InvalidAudio(problem)
        self.format = fmt
        self.expected_size = expected_size
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < MAGIC_BYTES:
            self._head += chunk[: MAGIC_BYTES - len(self._head)]
            if len(self._head) >= MAGIC_BYTES and (problem := magic_problem(self.format, self._head)):
                raise InvalidAudio(problem)
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> None:
        """The body ended: it must be non-empty, as long as declared, and (when short) still the format."""
        if self.size == 0:
            raise InvalidAudio("empty body")
        if self.expected_size is not None and self.size != self.expected_size:
            raise IncompleteBody(f"body cut short: {self.size} of {self.expected_size} bytes")
        if len(self._head) < MAGIC_BYTES and (problem := magic_problem(self.format, self._head)):
            raise InvalidAudio(problem)
