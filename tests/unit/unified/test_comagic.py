"""The unified call table from CoMagic calls_report rows: the outcome rules, orientation, recordings."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.unified.comagic import (
    COMAGIC_BUSY_REASONS,
    COMAGIC_FAILED_REASONS,
    COMAGIC_SOURCE_FIELDS,
    comagic_outcome,
    comagic_to_unified,
)
from airflow_provider_comagic.unified.schema import OUTCOMES
from tests.fixtures.calls import comagic_row

MSK = pendulum.timezone("Europe/Moscow")


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
        # drift: a duration sent as text is read as its number; text that is none tells nothing
        ({"talk_duration": "15", "is_lost": True}, "answered"),
        ({"talk_duration": "n/a", "is_lost": True}, "lost"),
        ({"talk_duration": 12.5, "is_lost": True}, "answered"),
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
