# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
"""Facts the pages do not state in a parseable way, and the fixes of their contradictions.

Every entry says why. ``../shared/design/API_MAP.md`` ("Traps", "Contradictory / incomplete pages") lists what
each table answers; ``tests/unit/comagic/test_catalogue_traps.py`` asserts one trap per test.
"""

from __future__ import annotations

from typing import Any

# -- which methods ---------------------------------------------------------------------------------------

# Methods that are not reads but that the provider calls (kept from the first catalogue).
ACTION_PAGES: dict[str, str] = {
    "upload.calls": "communication.upload_calls.txt",
    "login.user": "authentication.login_user.txt",
    "logout.user": "authentication.logout_user.txt",
}

# A method with two pages: one method, the union of the pages' fields (the response depends on the account:
# the classic page shows 3 fields, the settings page 9). The first page is the base.
MERGED_PAGES: dict[str, tuple[str, ...]] = {"get.tags": ("tag.get_tags.txt", "tag_new.get_tags.txt")}

# Read methods documented outside comagic-docs: the older Markdown reference in ../shared/reference/seeds
# (v2 section "Управление отчётами"). Its other methods there are not v2 reads: get.sales_report and
# get.api_requests_report are "v3, Статус: не реализован", get.visitors_report is "ОТЛОЖЕН".
SEED_PAGES: dict[str, str] = {"get.financial_summary_report": "003_bb1c87f6f3ad05ef.txt"}

# Read methods left out, by name, with the reason (also written to methods.json "excluded").
EXCLUDED: dict[str, str] = {
    "getobj.private_number_params": (
        "returns the SIP account of a private number: login and password (vn.getobj_private_number_params.txt); "
        "secrets never land in files"
    ),
    "get.deals_in_processing": (
        "returns one {count}, not rows; the page has no response table and its error section belongs to a delete "
        "method (ca_deal.get_deals_processing.txt; sales_funnel_and_deals.txt names it get.deals_processing)"
    ),
    "get.person_event_fields": (
        "no response table; its heading is copied from another page ('вложенности столбцов') and its JSON "
        "example is invalid (person.get_person_event_fields.txt)"
    ),
}
# Checked and kept: get.sip_lines returns no credentials (its password is only written, by create.sip_lines and
# update.ip_line_password); get.sites / getobj.site app_key and site_key are the public keys of the site's
# embed code.

# -- families -----------------------------------------------------------------------------------------------

