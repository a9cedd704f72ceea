"""Drift faults: rows whose values do not match the API's docs, as a real API sends them now and then.

A drift fault names a ``field`` (top level) and the ``fraction`` of rows it changes; which rows is decided by a
hash of the seed, the kind, the field and the row's key (``id``, ``callid``...), so every call and ``truth()``
change the same rows, whatever fields a request asks for. A row whose value is not of the kind a fault changes
(a null, an empty list) stays as it is. Both emulators apply them to the rows they serve and to their truth::

    emu.faults.add("drift_number_as_string", field="talk_duration", fraction=0.01)
    emu.faults.add("drift_new_field", field="surprise", fraction=1.0, method="get.calls_report")

CLI (both emulators): ``--fault drift_number_as_string:0.01@get.calls_report/talk_duration`` (the number is the
fraction of rows; ``@method`` optional; ``/field`` required).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

__all__ = ["DRIFT_KINDS", "drift_row", "drift_rows", "drifted_bytes"]

DRIFT_KINDS: dict[str, str] = {
    "drift_number_as_string": "an integer sent as its digits in a string (515 -> '515'); coerced",
    "drift_bool_as_int": "a boolean sent as 0/1; coerced",
    "drift_bool_as_string": "a boolean sent as 'true'/'false'; coerced",
    "drift_integral_float": "an integer sent as a float (12 -> 12.0); coerced",
    "drift_number_for_string": "a string of digits sent as a number ('643' -> 643); coerced",
    "drift_object_for_array": "a non-empty list of objects sent as its first object alone; coerced (one-element list)",
    "drift_fractional_int": "an integer made fractional (12 -> 12.5); rescued",
    "drift_text_for_number": "a number sent as text that is no number ('n/a'); rescued",
    "drift_unknown_enum": "a string replaced by a value the docs do not list; lands, counted as unlisted",
    "drift_new_field": "a field the docs do not list added (`field` is its name; an integer); rescued or a new column",
}
UNKNOWN_ENUM_VALUE = "undocumented_value"


def _number_as_string(value: Any) -> Any:
    return str(value) if type(value) is int else None


def _bool_as_int(value: Any) -> Any:
    return int(value) if type(value) is bool else None


def _bool_as_string(value: Any) -> Any:
    return ("true" if value else "false") if type(value) is bool else None


def _integral_float(value: Any) -> Any:
    return float(value) if type(value) is int and abs(value) < 2**53 else None


def _number_for_string(value: Any) -> Any:
    return int(value) if type(value) is str and value.isdigit() and str(int(value)) == value else None


def _object_for_array(value: Any) -> Any:
    return value[0] if type(value) is list and value and isinstance(value[0], dict) else None


def _fractional_int(value: Any) -> Any:
    return value + 0.5 if type(value) is int and abs(value) < 2**52 else None


def _text_for_number(value: Any) -> Any:
    return "n/a" if type(value) in (int, float) else None


def _unknown_enum(value: Any) -> Any:
    return UNKNOWN_ENUM_VALUE if type(value) is str else None


# kind -> the drifted value (None: this value is not of the kind the fault changes)
_CHANGES: dict[str, Callable[[Any], Any]] = {
    "drift_number_as_string": _number_as_string,
    "drift_bool_as_int": _bool_as_int,
    "drift_bool_as_string": _bool_as_string,
    "drift_integral_float": _integral_float,
    "drift_number_for_string": _number_for_string,
    "drift_object_for_array": _object_for_array,
    "drift_fractional_int": _fractional_int,
    "drift_text_for_number": _text_for_number,
    "drift_unknown_enum": _unknown_enum,
}


def _draw(seed: int, fault: Any, identity: bytes) -> int:
    digest = hashlib.blake2b(f"{seed}|{fault.kind}|{fault.field}|".encode() + identity, digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _identity(row: Mapping[str, Any], key: Sequence[str]) -> bytes:
    if key and all(name in row for name in key):
        return orjson.dumps([row[name] for name in key])
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def drift_row(row: dict[str, Any], faults: Iterable[Any], *, seed: int, key: Sequence[str]) -> bool:
    """Apply the drift ``faults`` to ``row`` in place (each to its share of rows); whether anything changed."""
    changed = False
    identity = None
    for fault in faults:
        if fault.field is None:
            continue
        identity = identity if identity is not None else _identity(row, key)
        draw = _draw(seed, fault, identity)
        if draw >= fault.fraction * 2**64:
            continue
        if fault.kind == "drift_new_field":
            if fault.field not in row:
                row[fault.field] = draw % 1000
                changed = True
            continue
        if fault.field not in row:
            continue
        value = _CHANGES[fault.kind](row[fault.field])
        if value is not None:
            row[fault.field] = value
            changed = True
    return changed


def drift_rows(rows: Iterable[dict[str, Any]], faults: Sequence[Any], *, seed: int, key: Sequence[str]) -> None:
    """:func:`drift_row` on every row (dicts, changed in place)."""
    if faults:
        for row in rows:
            drift_row(row, faults, seed=seed, key=key)


def drifted_bytes(rows: Sequence[bytes], faults: Sequence[Any], *, seed: int, key: Sequence[str]) -> list[bytes]:
    """Serialized rows with the drift ``faults`` applied (rows no fault changes keep their bytes)."""
    if not faults:
        return list(rows)
    out = []
    for raw in rows:
        row = orjson.loads(raw)
        out.append(orjson.dumps(row) if drift_row(row, faults, seed=seed, key=key) else raw)
    return out
