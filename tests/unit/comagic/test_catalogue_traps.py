"""One test per catalogue trap of ../shared/design/API_MAP.md ("Traps", "Contradictory / incomplete pages").

The specs are built from the generator's output made here, not from the committed methods.json: breaking an
override in scripts/catalogue_gen/overrides.py (or the parser rule a trap needs) fails the trap's test itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_comagic.comagic.catalogue import MethodSpec
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from tests.fixtures.processes import require_path
from tests.unit.comagic.test_catalogue import generator


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    docs = require_path(generator.DEFAULT_DOCS, "the Data API docs the catalogue is generated from (../shared)")
    return json.loads(generator.generate(docs)[0])


@pytest.fixture(scope="module")
def spec(generated):
    cache: dict[str, MethodSpec] = {}

    def get(name: str) -> MethodSpec:
        if name not in cache:
            cache[name] = MethodSpec.from_json(generated["methods"][name], generated["facts"][name])
        return cache[name]

    return get


# --- Traps -------------------------------------------------------------------------------------------------


def test_trap1_window_caps_differ_by_family(spec):
    caps = {
        name: str(spec(name).window_cap)
        for name in ("get.calls_report", "get.campaign_daily_stat", "get.communications", "get.visits")
    }
    caps["get.chat_messages_report"] = str(spec("get.chat_messages_report").window_cap)
    assert caps == {
        "get.calls_report": "3 months",
        "get.campaign_daily_stat": "3 months",  # its page says "90 дней, как в стандартных методах"
        "get.communications": "366 days",
        "get.visits": "31 days",
        "get.chat_messages_report": "30 days",
    }


def test_trap1_a_window_over_the_cap_fails_naming_date_till(spec):
    spec("get.visits").validate_window("2024-01-01 00:00:00", "2024-02-01 00:00:00")
    with pytest.raises(ComagicParameterError, match=r"get\.visits: invalid 'date_till'.*31 days"):
        spec("get.visits").validate_window("2024-01-01 00:00:00", "2024-02-01 00:00:01")


def test_trap2_report_builder_needs_report_id_fields_and_its_own_parameters(spec):
    required = {name: set(spec(name).required_params) for name in ("get.calls", "get.communications", "get.visits")}
    assert required == {
        "get.calls": {"report_id", "date_from", "date_till"},
        "get.communications": {"report_id", "report_type", "date_from", "date_till"},
        "get.visits": {"report_id", "date_from", "date_till", "is_realtime"},
    }
    assert spec("get.communications").needs_fields and not spec("get.calls_report").needs_fields
    assert spec("get.communications").report_types == ("communications", "communications_operator_workplace")


def test_trap2_enum_objects_are_value_value_id_pairs(spec):
    # get.chats' response example is "{}": the members come from the table's indentation alone
    assert spec("get.chats").enum_objects == ("chat_status", "chat_initiator", "chat_closed_by", "chat_channel_type")
    assert spec("get.tags_history").field("tag_is_system.value_id").type == "boolean"


def test_trap3_paging_differs(spec):
    table = spec("getobj.report_table").paging
    assert (table.limit_default, table.limit_max, table.limit_required, table.offset_required) == (50, 200, True, True)
    linechart = spec("getobj.report_linechart").paging
    assert linechart.pages and linechart.limit_required and not linechart.offset
    assert spec("get.person_events").paging.limit_max == 200
    assert not spec("get.account").paging.pages and not spec("getobj.source").paging.pages
    assert spec("get.calls_report").paging.reachable_rows == 110_000


def test_trap4_lists_that_cannot_sort_by_id(spec):
    unsortable = [
        "get.campaigns",
        "get.sites",
        "get.employees",
        "get.virtual_numbers",
        "get.contacts",
        "get.tags",
        "get.customers",
    ]
    assert [name for name in unsortable if spec(name).key_sortable] == []
    assert spec("get.scenarios").key_sortable and spec("get.scenarios").order == ("id",)
    with pytest.raises(ComagicParameterError, match=r"'sort'.*not sortable: 'id'"):
        spec("get.sites").validate_sort([{"field": "id"}])


def test_trap4_unsortable_lists_page_by_documented_sortable_fields_that_may_tie(spec, generated):
    """A list whose id cannot be sorted is paged by sortable fields that name its rows (login, name...); they may
    tie, so order_ties is 0 (unknown: the engine re-reads each page's trailing tie group)."""
    references = [name for name, facts in generated["facts"].items() if facts["family"] == "reference"]
    for name in references:
        listed = spec(name)
        if listed.key_sortable:
            assert (listed.order, listed.order_ties) == (listed.key, 1), name
        elif listed.sortable_fields:
            assert listed.order and set(listed.order) <= set(listed.sortable_fields), name
            assert listed.order_ties == 0, name
        else:  # nothing to sort by: one page, or a clear failure
            assert listed.order == (), name
    assert spec("get.employees").order == ("login",) and spec("get.contacts").order == ("full_name",)


def test_trap5_reference_lists_are_snapshots_without_a_time_field(spec, generated):
    references = [name for name, facts in generated["facts"].items() if facts["family"] == "reference"]
    assert len(references) >= 17
    assert [name for name in references if spec(name).time_field or spec(name).date_range] == []


def test_trap6_required_ids_and_alternatives(spec):
    assert "site_id" in spec("get.campaign_daily_stat").required_params
    assert "site_id" in spec("get.ct_ac_summary_report").required_params
    messages = spec("get.chat_messages_report")
    assert messages.required_alternatives == (("date_from", "date_till"), ("chat_id",), ("chat_ids",))
    messages.validate_params({"chat_ids": [1, 2]})
    with pytest.raises(ComagicParameterError, match="date_from\\+date_till or chat_id or chat_ids"):
        messages.validate_params({})
    assert "entity_ids" in spec("get.call_details").required_params and spec("get.call_details").family == "lookup"


def test_trap7_roles_and_components(spec):
    roles = {
        name: spec(name).roles for name in ("get.customers", "get.tariff_plans", "get.account", "get.crm_accounts")
    }
    assert roles == {
        "get.customers": ("agent",),
        "get.tariff_plans": ("agent",),
        "get.account": ("client",),
        "get.crm_accounts": ("client",),
    }
    components = {
        name: spec(name).components
        for name in ("get.employee_stat", "get.scenarios", "get.deal_contacts", "get.sources", "get.communications")
    }
    assert components == {
        "get.employee_stat": (("call_center",),),
        "get.scenarios": (("va",),),
        "get.deal_contacts": (("sales_funnel",),),
        "get.sources": (("data_api_settings",), ("call_tracking_3",)),
        "get.communications": (("data_api_settings",),),
    }
    assert spec("get.financial_call_legs_report").permissions == ("account_access:select",)


def test_trap8_secrets_are_excluded_by_name(generated):
    assert "getobj.private_number_params" not in generated["methods"]
    assert "password" in generated["excluded"]["getobj.private_number_params"]
    assert "get.sip_lines" in generated["methods"]  # checked: its page returns no credentials


def test_trap9_get_tags_is_one_method_with_the_union_of_both_pages(spec):
    tags = spec("get.tags")
    assert tags.docs == ("tag.get_tags.txt", "tag_new.get_tags.txt")
    assert tags.field_names == (
        "id",
        "name",
        "is_system",
        "rating",
        "is_auto",
        "state",
        "creation_datetime",
        "color",
        "condition",
    )
    # shared flags hold where both pages agree (classic: id not sortable); one page's fields are only returned
    assert tags.default_fields == ("id", "name", "is_system") and tags.sortable_fields == ("name", "is_system")
    assert tags.components == () and "is_include_rating" in tags.params


# --- Contradictory / incomplete pages ----------------------------------------------------------------------


def test_name_mismatches_keep_the_method_page_name(spec, generated):
    assert "get.deals_processing" in generated["excluded"]["get.deals_in_processing"]
    assert "reports.txt lists it as get.chat_channels_report" in spec("get.chat_channels").notes
    assert "constructor.txt lists it as get.report_global_calendars" in spec("getobj.report_global_calendar").notes
    assert "the page's request example calls method get.segments" in spec("get.events").notes


def test_copy_pasted_titles_do_not_name_methods(spec):
    # titles say "contacts", "SIP lines": the methods and fields are those of the "Метод" row
    assert spec("get.crm_companies").title == "Получение списка контактов"
    assert "contact_ext_ids" in spec("get.crm_companies").field_names
    assert spec("get.network_resources").field_names == ("id", "phone", "comment", "protocol")


def test_table_params_win_and_example_params_are_optional(spec):
    task = spec("get.report_for_ext_integration_task")
    assert task.required_params == ("report_type",) and not task.params["task_id"].required
    linechart = spec("getobj.report_linechart")
    assert (
        linechart.params["dimensions_value_ids"].required and not linechart.params["data_dimension_value_ids"].required
    )
    assert {"site_ids", "rule_types"} <= set(spec("get.call_tracking_rules").params)


def test_lead_funnel_stages_sort_parameter_is_sort(spec):
    assert "sort" in spec("get.lead_funnel_stages").params and "order" not in spec("get.lead_funnel_stages").params


def test_uploaded_calls_report_id_is_optional(spec):
    assert not spec("get.uploaded_calls").params["report_id"].required


def test_campaign_daily_stat_takes_the_example_only_access_token(spec):
    assert {"access_token", "user_id"} <= set(spec("get.campaign_daily_stat").params)


def test_segments_keep_the_table_name_with_the_example_members(spec):
    segments = spec("get.segments")
    assert "segments_conditions" in segments.field_names and "segment_conditions" not in segments.field_names
    assert segments.field("segments_conditions.group_conditions.conditions.segment_parameter").type == "enum"


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get.chats_report", "visitor_profile_url"),
        ("get.email_accounts", "last_verification_date"),
        ("get.group_employees", "phone_number"),
        ("get.calls", "employee_rating"),
        ("get.leads", "lead_current_funnel"),
        ("get.report_generator_tasks", "id"),
    ],
)
def test_fields_only_in_the_example_are_added(spec, method, name):
    assert name in spec(method).field_names


