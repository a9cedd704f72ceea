"""The unified call table: every MCN type/status of the seed, the CoMagic outcome rules, one schema for both."""

from __future__ import annotations

import datetime as dt
import logging

import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.mcn.call_log import CALL_TYPES, STATUSES
from airflow_provider_comagic.unified.comagic import (
    COMAGIC_BUSY_REASONS,
    COMAGIC_FAILED_REASONS,
    COMAGIC_SOURCE_FIELDS,
    comagic_outcome,
    comagic_to_unified,
)
from airflow_provider_comagic.unified.mcn import mcn_direction, mcn_outcome, mcn_to_unified
from airflow_provider_comagic.unified.schema import (
    DIRECTIONS,
    OUTCOMES,
    UNIFIED_SCHEMA,
    unified_report_name,
    unified_table,
)

MSK = pendulum.timezone("Europe/Moscow")
UTC = dt.timezone.utc


def mcn_row(**changes):
    row = {
        "callid": "1709276400.5",
        "date": "2024-03-01 10:00:00",
        "type": "Inb",
        "src_num": "74951234567",
        "src_name": None,
        "src_type": "PSTN",
        "dst_num": "101",
        "dst_name": "Sales",
        "dst_type": "queue",
        "did": "74950000000",
        "waittime": 12,
        "talktime": 30,
        "billsec": 0,
        "status": "ANSWERED",
        "has_record": 1,
    }
    row.update(changes)
    return row


def comagic_row(**changes):
    row = {
        "id": 88260000001,
        "start_time": "2024-03-01 10:00:00",
        "finish_time": "2024-03-01 10:02:00",
        "direction": "in",
        "contact_phone_number": "79161234567",
        "virtual_phone_number": "74950001122",
        "wait_duration": 8,
        "talk_duration": 100,
        "finish_reason": "subscriber_disconnects",
        "is_lost": False,
        "call_records": ["abc"],
        "wav_call_records": [],
    }
    row.update(changes)
    return row


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


# -- CoMagic ---------------------------------------------------------------------------------------------------------
def test_reason_groups_are_catalogue_values_and_disjoint():
    documented = set(get_method("get.calls_report").field("finish_reason").values)
    assert COMAGIC_BUSY_REASONS <= documented and COMAGIC_FAILED_REASONS <= documented
    assert not COMAGIC_BUSY_REASONS & COMAGIC_FAILED_REASONS


def test_source_fields_exist_in_the_catalogue():
    get_method("get.calls_report").validate_fields(list(COMAGIC_SOURCE_FIELDS))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"talk_duration": 5, "is_lost": True}, "answered"),  # a conversation took place
        ({"talk_duration": 0, "finish_reason": "numb_not_exists"}, "failed"),
        ({"talk_duration": 0, "direction": "out", "finish_reason": "sip_trunk_is_locked"}, "failed"),
        ({"talk_duration": 0, "is_lost": True}, "lost"),
        ({"talk_duration": 0, "is_lost": True, "finish_reason": "operator_busy"}, "lost"),  # inbound: missed
        ({"talk_duration": 0, "is_lost": None}, "lost"),
        ({"talk_duration": 0, "is_lost": False}, "answered"),  # served (IVR...) per CoMagic
        ({"talk_duration": None, "is_lost": True}, "lost"),
        ({"talk_duration": 0, "direction": "out", "finish_reason": "subscriber_busy"}, "busy"),
        ({"talk_duration": 0, "direction": "out", "finish_reason": "operator_channels_busy"}, "busy"),
        ({"talk_duration": 0, "direction": "out", "finish_reason": "subscriber_not_responsible"}, "no_answer"),
        ({"talk_duration": 0, "direction": "out", "finish_reason": "timeout"}, "no_answer"),
        ({"talk_duration": 0, "direction": None, "finish_reason": "timeout"}, "unknown"),
    ],
)
def test_comagic_outcome_rules(changes, expected):
    assert comagic_outcome(comagic_row(**changes)) == expected


def test_every_comagic_finish_reason_maps_to_a_known_outcome():
    for reason in get_method("get.calls_report").field("finish_reason").values:
        for direction in ("in", "out"):
            for talk in (0, 10):
                outcome = comagic_outcome(comagic_row(finish_reason=reason, direction=direction, talk_duration=talk))
                assert outcome in OUTCOMES and outcome != "unknown"


def test_comagic_inbound_and_outbound_orientation():
    (inbound, outbound) = comagic_to_unified([comagic_row(), comagic_row(id=2, direction="out")], MSK)
    assert (inbound["caller"], inbound["callee"]) == ("79161234567", "74950001122")
    assert (outbound["caller"], outbound["callee"]) == ("74950001122", "79161234567")
    assert inbound["did"] == outbound["did"] == "74950001122"
    assert inbound["start_time_utc"] == "2024-03-01T07:00:00Z" and inbound["finish_time_utc"] == "2024-03-01T07:02:00Z"
    assert inbound["call_id"] == "88260000001" and inbound["vendor"] == "comagic"
    assert inbound["account_id"] is None and inbound["pbx_id"] is None
    assert (inbound["wait_seconds"], inbound["talk_seconds"]) == (8, 100)
    assert inbound["vendor_status"] == "subscriber_disconnects"


@pytest.mark.parametrize(
    ("records", "wav", "expected"), [(["a"], [], True), ([], ["b"], True), ([], [], False), (None, None, False)]
)
def test_comagic_has_recording(records, wav, expected):
    (row,) = comagic_to_unified([comagic_row(call_records=records, wav_call_records=wav)], MSK)
    assert row["has_recording"] is expected


def test_comagic_null_finish_time_and_unknown_direction():
    (row,) = comagic_to_unified([comagic_row(finish_time=None, direction="sideways")], MSK)
    assert row["finish_time_utc"] is None and row["direction"] == "unknown"


# -- one schema ------------------------------------------------------------------------------------------------------
def test_both_vendors_give_the_same_keys_and_union_into_one_table():
    comagic = comagic_to_unified([comagic_row(), comagic_row(id=2, direction="out", talk_duration=0)], MSK)
    mcn = mcn_to_unified([mcn_row(status=s, callid=s) for s in STATUSES], MSK, account_id="1", vpbx_id="2")
    assert {tuple(r) for r in comagic + mcn} == {tuple(UNIFIED_SCHEMA.names)}
    left, right = unified_table(comagic), unified_table(mcn)
    assert left.schema.equals(right.schema, check_metadata=True) and left.schema.equals(UNIFIED_SCHEMA)
    both = pa.concat_tables([left, right])
    assert both.num_rows == 7
    assert set(both.column("vendor").to_pylist()) == {"comagic", "mcn"}
    assert both.schema.field("start_time_utc").type == pa.timestamp("us", tz="UTC")
    assert both.column("start_time_utc")[0].as_py() == dt.datetime(2024, 3, 1, 7, tzinfo=UTC)


def test_unified_report_names():
    assert unified_report_name("comagic") == "unified_calls/comagic"
    assert unified_report_name("mcn", "7001") == "unified_calls/mcn/vpbx_id=7001"
