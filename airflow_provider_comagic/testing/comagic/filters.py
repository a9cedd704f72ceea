"""The ``filter`` parameter of get.* methods: validation against the catalogue and evaluation on rows.

Follows index.txt, "Критерии фильтрации" and "Операторы фильтрации": a simple filter
``{field, operator, value}`` or a tree ``{filters: [...], condition: "and"|"or"}``. Comparisons with a null
row value are false (SQL semantics) except ``is_null``, ``= null`` and ``!= null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_comagic.testing.comagic import jsquery
from airflow_provider_comagic.testing.comagic.rpc import RpcError

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

# operator -> field types it applies to (index.txt, "Операторы фильтрации"); None = any type
_SCALAR = frozenset({"number", "string", "boolean", "iso8601", "enum"})
OPERATOR_TYPES: dict[str, frozenset[str] | None] = {
    "=": _SCALAR,
    "!=": _SCALAR,
    "<": frozenset({"number", "iso8601"}),
    ">": frozenset({"number", "iso8601"}),
    "<=": frozenset({"number", "iso8601"}),
    ">=": frozenset({"number", "iso8601"}),
    "like": frozenset({"string"}),
    "ilike": frozenset({"string"}),
    "not_like": frozenset({"string"}),
    "not_ilike": frozenset({"string"}),
    "regexp": frozenset({"string"}),
    "jsquery": frozenset({"object", "array"}),
    "in": frozenset({"number", "string", "enum"}),
    "not_in": frozenset({"number", "string", "enum"}),
    "overlap": frozenset({"array"}),
    "not_overlap": frozenset({"array"}),
    "is_null": None,
    "is_not_null": None,
}
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$")


def _bad(field: str, value: Any, mnemonic: str = "invalid_parameter_value") -> RpcError:
    return RpcError(mnemonic, field=field, value=value)


def _like_regex(pattern: str, flags: int) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), flags | re.DOTALL)


def _check_value(ftype: str, op: str, value: Any, path: str) -> None:
    """Type-check a filter value against the field type (``data_type_error``/``invalid_parameter_value``)."""

    def scalar_ok(item: Any) -> bool:
        if ftype == "number":
            return isinstance(item, int | float) and not isinstance(item, bool)
        if ftype == "boolean":
            return isinstance(item, bool)
        if ftype in {"string", "enum", "iso8601"}:
            return isinstance(item, str)
        return True

    if op in {"in", "not_in"}:
        if not isinstance(value, list) or not value:
            raise _bad(path, value, "data_type_error")
        if not all(scalar_ok(item) for item in value):
            raise _bad(path, value, "data_type_error")
        return
    if op in {"is_null", "is_not_null"} or (op in {"=", "!="} and value is None):
        return
    if op in {"overlap", "not_overlap"}:
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(i, dict | list) for i in items):
            raise _bad(path, value, "data_type_error")
        return
    if op == "jsquery" or op in {"like", "ilike", "not_like", "not_ilike", "regexp"}:
        if not isinstance(value, str):
            raise _bad(path, value, "data_type_error")
        return
    if not scalar_ok(value):
        raise _bad(path, value, "data_type_error")
    if ftype == "iso8601" and not _TIME_RE.match(value):
        raise _bad(path, value)


def _identity_keys(name: str) -> tuple[str, ...]:
    """Keys of an array's objects that ``overlap`` compares with (``tags`` -> ``tag_id``, ``tag_name``)."""
    singular = name[:-1] if name.endswith("s") else name
    return (f"{singular}_id", f"{singular}_name", "id", "name")


def _array_contains(items: Any, needle: Any, keys: tuple[str, ...]) -> bool:
    for item in items or ():
        if isinstance(item, Mapping):
            if any(item.get(key) == needle for key in keys if key in item):
                return True
        elif item == needle:
            return True
    return False


