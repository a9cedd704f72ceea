"""Generated call recordings for both emulators: valid audio of realistic size, served with faults.

:func:`audio_file` describes one recording (MP3: an ID3v2 tag, then MPEG-1 Layer III frames at 32 kbit/s,
32 kHz, mono, 4 000 bytes a second; WAV: a RIFF/WAVE PCM header, 8 kHz 16-bit mono, 16 000 bytes a second) whose
bytes depend only on its seed; :meth:`AudioFile.chunks` produces them a chunk at a time, so a 100 MB recording
never sits in the emulator's memory. :func:`serve_audio` answers one request for it, applying the media faults of
:mod:`~airflow_provider_comagic.testing.faults` (``method="media"``): ``http_404``, ``http_400``, ``http_5xx``,
``http_429``, ``drop``, ``slow`` (the answer starts late), ``slow_body`` (each chunk of the body waits ``delay``
seconds), ``wrong_content_type`` (an HTML page with status 200), ``truncate`` (the declared length, then the
connection closes halfway).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence

from aiohttp import web

from airflow_provider_comagic.testing.faults import COMMON_FAULTS, Fault, apply_common_fault

__all__ = ["BYTES_PER_SECOND", "AudioFile", "audio_file", "serve_audio"]

BYTES_PER_SECOND = {"mp3": 4000, "wav": 16000}
_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
_MP3_HEADER = bytes([0xFF, 0xFB, 0x18, 0xC4])  # MPEG-1 Layer III, 32 kbit/s, 32 kHz, no padding, mono
_MP3_FRAME = 144  # 144 * 32 000 / 32 000
_ID3_PADDING = 118
_ID3 = b"ID3\x04\x00\x00" + _ID3_PADDING.to_bytes(4, "big") + bytes(_ID3_PADDING)  # < 128: syncsafe as is
_WAV_HEADER = 44
_STREAM_CHUNK = 256 * 2**10
_SLOW_CHUNK = 16 * 2**10
_WRONG_BODY = b"<!doctype html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"


def _pattern(seed: str, size: int) -> bytes:
    """``size`` bytes of noise that depend on ``seed`` (each recording's bytes and hash differ)."""
    out, counter = bytearray(), 0
    while len(out) < size:
        out += hashlib.blake2b(f"{seed}|{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


@dataclasses.dataclass(frozen=True)
class AudioFile:
    """One generated recording: its format, exact size and seed."""

    format: str
    size: int
    seed: str

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]

    def _header(self) -> bytes:
        if self.format == "mp3":
            return _ID3
        data = self.size - _WAV_HEADER
        fmt = (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
        fmt += (16000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
        riff = b"RIFF" + (self.size - 8).to_bytes(4, "little") + b"WAVE"
        return riff + b"fmt " + (16).to_bytes(4, "little") + fmt + b"data" + data.to_bytes(4, "little")

    def _block(self) -> bytes:
        """A run of whole frames (MP3) or samples (WAV) repeated to make the body."""
        if self.format == "mp3":
            frame = _MP3_HEADER + _pattern(self.seed, _MP3_FRAME - len(_MP3_HEADER))
            return frame * (_STREAM_CHUNK // _MP3_FRAME)
        return _pattern(self.seed, 4096) * (_STREAM_CHUNK // 4096)

    def chunks(self, chunk_size: int = _STREAM_CHUNK) -> Iterator[bytes]:
        """The body, ``chunk_size`` bytes at a time (about; never more than one block in memory)."""
        header = self._header()
        yield header
        block, left = self._block(), self.size - len(header)
        view = memoryview(block)
        while left > 0:
            for start in range(0, len(block), chunk_size):
                piece = view[start : start + min(chunk_size, left)]
                left -= len(piece)
                yield bytes(piece)
                if left <= 0:
                    return

    def body(self) -> bytes:
        """The whole body at once (tests of small files only)."""
        return b"".join(self.chunks())


def audio_file(fmt: str, seconds: float, seed: str) -> AudioFile:
    """A recording of about ``seconds`` of audio: whole MP3 frames after the tag, or a PCM WAV of even length."""
    if fmt == "mp3":
        frames = max(1, round(seconds * BYTES_PER_SECOND["mp3"] / _MP3_FRAME))
        return AudioFile("mp3", len(_ID3) + frames * _MP3_FRAME, seed)
    if fmt == "wav":
        samples = max(1, round(seconds * 8000))
        return AudioFile("wav", _WAV_HEADER + 2 * samples, seed)
    raise ValueError(f"unknown audio format {fmt!r}")


async def serve_audio(
    request: web.Request,
    file: AudioFile | None,
    faults: Sequence[Fault],
    count: Callable[[str], None],
) -> web.StreamResponse:
    """Answer a request for ``file`` (None: 404), applying ``faults``; ``count(event)`` tallies what was sent
    (``fault_<kind>``, ``http_<status>``, ``bytes`` is not counted here)."""
    slow_body = truncate = False
    delay = 0.0
    for fault in faults:
        count(f"fault_{fault.kind}")
        if fault.kind in COMMON_FAULTS:
            if (answer := await apply_common_fault(request, fault)) is not None:
                count(f"http_{answer.status}")
                return answer
        elif fault.kind == "slow_body":
            slow_body, delay = True, fault.delay
        elif fault.kind == "wrong_content_type":
            count("http_200")
            return web.Response(body=_WRONG_BODY, content_type="text/html", charset="utf-8")
        elif fault.kind == "truncate":
            truncate = True
    if file is None:
        count("http_404")
        return web.Response(status=404, text="404 Not Found")
    count("http_200")
    response = web.StreamResponse(status=200, headers={"Content-Type": file.content_type})
    response.content_length = file.size
    await response.prepare(request)
    sent, limit = 0, file.size // 2 if truncate else file.size
    for chunk in file.chunks(_SLOW_CHUNK if slow_body else _STREAM_CHUNK):
        piece = chunk[: limit - sent]
        if piece:
            await response.write(piece)
            sent += len(piece)
        if sent >= limit:
            break
        if slow_body:
            await asyncio.sleep(delay)
    if truncate:
        with contextlib.suppress(Exception):
            request.transport.abort()  # the client sees fewer bytes than Content-Length
        return response
    await response.write_eof()
    return response
