"""The one parser of rendered template values (utils.templating), on every form Airflow renders."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.utils.templating import (
    is_templated,
    parse_list,
    parse_optional_int,
    parse_rendered,
    parse_structure,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ([], None),
        ("7001", ["7001"]),
        (7001, [7001]),
        ("7001, 7002", ["7001", "7002"]),  # a comma list gives strings
        ('["7001", "7002"]', ["7001", "7002"]),  # rendered JSON
        ("['7001', '7002']", ["7001", "7002"]),  # an XCom list rendered without native rendering: its repr
        ("[7001, 7002]", [7001, 7002]),  # numbers stay numbers
        ("('a', 'b')", ["a", "b"]),
        (("a", 2), ["a", 2]),
    ],
)
def test_lists_in_every_rendered_form_keep_strings_and_numbers_as_given(value, expected):
    assert parse_list(value, "ids") == expected


@pytest.mark.parametrize(
    ("value", "item", "expected"),
    [
        ("['7001', '7002']", str, ["7001", "7002"]),  # never "'7001'" (the quotes are the repr's, not the id's)
        ("[7001, 7002]", str, ["7001", "7002"]),
        ("7001,7002", int, [7001, 7002]),
        ("['500001', 500002]", int, [500001, 500002]),
    ],
)
def test_items_are_converted_when_asked(value, item, expected):
    assert parse_list(value, "ids", item=item) == expected


@pytest.mark.parametrize("bad", ["[a, b", "{'a': 1}", {"a": 1}, "[[1], 2]"])
def test_unreadable_or_nested_lists_name_the_parameter_with_the_vendors_error(bad):
    with pytest.raises(McnParameterError, match="vpbx_id"):
        parse_list(bad, "vpbx_id", item=str, error=McnParameterError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ([], None),
        ("req-1", ["req-1"]),
        (["a", "b"], ["a", "b"]),
        ('["a", "b"]', ["a", "b"]),  # rendered JSON
        ("['a', 'b']", ["a", "b"]),  # a rendered Python list (templates without native rendering)
        (("a", 2), ["a", "2"]),
    ],
)
def test_id_lists_accept_rendered_templates(value, expected):
    assert parse_list(value, "ext_ids", item=str, error=ComagicParameterError) == expected


def test_unreadable_list_is_rejected():
    with pytest.raises(ComagicParameterError, match="ext_ids"):
        parse_list("[a, b", "ext_ids", item=str, error=ComagicParameterError)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("[1, 2]", [1, 2]), ("3,4", [3, 4]), ([5, "6"], [5, 6])]
)
def test_customer_ids_from_lists_and_rendered_templates(value, expected):
    assert parse_list(value, "customer_ids", item=int, error=ComagicParameterError) == expected


def test_structures_from_json_or_python_literals():
    assert parse_structure('{"field": "id", "operator": "=", "value": 1}', "filter") == {
        "field": "id",
        "operator": "=",
        "value": 1,
    }
    assert parse_structure("{'include_ongoing_calls': True}", "api_params") == {"include_ongoing_calls": True}
    assert parse_structure("[{'field': 'id', 'order': 'asc'}]", "sort", kinds=(list,)) == [
        {"field": "id", "order": "asc"}
    ]
    assert parse_structure("", "filter") is None and parse_structure({}, "filter") is None
    with pytest.raises(ComagicParameterError, match="api_params must be a mapping"):
        parse_structure("[1, 2]", "api_params", error=ComagicParameterError)
    with pytest.raises(ParameterError, match=r"filter rendered to .* neither JSON nor a Python literal"):
        parse_rendered("{{ not rendered }}", "filter")


def test_integer_ids():
    assert parse_optional_int(" 5000011 ", "user_id") == 5000011
    assert parse_optional_int("", "user_id") is None and parse_optional_int(None, "user_id") is None
    for bad in ("abc", True, "1.5"):
        with pytest.raises(ComagicParameterError, match="user_id must be an integer id"):
            parse_optional_int(bad, "user_id", error=ComagicParameterError)


def test_is_templated_walks_lists_and_dicts():
    assert is_templated("{{ ds }}") and is_templated(["a", "{% if x %}"]) and is_templated({"k": "{# c #}"})
    assert not is_templated({"value": "{{ x }}"}, skip_keys=frozenset({"value"}))
    assert not is_templated(["a", 1, None])
