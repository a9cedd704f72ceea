"""Pages of JSON row dicts -> Arrow record batches of a fixed schema, column-wise and never lossy.

Generic: driven by the Arrow schema alone (nothing API-specific), so every landing writer can use it.

Rules, per Arrow type of a column:

* integers: values must be JSON integers (or integral floats such as ``3.0``); ``2.5``, ``true`` or ``"7"``
  raise. Out-of-range values raise.
* floats: JSON numbers; integers beyond 2**53 (not exactly representable) and booleans raise.
* booleans: JSON booleans only.
* strings: JSON strings; any other JSON value (number, boolean, object, array) is stored as its JSON text, so a
  field documented as a string that comes back as a number loses nothing.
* timestamps: strings parsed with the field metadata ``source_format`` (strptime, default
  ``%Y-%m-%d %H:%M:%S``) as wall-clock times in ``source_timezone`` (default: the type's zone, else UTC);
  ambiguous wall-clock times of a DST fall-back resolve to the earlier instant, impossible ones raise.
* date32: ``YYYY-MM-DD`` strings.
* lists and structs: recursively, with the same rules for their items and children. A key that the schema
  does not have raises (a silently dropped field would be data loss).

Every failure raises :class:`RowConversionError` naming the column and showing an offending value.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

SOURCE_FORMAT = b"source_format"
SOURCE_TIMEZONE = b"source_timezone"
DEFAULT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

__all__ = ["DEFAULT_TIME_FORMAT", "SOURCE_FORMAT", "SOURCE_TIMEZONE", "RowConversionError", "rows_to_batch"]


class RowConversionError(ValueError):
    """A value does not fit the schema's type for its column (raised instead of truncating or dropping)."""


