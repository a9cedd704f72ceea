"""The catalogue's method lists and the MethodSpec facts and checks the operators build on."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.comagic.catalogue import (
    FAMILIES,
    LANDABLE_FAMILIES,
    WindowCap,
    excluded_methods,
    get_method,
    landable_methods,
    method_names,
    methods_of_family,
    reference_methods,
    report_builder_methods,
    report_methods,
)
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.time import get_timezone

MOSCOW = get_timezone("Europe/Moscow")
SNAPSHOTS = (
    "get.campaigns",
    "get.sites",
    "get.site_blocks",
    "get.tags",
    "get.employees",
    "get.group_employees",
    "get.virtual_numbers",
    "get.scenarios",
    "get.segments",
    "get.events",
    "get.chat_channels",
    "get.statuses",
    "get.sources",
    "get.sources_groups",
    "get.sources_channels",
    "get.sales_funnel",
    "get.contacts",
)
BUILDER = ("get.communications", "get.calls", "get.chats", "get.deals", "get.leads", "get.visits", "get.tags_history")


def test_report_methods_default_is_the_ten_and_all_classic_adds_five():
    assert len(report_methods()) == 10
    assert report_methods(all_classic=True) == (
        *report_methods(),
        "get.financial_summary_report",
        "get.ct_summary_report",
        "get.ct_ac_summary_report",
        "get.employee_stat",
        "get.source_costs",
    )
    assert {get_method(m).family for m in report_methods(all_classic=True)} == {"classic_report"}


def test_report_builder_methods():
    assert report_builder_methods()[: len(BUILDER)] == BUILDER
    for name in report_builder_methods():
        spec = get_method(name)
        assert spec.family == "report_builder" and spec.needs_fields and "report_id" in spec.required_params
        assert spec.window_cap is not None and spec.time_field in (*spec.field_names, None)


def test_reference_methods_are_no_argument_lists():
    names = reference_methods()
    assert set(SNAPSHOTS) <= set(names) and "get.reports_list" in names
    for name in names:
        spec = get_method(name)
        assert spec.family == "reference" and not spec.date_range and spec.key, name
        assert set(spec.required_params) <= {"user_id"}, name
        assert spec.key_sortable == (spec.order == spec.key), name


def test_families_partition_the_catalogue():
    assert sorted(n for family in FAMILIES for n in methods_of_family(family)) == sorted(method_names())
    assert set(landable_methods()) == {n for n in method_names() if get_method(n).family in LANDABLE_FAMILIES}
    assert len(landable_methods()) >= len(SNAPSHOTS) + len(BUILDER) + 15
    with pytest.raises(ComagicParameterError, match="families"):
        methods_of_family("facts")


def test_excluded_methods_say_why():
    excluded = excluded_methods()
    assert set(excluded) == {"getobj.private_number_params", "get.deals_in_processing", "get.person_event_fields"}
    with pytest.raises(ComagicParameterError, match="left out of the catalogue: returns the SIP account"):
        get_method("getobj.private_number_params")


def test_validate_params_names_the_missing_parameter():
    visits = get_method("get.visits")
    provided = ("date_from", "date_till")
    visits.validate_params({"report_id": 7, "is_realtime": False}, provided=provided)
    with pytest.raises(ComagicParameterError, match=r"get\.visits: invalid 'is_realtime': required"):
        visits.validate_params({"report_id": 7}, provided=provided)
    with pytest.raises(ComagicParameterError, match="'report_id'"):
        get_method("get.tags_history").validate_params({}, provided=provided)
    with pytest.raises(ComagicParameterError, match="'site_id'"):
        get_method("get.ct_ac_summary_report").validate_params({}, provided=provided)
    with pytest.raises(ComagicParameterError, match="'date_from'"):
        get_method("get.calls_report").validate_params({})


def test_validate_params_checks_names_values_and_paging():
    communications = get_method("get.communications")
    base = {"report_id": 1, "report_type": "communications"}
    communications.validate_params(base, provided=("date_from", "date_till"))
    with pytest.raises(ComagicParameterError, match=r"'report_type'.*'calls' is not a report type"):
        communications.validate_params({**base, "report_type": "calls"}, provided=("date_from", "date_till"))
    with pytest.raises(ComagicParameterError, match="'nope': not a parameter"):
        communications.validate_params({**base, "nope": 1}, provided=("date_from", "date_till"))
    with pytest.raises(ComagicParameterError, match="'limit': expected an integer from 1 to 200"):
        get_method("get.person_events").validate_params(
            {"limit": 500}, provided=("person_id", "date_from", "date_till", "fields")
        )
    with pytest.raises(ComagicParameterError, match="'sort'"):
        get_method("get.sites").validate_params({"sort": [{"field": "id"}]})


def test_validate_role():
    get_method("get.customers").validate_role("agent")
    with pytest.raises(ComagicParameterError, match="agent accounts only"):
        get_method("get.customers").validate_role("client")
    with pytest.raises(ComagicParameterError, match="client accounts only"):
        get_method("get.account").validate_role("agent")
    with pytest.raises(ComagicParameterError, match="roles: agent, client"):
        get_method("get.sites").validate_role("partner")
    assert get_method("get.sites").callable_by("agent") and get_method("get.sites").callable_by("client")


def test_window_cap_months_follow_the_account_wall_clock():
    cap = WindowCap(months=3)
    start = dt.datetime(2024, 1, 31, tzinfo=MOSCOW)
    assert cap.latest_till(start, MOSCOW).replace(tzinfo=None) == dt.datetime(2024, 4, 30)
    assert cap.latest_till(dt.datetime(2024, 1, 31)) == dt.datetime(2024, 4, 30)  # naive: wall clock already
    assert cap.span is None and WindowCap(days=31).span == dt.timedelta(days=31)
    assert str(cap) == "3 months" and str(WindowCap(days=1)) == "1 day"


def test_validate_window_accepts_aware_datetimes_and_rejects_mixed_or_reversed():
    calls = get_method("get.calls_report")
    start = dt.datetime(2024, 1, 1, tzinfo=MOSCOW)
    calls.validate_window(start, dt.datetime(2024, 4, 1, tzinfo=MOSCOW), MOSCOW)
    with pytest.raises(ComagicParameterError, match="3 months"):
        calls.validate_window(start, dt.datetime(2024, 4, 1, 0, 0, 1, tzinfo=MOSCOW), MOSCOW)
    with pytest.raises(ComagicParameterError, match="both be naive or both be aware"):
        calls.validate_window(start, dt.datetime(2024, 2, 1))
    with pytest.raises(ComagicParameterError, match="before date_from"):
        calls.validate_window("2024-02-01 00:00:00", "2024-01-01 00:00:00")
    with pytest.raises(ComagicParameterError, match="'date_from': expected 'YYYY-MM-DD hh:mm:ss'"):
        calls.validate_window("yesterday", "2024-01-01 00:00:00")
    get_method("get.employee_stat").validate_window("2020-01-01 00:00:00", "2024-01-01 00:00:00")  # none documented