def test_misspelt_field_is_renamed(spec):
    assert "communications_count" in spec("get.person_details").field_names
    assert "communicatons_count" not in spec("get.person_details").field_names


def test_prefixe_typo_of_the_examples_is_not_a_field(spec):
    for name in ("get.available_ct_phone_prefixes", "get.available_phone_prefixes", "get.country_phone_prefixes"):
        assert "prefix" in spec(name).field_names and "prefixe" not in spec(name).field_names


def test_pages_without_a_response_table_are_excluded(generated):
    assert {"get.deals_in_processing", "get.person_event_fields"} <= set(generated["excluded"])


def test_invalid_json_examples_still_give_the_table(spec):
    # get.sources' example has "]]"; get.number_pool_numbers', get.metrics' examples do not parse at all
    assert spec("get.sources").field("static_parameters.parameter").type == "enum"
    assert "campaign_id" in spec("get.number_pool_numbers").field_names
    assert spec("get.metrics").field("multichannel_models.models.is_default").type == "boolean"


def test_pages_without_a_response_example_use_the_table(spec):
    assert spec("getobj.person_summary").field_names == ("items",)


def test_getobj_site_pages_and_takes_an_optional_site_id(spec):
    site = spec("getobj.site")
    assert site.paging.pages and not site.params["site_id"].required and site.family == "lookup"


