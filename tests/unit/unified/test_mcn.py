"""The unified call table from MCN Telecom rows: every type and status of the seed, times, numbers, recordings."""

from __future__ import annotations

import logging

import pendulum
import pytest

from airflow_provider_comagic.mcn.call_log import CALL_TYPES, STATUSES
from airflow_provider_comagic.unified.mcn import mcn_direction, mcn_outcome, mcn_to_unified
from airflow_provider_comagic.unified.schema import DIRECTIONS, OUTCOMES, UNIFIED_SCHEMA
from tests.fixtures.calls import mcn_row

MSK = pendulum.timezone("Europe/Moscow")


# -- MCN: every value the seed lists -----------------------------------------------------------------------------
def test_every_seed_type_has_a_direction():
    assert {t: mcn_direction(t) for t in CALL_TYPES} == {"Out": "out", "Inb": "in", "Int": "internal"}


def test_every_seed_status_has_an_outcome():
    assert {s: mcn_outcome(s) for s in STATUSES} == {
        "ANSWERED": "answered",
        "BUSY": "busy",
        "LOST": "lost",
        "FAILED": "failed",
        "NO ANSWER": "no_answer",
    }


@pytest.mark.parametrize(
    ("value", "expected"), [("no answer", "no_answer"), ("NO_ANSWER", "no_answer"), ("answered", "answered")]
)
def test_status_spelling_variants(value, expected):
    assert mcn_outcome(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("out", "out"), ("INB", "in"), (" Int ", "internal")])
def test_type_spelling_variants(value, expected):
    assert mcn_direction(value) == expected


def test_undocumented_values_map_to_unknown_and_are_logged(caplog):
    caplog.set_level(logging.WARNING)
    assert mcn_direction("Fwd") == "unknown" and mcn_direction(None) == "unknown"
    assert mcn_outcome("CONGESTION") == "unknown" and mcn_outcome(None) == "unknown"
    assert "Fwd" in caplog.text and "CONGESTION" in caplog.text


@pytest.mark.parametrize(("status", "type_"), [(s, t) for s in STATUSES for t in CALL_TYPES])
def test_mcn_row_mapping_for_every_status_and_type(status, type_):
    (row,) = mcn_to_unified([mcn_row(status=status, type=type_)], MSK, account_id=100500, vpbx_id=7001)
    assert row["vendor"] == "mcn" and row["account_id"] == "100500" and row["pbx_id"] == "7001"
    assert row["direction"] in DIRECTIONS and row["direction"] != "unknown"
    assert row["outcome"] in OUTCOMES and row["outcome"] != "unknown"
    assert row["vendor_status"] == status
    assert list(row) == UNIFIED_SCHEMA.names


def test_mcn_times_numbers_and_recording():
    (row,) = mcn_to_unified([mcn_row(waittime="12", talktime=30, has_record="0")], MSK, account_id="1", vpbx_id="2")
    assert row["start_time_utc"] == "2024-03-01T07:00:00Z"  # 10:00 Moscow
    assert row["finish_time_utc"] == "2024-03-01T07:00:42Z"  # + waittime + talktime
    assert (row["wait_seconds"], row["talk_seconds"]) == (12, 30)
    assert row["caller"] == "74951234567" and row["callee"] == "101" and row["did"] == "74950000000"
    assert row["call_id"] == "1709276400.5"
    assert row["has_recording"] is False


@pytest.mark.parametrize(("value", "expected"), [(1, True), (0, False), ("1", True), (True, True), (None, False)])
def test_mcn_has_record_values(value, expected):
    (row,) = mcn_to_unified([mcn_row(has_record=value)], MSK, account_id="1", vpbx_id="2")
    assert row["has_recording"] is expected


def test_mcn_missing_durations_give_nulls_and_finish_equals_start():
    (row,) = mcn_to_unified([mcn_row(waittime=None, talktime=None)], MSK, account_id="1", vpbx_id="2")
    assert row["wait_seconds"] is None and row["talk_seconds"] is None
    assert row["finish_time_utc"] == row["start_time_utc"]
