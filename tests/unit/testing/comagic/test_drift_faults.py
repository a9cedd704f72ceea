"""Drift faults of the emulators (testing/drift.py): each kind changes what it says to its share of rows, the same
rows on every call, whatever fields a request asks for, in served pages and in the truth alike; from Python and
from the command line."""

from __future__ import annotations

import orjson
import pytest
import requests

from airflow_provider_comagic.testing.drift import DRIFT_KINDS, UNKNOWN_ENUM_VALUE, drift_row
from airflow_provider_comagic.testing.faults import Fault, parse_fault
from airflow_provider_comagic.testing.mcn.emulator import McnEmulator
from tests.unit.testing.comagic.helpers import DAY

FIELDS = ["id", "start_time", "talk_duration", "is_lost", "tags", "direction", "contact_phone_number"]


def served(emu, fields, limit=1000):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "get.calls_report",
        "params": {"access_token": emu.access_token, **DAY, "limit": limit, "fields": fields},
    }
    return requests.post(emu.url, json=body, timeout=10).json()["result"]["data"]


@pytest.mark.parametrize(
    ("kind", "value", "drifted"),
    [
        ("drift_number_as_string", 515, "515"),
        ("drift_bool_as_int", True, 1),
        ("drift_bool_as_string", False, "false"),
        ("drift_integral_float", 12, 12.0),
        ("drift_number_for_string", "643", 643),
        ("drift_object_for_array", [{"a": 1}, {"a": 2}], {"a": 1}),
        ("drift_fractional_int", 12, 12.5),
        ("drift_text_for_number", 3.5, "n/a"),
        ("drift_unknown_enum", "in", UNKNOWN_ENUM_VALUE),
    ],
)
def test_each_kind_changes_only_values_of_its_kind(kind, value, drifted):
    fault = Fault(kind, field="f", fraction=1.0)
    row = {"id": 1, "f": value}
    assert drift_row(row, [fault], seed=1, key=("id",)) and orjson.dumps(row["f"]) == orjson.dumps(drifted)
    for other in (None, [], "07", {"x": 1}, 1.5):  # not of its kind: the row stays
        if orjson.dumps(other) == orjson.dumps(value):
            continue
        untouched = {"id": 1, "f": other}
        changed = drift_row(untouched, [fault], seed=1, key=("id",))
        assert not changed or kind in ("drift_text_for_number", "drift_unknown_enum"), (kind, other)


def test_a_new_field_is_added_and_an_existing_one_kept():
    fault = Fault("drift_new_field", field="surprise", fraction=1.0)
    row = {"id": 1}
    assert drift_row(row, [fault], seed=1, key=("id",)) and isinstance(row["surprise"], int)
    assert not drift_row({"id": 1, "surprise": "mine"}, [fault], seed=1, key=("id",))


def test_the_fraction_of_rows_and_the_same_rows_in_every_call_and_the_truth(emu):
    emu.faults.add("drift_number_as_string", field="talk_duration", fraction=0.25, method="get.calls_report")
    emu.faults.add("drift_new_field", field="surprise", fraction=0.1)
    truth = {r["id"]: r for r in emu.truth("get.calls_report", **DAY, fields=FIELDS)}
    first = {r["id"]: r for r in served(emu, FIELDS)}
    again = {r["id"]: r for r in served(emu, ["talk_duration", "id"])}  # other fields, another order
    assert first == truth
    as_text = {i for i, r in first.items() if isinstance(r["talk_duration"], str)}
    assert as_text == {i for i, r in again.items() if isinstance(r["talk_duration"], str)}
    assert 0.15 < len(as_text) / len(first) < 0.35
    assert 0 < sum("surprise" in r for r in first.values()) < 0.2 * len(first)
    assert emu.stats.snapshot()["faults"]["drift_number_as_string"] == 2


def test_other_methods_keep_their_rows(emu):
    emu.faults.add("drift_new_field", field="surprise", fraction=1.0, method="get.calls_report")
    assert all("surprise" not in r for r in emu.truth("get.communications_report", **DAY))
    assert all("surprise" in r for r in emu.truth("get.calls_report", **DAY))


def test_the_command_line_and_bad_faults():
    fault = parse_fault("drift_fractional_int:0.02@get.calls_report/total_duration")
    assert (fault.kind, fault.fraction, fault.method, fault.field, fault.probability) == (
        "drift_fractional_int",
        0.02,
        "get.calls_report",
        "total_duration",
        1.0,
    )
    assert parse_fault("drift_new_field/surprise").fraction == 1.0
    with pytest.raises(ValueError, match="needs the field"):
        parse_fault("drift_bool_as_int:0.5")
    with pytest.raises(ValueError, match="fraction"):
        Fault("drift_bool_as_int", field="is_lost", fraction=2.0)
    assert set(DRIFT_KINDS) <= set(parse_fault.__globals__["FAULT_KINDS"])


def test_the_mcn_emulator_drifts_its_call_log(mcn_emulator_factory):
    emu: McnEmulator = mcn_emulator_factory(calls_per_day=200)
    emu.faults.add(parse_fault("drift_number_as_string:0.3@call_log/waittime"))
    truth = emu.truth("7001", "2024-03-01", "2024-03-01")
    headers = {"Authorization": f"Bearer {emu.token}"}
    url = f"{emu.url}/account/{emu.account_id}/vpbx/7001/call_log?date_from=2024-03-01&date_to=2024-03-01"
    sent = requests.get(url, headers=headers, timeout=10).json()["data"]
    assert sent == truth
    assert 0.15 < sum(isinstance(r["waittime"], str) for r in sent) / len(sent) < 0.45
