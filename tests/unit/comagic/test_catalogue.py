"""The method catalogue: generated JSON in sync with the docs, spot checks against the pages, validation."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from airflow_provider_comagic.comagic.catalogue import (
    FILTER_OPERATORS,
    FieldSpec,
    MethodSpec,
    get_method,
    method_names,
    report_methods,
)
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from tests.fixtures.processes import require_path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "generate_catalogue.py"
METHODS_JSON = REPO / "airflow_provider_comagic" / "comagic" / "catalogue" / "methods.json"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_catalogue", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture
def docs():
    """The documentation pages the catalogue is generated from (../shared beside the checkout; CI must have it)."""
    return require_path(generator.DEFAULT_DOCS, "the Data API docs the catalogue is generated from (../shared)")


REPORTS = (
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


def _child_names(spec: FieldSpec) -> list[str]:
    return [child.name for child in spec.children]


# --- generator -------------------------------------------------------------------------------------------


def test_committed_json_matches_generator_output(docs) -> None:
    text, _notes = generator.generate(docs)
    assert text == METHODS_JSON.read_text(encoding="utf-8"), "run scripts/generate_catalogue.py"


def test_generator_is_deterministic(docs) -> None:
    assert generator.generate(docs)[0] == generator.generate(docs)[0]


def test_check_mode_passes_on_committed_json_and_fails_on_stale(docs, tmp_path: Path) -> None:
    assert generator.main(["--check"]) == 0
    stale = tmp_path / "methods.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert generator.main(["--check", "--output", str(stale)]) == 1


def test_check_mode_skips_without_docs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generator.main([str(tmp_path / "absent"), "--check"]) == 0
    assert "skipped" in capsys.readouterr().out


def test_cells_join_continuation_lines() -> None:
    lines = [
        "   | direction",
        "   | enum",
        "   | ",
        "in - Входящая;",
        "out - Исходящая",
        "   | да",
    ]
    assert generator.cells_of(lines) == ["direction", "enum", "in - Входящая;\nout - Исходящая", "да"]


def test_json_is_sorted_and_shaped() -> None:
    data = json.loads(METHODS_JSON.read_text(encoding="utf-8"))
    assert set(data) >= {"methods", "filter_operators", "report_methods"}
    entry = data["methods"]["get.calls_report"]
    assert set(entry) == {
        "name",
        "title",
        "doc",
        "weight",
        "params",
        "fields",
        "date_range",
        "time_field",
        "key",
        "order",
        "order_ties",
    }
    assert list(entry) == sorted(entry)


# --- spot checks against the docs ------------------------------------------------------------------------


def test_calls_report_fields() -> None:
    method = get_method("get.calls_report")
    assert method.doc == "report.get_calls_report.txt"
    assert method.field("id").type == "number"
    assert method.field("id").filterable and method.field("id").default
    start = method.field("start_time")
    assert start.sortable and start.type == "iso8601" and start.format == "YYYY-MM-DD hh:mm:ss"
    tags = method.field("tags")
    assert tags.type == "array"
    assert _child_names(tags)[:2] == ["tag_name", "tag_id"]
    assert {"tag_change_time", "tag_type", "tag_user_id", "tag_employee_full_name"} <= set(_child_names(tags))
    assert method.field("tags.tag_type").values == ("auto", "manual")
    records = method.field("call_records")
    assert records.type == "array" and records.children == ()
    # the table runs on after scenario_operations' id/name without a header; the JSON example wins
    assert _child_names(method.field("scenario_operations")) == ["id", "name"]
    assert "source" in method.field_names and "is_lost" in method.field_names
    assert "callapi" in method.field("source").values
    assert _child_names(method.field("employees")) == [
        "employee_id",
        "employee_full_name",
        "is_answered",
        "is_talked",
    ]
    assert "last_answered_employee_id" in method.field_names
    finish = method.field("finish_reason").values
    assert {"subscriber_disconnects", "numb_not_exists", "auto_out_calls_not_allowed_by_status"} <= set(finish)
    assert method.field("direction").values == ("in", "out")
    assert method.field("attributes").children == ()
    assert "off-target" in method.field("attributes").values
    assert method.params["date_from"].required and method.params["date_till"].required
    assert not method.params["include_ongoing_calls"].required


def test_every_report_method_is_a_date_range_report() -> None:
    assert report_methods() == REPORTS
    for name in REPORTS:
        method = get_method(name)
        assert method.date_range, name
        assert method.time_field in method.field_names, name
        assert method.field(method.time_field).type == "iso8601", name
        assert method.default_fields, name
        assert set(method.key) <= set(method.field_names), name
        assert method.weight == 1, name
        assert {"access_token", "date_from", "date_till", "limit", "offset"} <= set(method.params), name


@pytest.mark.parametrize(
    ("name", "time_field", "key"),
    [
        ("get.calls_report", "start_time", ("id",)),
        ("get.call_legs_report", "start_time", ("id",)),
        ("get.communications_report", "date_time", ("id",)),
        ("get.campaign_daily_stat", "date", ()),
        ("get.financial_call_legs_report", "start_time", ()),
    ],
)
def test_row_semantics(name: str, time_field: str, key: tuple[str, ...]) -> None:
    method = get_method(name)
    assert (method.time_field, method.key) == (time_field, key)


def test_other_methods() -> None:
    upload = get_method("upload.calls")
    assert upload.weight == 5 and not upload.date_range
    calls = upload.params["calls"]
    assert calls.required and calls.type == "array"
    children = {child.name: child for child in calls.children}
    assert {"ext_id", "start_time", "finish_time", "is_lost", "tags", "wav_records", "mp3_records"} <= set(children)
    assert [c.name for c in children["callback"].children] == ["url", "events"]
    assert [c.name for c in children["tags"].children] == ["tag_id", "tag_name"]
    assert children["direction"].values == ("in", "out")
    assert "ext_id" not in upload.params  # nested, not top level

    uploaded = get_method("get.uploaded_calls")
    assert uploaded.date_range and uploaded.time_field == "upload_time"
    assert "processed" in uploaded.field("status").values
    assert not uploaded.params["report_id"].required  # override: see PARAM_FIXES in the generator
    # paged in a stable order of documented sortable fields; an upload attempt is told apart by its upload_time
    assert uploaded.order == ("ext_id", "ext_request_id") and uploaded.order_ties == 3
    assert all(uploaded.field(name).sortable for name in uploaded.order)
    assert uploaded.key == ("ext_id", "ext_request_id", "upload_time")
    assert get_method("get.calls_report").order == () and get_method("get.calls_report").order_ties == 1

    assert set(get_method("login.user").params) == {"login", "password"}
    assert "access_token" in get_method("login.user").field_names
    assert set(get_method("logout.user").params) == {"access_token"}
    assert get_method("get.account").field_names == ("app_id", "name", "timezone")
    assert "status" in get_method("get.customers").filterable_fields
    assert get_method("get.customer_users").field("customer_id").sortable

    chat_messages = get_method("get.chat_messages_report")
    assert not chat_messages.params["date_from"].required  # "да, если нет chat_id или chat_ids"
    assert _child_names(chat_messages.field("resource"))[:2] == ["size", "type"]

    daily = get_method("get.campaign_daily_stat")
    assert daily.field("date").format == "YYYY-MM-DD"
    assert "access_token" in daily.params  # only in the JSON request example
    assert _child_names(daily.field("communications")) == [
        "communication_type",
        "communication_id",
        "attributes",
        "tags",
    ]


def test_filter_operators_are_the_documented_ones() -> None:
    assert {"=", "!=", "<", ">", "<=", ">=", "like", "ilike", "in", "not_in", "is_null", "is_not_null"} <= (
        FILTER_OPERATORS
    )
    assert len(FILTER_OPERATORS) == 18


def test_specs_are_frozen() -> None:
    method = get_method("get.calls_report")
    assert isinstance(method, MethodSpec)
    with pytest.raises(AttributeError):
        method.weight = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        method.params["x"] = None  # type: ignore[index]
    assert get_method("get.calls_report") is method


# --- validation ------------------------------------------------------------------------------------------


def test_unknown_method_lists_known_ones() -> None:
    with pytest.raises(ComagicParameterError, match=r"get\.nope") as err:
        get_method("get.nope")
    assert "get.calls_report" in str(err.value) and "upload.calls" in str(err.value)
    assert "upload.calls" in method_names()


def test_validate_fields() -> None:
    method = get_method("get.calls_report")
    assert method.validate_fields(["id", "start_time"]) == ("id", "start_time")
    with pytest.raises(ComagicParameterError) as err:
        method.validate_fields(["id", "start_tme"])
    text = str(err.value)
    assert "get.calls_report" in text and "'fields'" in text and "start_tme" in text and "start_time" in text
    with pytest.raises(ComagicParameterError, match="list of field names"):
        method.validate_fields("id")


def test_validate_filter_accepts_simple_and_nested_trees() -> None:
    method = get_method("get.calls_report")
    method.validate_filter({"field": "direction", "operator": "=", "value": "in"})
    method.validate_filter({"field": "is_lost", "operator": "is_not_null"})
    method.validate_filter(
        {
            "filters": [
                {"field": "direction", "operator": "=", "value": "in"},
                {
                    "filters": [
                        {"field": "talk_duration", "operator": ">", "value": 10},
                        {"filters": [{"field": "tags", "operator": "jsquery", "value": "x"}], "condition": "or"},
                    ],
                    "condition": "or",
                },
            ],
            "condition": "and",
        }
    )


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ({"field": "nope", "operator": "="}, ["unknown field 'nope'", "filterable fields:", "direction"]),
        ({"field": "properties", "operator": "="}, ["'properties' is not filterable", "is_lost"]),
        ({"field": "direction", "operator": "~"}, ["unknown operator '~'", "not_ilike", "is_not_null"]),
        ({"filters": [], "condition": "and"}, ["non-empty list"]),
        ({"filters": [{"field": "id", "operator": "="}], "condition": "xor"}, ["'xor'", "and, or"]),
        ({"filters": [{"field": "id", "operator": "=", "x": 1}], "condition": "and"}, ["filters[0]"]),
        ({"field": "id"}, ["got keys"]),
        ([{"field": "id", "operator": "="}], ["must be an object"]),
        (
            {"filters": [{"filters": [{"field": "bad", "operator": "="}], "condition": "and"}], "condition": "or"},
            ["unknown field 'bad'"],
        ),
    ],
)
def test_validate_filter_errors(tree: object, expected: list[str]) -> None:
    with pytest.raises(ComagicParameterError) as err:
        get_method("get.calls_report").validate_filter(tree)  # type: ignore[arg-type]
    text = str(err.value)
    assert "get.calls_report" in text and "'filter'" in text
    for part in expected:
        assert part in text


def test_validate_sort() -> None:
    method = get_method("get.calls_report")
    method.validate_sort([{"field": "start_time", "order": "desc"}, {"field": "direction"}])
    with pytest.raises(ComagicParameterError) as err:
        method.validate_sort([{"field": "properties", "order": "asc"}])
    text = str(err.value)
    assert "'sort'" in text and "properties" in text and "start_time" in text
    with pytest.raises(ComagicParameterError, match="unknown field 'nope'"):
        method.validate_sort([{"field": "nope"}])
    with pytest.raises(ComagicParameterError, match="allowed orders"):
        method.validate_sort([{"field": "start_time", "order": "down"}])
    with pytest.raises(ComagicParameterError, match="list of"):
        method.validate_sort({"field": "start_time"})  # type: ignore[arg-type]


def test_field_lookup_errors_list_fields() -> None:
    method = get_method("get.calls_report")
    assert method.field("scenario_operations.name").type == "string"
    with pytest.raises(ComagicParameterError, match="tag_id"):
        method.field("tags.nope")
