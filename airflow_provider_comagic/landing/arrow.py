"""Pages of JSON row dicts -> Arrow record batches of a fixed schema, column-wise and never lossy.

Generic: driven by the Arrow schema alone (nothing API-specific), so every landing writer can use it.

Rules, per Arrow type of a column (what the docs promise; anything else raises: the drift rules of
:mod:`~airflow_provider_comagic.landing.coercion` decide what is coerced, counted or rescued instead):

* integers: values must be JSON integers within the type's range; ``2.5``, ``3.0``, ``true`` or ``"7"`` raise.
* floats: JSON numbers; integers beyond 2**53 (not exactly representable) and booleans raise.
* booleans: JSON booleans only.
* strings: JSON strings only; a field whose metadata says ``json_text`` (an object whose keys are data) takes any
  JSON value and stores its JSON text.
* timestamps: strings parsed with the field metadata ``source_format`` (strptime, default
  ``%Y-%m-%d %H:%M:%S``) as wall-clock times in ``source_timezone`` (default: the type's zone, else UTC);
  ambiguous wall-clock times of a DST fall-back resolve to the earlier instant, impossible ones raise, and so do
  dates that do not exist (``2024-02-30``, which strptime alone would roll over to March 1st).
* date32: ``YYYY-MM-DD`` strings.
* lists and structs: recursively, with the same rules for their items and children. A key that the schema
  does not have raises (a silently dropped field would be data loss).

Every failure raises :class:`RowConversionError` naming the column and showing an offending value.

Pages kept as JSON Lines bytes go through Arrow's C++ JSON reader (:func:`read_json_lines`), which is several
times faster and gives the same batch under the same rules; a page it cannot read (a value that breaks a rule, a
``json_text`` object, a float column reaching 2**53, where an integer may have been rounded...) is decoded and
converted by :func:`rows_to_batch` (:func:`json_lines_to_table`), so the rules above hold on both paths.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from airflow_provider_comagic.utils.arrow_fields import DEFAULT_TIME_FORMAT, JSON_TEXT, SOURCE_FORMAT, SOURCE_TIMEZONE

__all__ = [
    "RowConversionError",
    "convert_values",
    "json_lines_to_batch",
    "json_lines_to_table",
    "read_json_lines",
    "row_columns",
    "rows_to_batch",
]

_EXACT_FLOAT_INTEGERS = 2**53  # every integer below is exact in float64
_LIST_OR_NULL = frozenset({list, type(None)})
_JSON_BLOCK_SIZE = 4 * 2**20  # Arrow parses blocks in parallel; a block must hold whole rows (~4 KB each)


@functools.cache
def page_memory_pool() -> pa.MemoryPool:
    """The Arrow memory pool pages of JSON Lines are converted in: jemalloc's (or the system's without it),
    unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses one.

    Arrow's default mimalloc pool keeps what the JSON reader's threads freed (~60 MiB over a day of 1.3 KB
    rows, measured); jemalloc hands it back, so a landing's peak memory stays at about a page's worth.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool()
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return pa.system_memory_pool()


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


def json_lines_to_batch(lines: bytes, rows: int, schema: pa.Schema) -> pa.RecordBatch:
    """Convert ``rows`` rows given as JSON Lines (one object per line) to a record batch of ``schema``.

    Arrow's JSON reader parses the lines with the schema as its explicit schema (wall-clock times read as
    strings, then parsed as :func:`rows_to_batch` parses them); when it rejects the page, the page is decoded
    and converted by :func:`rows_to_batch`, which applies the module's rules or raises naming the column.
    """
    table = json_lines_to_table(lines, rows, schema)
    return table.combine_chunks(page_memory_pool()).to_batches()[0] if table.num_rows else rows_to_batch([], schema)


def json_lines_to_table(lines: bytes, rows: int, schema: pa.Schema) -> pa.Table:
    """:func:`json_lines_to_batch` without joining the reader's chunks: a table of ``schema`` whose columns are
    the blocks Arrow's JSON reader parsed in parallel (what a Parquet writer takes as is; a copy saved)."""
    if rows == 0:
        return pa.Table.from_batches([rows_to_batch([], schema)])
    table = read_json_lines(lines, rows, schema)
    if table is not None:
        return table
    # the rules decide: convert what they allow, raise naming the column otherwise
    batch = rows_to_batch([orjson.loads(line) for line in lines.split(b"\n")[:-1]], schema)
    return pa.Table.from_batches([batch])