def _simple(name: str, op: str, value: Any) -> Predicate:
    """Predicate of one simple filter (already validated)."""
    if op == "is_null" or (op == "=" and value is None):
        return lambda row: row.get(name) is None
    if op == "is_not_null" or (op == "!=" and value is None):
        return lambda row: row.get(name) is not None
    if op == "=":
        return lambda row: row.get(name) is not None and row.get(name) == value
    if op == "!=":
        return lambda row: row.get(name) is not None and row.get(name) != value

    def guard(test: Callable[[Any], bool]) -> Predicate:
        def predicate(row: Row) -> bool:
            current = row.get(name)
            return current is not None and bool(test(current))

        return predicate

    if op == "<":
        return guard(lambda v: v < value)
    if op == ">":
        return guard(lambda v: v > value)
    if op == "<=":
        return guard(lambda v: v <= value)
    if op == ">=":
        return guard(lambda v: v >= value)
    if op in {"like", "ilike", "not_like", "not_ilike"}:
        regex = _like_regex(value, re.IGNORECASE if "ilike" in op else 0)
        if op.startswith("not_"):
            return guard(lambda v: regex.fullmatch(str(v)) is None)
        return guard(lambda v: regex.fullmatch(str(v)) is not None)
    if op == "regexp":
        try:
            regex = re.compile(value)
        except re.error:
            raise _bad("filter.value", value) from None
        return guard(lambda v: regex.search(str(v)) is not None)
    if op == "in":
        wanted = frozenset(value)
        return guard(lambda v: v in wanted)
    if op == "not_in":
        unwanted = frozenset(value)
        return guard(lambda v: v not in unwanted)
    if op in {"overlap", "not_overlap"}:
        needles = value if isinstance(value, list) else [value]
        keys = _identity_keys(name)
        hit = guard(lambda v: any(_array_contains(v, n, keys) for n in needles))
        if op == "overlap":
            return hit
        return lambda row: row.get(name) is not None and not hit(row)
    if op == "jsquery":
        try:
            matcher = jsquery.compile_query(value)
        except ValueError:
            raise _bad("filter.value", value) from None
        return guard(matcher)
    raise _bad("filter.operator", op)


def compile_filter(tree: Any, fields: Mapping[str, Any], path: str = "filter") -> Predicate:
    """Validate ``tree`` against the catalogue fields and return the row predicate.

    ``fields`` maps field names to catalogue ``FieldSpec`` objects (``type``, ``filterable``).
    """
    if not isinstance(tree, Mapping):
        raise _bad(path, tree, "data_type_error")
    if "filters" in tree:
        extra = set(tree) - {"filters", "condition"}
        if extra:
            raise RpcError("unexpected_parameters", field=f"{path}.{sorted(extra)[0]}")
        children = tree["filters"]
        if not isinstance(children, list) or not children:
            raise _bad(f"{path}.filters", children, "data_type_error")
        condition = tree.get("condition", "and")
        if condition not in ("and", "or"):
            raise _bad(f"{path}.condition", condition)
        predicates = [compile_filter(child, fields, f"{path}.filters") for child in children]
        if condition == "and":
            return lambda row: all(p(row) for p in predicates)
        return lambda row: any(p(row) for p in predicates)

    extra = set(tree) - {"field", "operator", "value"}
    if extra:
        raise RpcError("unexpected_parameters", field=f"{path}.{sorted(extra)[0]}")
    for member in ("field", "operator"):
        if member not in tree:
            raise RpcError("required_parameter_missed", field=f"{path}.{member}")
    name, op, value = tree["field"], tree["operator"], tree.get("value")
    if not isinstance(name, str):
        raise _bad(f"{path}.field", name, "data_type_error")
    spec = fields.get(name)
    if spec is None:
        raise RpcError("unexpected_parameters", field=f"{path}.field", value=name)
    if not spec.filterable:
        raise RpcError("filter_prohibited", field=f"{path}.field", value=name)
    if op not in OPERATOR_TYPES:
        raise _bad(f"{path}.operator", op)
    allowed = OPERATOR_TYPES[op]
    null_test = op in {"=", "!="} and value is None
    known_type = spec.type in _SCALAR | {"array", "object"}
    if allowed is not None and not null_test and known_type and spec.type not in allowed:
        raise _bad(f"{path}.operator", op)
    _check_value(spec.type, op, value, f"{path}.value")
    return _simple(name, op, value)
