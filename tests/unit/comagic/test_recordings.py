"""Which recordings a CoMagic calls or legs row names, and their URLs (comagic/recordings.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.recordings import (
    CALLS_METHOD,
    KINDS,
    LEGS_METHOD,
    media_base_url,
    media_url,
    recording_fields,
    recordings_of,
)
from airflow_provider_comagic.utils.recordings import RecordingFilter
from airflow_provider_comagic.utils.time import get_timezone

MSK = get_timezone("Europe/Moscow")
BASE = "https://app.comagic.ru"


def call_row(**changes):
    row = {
        "id": 4567,
        "communication_id": 890,
        "start_time": "2024-03-01 10:00:00",
        "finish_time": "2024-03-01 10:03:00",
        "total_duration": 180,
        "direction": "in",
        "talk_duration": 150,
        "call_records": ["aaa111"],
        "wav_call_records": ["bbb222", "bbb333"],
        "voice_mail_records": [],
        "full_record_file_link": "https://media.comagic.ru/890/fff999",
    }
    return {**row, **changes}


def urls(recordings):
    return [(r.call_id, r.kind, r.record_id, r.audio_format, r.source) for r in recordings]


@pytest.mark.parametrize(
    ("endpoint", "override", "expected"),
    [
        ("https://dataapi.comagic.ru/v2.0", None, "https://app.comagic.ru"),
        ("https://dataapi.uiscom.ru/v2.0", None, "https://app.uiscom.ru"),
        ("https://DATAAPI.UISCOM.RU:443/v2.0", None, "https://app.uiscom.ru"),
        ("https://dataapi.novofon.ru/v2.0", None, "https://app.novofon.ru"),  # a white-label platform
        ("http://127.0.0.1:8765/v2.0", None, "http://127.0.0.1:8765"),  # the emulator serves its own media
        ("https://dataapi.comagic.ru/v2.0", "media.example.org", "https://media.example.org"),
        ("https://dataapi.comagic.ru/v2.0", "http://proxy.local:8080/comagic/", "http://proxy.local:8080/comagic"),
    ],
)
def test_media_host_follows_the_connection_unless_overridden(endpoint, override, expected):
    assert media_base_url(endpoint, override) == expected


def test_a_bad_media_host_is_refused():
    with pytest.raises(ComagicParameterError, match="media_host"):
        media_base_url("https://dataapi.comagic.ru/v2.0", "ftp://files.example.org")


def test_every_kind_from_one_calls_row_with_the_documented_paths():
    found = urls(recordings_of(CALLS_METHOD, [call_row()], media_base=BASE, tz=MSK))
    assert found == [
        ("4567", "mp3", "aaa111", "mp3", "https://app.comagic.ru/system/media/talk/890/aaa111/"),
        ("4567", "wav", "bbb222", "wav", "https://app.comagic.ru/system/media/wav/890/bbb222/"),
        ("4567", "wav", "bbb333", "wav", "https://app.comagic.ru/system/media/wav/890/bbb333/"),
        ("4567", "full", "fff999", "mp3", "https://media.comagic.ru/890/fff999"),
    ]


def test_voice_mail_and_the_session_id_in_the_path():
    row = call_row(voice_mail_records=["vvv444"], call_records=[], wav_call_records=None)
    found = urls(recordings_of(CALLS_METHOD, [row], media_base=BASE, tz=MSK, path_id="call_session_id"))
    assert found == [
        ("4567", "voice_mail", "vvv444", "mp3", "https://app.comagic.ru/system/media/voice_mail/4567/vvv444/"),
        ("4567", "full", "fff999", "mp3", "https://media.comagic.ru/890/fff999"),  # a full link is given whole
    ]


def test_a_row_without_communication_id_falls_back_to_the_session_id():
    row = call_row(communication_id=None, wav_call_records=[], full_record_file_link=None)
    (recording,) = recordings_of(CALLS_METHOD, [row], media_base=BASE, tz=MSK)
    assert recording.source == "https://app.comagic.ru/system/media/talk/4567/aaa111/"


def test_legs_land_under_their_session_with_the_session_id_in_the_path():
    leg = {
        "id": 1,
        "call_session_id": 4567,
        "start_time": "2024-03-01 10:00:30",
        "total_duration": 60,
        "direction": "out",
        "duration": 40,
        "call_records": ["leg1"],
        "wav_call_records": ["legw"],
    }
    found = list(recordings_of(LEGS_METHOD, [leg], media_base=BASE, tz=MSK, kinds=["mp3", "wav", "full"]))
    assert urls(found) == [
        ("4567", "mp3", "leg1", "mp3", "https://app.comagic.ru/system/media/talk/4567/leg1/"),
        ("4567", "wav", "legw", "wav", "https://app.comagic.ru/system/media/wav/4567/legw/"),
    ]
    assert found[0].call_end == dt.datetime(2024, 3, 1, 10, 1, 30, tzinfo=MSK)  # start + total duration


def test_kinds_and_filters_select_recordings():
    rows = [
        call_row(id=1, direction="in", talk_duration=5),
        call_row(id=2, direction="out", talk_duration=60),
        call_row(id=3, direction="in", talk_duration=None),
        call_row(id=4, direction="in", talk_duration=90),
    ]
    chosen = RecordingFilter.build(["in"], 30)
    found = recordings_of(CALLS_METHOD, rows, media_base=BASE, tz=MSK, kinds="mp3", filter=chosen)
    assert [(r.call_id, r.kind) for r in found] == [("4", "mp3")]


def test_whole_urls_in_a_records_field_are_used_as_they_are():
    row = call_row(call_records=["https://app.comagic.ru/system/media/talk/890/ccc/"], wav_call_records=[])
    found = urls(recordings_of(CALLS_METHOD, [row], media_base=BASE, tz=MSK, kinds=["mp3"]))
    assert found == [("4567", "mp3", "ccc", "mp3", "https://app.comagic.ru/system/media/talk/890/ccc/")]


def test_the_source_url_never_shows_in_repr():
    (recording,) = recordings_of(CALLS_METHOD, [call_row()], media_base=BASE, tz=MSK, kinds="mp3")
    assert "app.comagic.ru" not in repr(recording) and "aaa111" in repr(recording)
    assert recording.call_end == dt.datetime(2024, 3, 1, 10, 3, tzinfo=MSK)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kinds": ["mp4"]}, "kinds: mp4 not allowed; choose from mp3, wav, voice_mail, full"),
        ({"kinds": []}, "kinds: empty"),
        ({"path_id": "id"}, "path_id must be one of communication_id, call_session_id"),
    ],
)
def test_bad_options_name_the_parameter(options, match):
    with pytest.raises(ComagicParameterError, match=match):
        list(recordings_of(CALLS_METHOD, [call_row()], media_base=BASE, tz=MSK, **options))


def test_bad_filters_name_the_parameter():
    with pytest.raises(ComagicParameterError, match="directions: sideways not allowed"):
        RecordingFilter.build(["in", "sideways"], error=ComagicParameterError)
    with pytest.raises(ComagicParameterError, match="min_talk_seconds"):
        RecordingFilter.build(None, -1, error=ComagicParameterError)


def test_other_reports_are_refused():
    with pytest.raises(ComagicParameterError, match=r"not 'get\.chats_report'"):
        recordings_of("get.chats_report", [], media_base=BASE, tz=MSK)


@pytest.mark.parametrize("method", [CALLS_METHOD, LEGS_METHOD])
def test_the_fields_the_rules_read_are_documented_fields_of_the_report(method):
    spec = get_method(method)
    fields = recording_fields(method)
    spec.validate_fields(fields)  # raises for a field the report does not have
    assert {KINDS[k].field for k in KINDS if method == CALLS_METHOD or KINDS[k].in_legs} <= set(fields)


def test_media_url_quotes_its_path_segments():
    assert media_url(BASE, "mp3", "12/3", "a?b") == "https://app.comagic.ru/system/media/talk/12%2F3/a%3Fb/"
