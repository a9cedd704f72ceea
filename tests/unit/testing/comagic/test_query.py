"""get.* query semantics: dates, paging, fields, sort and filters, checked against emu.truth()."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.testing import RpcError
from tests.unit.testing.comagic.helpers import DAY, mnemonic

CALLS = "get.calls_report"


def _page_ids(api, **params):
    return [row["id"] for row in api(CALLS, **params)["result"]["data"]]


def test_dates_required(api):
    reply = api(CALLS, date_from=DAY["date_from"])
    assert mnemonic(reply) == "required_parameter_missed" and reply["error"]["data"]["field"] == "date_till"


@pytest.mark.parametrize("value", ["2024-05-01", "2024-05-01T00:00:00", "2024-13-01 00:00:00"])
def test_date_format(api, value):
    assert mnemonic(api(CALLS, date_from=value, date_till=DAY["date_till"])) == "invalid_parameter_value"


def test_date_interval_limit_is_three_calendar_months(api):
    ok = api(CALLS, date_from="2024-01-31 00:00:00", date_till="2024-04-30 00:00:00", limit=1)
    assert "result" in ok  # Jan 31 + 3 months = Apr 30 (timeutils.add_months)
    too_long = api(CALLS, date_from="2024-01-31 00:00:00", date_till="2024-04-30 00:00:01")
    assert mnemonic(too_long) == "date_interval_limit_reached"


def test_date_till_before_date_from(api):
    assert mnemonic(api(CALLS, date_from=DAY["date_till"], date_till=DAY["date_from"])) == "invalid_parameter_value"


def test_unknown_parameter(api):
    reply = api(CALLS, **DAY, colour="red")
    assert mnemonic(reply) == "unexpected_parameters" and reply["error"]["data"]["field"] == "colour"


def test_limit_default_and_bounds(api):
    assert (
        len(api("get.call_legs_report", date_from=DAY["date_from"], date_till="2024-05-05 23:59:59")["result"]["data"])
        == 1000
    )
    assert mnemonic(api(CALLS, **DAY, limit=10001)) == "invalid_parameter_value"
    assert mnemonic(api(CALLS, **DAY, limit=0)) == "invalid_parameter_value"
    assert mnemonic(api(CALLS, **DAY, limit="10")) == "data_type_error"


def test_offset_bounds(api):
    assert api(CALLS, **DAY, offset=100_000)["result"]["data"] == []
    assert mnemonic(api(CALLS, **DAY, offset=100_001)) == "invalid_parameter_value"


def test_paging_matches_truth(api, emu):
    params = {"date_from": "2024-05-01 06:00:00", "date_till": "2024-05-03 18:30:00"}
    truth = emu.truth(CALLS, **params)
    pages = []
    for offset in range(0, len(truth) + 70, 70):
        reply = api(CALLS, **params, limit=70, offset=offset)
        assert reply["result"]["metadata"]["total_items"] == len(truth)
        pages.extend(reply["result"]["data"])
    assert pages == truth
    assert len({row["id"] for row in truth}) == len(truth)
    assert all(params["date_from"] <= row["start_time"] <= params["date_till"] for row in truth)


def test_date_till_is_inclusive(api, emu):
    row = emu.truth(CALLS, **DAY)[10]
    stamp = row["start_time"]
    assert row["id"] in _page_ids(api, date_from=stamp, date_till=stamp)
    assert row["id"] in _page_ids(api, date_from=DAY["date_from"], date_till=stamp)


def test_future_rows_are_hidden(api, emu):
    today = {"date_from": "2024-06-01 00:00:00", "date_till": "2024-06-01 23:59:59"}
    rows = emu.truth(CALLS, **today)
    assert rows and all(row["start_time"] <= "2024-06-01 12:00:00" for row in rows)
    emu.clock.advance(6 * 3600)
    assert len(emu.truth(CALLS, **today)) > len(rows)


def test_default_fields(api):
    row = api(CALLS, **DAY, limit=1)["result"]["data"][0]
    assert list(row) == list(get_method(CALLS).default_fields)


def test_fields_projection(api, emu):
    rows = api(CALLS, **DAY, limit=5, fields=["tags", "id", "sale_cost"])["result"]["data"]
    assert [list(r) for r in rows] == [["tags", "id", "sale_cost"]] * 5
    assert rows == emu.truth(CALLS, **DAY, fields=["tags", "id", "sale_cost"])[:5]


def test_unknown_field(api):
    reply = api(CALLS, **DAY, fields=["id", "colour"])
    assert mnemonic(reply) == "unexpected_parameters" and reply["error"]["data"]["value"] == "colour"


def test_sort_prohibited(api):
    assert mnemonic(api(CALLS, **DAY, sort=[{"field": "id", "order": "asc"}])) == "sort_prohibited"


def test_sort_unknown_field_and_order(api):
    assert mnemonic(api(CALLS, **DAY, sort=[{"field": "colour"}])) == "unexpected_parameters"
    assert mnemonic(api(CALLS, **DAY, sort=[{"field": "start_time", "order": "up"}])) == "invalid_parameter_value"


def test_sort_desc_stable_with_key_tiebreak(api, emu):
    sort = [{"field": "direction", "order": "desc"}, {"field": "start_time", "order": "desc"}]
    truth = emu.truth(CALLS, **DAY, sort=sort, fields=["id", "direction", "start_time"])
    expected = sorted(truth, key=lambda r: (r["direction"], r["start_time"], -r["id"]), reverse=True)
    assert truth == expected
    paged = []
    for offset in (0, 50, 100, 150):
        paged += api(CALLS, **DAY, sort=sort, limit=50, offset=offset, fields=["id", "direction", "start_time"])[
            "result"
        ]["data"]
    assert paged == truth


def test_sort_nulls_last_ascending(emu):
    rows = emu.truth(CALLS, **DAY, sort=[{"field": "sale_cost"}], fields=["id", "sale_cost"])
    values = [r["sale_cost"] for r in rows]
    nulls = values.count(None)
    assert 0 < nulls < len(values)
    assert values[-nulls:] == [None] * nulls and values[:-nulls] == sorted(values[:-nulls])


def test_filter_prohibited(api):
    reply = api(CALLS, **DAY, filter={"field": "start_time", "operator": ">", "value": "2024-05-01 10:00:00"})
    assert mnemonic(reply) == "filter_prohibited"


def test_filter_unknown_field(api):
    assert (
        mnemonic(api(CALLS, **DAY, filter={"field": "colour", "operator": "=", "value": 1})) == "unexpected_parameters"
    )


def test_filter_bad_operator_and_type(api):
    assert mnemonic(api(CALLS, **DAY, filter={"field": "id", "operator": "~", "value": 1})) == "invalid_parameter_value"
    assert (
        mnemonic(api(CALLS, **DAY, filter={"field": "id", "operator": "like", "value": "1%"}))
        == "invalid_parameter_value"
    )
    assert mnemonic(api(CALLS, **DAY, filter={"field": "id", "operator": "=", "value": "x"})) == "data_type_error"
    assert (
        mnemonic(api(CALLS, **DAY, filter={"field": "referrer", "operator": "regexp", "value": "("}))
        == "invalid_parameter_value"
    )
    assert (
        mnemonic(api(CALLS, **DAY, filter={"field": "tags", "operator": "jsquery", "value": "#.("}))
        == "invalid_parameter_value"
    )


def _all(emu):
    return emu.truth(CALLS, **DAY, fields=get_method(CALLS).field_names)


@pytest.mark.parametrize(
    ("flt", "check"),
    [
        ({"field": "direction", "operator": "=", "value": "in"}, lambda r: r["direction"] == "in"),
        ({"field": "direction", "operator": "!=", "value": "in"}, lambda r: r["direction"] != "in"),
        ({"field": "wait_duration", "operator": "<", "value": 30}, lambda r: r["wait_duration"] < 30),
        ({"field": "wait_duration", "operator": ">", "value": 30}, lambda r: r["wait_duration"] > 30),
        ({"field": "wait_duration", "operator": "<=", "value": 30}, lambda r: r["wait_duration"] <= 30),
        ({"field": "wait_duration", "operator": ">=", "value": 30}, lambda r: r["wait_duration"] >= 30),
        (
            {"field": "sale_date", "operator": ">=", "value": "2024-05-01 12:00:00"},
            lambda r: r["sale_date"] is not None and r["sale_date"] >= "2024-05-01 12:00:00",
        ),
        (
            {"field": "search_engine", "operator": "like", "value": "search_engine_%"},
            lambda r: r["search_engine"] is not None,
        ),
        ({"field": "search_engine", "operator": "ilike", "value": "SEARCH%"}, lambda r: r["search_engine"] is not None),
        (
            {"field": "virtual_phone_number", "operator": "not_like", "value": "791%"},
            lambda r: not r["virtual_phone_number"].startswith("791"),
        ),
        (
            {"field": "virtual_phone_number", "operator": "not_ilike", "value": "%5"},
            lambda r: not r["virtual_phone_number"].endswith("5"),
        ),
        (
            {"field": "contact_phone_number", "operator": "regexp", "value": "^79[0-4]"},
            lambda r: r["contact_phone_number"][2] in "01234",
        ),
        ({"field": "site_id", "operator": "in", "value": [1001, 1002]}, lambda r: r["site_id"] in (1001, 1002)),
        (
            {"field": "site_id", "operator": "not_in", "value": [1001]},
            lambda r: r["site_id"] is not None and r["site_id"] != 1001,
        ),
        ({"field": "site_id", "operator": "is_null", "value": None}, lambda r: r["site_id"] is None),
        ({"field": "site_id", "operator": "is_not_null", "value": None}, lambda r: r["site_id"] is not None),
        ({"field": "site_id", "operator": "=", "value": None}, lambda r: r["site_id"] is None),
        ({"field": "attributes", "operator": "overlap", "value": ["first"]}, lambda r: "first" in r["attributes"]),
        (
            {"field": "attributes", "operator": "not_overlap", "value": ["first"]},
            lambda r: "first" not in r["attributes"],
        ),
        (
            {"field": "tags", "operator": "overlap", "value": [9005]},
            lambda r: any(t["tag_id"] == 9005 for t in r["tags"]),
        ),
        (
            {"field": "tags", "operator": "jsquery", "value": '#.tag_id = 9005 OR #(tag_type = "manual")'},
            lambda r: any(t["tag_id"] == 9005 or t["tag_type"] == "manual" for t in r["tags"]),
        ),
    ],
)
def test_filter_operators(emu, flt, check):
    everything = _all(emu)
    expected = [r["id"] for r in everything if check(r)]
    got = [r["id"] for r in emu.truth(CALLS, **DAY, filter=flt, fields=["id"])]
    assert got == expected
    assert 0 < len(got) < len(everything)


def test_filter_tree(api, emu):
    flt = {
        "filters": [
            {
                "filters": [
                    {"field": "direction", "operator": "=", "value": "in"},
                    {"field": "is_lost", "operator": "=", "value": False},
                ],
                "condition": "and",
            },
            {"field": "site_id", "operator": "=", "value": 1003},
        ],
        "condition": "or",
    }
    expected = [r["id"] for r in _all(emu) if (r["direction"] == "in" and not r["is_lost"]) or r["site_id"] == 1003]
    reply = api(CALLS, **DAY, filter=flt, limit=10000)
    assert [r["id"] for r in reply["result"]["data"]] == expected
    assert reply["result"]["metadata"]["total_items"] == len(expected)


def test_truth_rejects_what_the_api_rejects(emu):
    with pytest.raises(RpcError) as err:
        emu.truth(CALLS, **DAY, sort=[{"field": "id"}])
    assert err.value.mnemonic == "sort_prohibited"


def test_campaign_daily_stat_site_id(api, emu):
    assert mnemonic(api("get.campaign_daily_stat", **DAY)) == "required_parameter_missed"
    rows = api("get.campaign_daily_stat", **DAY, site_id=1001)["result"]["data"]
    assert rows and all(r["site_id"] == 1001 and r["date"] == "2024-05-01" for r in rows)


def test_chat_messages_by_chat_id(api, emu):
    chats = emu.truth("get.chats_report", **DAY)
    chat_id = chats[0]["id"]
    rows = api("get.chat_messages_report", chat_id=chat_id)["result"]["data"]
    assert all(r["chat_id"] == chat_id for r in rows)
    by_day = emu.truth("get.chat_messages_report", **DAY)
    assert [r for r in by_day if r["chat_id"] == chat_id] == rows
    too_long = api("get.chat_messages_report", date_from="2024-04-01 00:00:00", date_till="2024-05-02 00:00:00")
    assert mnemonic(too_long) == "date_interval_limit_reached"
    assert mnemonic(api("get.chat_messages_report")) == "required_parameter_missed"