CLASSIC_REPORTS: tuple[str, ...] = (
    # the ten of the seeds (report_methods()), in the order operators and docs present them
    "get.calls_report",
    "get.communications_report",
    "get.call_legs_report",
    "get.goals_report",
    "get.chats_report",
    "get.chat_messages_report",
    "get.offline_messages_report",
    "get.visitor_sessions_report",
    "get.financial_call_legs_report",
    "get.campaign_daily_stat",
)
MORE_CLASSIC_REPORTS: tuple[str, ...] = (
    "get.financial_summary_report",
    "get.ct_summary_report",
    "get.ct_ac_summary_report",
    "get.employee_stat",
    "get.source_costs",
)
REPORT_BUILDER: tuple[str, ...] = (
    "get.communications",
    "get.calls",
    "get.chats",
    "get.deals",
    "get.leads",
    "get.visits",
    "get.tags_history",
    "get.sms",
    "get.notifications",
    "get.mgf_calls",
    "get.api_requests",
)
REPORT_BUILDER_AGGREGATES: frozenset[str] = frozenset(
    {
        "getobj.report_table",
        "getobj.report_total",
        "getobj.benchmarking_table",
        "getobj.report_linechart",
        "getobj.report_linechart_total",
    }
)
CHANGE_LOGS: frozenset[str] = frozenset({"get.deals_history", "get.uploaded_calls"})
LOOKUPS: frozenset[str] = frozenset(
    {
        "get.call_details",
        "get.person_details",
        "get.person_events",
        "get.person_visitors",
        "get.phone_selectors",
        "get.report_history",
        "get.visitors",
        "getobj.call_processing_rules",
        "getobj.call_session_recognition_info",
        "getobj.communication_source",
        "getobj.crm_source",
        "getobj.custom_dimension",
        "getobj.custom_formula_column",
        "getobj.custom_metric_column",
        "getobj.person_for_visitor",
        "getobj.person_summary",
        "getobj.private_number_params",
        "getobj.report_state",
        "getobj.site",
        "getobj.source",
        "getobj.visitor",
    }
)
# lists of the account's entities and of the API's catalogues (API_MAP.md "dimension")
REFERENCES: frozenset[str] = frozenset(
    """get.account get.ad_engines get.auto_call_campaigns get.blacklist_phone_numbers get.campaigns
    get.chat_channels get.communication_sources get.contact_organizations get.contacts get.country_phone_prefixes
    get.crm_companies get.crm_sources get.customer_users get.customers get.deal_contacts get.deal_employees
    get.deal_user_fields get.employee_positions get.employees get.events get.geolocations get.group_contacts
    get.group_employees get.integrated_forms get.integrated_pages get.lead_funnel_stages get.lead_user_fields
    get.numa_lists get.number_capacity_categories get.number_pool_numbers get.offline_message_user_fields
    get.sales_funnel get.scenarios get.schedules get.segments get.sip_lines get.site_blocks get.site_categories
    get.sites get.sources get.sources_channels get.sources_groups get.statuses get.tags get.tariff_plans
    get.virtual_numbers get.reports_list get.call_processing_rule_groups get.replacement_phones_groups
    get.media_files""".split()
)
# (API_MAP files get.reports_list, get.call_processing_rule_groups, get.replacement_phones_groups and
# get.media_files under "config"; they are clean no-argument lists whose ids other rows carry: report_id,
# virtual numbers' rule groups, phone selectors' groups, scenarios' media)

# -- row semantics --------------------------------------------------------------------------------------------