def read_json_lines(lines: bytes, rows: int, schema: pa.Schema) -> pa.Table | None:
    """``rows`` rows of JSON Lines as a table of ``schema`` read by Arrow's C++ JSON reader (in
    :func:`page_memory_pool`), or None when the reader rejects the page (a value it cannot read under the
    module's rules, a key the schema lacks, a float column that may hold a rounded integer)."""
    pool = page_memory_pool()
    try:
        table = pa_json.read_json(
            pa.BufferReader(lines),
            read_options=pa_json.ReadOptions(block_size=max(_JSON_BLOCK_SIZE, len(lines) // 16)),
            parse_options=pa_json.ParseOptions(
                explicit_schema=_reading_schema(schema), unexpected_field_behavior="error"
            ),
            memory_pool=pool,
        )
        if table.num_rows != rows:
            return None
        columns = [
            pa.chunked_array([_finish(chunk, field, pool) for chunk in table.column(i).chunks], type=field.type)
            for i, field in enumerate(schema)
        ]
        del table  # the parsed strings of the time columns, before the next page's
        return pa.Table.from_arrays(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) or pa.types.is_date32(kind)


def _needs_finish(kind: pa.DataType) -> bool:
    """Whether ``kind`` holds a temporal type (read as strings) or a float type (checked) to finish."""
    if _is_temporal(kind) or pa.types.is_floating(kind):
        return True
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _needs_finish(kind.value_type)
    if pa.types.is_struct(kind):
        return any(_needs_finish(kind.field(i).type) for i in range(kind.num_fields))
    return False


def _reading_type(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every temporal type replaced by ``string`` (the JSON text, parsed afterwards)."""
    if _is_temporal(kind):
        return pa.string()
    if pa.types.is_list(kind):
        return pa.list_(kind.value_field.with_type(_reading_type(kind.value_type)))
    if pa.types.is_large_list(kind):
        return pa.large_list(kind.value_field.with_type(_reading_type(kind.value_type)))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_reading_type(f.type)) for f in (kind.field(i) for i in range(kind.num_fields))])
    return kind


def _reading_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([field.with_type(_reading_type(field.type)) for field in schema])


def _finish(array: pa.Array, field: pa.Field, pool: pa.MemoryPool | None = None) -> pa.Array:
    """Turn the strings the JSON reader left in temporal columns (nested ones included) into their type; raise
    ``ArrowInvalid`` for a float column the reader may have rounded (the caller then converts the rows).
    New buffers come from ``pool`` (default: Arrow's default pool)."""
    kind = field.type
    if not _needs_finish(kind):
        return array
    if pa.types.is_floating(kind):
        top = pc.max(pc.abs(array)).as_py()
        if top is not None and top >= _EXACT_FLOAT_INTEGERS:  # an integer there may have been rounded
            raise pa.ArrowInvalid(f"{field.name}: a value of {top} may be an integer rounded by the JSON reader")
        return array
    if pa.types.is_timestamp(kind):
        return _parse_times(array, field, pool)
    if pa.types.is_date32(kind):
        return array.cast(kind, memory_pool=pool)
    mask = pc.is_null(array, memory_pool=pool) if array.null_count else None
    if pa.types.is_struct(kind):
        children = [kind.field(i) for i in range(kind.num_fields)]
        flat = array.flatten(memory_pool=pool)
        arrays = [_finish(child_array, child, pool) for child_array, child in zip(flat, children, strict=True)]
        return pa.StructArray.from_arrays(arrays, fields=children, mask=mask, memory_pool=pool)
    list_cls = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
    values = _finish(array.values, kind.value_field, pool)
    return list_cls.from_arrays(array.offsets, values, type=kind, mask=mask, pool=pool)


def row_columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Sequence[Any]]:
    """The values of each of ``names`` in ``rows`` (None where a row lacks the key), transposed fast."""
    return _columns(rows, names)


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


def convert_values(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    """One column's values as an Arrow array of ``field`` under the module's rules (``path`` names the column in
    a :class:`RowConversionError`)."""
    return _convert(values, field, path)


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
            return _strings(values, field, path)
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
    # typed conversion would truncate 2.5 to 2 silently: infer first (3.0 infers a float: not an integer), then
    # cast safely (checks the range)
    inferred = pa.array(values)
    if not (pa.types.is_integer(inferred.type) or pa.types.is_null(inferred.type)):
        raise RowConversionError(f"column {path!r} ({kind}) got {inferred.type} values, e.g. {_sample(values)!r}")
    return inferred.cast(kind, safe=True)


def _floats(values: Sequence[Any], kind: pa.DataType, path: str) -> pa.Array:
    inferred = pa.array(values)  # a typed conversion would turn true into 1.0
    if pa.types.is_floating(inferred.type) and any(value is True or value is False for value in values):
        # inference after a float takes a boolean as 0.0 or 1.0 ([1.5, False] -> double): refused, as a bool alone is
        raise RowConversionError(f"column {path!r} ({kind}) got a boolean, e.g. {_sample(values)!r}")
    if not (
        pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type) or pa.types.is_null(inferred.type)
    ):
        raise RowConversionError(f"column {path!r} ({kind}) got {inferred.type} values, e.g. {_sample(values)!r}")
    return inferred.cast(kind, safe=True)


def _strings(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if (field.metadata or {}).get(JSON_TEXT) != b"1":
            raise RowConversionError(
                f"column {path!r} ({field.type}) expects strings, got e.g. {_sample(values)!r}"
            ) from None
        # documented as any JSON value (an object whose keys are data): its JSON text
        dumps = orjson.dumps
        return pa.array(
            [v if v is None or isinstance(v, str) else dumps(v).decode() for v in values],
            type=field.type,
        )


def _strings_only(values: Sequence[Any], path: str) -> pa.Array:
    array = pa.array(values)
    if not (pa.types.is_string(array.type) or pa.types.is_null(array.type)):
        raise RowConversionError(f"column {path!r} expects date/time strings, got {array.type}: {_sample(values)!r}")
    return array.cast(pa.string())


def _timestamps(values: Sequence[Any], field: pa.Field, path: str) -> pa.Array:
    return _parse_times(_strings_only(values, path), field)


def _parse_times(strings: pa.Array, field: pa.Field, pool: pa.MemoryPool | None = None) -> pa.Array:
    """Wall-clock strings in the field's ``source_format``/``source_timezone`` -> the field's timestamp type."""
    kind: pa.TimestampType = field.type
    meta = field.metadata or {}
    fmt = meta.get(SOURCE_FORMAT, DEFAULT_TIME_FORMAT.encode()).decode()
    zone = meta.get(SOURCE_TIMEZONE, (kind.tz or "UTC").encode()).decode()
    if fmt == DEFAULT_TIME_FORMAT:
        _check_calendar(strings, pool)
    parsed = pc.strptime(strings, format=fmt, unit="s", error_is_null=False, memory_pool=pool)
    aware = pc.assume_timezone(parsed, timezone=zone, ambiguous="earliest", nonexistent="raise", memory_pool=pool)
    return aware.cast(kind, safe=True, memory_pool=pool)


def _check_calendar(strings: pa.Array, pool: pa.MemoryPool | None) -> None:
    """Raise ``ArrowInvalid`` for a ``YYYY-MM-DD hh:mm:ss`` that is no real time, which ``strptime`` would roll
    over silently (``2024-02-30`` -> March 1st, second ``60`` -> the next minute): the date part is cast strictly
    (which also refuses digits that are not zero-padded), the seconds compared (~0.7 ms per 10 000 values)."""
    pc.utf8_slice_codeunits(strings, 0, 10, memory_pool=pool).cast(pa.date32(), memory_pool=pool)
    if pc.any(pc.equal(pc.utf8_slice_codeunits(strings, 17, 19, memory_pool=pool), "60")).as_py():
        raise pa.ArrowInvalid("a time with second 60 is no wall-clock time of the API's format")


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
    if not set(map(type, values)) <= _LIST_OR_NULL:
        return None  # Arrow would take a string for a list of its characters: the checked path refuses it
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
    if pa.types.is_floating(inner) and pa.types.is_integer(item):
        return None  # 3.0 in a list of integers: the checked path raises
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
