"""What a downloaded recording must look like: content types, magic bytes, size and hash (utils/audio.py)."""

from __future__ import annotations

import hashlib

import pytest

from airflow_provider_comagic.utils.audio import (
    AudioCheck,
    IncompleteBody,
    InvalidAudio,
    content_type_problem,
    magic_problem,
)

MP3_FRAME = bytes([0xFF, 0xFB, 0x18, 0xC4]) + bytes(140)  # MPEG-1 Layer III, 32 kbit/s, 32 kHz, mono
ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"
WAV = b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + bytes(24) + b"data" + bytes(4)


@pytest.mark.parametrize(
    ("fmt", "head", "ok"),
    [
        ("mp3", ID3 + MP3_FRAME, True),
        ("mp3", MP3_FRAME, True),
        ("mp3", bytes([0xFF, 0xF3, 0x48, 0xC4]) + bytes(8), True),  # MPEG-2 Layer III (8-24 kHz telephony)
        ("mp3", bytes([0xFF, 0xFB, 0xF8, 0xC4]) + bytes(8), False),  # bitrate index 1111 is invalid
        ("mp3", bytes([0xFF, 0xFB, 0x1C, 0xC4]) + bytes(8), False),  # sample-rate index 11 is reserved
        ("mp3", bytes([0xFF, 0xF9, 0x18, 0xC4]) + bytes(8), False),  # layer 00 is reserved
        ("mp3", b"<html><body>login</body></html>", False),
        ("mp3", WAV, False),
        ("wav", WAV, True),
        ("wav", b"RIFF\x00\x00\x00\x00AVI LIST", False),
        ("wav", ID3 + MP3_FRAME, False),
    ],
)
def test_magic_bytes(fmt, head, ok):
    assert (magic_problem(fmt, head[:12]) is None) is ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("audio/mpeg", True),
        ("audio/mp3", True),
        ("audio/x-wav; charset=binary", True),
        ("AUDIO/WAV", True),
        ("text/html; charset=utf-8", False),
        ("application/json", False),
        ("application/octet-stream", False),
        (None, False),
    ],
)
def test_content_types(header, ok):
    assert (content_type_problem("mp3", header) is None) is ok


def test_a_body_is_checked_hashed_and_counted_as_it_streams():
    body = ID3 + MP3_FRAME * 50
    check = AudioCheck("mp3", content_type="audio/mpeg", expected_size=len(body))
    for start in range(0, len(body), 7):  # chunks smaller than the magic bytes
        check.feed(body[start : start + 7])
    check.finish()
    assert check.size == len(body) and check.sha256 == hashlib.sha256(body).hexdigest()


def test_a_wrong_body_is_refused_at_its_first_bytes():
    check = AudioCheck("mp3", content_type="audio/mpeg")
    with pytest.raises(InvalidAudio, match="not an MP3 file"):
        check.feed(b"<!doctype html><html>")
    assert check.size == 0  # nothing past the head was counted


def test_a_wrong_content_type_is_refused_before_any_byte():
    with pytest.raises(InvalidAudio, match="text/html"):
        AudioCheck("wav", content_type="text/html")


def test_empty_short_and_cut_bodies():
    with pytest.raises(InvalidAudio, match="empty"):
        AudioCheck("mp3", content_type="audio/mpeg").finish()
    short = AudioCheck("wav", content_type="audio/wav")
    short.feed(b"RIFF")  # shorter than the magic bytes: judged at the end
    with pytest.raises(InvalidAudio, match="not a WAV"):
        short.finish()
    cut = AudioCheck("mp3", content_type="audio/mpeg", expected_size=1000)
    cut.feed(MP3_FRAME)
    with pytest.raises(IncompleteBody, match="144 of 1000"):
        cut.finish()