# time_field: the row field that date_from/date_till select on; incremental loads window on it.
# key: fields identifying a row uniquely (de-duplication across overlapping pages); () = none.
# order: sortable fields that fix every row's position when the time field is not sortable; () = none.
# order_ties: at most how many rows can share the values of the order fields (1 when the order is unique).
# Reference lists default to key ("id",) when they have an id, ordered by it when it is sortable.
ROW_SEMANTICS: dict[str, dict[str, Any]] = {
    "get.calls_report": {"time_field": "start_time", "key": ("id",)},
    "get.communications_report": {"time_field": "date_time", "key": ("id",)},
    # a leg belongs to a call session; legs are selected by their own start_time
    "get.call_legs_report": {"time_field": "start_time", "key": ("id",)},
    "get.goals_report": {"time_field": "date_time", "key": ("id",)},
    # chats are selected by the chat start (date_time), not by the last message
    "get.chats_report": {"time_field": "date_time", "key": ("id",)},
    "get.chat_messages_report": {"time_field": "date_time", "key": ("id",)},
    "get.offline_messages_report": {"time_field": "date_time", "key": ("id",)},
    "get.visitor_sessions_report": {"time_field": "date_time", "key": ("id",)},
    # a history of charges per call leg: no row id, and leg_id may repeat (several charges per leg)
    "get.financial_call_legs_report": {"time_field": "start_time", "key": ()},
    # one row per day and campaign/ad breakdown; the page documents no unique id or combination
    "get.campaign_daily_stat": {"time_field": "date", "key": ()},
    # one row per charge day of the requested month
    "get.financial_summary_report": {"time_field": "date", "key": ("date",)},
    # aggregates over the requested period: one row per site / per campaign (of the site_id asked for) /
    # per employee / per source and site
    "get.ct_summary_report": {"time_field": None, "key": ("site_id",)},
    "get.ct_ac_summary_report": {"time_field": None, "key": ("ac_id",)},
    "get.employee_stat": {"time_field": None, "key": ("id",)},
    "get.source_costs": {"time_field": None, "key": ("source_id", "site_id", "child_customer_id")},
    # report builder: one row per communication / deal / lead / visit / tagging event / message / request
    "get.communications": {"time_field": "communication_date_time", "key": ("communication_id",)},
    "get.calls": {"time_field": "call_start_date_time", "key": ("communication_id",)},
    "get.chats": {"time_field": "chat_start_date_time", "key": ("communication_id",)},
    "get.deals": {"time_field": "deal_date_time", "key": ("deal_ext_id",)},
    "get.leads": {"time_field": "lead_date_time", "key": ("lead_ext_id",)},
    "get.visits": {"time_field": "visit_date_time", "key": ("visitor_session_id",)},
    "get.tags_history": {"time_field": "tagging_date_time", "key": ("communication_id", "tag_id", "tagging_date_time")},
    "get.sms": {"time_field": "sms_date_time", "key": ("sms_id",)},
    "get.notifications": {"time_field": "notification_send_date_time", "key": ("notification_id",)},
    # the call's start is split into call_start_date and call_start_time: no single time field
    "get.mgf_calls": {"time_field": None, "key": ("communication_id",), "order": ("communication_id",)},
    "get.api_requests": {"time_field": "api_request_start_date_time", "key": ("api_request_id",)},
    # "Дата начала основной выборки по upload_time". One row per upload attempt: ext_id repeats across failed
    # attempts (communication.upload_calls: a call is ignored once it was uploaded successfully or has 3 failed
    # attempts, so an ext_id has at most 3 rows), usually under the same ext_request_id (a retry re-sends the
    # request); an attempt is told apart by its upload_time. upload_time is not sortable: rows are ordered by
    # ext_id, ext_request_id (both documented sortable, both fixed for a row), which ties only the attempts
    # of one call within one request: at most 3 rows.
    "get.uploaded_calls": {
        "time_field": "upload_time",
        "key": ("ext_id", "ext_request_id", "upload_time"),
        "order": ("ext_id", "ext_request_id"),
        "order_ties": 3,
    },
    # deals uploaded from a CRM, one row per deal; windowed by a filter on modified_stage_date_time
    "get.deals_history": {"time_field": None, "key": ("ext_id",), "order": ("ext_id",)},
    "get.customers": {"time_field": None, "key": ("id",), "order": ("creation_date_time",), "order_ties": 0},
    "get.customer_users": {"time_field": None, "key": ("id",), "order": ("customer_id", "name"), "order_ties": 0},
    "get.account": {"time_field": None, "key": ("app_id",)},
    # reference lists without an id field: their documented unique external id
    "get.crm_companies": {"key": ("ext_id",)},
    "get.deal_contacts": {"key": ("ext_id",)},
    "get.deal_employees": {"key": ("ext_id",)},
    "get.deal_user_fields": {"key": ("ext_id",)},
    "get.lead_user_fields": {"key": ("ext_id",)},
    "get.offline_message_user_fields": {"key": ("ext_id",)},
    "get.sales_funnel": {"key": ("ext_id",)},
    "get.number_pool_numbers": {"key": ("phone_id",)},
    "get.country_phone_prefixes": {"key": ("prefix", "country")},
    # Reference lists whose id the docs do not let sort (API_MAP trap 4): their rows come in no stable order.
    # One page reads a list whole whatever the order; a longer list is paged sorted by these documented sortable
    # fields (a login, a name, a creation time: what identifies an entity for its users). They may tie (two
    # contacts of one name), and the server orders tied rows as it likes, so order_ties 0 ("unknown") makes the
    # paging engine re-read each page's trailing tie group on the next page. Lists with no sortable field
    # (get.site_categories, get.tariff_plans) are read in one page or fail clearly.
    **{
        method: {"order": order, "order_ties": 0}
        for method, order in {
            "get.auto_call_campaigns": ("name",),
            "get.call_processing_rule_groups": ("name",),
            "get.campaigns": ("creation_time", "name"),
            "get.chat_channels": ("name",),
            "get.contact_organizations": ("name",),
            "get.contacts": ("full_name",),
            "get.employee_positions": ("name",),
            "get.employees": ("login",),
            "get.group_contacts": ("name",),
            "get.group_employees": ("name",),
            "get.schedules": ("name",),
            "get.sip_lines": ("employee_id", "virtual_phone_number"),
            "get.site_blocks": ("site_id",),
            "get.sites": ("parent_id", "child_customer_id"),
            "get.statuses": ("name",),
            "get.tags": ("name",),
            "get.virtual_numbers": ("name",),
        }.items()
    },
}

