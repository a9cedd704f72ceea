"""Pages of rows -> Arrow tables of a partition's documented schema, under its drift policy.

:class:`SchemaGuard` types every page of one partition: the documented columns (the vendor's schema), the new
columns of ``schema_evolution``, and the rescue column :data:`~airflow_provider_comagic.landing.drift.RESCUED_COLUMN`.

The happy path stays what it was: a page of JSON Lines is read by Arrow's C++ JSON reader with the documented
schema (:func:`~airflow_provider_comagic.landing.arrow.read_json_lines`); when it reads, no value drifted. Only a
page the reader rejects goes further:

1. its lines are checked one by one against the documented types by msgspec (in C, no value kept) to find the
   offending rows;
2. the other rows (most of the page) are read by Arrow's reader again, the offending ones are decoded and judged
   value by value (:mod:`~airflow_provider_comagic.landing.coercion`): coerced (counted), or rescued into the
   rescue column exactly as the API sent them (their typed column null), or the task fails, by the policy;
3. both parts are put back in the page's order.

A page whose lines all pass the check but which Arrow still rejects (a float column reaching 2**53, an integer
past the column's range, a time that does not parse) is decoded and judged whole, column by column: a column
that converts as documented costs one Arrow call, only a failing column is judged value by value. Rows given as
dicts (the MCN call log) take that path directly.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_comagic.exceptions import SchemaDriftError
from airflow_provider_comagic.landing.arrow import (
    RowConversionError,
    convert_values,
    read_json_lines,
    row_columns,
)
from airflow_provider_comagic.landing.coercion import Coerced, Mismatch, check_value, describe_type, json_kind
from airflow_provider_comagic.landing.drift import NOT_DOCUMENTED, RESCUED_COLUMN, UNLISTED, DriftPolicy, DriftTally
from airflow_provider_comagic.utils.arrow_fields import ENUM_VALUES, JSON_TEXT, SENSITIVE

__all__ = ["SchemaGuard", "rescued_field", "with_rescued_column"]

_MOST_BAD_LINES = 0.25  # past this share of offending rows a page is judged whole (one decode instead of two)
_RAW_ROW = msgspec.json.Decoder(dict[str, msgspec.Raw])
_REFUSED = (RowConversionError, pa.ArrowException, ValueError, TypeError, OverflowError)


def rescued_field() -> pa.Field:
    """The rescue column: JSON text (``json_text``), described for readers of the schema."""
    description = b"Values that did not match the documented type, as a JSON object of field -> value as sent"
    return pa.field(RESCUED_COLUMN, pa.string(), nullable=True, metadata={b"description": description, JSON_TEXT: b"1"})


def with_rescued_column(schema: pa.Schema) -> pa.Schema:
    """``schema`` with the rescue column last (once)."""
    if RESCUED_COLUMN in schema.names:
        return schema
    return schema.append(rescued_field())


def _documented(schema: pa.Schema) -> pa.Schema:
    if RESCUED_COLUMN not in schema.names:
        return schema
    return schema.remove(schema.get_field_index(RESCUED_COLUMN))


def _is_sensitive(field: pa.Field) -> bool:
    return (field.metadata or {}).get(SENSITIVE) == b"1"


class _Check:
    """msgspec types mirroring what Arrow's JSON reader accepts for each documented column (strict, nullable, no
    unknown key): a line that decodes into them is a line the reader takes."""

    def __init__(self) -> None:
        self.count = itertools.count()

    def type_of(self, field: pa.Field) -> Any:
        kind = field.type
        if pa.types.is_integer(kind):
            return int
        if pa.types.is_floating(kind):
            return float
        if pa.types.is_boolean(kind):
            return bool
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return msgspec.Raw if (field.metadata or {}).get(JSON_TEXT) == b"1" else str
        if pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
            return str  # read as text, then parsed
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return list[typing.Optional[self.type_of(kind.value_field)]]  # noqa: UP045 - a runtime type object
        if pa.types.is_struct(kind):
            return self.struct([kind.field(i) for i in range(kind.num_fields)])
        return msgspec.Raw

    def struct(self, fields: Sequence[pa.Field]) -> Any:
        names = [f"f{i}" for i in range(len(fields))]  # any field name, even one that is no identifier
        return msgspec.defstruct(
            f"Row{next(self.count)}",
            [(name, typing.Optional[self.type_of(field)], None) for name, field in zip(names, fields, strict=True)],  # noqa: UP045
            rename=dict(zip(names, [f.name for f in fields], strict=True)),
            forbid_unknown_fields=True,
        )


class SchemaGuard:
    """Types the pages of one partition under a :class:`~airflow_provider_comagic.landing.drift.DriftPolicy`,
    counting what drifted in :attr:`tally` (see the module docstring).

    :param schema: the documented schema (a rescue column in it is ignored: it is added last).
    :param policy: the drift policy (default: rescue, 5 %, no schema evolution).
    :param tally: the tally to continue (a resumed partition).
    :param added: new columns earlier pages added (``schema_evolution``; a resumed partition).

    :attr:`schema` is the schema of the tables it returns; it grows when ``schema_evolution`` adds a column.
    """

    def __init__(
        self,
        schema: pa.Schema,
        policy: DriftPolicy | None = None,
        tally: DriftTally | None = None,
        added: Sequence[str] = (),
    ):
        self.policy = policy or DriftPolicy()
        self.tally = tally or DriftTally()
        self.documented = _documented(schema)
        self.added = [name for name in added if name not in self.documented.names]
        self._build()

    def _build(self) -> None:
        new = [pa.field(name, pa.string(), metadata={JSON_TEXT: b"1"}) for name in self.added]
        self.typed = pa.schema([*self.documented, *new], metadata=self.documented.metadata)
        self.schema = self.typed.append(rescued_field())
        self._decoder: msgspec.json.Decoder | None = None
        self._enums = [
            (field.name, pa.array(orjson.loads(field.metadata[ENUM_VALUES]), pa.string()))
            for field in self.documented
            if (field.metadata or {}).get(ENUM_VALUES) and pa.types.is_string(field.type)
        ]

    def state(self) -> dict[str, Any]:
        """Plain JSON to continue the partition later (the tally and the columns added)."""
        return {"tally": self.tally.to_json(), "added": list(self.added)}

    # -- pages ----------------------------------------------------------------------------------------------
    def from_lines(self, data: bytes, rows: int) -> pa.Table:
        """A page of ``rows`` JSON Lines (as the API sent them) as a table of :attr:`schema`."""
        if rows == 0:
            return self.schema.empty_table()
        table = read_json_lines(data, rows, self.typed)
        if table is not None:
            return self._finished(table, None)
        lines = _line_views(data)
        bad = self._offending(lines)
        if bad and len(bad) <= _MOST_BAD_LINES * len(lines):
            bad_set = set(bad)
            good = [i for i in range(len(lines)) if i not in bad_set]
            offending = [bytes(lines[i]) for i in bad]
            others = _without(data, lines, bad)  # the one copy of the page this path makes
            table = read_json_lines(others, len(good), self.typed)
            del others
            if table is not None:
                judged = self._judged([orjson.loads(line) for line in offending], offending)
                merged = pa.concat_tables([self._finished(table, None), judged])
                return merged.take(pc.sort_indices(pa.array(good + bad, pa.int64())))
        return self._judged([orjson.loads(line) for line in lines], lines)

    def from_dicts(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        """A page of row dicts as a table of :attr:`schema`."""
        if not rows:
            return self.schema.empty_table()
        return self._judged(rows, None)

    def _offending(self, lines: Sequence[bytes | memoryview]) -> list[int]:
        """The positions of lines whose values Arrow's reader cannot take as documented."""
        if self._decoder is None:
            self._decoder = msgspec.json.Decoder(_Check().struct(list(self.typed)))
        decode = self._decoder.decode
        bad = []
        for position, line in enumerate(lines):
            try:
                decode(line)
            except msgspec.ValidationError:
                bad.append(position)
        return bad

    def _finished(self, table: pa.Table, rescued: pa.Array | None) -> pa.Table:
        """``table`` (of the typed columns, maybe before a column was added) with the enum values the docs do not
        list counted, the columns added since filled with nulls, and the rescue column."""
        for name, listed in self._enums:
            column = table.column(name)
            outside = pc.and_kleene(pc.invert(pc.is_in(column, value_set=listed)), pc.is_valid(column))
            count = pc.sum(outside).as_py() or 0
            if count:
                example = pc.filter(column, outside)[0].as_py()
                field = self.documented.field(name)
                self.tally.count("unlisted", name, "enum", UNLISTED, example, sensitive=_is_sensitive(field), n=count)
        n = table.num_rows
        columns = [
            table.column(name) if name in table.column_names else pa.nulls(n, field.type)
            for name, field in zip(self.typed.names, self.typed, strict=True)
        ]
        columns.append(rescued if rescued is not None else pa.nulls(n, pa.string()))
        return pa.Table.from_arrays(columns, schema=self.schema)

    # -- judging rows value by value ------------------------------------------------------------------------
    def _judged(self, rows: Sequence[Mapping[str, Any]], lines: Sequence[bytes | memoryview] | None) -> pa.Table:
        """Rows converted column by column, a failing column judged value by value; unknown fields rescued, added
        as columns or refused. ``lines``: the rows as sent (the rescue column then copies their exact text)."""
        rescued: dict[int, list[str]] = {}
        self._unknown_fields(rows, rescued)
        columns = row_columns(rows, self.typed.names)
        arrays = [self._column(columns[field.name], field, rescued) for field in self.typed]
        texts: list[str | None] = [None] * len(rows)
        for position, keys in rescued.items():
            texts[position] = self._rescued_text(rows[position], keys, lines[position] if lines is not None else None)
        self.tally.rescued_rows += len(rescued)
        table = pa.Table.from_arrays(arrays, schema=self.typed)
        return self._finished(table, pa.array(texts, pa.string()))

    def _unknown_fields(self, rows: Sequence[Mapping[str, Any]], rescued: dict[int, list[str]]) -> None:
        extra = set().union(*rows).difference(self.typed.names)  # iterating a dict yields its keys, in C
        if not extra:
            return
        unknown = [key for key in dict.fromkeys(itertools.chain.from_iterable(rows)) if key in extra]
        for key in unknown:
            present = [(i, row[key]) for i, row in enumerate(rows) if row.get(key) is not None]
            if not present:
                continue  # a null of an unknown field holds nothing to keep
            arrived = json_kind(present[0][1])
            if self.policy.schema_evolution:
                self.added.append(key)
                self._build()
                self.tally.count("added", key, NOT_DOCUMENTED, arrived, present[0][1], n=len(present))
                continue
            if self.policy.on_type_mismatch != "rescue":
                raise SchemaDriftError(
                    f"Schema drift: the rows carry a field the docs do not list, {key!r} (e.g. "
                    f"{self._example(key, present[0][1])!r}); on_type_mismatch={self.policy.on_type_mismatch!r} "
                    "keeps no rescue column. Use on_type_mismatch='rescue' (the field goes to _rescued) or "
                    "schema_evolution=True (it becomes a new column). Nothing was committed.",
                    column=key,
                )
            for position, value in present:
                rescued.setdefault(position, []).append(key)
                self.tally.count("rescued", key, NOT_DOCUMENTED, json_kind(value), value)

    def _column(self, values: Sequence[Any], field: pa.Field, rescued: dict[int, list[str]]) -> pa.Array:
        try:
            return convert_values(values, field, field.name)  # every value as documented: one Arrow call
        except _REFUSED:
            pass
        cleaned = list(values)
        allow = self.policy.on_type_mismatch != "fail"
        sensitive = _is_sensitive(field)
        for position, value in enumerate(values):
            if value is None:
                continue
            coerced: Coerced | None = [] if allow else None
            try:
                cleaned[position] = check_value(value, field, field.name, coerced)
            except Mismatch as mismatch:
                self._mismatch(field, mismatch, value, position, rescued)
                cleaned[position] = None
                continue
            for path, documented, arrived, original in coerced or ():
                self.tally.count("coerced", path, documented, arrived, original, sensitive=sensitive)
        try:
            return convert_values(cleaned, field, field.name)
        except _REFUSED:  # the rules let through what Arrow refuses (a time a DST change skipped...)
            for position, value in enumerate(cleaned):
                if value is not None and not _converts(value, field):
                    self._mismatch(
                        field, Mismatch(field.name, json_kind(value), value), values[position], position, rescued
                    )
                    cleaned[position] = None
            return convert_values(cleaned, field, field.name)

    def _mismatch(
        self, field: pa.Field, mismatch: Mismatch, value: Any, position: int, rescued: dict[int, list[str]]
    ) -> None:
        """Rescue the top-level ``value`` of ``field`` (or fail, by the policy)."""
        documented = describe_type(field.type)
        arrived = mismatch.arrived if mismatch.path == field.name else f"{mismatch.path}: {mismatch.arrived}"
        policy = self.policy.on_type_mismatch
        if policy != "rescue":
            raise SchemaDriftError(
                f"Schema drift: a value of {field.name} (documented {documented}) arrived as {arrived} (e.g. "
                f"{self._example(field.name, value, field)!r}); on_type_mismatch={policy!r} fails on it. Use "
                "on_type_mismatch='rescue' to land it in _rescued (its column null). Nothing was committed.",
                column=field.name,
            )
        rescued.setdefault(position, []).append(field.name)
        self.tally.count("rescued", field.name, documented, arrived, value, sensitive=_is_sensitive(field))

    @staticmethod
    def _example(name: str, value: Any, field: pa.Field | None = None) -> Any:
        from airflow_provider_comagic.landing.masking import mask_example

        return mask_example(name, value, sensitive=field is not None and _is_sensitive(field))

    @staticmethod
    def _rescued_text(row: Mapping[str, Any], keys: list[str], line: bytes | memoryview | None) -> str:
        """The rescued fields of a row as a JSON object, in the row's order, each value exactly as sent."""
        wanted = set(keys)
        ordered = [key for key in row if key in wanted]
        if line is None:
            return orjson.dumps({key: row[key] for key in ordered}).decode()
        raw = _RAW_ROW.decode(line)
        return "{" + ",".join(orjson.dumps(key).decode() + ":" + bytes(raw[key]).decode() for key in ordered) + "}"


def _line_views(data: bytes) -> list[memoryview]:
    """The lines of a page of JSON Lines as views into it (no copy; each without its newline)."""
    view, find = memoryview(data), data.find
    lines, start = [], 0
    while (end := find(b"\n", start)) >= 0:
        lines.append(view[start:end])
        start = end + 1
    return lines


def _without(data: bytes, lines: Sequence[bytes | memoryview], skipped: Sequence[int]) -> bytes:
    """``data`` (the JSON Lines of ``lines``) without the lines at the positions ``skipped`` (ascending): the runs
    between them copied once, as slices of the page."""
    starts = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    view = memoryview(data)
    runs, start = [], 0
    for position in skipped:
        runs.append(view[starts[start] : starts[position]])
        start = position + 1
    runs.append(view[starts[start] :])
    return b"".join(runs)


def _converts(value: Any, field: pa.Field) -> bool:
    try:
        convert_values([value], field, field.name)
    except _REFUSED:
        return False
    return True
