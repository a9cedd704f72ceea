"""Arrow schemas of every landable method: reference lists, report-builder lists, change logs, all classic reports."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, landable_methods, report_builder_methods
from airflow_provider_comagic.comagic.schemas import method_schema, number_type, report_schema

TIMESTAMP = pa.timestamp("us", tz="Europe/Moscow")


def _expected(spec) -> pa.DataType:
    """The documented type mapping (schemas module docstring), written out again."""
    if spec.type == "number":
        return number_type(spec.name)
    if spec.type == "boolean":
        return pa.bool_()
    if spec.type == "iso8601" and spec.format == "hh:mm:ss":
        return pa.string()
    if spec.type == "iso8601":
        return pa.date32() if spec.format == "YYYY-MM-DD" else TIMESTAMP
    if spec.type == "array" and spec.children:
        return pa.list_(pa.struct([pa.field(c.name, _expected(c)) for c in spec.children]))
    if spec.type == "array":
        ids = spec.name.endswith("_ids") and not spec.name.endswith("_ext_ids")
        return pa.list_(pa.int64() if ids else pa.string())
    if spec.type == "object" and spec.children:
        return pa.struct([pa.field(c.name, _expected(c)) for c in spec.children])
    return pa.string()  # string, enum, duration, objects whose keys are data


@pytest.mark.parametrize("method", landable_methods())
def test_every_field_of_every_landable_method_has_the_documented_arrow_type(method):
    spec = get_method(method)
    schema = method_schema(method, spec.field_names)
    assert schema.names == list(spec.field_names)
    for field_spec in spec.fields:
        # types compared without field metadata (descriptions, source formats)
        assert schema.field(field_spec.name).type == _expected(field_spec), (method, field_spec.name)


@pytest.mark.parametrize("method", landable_methods())
def test_default_schema_is_the_default_fields(method):
    assert method_schema(method).names == list(get_method(method).default_fields)


@pytest.mark.parametrize("method", [m for m in report_builder_methods() if m != "get.sms"])  # sms: no enums
def test_report_builder_enum_objects_are_typed_structs(method):
    spec = get_method(method)
    schema = method_schema(method, spec.field_names)
    assert spec.enum_objects, method
    for name in spec.enum_objects:
        kind = schema.field(name).type
        assert pa.types.is_struct(kind) and [f.name for f in kind] == ["value", "value_id"], (method, name)
        assert kind.field("value").type == pa.string()
        assert kind.field("value_id").type in (pa.string(), pa.bool_())


def test_enum_object_flags_keep_the_example_boolean():
    schema = method_schema("get.tags_history", ["tag_is_system", "tagging_is_auto", "communication_type"])
    assert schema.field("tag_is_system").type.field("value_id").type == pa.bool_()
    assert schema.field("communication_type").type.field("value_id").type == pa.string()


def test_ext_id_lists_are_text_and_id_lists_numbers():
    schema = method_schema("get.crm_companies", ["contact_ext_ids", "contact_ids"])
    assert schema.field("contact_ext_ids").type == pa.list_(pa.string())
    assert schema.field("contact_ids").type == pa.list_(pa.int64())


@pytest.mark.parametrize(
    "name", ["deal_revenue", "dt_ratio", "subscriber_fee", "telecom_services", "changes", "api_request_execution_time"]
)
def test_fractional_amounts_are_floats(name):
    assert number_type(name) == pa.float64()


@pytest.mark.parametrize("name", ["duration", "total_wait_duration", "deal_cycle", "visit_depth"])
def test_counts_and_durations_stay_integers(name):
    assert number_type(name) == pa.int64()


def test_free_objects_and_durations_are_text():
    schema = method_schema("get.employee_stat", ["status_stats"])
    assert schema.field("status_stats").type == pa.string()
    assert method_schema("get.calls", ["call_talk_duration"]).field("call_talk_duration").type == pa.string()


def test_method_schema_is_report_schema():
    assert method_schema is report_schema