# Report-builder list -> the saved-report types (get.reports_list "type") whose report_id it reads. The pages
# say only "report_id ... см. get.reports_list"; the types are matched by name. () = no type of the enum matches
# (get.visits, get.tags_history, ...): any saved report of the user.
REPORT_TYPES: dict[str, tuple[str, ...]] = {
    "get.communications": ("communications", "communications_operator_workplace"),
    "get.calls": ("calls",),
    "get.chats": ("chats",),
    "get.deals": ("deals",),
    "get.leads": ("leads",),
    "get.mgf_calls": ("mgf_calls",),
}

# -- limits ---------------------------------------------------------------------------------------------------

# Window caps the pages do not state on the method's page. Classic reports: index.txt
# (date_interval_limit_reached, "3 месяца") and reports.txt ("90 дней") disagree; the provider keeps calendar
# months (the paging engine's windows), which the emulator enforces the same way.
CLASSIC_WINDOW: dict[str, Any] = {"months": 3, "note": "index.txt: 3 months; reports.txt: 90 days"}
UNDOCUMENTED_WINDOW: dict[str, str] = {
    "get.employee_stat": "the page states no limit on date_from/date_till",
    "get.source_costs": "the page states no limit (and ignores the time part of the dates)",
    "get.uploaded_calls": "the page states no limit on upload_time",
    "get.financial_summary_report": "no dates: one calendar month per call (year, month)",
}

# Components a page states in prose (the "Необходимые компоненты" header row is parsed), as any-of groups.
# "data_api_settings" and "call_tracking_3" are this project's labels: the docs give the components no mnemonic.
PROSE_COMPONENTS: dict[str, tuple[str, ...]] = {
    "get.employee_stat": ("call_center",),  # 'Метод доступен при подключенном компоненте "call_center"'
}
LIST_PAGE_COMPONENTS: dict[str, tuple[str, ...]] = {
    "sources.txt": ("call_tracking_3",),  # "Только для клиентов Коллтрекинга 3.0": every method it lists
}
HEADER_COMPONENTS: dict[str, str] = {
    "Data API для настройки": "data_api_settings",
    "Загрузка звонков из внешней системы": "upload_calls",  # upload.calls; components.txt's mnemonic
}

# -- contradictions -------------------------------------------------------------------------------------------

# Parameter facts where the page contradicts itself.
PARAM_FIXES: dict[tuple[str, str], dict[str, Any]] = {
    # The table marks report_id required, but the JSON request example has no report_id and its text points
    # to "get.reports_list" (copied from the custom-report methods): treat it as optional.
    ("get.uploaded_calls", "report_id"): {"required": False},
}
# A parameter the table names differently from the example and from the API's conventions: table `order`,
# request example `sort` (get.lead_funnel_stages); index.txt's sorting parameter is `sort`.
PARAM_RENAMES: dict[tuple[str, str], str] = {("get.lead_funnel_stages", "order"): "sort"}