def rows_to_batch(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Convert one page of row dicts to a record batch of ``schema`` (missing keys become nulls)."""
    names = schema.names
    if rows:
        extra = set().union(*rows).difference(names)  # iterating a dict yields its keys, in C
        if extra:
            raise RowConversionError(
                f"rows carry fields the schema does not have: {sorted(extra)}; schema fields: {names}"
            )
    columns = _columns(rows, names)
    arrays = [_convert(columns[field.name], field, field.name) for field in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Sequence[Any]]:
    """Transpose rows to columns; API pages repeat one key order, which zip() transposes in C."""
    if rows and all(type(row) is dict for row in rows):
        orders = set(map(tuple, rows))
        if len(orders) == 1:
            order = orders.pop()
            found = dict(zip(order, zip(*map(dict.values, rows), strict=True), strict=True)) if order else {}
            missing = [None] * len(rows)
            return {name: found.get(name, missing) for name in names}
    return {name: [row.get(name) for row in rows] for name in names}


def _convert(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    kind = field.type
    try:
        if pa.types.is_integer(kind):
            return _integers(values, kind, path)
        if pa.types.is_floating(kind):
            return _floats(values, kind, path)
        if pa.types.is_boolean(kind):
            return pa.array(values, type=kind)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _strings(values, kind)
        if pa.types.is_timestamp(kind):
            return _timestamps(values, field, path)
        if pa.types.is_date32(kind):
            return _strings_only(values, path).cast(kind)
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return _lists(values, field, path)
        if pa.types.is_struct(kind):
            return _structs(values, field, path)
        return pa.array(values, type=kind)
    except RowConversionError:
        raise
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as error:
        raise RowConversionError(f"column {path!r} ({kind}): {error}; e.g. {_sample(values)!r}") from None


def _integers(values: Sequence[Any], kind: pa.DataType, path: str) -> pa.Array:
    # typed conversion would truncate 2.5 to 2 silently: infer first, then cast safely (checks truncation)
    inferred = pa.array(values)
    if not (
        pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type) or pa.types.is_null(inferred.type)
    ):
        raise RowConversionError(f"column {path!r} ({kind}) got {inferred.type} values, e.g. {_sample(values)!r}")
    return inferred.cast(kind, safe=True)


def _floats(values: Sequence[Any], kind: pa.DataType, path: str) -> pa.Array:
    inferred = pa.array(values)  # a typed conversion would turn true into 1.0
    if not (
        pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type) or pa.types.is_null(inferred.type)
    ):
        raise RowConversionError(f"column {path!r} ({kind}) got {inferred.type} values, e.g. {_sample(values)!r}")
    return inferred.cast(kind, safe=True)


def _strings(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # documented as a string but something else came back: keep its JSON text rather than fail or drop it
        dumps = orjson.dumps
        return pa.array(
            [v if v is None or isinstance(v, str) else dumps(v).decode() for v in values],
            type=kind,
        )


def _strings_only(values: Sequence[Any], path: str) -> pa.Array:
    array = pa.array(values)
    if not (pa.types.is_string(array.type) or pa.types.is_null(array.type)):
        raise RowConversionError(f"column {path!r} expects date/time strings, got {array.type}: {_sample(values)!r}")
    return array.cast(pa.string())


def _timestamps(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    kind: pa.TimestampType = field.type
    meta = field.metadata or {}
    fmt = meta.get(SOURCE_FORMAT, DEFAULT_TIME_FORMAT.encode()).decode()
    zone = meta.get(SOURCE_TIMEZONE, (kind.tz or "UTC").encode()).decode()
    parsed = pc.strptime(_strings_only(values, path), format=fmt, unit="s", error_is_null=False)
    aware = pc.assume_timezone(parsed, timezone=zone, ambiguous="earliest", nonexistent="raise")
    return aware.cast(kind, safe=True)


def _lists(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    item_type = field.type.value_type
    if not (pa.types.is_struct(item_type) or pa.types.is_timestamp(item_type) or pa.types.is_date32(item_type)):
        fast = _scalar_lists(values, field.type)  # one C++ pass for lists of plain scalars
        if fast is not None:
            return fast
    offsets = [0]
    mask = []
    items: list[Any] = []
    for value in values:
        if value is None:
            mask.append(True)
        elif type(value) is list or isinstance(value, list | tuple):
            mask.append(False)
            items.extend(value)
        else:
            raise RowConversionError(f"column {path!r} expects a list, got {value!r}")
        offsets.append(len(items))
    child = _convert(items, field.type.value_field, f"{path}[]")
    list_cls = pa.LargeListArray if pa.types.is_large_list(field.type) else pa.ListArray
    offset_type = pa.int64() if list_cls is pa.LargeListArray else pa.int32()
    return list_cls.from_arrays(
        pa.array(offsets, type=offset_type),
        child,
        type=field.type,
        mask=pa.array(mask, type=pa.bool_()) if any(mask) else None,
    )


def _scalar_lists(values: Sequence[Any], kind: pa.DataType) -> pa.Array | None:
    """Lists of numbers/strings/booleans converted by Arrow itself, or None to take the checked slow path."""
    item = kind.value_type
    try:
        if pa.types.is_string(item) or pa.types.is_boolean(item):
            return pa.array(values, type=kind)
        inferred = pa.array(values)  # numbers: infer then cast safely, a typed conversion would truncate
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        return None
    inner = inferred.type.value_type if pa.types.is_list(inferred.type) else None
    if inner is None or not (pa.types.is_integer(inner) or pa.types.is_floating(inner) or pa.types.is_null(inner)):
        return None
    try:
        return inferred.cast(kind, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _structs(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    kind: pa.StructType = field.type
    children = [kind.field(i) for i in range(kind.num_fields)]
    names = {child.name for child in children}
    mask = []
    objects: list[Mapping[str, Any]] = []
    empty: dict[str, Any] = {}
    for value in values:
        if value is None:
            mask.append(True)
            objects.append(empty)
        elif type(value) is dict or isinstance(value, Mapping):
            mask.append(False)
            objects.append(value)
        else:
            raise RowConversionError(f"column {path!r} expects an object, got {value!r}")
    extra = set(itertools.chain.from_iterable(objects)).difference(names)
    if extra:
        raise RowConversionError(f"column {path!r}: objects carry unknown keys {sorted(extra)}; known: {sorted(names)}")
    arrays = [_convert([obj.get(child.name) for obj in objects], child, f"{path}.{child.name}") for child in children]
    return pa.StructArray.from_arrays(
        arrays, fields=children, mask=pa.array(mask, type=pa.bool_()) if any(mask) else None
    )


def _sample(values: Sequence[Any]) -> Any:
    """A value worth showing in an error: the first one that is neither None nor an int."""
    for value in values:
        if value is not None and type(value) is not int:
            return value
    return next((v for v in values if v is not None), None)
