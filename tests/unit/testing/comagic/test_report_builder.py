"""The report builder's lists: saved reports, report_id/report_type/is_realtime, no rows without fields, and
get.tags_history as the log of the calls' tags."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_builder_methods
from tests.unit.testing.comagic.helpers import DAY, call_params, mnemonic


def test_reports_list_returns_the_saved_reports(api, emu):
    reports = api("get.reports_list")["result"]["data"]
    assert [r["type"] for r in reports] == list(get_method("get.reports_list").field("type").values)
    assert reports == emu.truth("get.reports_list")
    assert len({r["id"] for r in reports}) == len(reports)


@pytest.mark.parametrize("method", report_builder_methods())
def test_without_fields_the_answer_is_empty(api, emu, method):
    params = call_params(emu, method)
    del params["fields"]
    reply = api(method, **params)["result"]
    assert reply["data"] == [] and reply["metadata"]["total_items"] == 0
    assert api(method, **params, fields=[])["result"]["data"] == []
    assert emu.truth(method, **params) == []
    rows = api(method, **call_params(emu, method), limit=5)["result"]["data"]
    assert rows and list(rows[0]) == list(get_method(method).default_fields)


def test_report_id_is_required_and_must_be_a_saved_report_of_the_method_type(api, emu):
    params = call_params(emu, "get.calls", fields=["communication_id"])
    missing = api("get.calls", **{k: v for k, v in params.items() if k != "report_id"})
    assert mnemonic(missing) == "required_parameter_missed" and missing["error"]["data"]["field"] == "report_id"
    unknown = api("get.calls", **{**params, "report_id": 1})
    assert mnemonic(unknown) == "invalid_parameter_value" and unknown["error"]["data"]["field"] == "report_id"
    deals_report = next(r["id"] for r in emu.truth("get.reports_list") if r["type"] == "deals")
    assert mnemonic(api("get.calls", **{**params, "report_id": deals_report})) == "invalid_parameter_value"
    assert mnemonic(api("get.calls", **{**params, "report_id": "7"})) == "data_type_error"


def test_communications_needs_the_report_type_of_its_report(api, emu):
    params = call_params(emu, "get.communications", fields=["communication_id"])
    assert "result" in api("get.communications", **params)
    missing = api("get.communications", **{k: v for k, v in params.items() if k != "report_type"})
    assert mnemonic(missing) == "required_parameter_missed" and missing["error"]["data"]["field"] == "report_type"
    other = next(r for r in emu.truth("get.reports_list") if r["type"] == "communications_operator_workplace")
    mismatch = api("get.communications", **{**params, "report_id": other["id"]})  # report_type still "communications"
    assert mnemonic(mismatch) == "invalid_parameters_combination"
    assert "result" in api("get.communications", **{**params, "report_id": other["id"], "report_type": other["type"]})


def test_visits_need_is_realtime_and_realtime_keeps_the_last_30_minutes(api, emu, comagic_emulator_factory):
    params = call_params(emu, "get.visits", fields=["visit_date_time"])
    missing = api("get.visits", **{k: v for k, v in params.items() if k != "is_realtime"})
    assert mnemonic(missing) == "required_parameter_missed" and missing["error"]["data"]["field"] == "is_realtime"
    assert mnemonic(api("get.visits", **{**params, "is_realtime": "no"})) == "data_type_error"
    today = {"date_from": "2024-06-01 00:00:00", "date_till": "2024-06-01 23:59:59"}  # now: 12:00 Moscow
    whole = emu.truth("get.visits", **{**params, **today})
    recent = emu.truth("get.visits", **{**params, **today, "is_realtime": True})
    assert recent and len(recent) < len(whole)
    assert all("2024-06-01 11:30:00" <= r["visit_date_time"] <= "2024-06-01 12:00:00" for r in recent)
    assert recent == [r for r in whole if r["visit_date_time"] >= "2024-06-01 11:30:00"]


def _events(emu, day_from, day_till, fields=("communication_id", "tag_id", "tagging_date_time")):
    params = call_params(emu, "get.tags_history", fields=fields)
    rows = emu.truth("get.tags_history", **{**params, "date_from": day_from, "date_till": day_till})
    return {(r["communication_id"], r["tag_id"], r["tagging_date_time"]) for r in rows}


def test_tags_history_logs_the_tags_of_the_calls(emu):
    calls = emu.truth("get.calls_report", **DAY, fields=["id", "start_time", "tags"])
    stamped = {
        (call["id"], tag["tag_id"], tag["tag_change_time"] or call["start_time"])
        for call in calls
        for tag in call["tags"]
        if tag["tag_id"] is not None
    }
    assert stamped
    may_first = {event for event in stamped if event[2].startswith("2024-05-01")}
    assert _events(emu, **{"day_from": DAY["date_from"], "day_till": DAY["date_till"]}) >= may_first
    # tags set after midnight on calls of May 1st are events of May 2nd
    after_midnight = stamped - may_first
    assert after_midnight <= _events(emu, "2024-05-02 00:00:00", "2024-05-02 23:59:59")


def test_tags_set_later_show_on_the_day_they_were_set(emu, api):
    call = emu.truth("get.calls_report", **DAY, fields=["id", "tags"])[5]
    tag = {
        "tag_id": 9003,
        "tag_name": "Tag 9003",
        "tag_type": "manual",
        "tag_change_time": "2024-05-20 10:00:00",
        "tag_user_id": None,
        "tag_user_login": "manager@example.ru",
        "tag_employee_id": 3001,
        "tag_employee_full_name": "Employee 3001",
    }
    emu.set_tags("get.calls_report", call["id"], [tag])
    later = _events(emu, "2024-05-20 00:00:00", "2024-05-20 23:59:59")
    assert (call["id"], 9003, "2024-05-20 10:00:00") in later
    assert not {e for e in _events(emu, DAY["date_from"], DAY["date_till"]) if e[0] == call["id"]}  # tags replaced
    params = call_params(emu, "get.tags_history")
    served = api(
        "get.tags_history", **{**params, "date_from": "2024-05-20 00:00:00", "date_till": "2024-05-20 23:59:59"}
    )
    event = next(r for r in served["result"]["data"] if r["communication_id"] == call["id"])
    assert event["tag_name"] == {"id": 9003, "name": "Tag 9003", "color": event["tag_name"]["color"]}
    assert event["tagging_is_auto"] == {"value": "Нет", "value_id": False}
    tags = {row["id"]: row for row in emu.truth("get.tags", fields=["id", "name", "color"])}
    assert tags[9003]["name"] == "Tag 9003" and tags[9003]["color"] == event["tag_name"]["color"]


def test_tags_history_rows_are_derived_not_mutable(emu):
    with pytest.raises(ValueError, match="derived"):
        emu.add_rows("get.tags_history", count=1, date_from=DAY["date_from"], date_till=DAY["date_till"])


def test_report_builder_pages_are_counted_and_grow_under_the_add_rows_fault(emu, api):
    params = call_params(emu, "get.calls", fields=["communication_id"])
    before = len(emu.truth("get.calls", **params))
    emu.faults.add("add_rows", calls={1}, rows=5)
    api("get.calls", **params, limit=10)
    api("get.calls", **params, limit=10)
    assert len(emu.truth("get.calls", **params)) == before + 5
    assert len(emu.stats.repeated_pages()) == 1  # the same page asked twice