# Field names the table misspells (the JSON example has the right one).
FIELD_RENAMES: dict[tuple[str, str], str] = {("get.person_details", "communicatons_count"): "communications_count"}
# Field types (by path) where a report-builder table and its JSON example disagree: the example shows a real
# value, the table a generic "string"/"number" (ids are numbers: "communication_id": 784617; flags are
# booleans: "value_id": false; dates are dates: "date_time": "iso8601").
FIELD_TYPES: dict[tuple[str, str], str] = {
    ("get.tags_history", "communication_id"): "number",
    ("get.tags_history", "tag_is_system.value_id"): "boolean",
    ("get.tags_history", "tagging_is_auto.value_id"): "boolean",
    ("get.calls", "communication_id"): "number",
    ("get.calls", "cdrs.id"): "number",
    ("get.mgf_calls", "communication_id"): "number",
    ("get.mgf_calls", "is_coach_handled_call.value_id"): "boolean",  # null in the example; get.calls types it
    ("get.notifications", "notification_id"): "number",
    ("get.notifications", "communication_id"): "number",
    ("get.api_requests", "api_request_id"): "number",
    ("get.api_requests", "api_request_is_agent.value_id"): "boolean",
    ("get.deals", "communication.date_time"): "iso8601",
    ("get.leads", "communication.date_time"): "iso8601",
    ("get.visits", "communications.date_time"): "iso8601",
}
# Fields only in the JSON response example, added (not filterable, not sortable; returned by default when the
# page has no "Ответ по умолчанию" column, else only when asked for), typed by the example's value unless a
# type is given (the example shows null: get.calls employee_rating, typed as get.mgf_calls' table types it).
EXAMPLE_ONLY_FIELDS: dict[str, dict[str, str | None]] = {
    "get.chats_report": {"visitor_profile_url": None},
    "get.communication_sources": {"creation_date": None},
    "get.crm_sources": {"creation_date": None},
    "get.email_accounts": {"is_removed": None, "last_verification_date": None},
    "get.group_employees": {"phone_number": None},
    "get.report_types": {"is_mobile": None},
    "get.calls": {"employee_rating": "number"},
    "get.leads": {"lead_current_funnel": None},
    "get.call_details": {"call_redirection_info": None, "communication_number": None, "deals": None},
    "get.report_generator_tasks": {"id": None},
}
# Rows the table puts under the wrong container: (method, "parent.field") -> the container it belongs to (the
# JSON example's). get.sites lists site_block_id before the "Список блоков номеров сайта" header that opens
# site_blocks, so the table alone files it under show_visitor_id.
# "" is the row itself: get.scenarios documents operations (the scenario's operations) after the campaigns
# members, and the example (which lacks it) shows campaigns' own members.
MOVED_FIELDS: dict[tuple[str, str], str] = {
    ("get.sites", "show_visitor_id.site_block_id"): "site_blocks",
    ("get.scenarios", "campaigns.operations"): "",
}
# Rows that document the members of a nested structure the example shows whole, listed flat after the row's
# fields: dropped (get.campaigns: group_conditions and conditions are campaign_conditions' members).
DROPPED_FIELDS: dict[tuple[str, str], str] = {
    ("get.campaigns", "group_conditions"): "campaign_conditions.group_conditions (the JSON example)",
    ("get.campaigns", "conditions"): "campaign_conditions.group_conditions[].conditions (the JSON example)",
}
# Fields whose members the table flattens: their children are taken from the example's node of that name.
EXAMPLE_CHILDREN: dict[tuple[str, str], str] = {
    ("get.segments", "segments_conditions"): "segment_conditions",
}
# Objects whose keys are data, not members (get.employee_stat status_stats: status mnemonic or id -> seconds):
# no children, landed as JSON text.
FREE_OBJECTS: frozenset[tuple[str, str]] = frozenset({("get.employee_stat", "status_stats")})
# Field-name disagreements between table and example where the table is kept (no other source decides).
FIELD_NOTES: dict[str, str] = {
    "get.segments": "the table names segments_conditions, the response example segment_conditions; the table kept",
}
# Method-name disagreements between a method's page and the list pages: the page's name is the method.
NAME_NOTES: dict[str, str] = {
    "get.deals_in_processing": "sales_funnel_and_deals.txt lists it as get.deals_processing",
    "get.chat_channels": "reports.txt lists it as get.chat_channels_report",
    "getobj.report_global_calendar": "constructor.txt lists it as get.report_global_calendars",
    "get.events": "the page's request example calls method get.segments",
}
