"""The drift rules of one value (landing/coercion.py): what fits, what is coerced losslessly (and recorded), what
is a mismatch; and with no coercion allowed (the ``fail`` policy), every coercion is a mismatch."""

from __future__ import annotations

import pyarrow as pa
import pytest

from airflow_provider_comagic.landing.coercion import Mismatch, check_value, describe_type, json_kind
from airflow_provider_comagic.utils.arrow_fields import JSON_TEXT, SOURCE_FORMAT, SOURCE_TIMEZONE

INT = pa.field("n", pa.int64())
FLOAT = pa.field("x", pa.float64())
BOOL = pa.field("b", pa.bool_())
TEXT = pa.field("s", pa.string())
JSON = pa.field("j", pa.string(), metadata={JSON_TEXT: b"1"})
TIME = pa.field(
    "t",
    pa.timestamp("us", tz="Europe/Moscow"),
    metadata={SOURCE_FORMAT: b"%Y-%m-%d %H:%M:%S", SOURCE_TIMEZONE: b"Europe/Moscow"},
)
DAY = pa.field("d", pa.date32(), metadata={SOURCE_FORMAT: b"%Y-%m-%d"})
TAG = pa.struct([("tag_id", pa.int64()), ("tag_name", pa.string())])
TAGS = pa.field("tags", pa.list_(TAG))
IDS = pa.field("ids", pa.list_(pa.int64()))
OBJ = pa.field("o", TAG)


def coerce(value, field):
    coerced: list = []
    return check_value(value, field, field.name, coerced), coerced


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (INT, 5),
        (INT, -(2**63)),
        (FLOAT, 2.5),
        (FLOAT, 3),  # an integer in a float column is as documented
        (BOOL, False),
        (TEXT, "x"),
        (JSON, {"k": [1]}),  # documented as any JSON value: no drift (kept as its text)
        (TIME, "2024-03-01 10:00:00"),
        (DAY, "2024-03-01"),
        (TAGS, [{"tag_id": 1, "tag_name": "a"}, None]),
        (IDS, [1, 2]),
        (OBJ, {"tag_id": 1}),
    ],
)
def test_values_as_documented_fit_and_are_not_counted(field, value):
    out, coerced = coerce(value, field)
    assert coerced == []
    assert out == ('{"k":[1]}' if field is JSON else value)


@pytest.mark.parametrize(
    ("field", "value", "stored", "arrived"),
    [
        (INT, "515", 515, "digit string"),
        (INT, "-7", -7, "digit string"),
        (INT, "0", 0, "digit string"),
        (INT, 12.0, 12, "integral float"),
        (FLOAT, "42", 42, "digit string"),
        (BOOL, 0, False, "integer 0/1"),
        (BOOL, 1, True, "integer 0/1"),
        (BOOL, "true", True, "boolean string"),
        (BOOL, "false", False, "boolean string"),
        (TEXT, 643, "643", "integer"),
        (TEXT, 2.5, "2.5", "float"),
        (TAGS, {"tag_id": 1}, [{"tag_id": 1}], "lone object"),
    ],
)
def test_lossless_coercions_are_made_and_recorded(field, value, stored, arrived):
    out, coerced = coerce(value, field)
    assert out == stored and type(out) is type(stored)
    assert coerced == [(field.name, describe_type(field.type), arrived, value)]


def test_coercions_inside_lists_and_objects_are_recorded_at_their_path():
    out, coerced = coerce([{"tag_id": "7", "tag_name": 5}], TAGS)
    assert out == [{"tag_id": 7, "tag_name": "5"}]
    assert coerced == [("tags[].tag_id", "int64", "digit string", "7"), ("tags[].tag_name", "string", "integer", 5)]
    out, coerced = coerce({"tag_id": "7"}, TAGS)  # a lone object whose member is coerced too
    assert out == [{"tag_id": 7}] and [c[:3] for c in coerced] == [
        ("tags[].tag_id", "int64", "digit string"),
        ("tags", "list<struct>", "lone object"),
    ]


@pytest.mark.parametrize(
    ("field", "value", "path", "arrived"),
    [
        (INT, 12.5, "n", "float"),
        (INT, "0515", "n", "string"),  # does not print back as the same text: not lossless
        (INT, "+5", "n", "string"),
        (INT, "5.0", "n", "string"),
        (INT, "n/a", "n", "string"),
        (INT, True, "n", "boolean"),
        (INT, 2**63, "n", "integer"),  # past int64
        (INT, [1], "n", "array"),
        (FLOAT, "12.50", "x", "string"),
        (FLOAT, 2**53 + 1, "x", "integer"),  # not exact as a float
        (FLOAT, False, "x", "boolean"),
        (BOOL, 2, "b", "integer"),
        (BOOL, "yes", "b", "string"),
        (BOOL, 1.0, "b", "float"),
        (TEXT, True, "s", "boolean"),
        (TEXT, {"a": 1}, "s", "object"),
        (TEXT, ["a"], "s", "array"),
        (TIME, "2024-03-01T10:00:00", "t", "string"),
        (TIME, 1709251200, "t", "integer"),
        (DAY, "01.03.2024", "d", "string"),
        (TAGS, "vip", "tags", "string"),
        (TAGS, [{"tag_id": 1.5}], "tags[].tag_id", "float"),
        (TAGS, [{"tag_id": 1, "surprise": 2}], "tags[].surprise", "unknown key"),
        (TAGS, {"tag_id": 1, "x": 2}, "tags[].x", "unknown key"),  # a lone object of another shape
        (IDS, {"a": 1}, "ids", "object"),  # a lone object where the list holds scalars
        (OBJ, [{"tag_id": 1}], "o", "array"),
    ],
)
def test_everything_else_is_a_mismatch_naming_its_path(field, value, path, arrived):
    with pytest.raises(Mismatch) as mismatch:
        coerce(value, field)
    assert (mismatch.value.path, mismatch.value.arrived) == (path, arrived)


@pytest.mark.parametrize(("field", "value"), [(INT, "515"), (BOOL, 1), (TEXT, 643), (TAGS, {"tag_id": 1}), (INT, 3.0)])
def test_without_coercions_a_coercible_value_is_a_mismatch(field, value):
    with pytest.raises(Mismatch):
        check_value(value, field, field.name, None)
    documented = {INT: 5, BOOL: True, TEXT: "643", TAGS: [{"tag_id": 1}]}[field]
    assert check_value(documented, field, field.name, None) == documented  # as documented: still fits


def test_json_kinds_and_type_names():
    assert [json_kind(v) for v in (None, True, 1, 1.5, "a", {}, [])] == [
        "null",
        "boolean",
        "integer",
        "float",
        "string",
        "object",
        "array",
    ]
    assert describe_type(TIME.type) == "timestamp" and describe_type(TAGS.type) == "list<struct>"
    assert describe_type(pa.list_(pa.int64())) == "list<int64>"
