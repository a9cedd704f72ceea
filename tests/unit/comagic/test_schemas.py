"""Arrow schemas of the report methods from the catalogue: one type per documented field type, defaults, errors."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.comagic.schemas import number_type, report_schema


def _walk(fields, arrow_fields):
    for spec, field in zip(fields, arrow_fields, strict=True):
        yield spec, field
        kind = field.type
        if pa.types.is_list(kind):
            kind = kind.value_type
        if spec.children and pa.types.is_struct(kind):
            yield from _walk(spec.children, [kind.field(i) for i in range(kind.num_fields)])


@pytest.mark.parametrize("method", report_methods())
def test_every_field_of_every_report_has_the_documented_arrow_type(method):
    spec = get_method(method)
    schema = report_schema(method, [f.name for f in spec.fields])
    assert schema.names == [f.name for f in spec.fields]
    for field_spec, field in _walk(spec.fields, list(schema)):
        kind = field.type
        if field_spec.type == "number":
            assert kind in (pa.int64(), pa.float64()), field_spec.name
        elif field_spec.type == "boolean":
            assert kind == pa.bool_()
        elif field_spec.type == "iso8601":
            if field_spec.format == "YYYY-MM-DD":
                assert kind == pa.date32()
            else:
                assert kind == pa.timestamp("us", tz="Europe/Moscow"), field_spec.name
        elif field_spec.type == "array":
            assert pa.types.is_list(kind)
            if field_spec.children:
                assert pa.types.is_struct(kind.value_type)
                assert [c.name for c in field_spec.children] == [f.name for f in kind.value_type]
        elif field_spec.type == "object" and field_spec.children:
            assert pa.types.is_struct(kind)
        else:
            assert kind == pa.string(), field_spec.name


@pytest.mark.parametrize("method", report_methods())
def test_default_schema_is_the_default_fields(method):
    assert report_schema(method).names == list(get_method(method).default_fields)


def test_number_rule_money_is_float_everything_else_int():
    for name in ("sale_cost", "total_charge", "cost_per_minute", "daily_budget", "employee_rating"):
        assert number_type(name) == pa.float64(), name
    for name in ("id", "talk_duration", "visits_count", "communication_number", "tag_id", "visitor_phone_number"):
        assert number_type(name) == pa.int64(), name


def test_unknown_field_and_bad_timestamp_mode_raise():
    with pytest.raises(ValueError, match="unknown field 'nope'; allowed fields: id, start_time"):
        report_schema("get.calls_report", ["id", "nope"])
    with pytest.raises(ValueError, match="timestamps"):
        report_schema("get.calls_report", timestamps="local")


def test_childless_objects_are_json_text():
    spec = get_method("get.visitor_sessions_report")
    schema = report_schema("get.visitor_sessions_report", ["id", "integrated_campaign_data"])
    assert pa.types.is_struct(schema.field("integrated_campaign_data").type) == bool(
        spec.field("integrated_campaign_data").children
    )
