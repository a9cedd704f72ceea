"""Generated recordings (testing/media.py) and the media paths of both emulators, over real HTTP."""

from __future__ import annotations

import hashlib

import pytest
import requests

from airflow_provider_comagic.testing.media import BYTES_PER_SECOND, audio_file
from airflow_provider_comagic.utils.audio import AudioCheck, magic_problem

DAY = {"date_from": "2024-03-01 00:00:00", "date_till": "2024-03-01 23:59:59"}
FIELDS = ["id", "communication_id", "finish_time", "call_records", "wav_call_records", "full_record_file_link"]


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_generated_audio_is_valid_of_realistic_size_and_streams_exactly(fmt):
    file = audio_file(fmt, 95, seed="x")
    assert abs(file.size - 95 * BYTES_PER_SECOND[fmt]) < 400
    chunks = list(file.chunks(10_000))
    body = b"".join(chunks)
    assert len(body) == file.size and max(map(len, chunks)) <= 10_000
    check = AudioCheck(fmt, content_type=file.content_type, expected_size=file.size)
    check.feed(body)
    check.finish()
    if fmt == "mp3":  # an ID3 tag, then MPEG frames back to back up to the last byte
        starts = range(128, file.size, 144)
        assert all(magic_problem("mp3", body[i : i + 12]) is None for i in starts) and (file.size - 128) % 144 == 0
    else:
        assert int.from_bytes(body[40:44], "little") == file.size - 44  # the data chunk's declared length
    other = audio_file(fmt, 95, seed="y").body()
    assert hashlib.sha256(other).digest() != hashlib.sha256(body).digest() and len(other) == len(body)


def media_urls(emu, row, field, path_key):
    segment = {"call_records": "talk", "wav_call_records": "wav"}[field]
    return f"{emu.base_url}/system/media/{segment}/{row[path_key]}/{row[field][0]}/"


@pytest.fixture
def emu(comagic_emulator_factory):
    return comagic_emulator_factory(calls_per_day=40, start_time=1_709_500_000, frozen_clock=True)  # 2024-03-03


def rows(emu):
    return emu.truth("get.calls_report", **DAY, fields=FIELDS)


def test_calls_rows_name_files_the_emulator_serves_under_either_id(emu):
    row = next(r for r in rows(emu) if r["call_records"] and r["wav_call_records"])
    for path_key in ("communication_id", "id"):
        talk = requests.get(media_urls(emu, row, "call_records", path_key), timeout=10)
        assert talk.status_code == 200 and talk.headers["Content-Type"] == "audio/mpeg"
        assert talk.content.startswith(b"ID3")
    wav = requests.get(media_urls(emu, row, "wav_call_records", "id").rstrip("/"), timeout=10)
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    full = requests.get(row["full_record_file_link"], timeout=10)
    assert full.status_code == 200 and full.headers["Content-Type"] == "audio/mpeg"
    assert emu.stats.media["http_200"] == 4 and emu.stats.media["bytes"] > 0


def test_other_ids_and_records_are_not_found(emu):
    row, other = [r for r in rows(emu) if r["call_records"]][:2]
    record = row["call_records"][0]
    for url in (
        f"{emu.base_url}/system/media/talk/{other['id']}/{record}/",  # another call's id
        f"{emu.base_url}/system/media/wav/{row['id']}/{record}/",  # a talk record under the wav path
        f"{emu.base_url}/system/media/talk/{row['id']}/{record[:-1]}0/",  # a record id never issued
        f"{emu.base_url}/system/media/video/{row['id']}/{record}/",
    ):
        assert requests.get(url, timeout=10).status_code == 404, url


def test_legs_name_files_under_their_session(emu):
    legs = emu.truth("get.call_legs_report", **DAY, fields=["id", "call_session_id", "call_records"])
    leg = next(leg for leg in legs if leg["call_records"])
    url = f"{emu.base_url}/system/media/talk/{leg['call_session_id']}/{leg['call_records'][0]}/"
    assert requests.get(url, timeout=10).status_code == 200


def test_a_recording_appears_once_its_call_is_over_long_enough(comagic_emulator_factory):
    emu = comagic_emulator_factory(calls_per_day=40, start_time=1_709_240_400 + 3600, frozen_clock=True)  # 01:00 MSK
    recent = [r for r in emu.truth("get.calls_report", **DAY, fields=FIELDS) if r["call_records"]][-1]
    url = media_urls(emu, recent, "call_records", "id")
    assert requests.get(url, timeout=10).status_code == 404
    emu.clock.advance(3600)
    assert requests.get(url, timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("http_404", 404, None),
        ("http_400", 400, None),
        ("http_503", 503, None),
        ("wrong_content_type", 200, "text/html"),
    ],
)
def test_media_faults(emu, kind, status, content_type):
    row = next(r for r in rows(emu) if r["call_records"])
    url = media_urls(emu, row, "call_records", "id")
    emu.faults.add(kind, method="media", calls={1})
    first = requests.get(url, timeout=10)
    assert first.status_code == status
    if content_type:
        assert first.headers["Content-Type"].startswith(content_type)
    assert requests.get(url, timeout=10).status_code == 200
    assert emu.stats.media[f"fault_{kind}"] == 1


def test_a_truncated_body_breaks_off_before_its_declared_length(emu):
    row = next(r for r in rows(emu) if r["call_records"])
    emu.faults.add("truncate", method="media", calls={1})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(media_urls(emu, row, "call_records", "id"), timeout=10).content  # noqa: B018


def test_a_slow_body_trickles(emu):
    row = next(r for r in rows(emu) if r["call_records"])
    emu.faults.add("slow_body", method="media", calls={1}, delay=0.3)
    with pytest.raises(requests.exceptions.ConnectionError):  # a read timeout while the body trickles
        requests.get(media_urls(emu, row, "call_records", "id"), timeout=(5, 0.1)).content  # noqa: B018


def test_the_mcn_record_endpoint(mcn_emulator):
    emu = mcn_emulator
    day = emu.truth("7001", "2024-03-01", "2024-03-01")
    recorded = next(r for r in day if r["has_record"])
    silent = next(r for r in day if not r["has_record"])
    url = f"{emu.url}/account/{emu.account_id}/vpbx/7001/call_log/record"
    auth = {"Authorization": f"Bearer {emu.token}"}
    answer = requests.get(url, params={"call_id": recorded["callid"]}, headers=auth, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "audio/mpeg"
    assert len(answer.content) == audio_file("mp3", recorded["talktime"], "-").size
    assert requests.get(url, params={"call_id": silent["callid"]}, headers=auth, timeout=10).status_code == 404
    assert requests.get(url, headers=auth, timeout=10).status_code == 400
    assert requests.get(url, params={"call_id": recorded["callid"]}, timeout=10).status_code == 401
    emu.api.now = lambda: 0.0  # before the call: not ready
    assert requests.get(url, params={"call_id": recorded["callid"]}, headers=auth, timeout=10).status_code == 404
    emu.api.now = __import__("time").time
    emu.faults.add("http_502", method="media", calls={1})
    assert requests.get(url, params={"call_id": recorded["callid"]}, headers=auth, timeout=10).status_code == 502
    assert emu.stats["fault_http_502"] == 1 and emu.stats["http_200"] == 1
