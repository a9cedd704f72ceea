"""How the paging engine reads a page: each row's key, time and sort values, from dicts or from undecoded rows
(``msgspec.Raw``, of which only those fields are decoded)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import msgspec

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError

__all__ = ["Page", "RowReader", "key_getter", "keys_in", "keys_out", "with_required_fields"]


def with_required_fields(fields: Sequence[str] | None, required: Sequence[str]) -> list[str] | None:
    """``fields`` with ``required`` appended where missing (None stays None: the method's default fields)."""
    if fields is None:
        return None
    return list(dict.fromkeys([*fields, *required]))


def keys_out(keys: set[Hashable]) -> list[Any]:
    """Row keys as JSON values (a composite key's tuple becomes a list)."""
    return [list(key) if isinstance(key, tuple) else key for key in keys]


def keys_in(values: Sequence[Any]) -> set[Hashable]:
    return {tuple(value) if isinstance(value, list) else value for value in values}


def key_getter(key: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Hashable] | None:
    if not key:
        return None
    if len(key) == 1:
        name = key[0]
        return lambda row: row.get(name)
    return lambda row: tuple(row.get(k) for k in key)


def _tie_value(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort values as a server may compare them: texts that differ only in case may tie (a collation)."""
    return tuple(value.casefold() if isinstance(value, str) else value for value in values)


@dataclasses.dataclass
class Page:
    """One page as the plan reads it: the rows, their keys (None without a key), their times and, when the plan
    re-reads tied rows, the values of its sort fields."""

    rows: list[Any]
    keys: list[Hashable] | None
    times: Sequence[Any] | None
    orders: Sequence[tuple[Any, ...]] | None = None

    def trailing_ties(self) -> int:
        """How many rows at the end of the page share the last row's sort values (1 when it ties with none)."""
        orders = self.orders
        if not orders:
            return 0
        last = _tie_value(orders[-1])
        count = 1
        while count < len(orders) and _tie_value(orders[-1 - count]) == last:
            count += 1
        return count


class _LazyValues:
    """A field (or a tuple of fields) of dict rows, read only where asked (page edges, the boundary second)."""

    def __init__(self, rows: list[Mapping[str, Any]], read: Callable[[Mapping[str, Any]], Any]):
        self._rows = rows
        self._read = read

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> Any:
        return self._read(self._rows[index])


class RowReader:
    """Reads the key, time and sort fields of a page's rows: lazily from dicts, or decoding only those fields of
    raw JSON rows (``msgspec.Raw``), skipping the rest unparsed (a fraction of a full decode). Missing fields
    read as None, as ``dict.get`` does."""

    def __init__(self, key: tuple[str, ...], time_field: str | None, order: tuple[str, ...] = ()):
        self.key = key
        self.time_field = time_field
        self.order = order
        self._key_of = key_getter(key)
        self._raw: _RawDecoder | None = None

    def read(self, rows: list[Any], method: str) -> Page:
        if rows and isinstance(rows[0], msgspec.Raw):
            if self._raw is None:
                self._raw = _RawDecoder(self.key, self.time_field, self.order)
            return self._raw.read(rows, method)
        key_of, time_field, order = self._key_of, self.time_field, self.order
        keys = None if key_of is None else [key_of(row) for row in rows]
        times = None if time_field is None else _LazyValues(rows, lambda row: row.get(time_field))
        orders = _LazyValues(rows, lambda row: tuple(row.get(name) for name in order)) if order else None
        return Page(rows, keys, times, orders)


class _RawDecoder:
    def __init__(self, key: tuple[str, ...], time_field: str | None, order: tuple[str, ...]):
        names = list(dict.fromkeys([*key, *([time_field] if time_field else []), *order]))
        attrs = {name: f"f{index}" for index, name in enumerate(names)}  # any field name, even no identifier
        struct = msgspec.defstruct(
            "RowKeyFields", [(attr, Any, None) for attr in attrs.values()], rename={a: n for n, a in attrs.items()}
        )
        self._decode = msgspec.json.Decoder(struct).decode
        self._key_of = attrgetter(*(attrs[name] for name in key)) if key else None
        self._time_of = attrgetter(attrs[time_field]) if time_field else None
        self._order_of = _tuple_getter([attrs[name] for name in order]) if order else None

    def read(self, rows: list[msgspec.Raw], method: str) -> Page:
        decode = self._decode
        try:
            decoded = [decode(row) for row in rows]
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ComagicDataIntegrityError(f"{method}: a row of the result is not a JSON object: {error}") from None
        keys = None if self._key_of is None else list(map(self._key_of, decoded))
        times = None if self._time_of is None else list(map(self._time_of, decoded))
        orders = None if self._order_of is None else list(map(self._order_of, decoded))
        return Page(rows, keys, times, orders)


def _tuple_getter(attrs: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    getter = attrgetter(*attrs)
    if len(attrs) == 1:
        return lambda row: (getter(row),)
    return getter  # several names: attrgetter returns a tuple already
