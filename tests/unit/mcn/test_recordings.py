"""Which MCN Telecom calls have a recording (mcn/recordings.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.mcn.recordings import McnRecordLocator, call_log_recordings
from airflow_provider_comagic.utils.recordings import RecordingFilter
from airflow_provider_comagic.utils.time import get_timezone
from tests.fixtures.calls import mcn_row

MSK = get_timezone("Europe/Moscow")


def test_recorded_calls_only_with_their_locator_and_end():
    rows = [
        mcn_row(callid="1.1", has_record=1, type="Inb", waittime=10, talktime=50, date="2024-03-01 10:00:00"),
        mcn_row(callid="1.2", has_record=0),
        mcn_row(callid="1.3", has_record="1", type="Out", talktime="0", waittime=0),
    ]
    found = list(call_log_recordings(rows, vpbx_id=7001, tz=MSK))
    assert [(r.call_id, r.record_id, r.kind, r.audio_format) for r in found] == [
        ("1.1", "1.1", "mp3", "mp3"),
        ("1.3", "1.3", "mp3", "mp3"),
    ]
    assert found[0].source == McnRecordLocator("7001", "1.1")
    assert found[0].call_end == dt.datetime(2024, 3, 1, 10, 1, tzinfo=MSK)


def test_directions_and_talk_time_filter_calls():
    rows = [
        mcn_row(callid="a", has_record=1, type="Inb", talktime=100),
        mcn_row(callid="b", has_record=1, type="Int", talktime=100),
        mcn_row(callid="c", has_record=1, type="Out", talktime=3),
    ]
    chosen = RecordingFilter.build(["in", "out"], 10)
    assert [r.call_id for r in call_log_recordings(rows, vpbx_id="7001", tz=MSK, filter=chosen)] == ["a"]


def test_mcn_knows_one_kind():
    with pytest.raises(McnParameterError, match="kinds: wav not allowed; choose from mp3"):
        list(call_log_recordings([], vpbx_id="7001", tz=MSK, kinds=["wav"]))


def test_rows_read_back_from_a_parquet_partition_carry_datetimes():
    start = dt.datetime(2024, 3, 1, 10, 0, tzinfo=MSK)
    (aware,) = call_log_recordings([mcn_row(date=start, waittime=0, talktime=60)], vpbx_id="1", tz=MSK)
    (naive,) = call_log_recordings(
        [mcn_row(date=start.replace(tzinfo=None), waittime=0, talktime=60)], vpbx_id="1", tz=MSK
    )
    assert aware.call_end == naive.call_end == start + dt.timedelta(minutes=1)
