"""The drift rules of one value against its documented Arrow field: it fits as it is, it fits after a lossless
coercion, or it does not fit (:class:`Mismatch`).

Lossless coercions (each one counted by the caller, per column and per kind of value that arrived):

* to an integer column: a digit string whose integer prints back as the same text (``"515"``; not ``"0515"``,
  ``"+5"`` or ``"5.0"``), an integral float (``12.0``), both within the column's range;
* to a float column: the same digit strings (below 2**53, exact as floats);
* to a boolean column: ``0``/``1`` and ``"true"``/``"false"``;
* to a string column: a number, as its JSON text (``515`` -> ``"515"``);
* to a list of objects: one lone object of the item's shape (a one-element list).

Nothing else is coerced: a fractional value in an integer column, text that is not a whole number, a boolean,
an object or a list where the docs say a scalar, unknown keys in an object, a time that does not parse... are
mismatches (the caller rescues the whole top-level value, or fails, by its policy). Values that fit as
documented are never counted: an integer in a float column, any JSON value in a ``json_text`` column (an object
whose keys are data, kept as its JSON text).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pyarrow as pa

from airflow_provider_comagic.utils.arrow_fields import JSON_TEXT

__all__ = ["Coerced", "Mismatch", "check_value", "describe_type", "json_kind"]

_EXACT_FLOAT_INTEGERS = 2**53
_INT_TEXT = re.compile(r"-?[0-9]+")
_BOOL_TEXT = {"true": True, "false": False}

Coerced = list[tuple[str, str, str, Any]]
"""Where a check appends ``(path, documented type, kind that arrived, the value as it arrived)`` for each coercion
it made."""


class Mismatch(Exception):
    """``value`` at ``path`` does not fit the documented type (``arrived`` names what came instead)."""

    def __init__(self, path: str, arrived: str, value: Any):
        super().__init__(f"{path}: {arrived}")
        self.path = path
        self.arrived = arrived
        self.value = value


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded value: ``null``, ``boolean``, ``integer``, ``float``, ``string``, ``object``,
    ``array``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def describe_type(kind: pa.DataType) -> str:
    """A short name of a documented Arrow type for drift records: ``int64``, ``string``, ``timestamp``,
    ``list<struct>``..."""
    if pa.types.is_timestamp(kind):
        return "timestamp"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{describe_type(kind.value_type)}>"
    if pa.types.is_struct(kind):
        return "struct"
    return str(kind)


def _int_range(kind: pa.DataType) -> range:
    bits = kind.bit_width
    signed = pa.types.is_signed_integer(kind)
    return range(-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else range(0, 2**bits)


def _coerced(
    value: Any, kind: pa.DataType, path: str, coerced: Coerced | None, converted: Any, arrived: str | None = None
) -> Any:
    """Record a coercion (or refuse it: ``coerced`` is None when the policy allows none). ``arrived`` names what
    came, finer than its JSON kind (``digit string``): a record then never mixes coerced and rescued values."""
    if coerced is None:
        raise Mismatch(path, json_kind(value), value)
    coerced.append((path, describe_type(kind), arrived or json_kind(value), value))
    return converted


def _integer(value: Any, kind: pa.DataType, path: str, coerced: Coerced | None) -> Any:
    kind_of = type(value)
    if kind_of is int:
        if value in _int_range(kind):
            return value
    elif kind_of is float:
        if value.is_integer() and int(value) in _int_range(kind):
            return _coerced(value, kind, path, coerced, int(value), "integral float")
    elif kind_of is str and _INT_TEXT.fullmatch(value) and str(int(value)) == value:
        if int(value) in _int_range(kind):
            return _coerced(value, kind, path, coerced, int(value), "digit string")
    raise Mismatch(path, json_kind(value), value)


def _floating(value: Any, kind: pa.DataType, path: str, coerced: Coerced | None) -> Any:
    kind_of = type(value)
    if kind_of is float or (kind_of is int and abs(value) < _EXACT_FLOAT_INTEGERS):
        return value
    if kind_of is str and _INT_TEXT.fullmatch(value) and str(int(value)) == value:
        if abs(int(value)) < _EXACT_FLOAT_INTEGERS:
            return _coerced(value, kind, path, coerced, int(value), "digit string")
    raise Mismatch(path, json_kind(value), value)


def _boolean(value: Any, path: str, coerced: Coerced | None) -> Any:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return _coerced(value, pa.bool_(), path, coerced, bool(value), "integer 0/1")
    if type(value) is str and value in _BOOL_TEXT:
        return _coerced(value, pa.bool_(), path, coerced, _BOOL_TEXT[value], "boolean string")
    raise Mismatch(path, json_kind(value), value)


def _string(value: Any, field: pa.Field, path: str, coerced: Coerced | None) -> Any:
    if type(value) is str:
        return value
    if (field.metadata or {}).get(JSON_TEXT) == b"1":
        return orjson.dumps(value).decode()  # documented: any JSON value, kept as its text
    if type(value) in (int, float):
        return _coerced(value, field.type, path, coerced, orjson.dumps(value).decode())
    raise Mismatch(path, json_kind(value), value)


def _temporal(value: Any, field: pa.Field, path: str) -> Any:
    from airflow_provider_comagic.landing.arrow import RowConversionError, convert_values

    if type(value) is str:
        try:
            convert_values([value], field, path)
        except (RowConversionError, pa.ArrowException, ValueError):
            pass
        else:
            return value
    raise Mismatch(path, json_kind(value), value)


def _struct(value: Any, field: pa.Field, path: str, coerced: Coerced | None) -> Any:
    if not isinstance(value, dict):
        raise Mismatch(path, json_kind(value), value)
    kind: pa.StructType = field.type
    children = {kind.field(i).name: kind.field(i) for i in range(kind.num_fields)}
    unknown = [key for key in value if key not in children]
    if unknown:
        raise Mismatch(f"{path}.{unknown[0]}", "unknown key", value)
    out = None
    for key, item in value.items():
        if item is None:
            continue
        checked = check_value(item, children[key], f"{path}.{key}", coerced)
        if checked is not item:
            out = dict(value) if out is None else out
            out[key] = checked
    return value if out is None else out


def _list(value: Any, field: pa.Field, path: str, coerced: Coerced | None) -> Any:
    item_field = field.type.value_field
    if isinstance(value, dict) and pa.types.is_struct(item_field.type):
        one = _struct(value, item_field, f"{path}[]", coerced)
        return _coerced(value, field.type, path, coerced, [one], "lone object")
    if not isinstance(value, list):
        raise Mismatch(path, json_kind(value), value)
    out = None
    for position, item in enumerate(value):
        if item is None:
            continue
        checked = check_value(item, item_field, f"{path}[]", coerced)
        if checked is not item:
            out = list(value) if out is None else out
            out[position] = checked
    return value if out is None else out


def check_value(value: Any, field: pa.Field, path: str, coerced: Coerced | None) -> Any:
    """The value to store for ``value`` (not None) in a column of ``field``; a coercion is appended to
    ``coerced`` as ``(path, kind that arrived)`` (``coerced=None``: no coercion allowed, a mismatch instead).
    Raises :class:`Mismatch` for a value that does not fit."""
    kind = field.type
    if pa.types.is_integer(kind):
        return _integer(value, kind, path, coerced)
    if pa.types.is_floating(kind):
        return _floating(value, kind, path, coerced)
    if pa.types.is_boolean(kind):
        return _boolean(value, path, coerced)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _string(value, field, path, coerced)
    if pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
        return _temporal(value, field, path)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list(value, field, path, coerced)
    if pa.types.is_struct(kind):
        return _struct(value, field, path, coerced)
    return value