def test_a_field_listed_twice_is_one_field(spec):
    assert spec("get.auto_call_campaigns").field_names.count("status") == 1
    assert spec("get.notifications").field_names.count("notification_error_message") == 1


def test_undocumented_windows_are_none_with_a_note(spec):
    for name in ("get.employee_stat", "get.source_costs", "get.uploaded_calls"):
        assert spec(name).window_cap is None and spec(name).window_note, name


def test_financial_summary_report_is_a_month_not_a_window(spec):
    report = spec("get.financial_summary_report")
    assert report.docs == ("seeds/003_bb1c87f6f3ad05ef.txt",) and not report.date_range
    assert set(report.required_params) == {"year", "month"} and report.params["month"].values[-1] == "12"
    with pytest.raises(ComagicParameterError, match="'month'"):
        report.validate_params({"year": 2024, "month": 13})


def test_rows_the_table_files_under_the_wrong_container_are_moved(spec):
    sites = spec("get.sites")
    assert [c.name for c in sites.field("site_blocks").children] == ["site_block_id", "site_block_name"]
    assert "site_block_id" not in [c.name for c in sites.field("show_visitor_id").children]
    assert "operations" in spec("get.scenarios").field_names
    assert "group_conditions" not in spec("get.campaigns").field_names  # documented inside campaign_conditions


def test_a_time_of_day_is_not_a_timestamp(spec):
    # get.calls / get.mgf_calls: call_start_time "hh:mm:ss" ("19:29:27"), next to call_start_date
    assert spec("get.mgf_calls").field("call_start_time").format == "hh:mm:ss"
    assert spec("get.calls").field("call_start_date_time").format == "YYYY-MM-DD hh:mm:ss"


def test_report_builder_ids_and_flags_take_the_example_types(spec):
    assert spec("get.calls").field("communication_id").type == "number"  # table "string", example 3360109114
    assert spec("get.deals").field("communication.date_time").type == "iso8601"  # table "number"
    assert spec("get.mgf_calls").field("is_coach_handled_call.value_id").type == "boolean"  # example null
