"""Seeded synthetic report rows, generated lazily per (method, day) and cached.

A day of a method has a cheap *index* (the rows' times, keys and epoch seconds, in (time, key) order) and,
built on demand, its rows' default fields as pre-serialized orjson bytes (``head``: what a request without
``fields`` returns, so a page is a join of byte slices) and single columns (for filters, sorts and other
``fields``). Every column has its own RNG seeded by ``(seed, method, day, field)``, so any subset of fields
can be produced alone and a day evicted from the cache regenerates identically. Tests' mutations (added,
changed, removed rows) are stored apart and applied on every (re)build.

Recording fields of calls and legs (``call_records``...) name files the emulator serves
(:mod:`~airflow_provider_comagic.testing.comagic.recording_data`); ``media_base`` gives the emulator's own URL for
the full links.

Ids: a keyed row's id is ``day_number * 10_000_000 + n`` (days since 2000-01-01), increasing with time within
a day; rows added by tests get ``n > 9_000_000``. Keyless methods are ordered by an internal key instead.
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import hashlib
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_comagic.testing.comagic.recording_data import RECORD_FIELDS, recording_column, recording_fields
from airflow_provider_comagic.testing.comagic.references import ReferenceLists
from airflow_provider_comagic.testing.comagic.tagging import SOURCE as TAGGED
from airflow_provider_comagic.testing.comagic.tagging import TAGS_HISTORY, tag_stamps, tagging_rows
from airflow_provider_comagic.testing.comagic.values import (
    ColumnGen,
    Where,
    column_generator,
    derived_name,
    sibling_id,
    time_part,
)
from airflow_provider_comagic.testing.comagic.volumes import ONE_ROW_A_DAY
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

STRIDE = 10_000_000
ADDED_BASE = 9_000_000
EPOCH_DAY = dt.date(2000, 1, 1)

# methods whose day is derived from another method's rows (not generated, not mutable themselves)
DERIVED: dict[str, Callable[[DataStore, dt.date], list[dict[str, Any]]]] = {TAGS_HISTORY: tagging_rows}
# child method -> (parent method, link field): children point at real parent ids of the same day
PARENTS: dict[str, tuple[str, str]] = {
    "get.call_legs_report": ("get.calls_report", "call_session_id"),
    "get.financial_call_legs_report": ("get.calls_report", "call_session_id"),
    "get.chat_messages_report": ("get.chats_report", "chat_id"),
}


class _Removed:
    def __repr__(self) -> str:
        return "REMOVED"


REMOVED: Any = _Removed()
"""Pass as ``changes`` to :meth:`DataStore.update_row` to delete a row."""


def day_number(day: dt.date) -> int:
    return (day - EPOCH_DAY).days


def day_of_id(row_id: int) -> dt.date:
    """The day a generated (or added) keyed row belongs to."""
    return EPOCH_DAY + dt.timedelta(days=int(row_id) // STRIDE)


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class MethodModel:
    """How rows of one catalogue method are generated."""

    def __init__(self, spec: Any, seed: int, tz_format: Callable[[int], str]):
        self.spec = spec
        self.name: str = spec.name
        self.time_field: str | None = spec.time_field
        self.key: tuple[str, ...] = tuple(spec.key or ())
        self.fields = tuple(spec.fields)
        self.names = [f.name for f in self.fields]
        self.default_names = [f.name for f in self.fields if f.default] or list(self.names)
        time_spec = next((f for f in self.fields if f.name == self.time_field), None)
        self.date_only = time_spec is not None and (time_spec.format or "").strip() == "YYYY-MM-DD"
        self.parent = PARENTS.get(self.name)
        # fields that are parts of the row's time (get.calls call_start_date, call_start_time beside
        # call_start_date_time; get.mgf_calls, which has no whole time field): a slice of it
        self.time_parts: dict[str, slice] = {}
        prefix = (self.time_field or "call_start_date_time").removesuffix("date_time")
        for f in self.fields:
            if f.type == "iso8601" and f.name in (f"{prefix}date", f"{prefix}time"):
                self.time_parts[f.name] = time_part(f.format or "")
        self.id_is_text = (
            self.id_field is not None and next(f.type for f in self.fields if f.name == self.id_field) != "number"
        )
        pools = _rng(seed, self.name, "pools")
        self.generators: dict[str, ColumnGen] = {
            f.name: column_generator(f, pools, tz_format, time_field=self.time_field, where=Where(self.name, f.name))
            for f in self.fields
        }

    @property
    def id_field(self) -> str | None:
        return self.key[0] if len(self.key) == 1 else None

    def time_key(self, value: Any) -> str:
        """The sortable ``YYYY-MM-DD hh:mm:ss`` form of a time-field value."""
        if value is None:
            return ""
        return f"{value} 00:00:00" if self.date_only else str(value)

    def row_id(self, day_number: int, n: int) -> int | str:
        """The id of a day's n-th row (text where the page types the id as a string)."""
        value = day_number * STRIDE + n
        return str(value) if self.id_is_text else value


class DayData:
    """One day of one method: the index (ordered rows) plus lazily built parts."""

    __slots__ = (
        "columns",
        "day",
        "encoded",
        "epochs",
        "head",
        "keys",
        "method",
        "n_generated",
        "origin",
        "time_keys",
    )

    def __init__(self, method: str, day: dt.date):
        self.method = method
        self.day = day
        self.time_keys: list[str] = []  # time field as "YYYY-MM-DD hh:mm:ss", ascending
        self.keys: list[tuple[Any, ...]] = []  # tie-breaker (the catalogue key, or an internal one)
        self.epochs: list[int] = []
        self.origin: list[int] | None = None  # position -> generated row (>= 0) or added row (-1 - j)
        self.n_generated = 0
        self.head: list[bytes] | None = None
        # rows serialized with the last explicit field list asked for: paging a query with `fields` then
        # slices bytes like `head` instead of building and dumping a dict per row per page
        self.encoded: tuple[tuple[str, ...], list[bytes]] | None = None
        self.columns: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self.time_keys)

    def span(self, t_from: str, t_till: str) -> tuple[int, int]:
        """Index range of rows with ``t_from <= time <= t_till``."""
        return bisect.bisect_left(self.time_keys, t_from), bisect.bisect_right(self.time_keys, t_till)

    def cost(self) -> int:
        """Approximate memory in bytes (for the cache bound)."""
        n = len(self.time_keys)
        total = n * 200
        if self.head is not None:
            total += sum(map(len, self.head)) + n * 40
        if self.encoded is not None:
            total += sum(map(len, self.encoded[1])) + n * 40
        total += sum(len(c) for c in self.columns.values()) * 48
        return total


class DataStore:
    """Deterministic per-(method, day) rows with an LRU cache and test mutations."""

    def __init__(
        self,
        *,
        seed: int,
        tz: dt.tzinfo,
        rows_per_day: Callable[[str], int],
        spec_of: Callable[[str], Any],
        cache_bytes: int = 768 * 2**20,
        unstable_order: bool = True,
        media_base: Callable[[], str] = lambda: "",
    ):
        self.seed = seed
        self._media_base = media_base
        self.tz = tz
        self._rows_per_day = rows_per_day
        self._spec_of = spec_of
        self._cache_bytes = cache_bytes
        self._lock = threading.RLock()
        self._models: dict[str, MethodModel] = {}
        self._cache: collections.OrderedDict[tuple[str, dt.date], DayData] = collections.OrderedDict()
        self._added: dict[tuple[str, dt.date], list[dict[str, Any]]] = {}
        self._changed: dict[tuple[str, dt.date], dict[tuple[Any, ...], Any]] = {}
        self._minute_prefix: dict[int, str] = {}
        self._retagged: dict[dt.date, set[dt.date]] = {}  # tagging day -> days of the calls retagged then
        self.version = 0  # bumped by every mutation (query-result caches key on it)
        self.references = ReferenceLists(
            seed=seed, spec_of=spec_of, format_time=self.format_time, unstable=unstable_order
        )

    # -- time helpers --------------------------------------------------------------------------------
    def format_time(self, epoch: int) -> str:
        """Local wall-clock ``YYYY-MM-DD hh:mm:ss`` of a Unix time (minute prefixes memoized: hot path)."""
        minute, second = divmod(int(epoch), 60)
        prefix = self._minute_prefix.get(minute)
        if prefix is None:
            if len(self._minute_prefix) > 500_000:
                self._minute_prefix.clear()
            prefix = dt.datetime.fromtimestamp(minute * 60, self.tz).strftime("%Y-%m-%d %H:%M:")
            self._minute_prefix[minute] = prefix
        return f"{prefix}{second:02d}"

    def parse_time(self, text: str) -> int:
        return int(dt.datetime.strptime(text, API_TIME_FORMAT).replace(tzinfo=self.tz).timestamp())

    def day_bounds(self, day: dt.date) -> tuple[int, int]:
        """Epoch seconds of local midnight of ``day`` and of the next day."""
        start = dt.datetime.combine(day, dt.time(), tzinfo=self.tz).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.tz).timestamp()
        return int(start), int(end)

    def model(self, method: str) -> MethodModel:
        with self._lock:
            model = self._models.get(method)
            if model is None:
                model = self._models[method] = MethodModel(self._spec_of(method), self.seed, self.format_time)
            return model

    # -- reading -------------------------------------------------------------------------------------
    def day(self, method: str, day: dt.date) -> DayData:
        """The index of ``method`` rows stamped on local date ``day`` (built on first use, then cached)."""
        with self._lock:
            cache_key = (method, day)
            data = self._cache.get(cache_key)
            if data is not None:
                self._cache.move_to_end(cache_key)
                return data
            data = self._build_index(method, day)
            self._cache[cache_key] = data
            self._trim()
            return data

    def _trim(self) -> None:
        total = sum(d.cost() for d in self._cache.values())
        while total > self._cache_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            total -= evicted.cost()

    def slices(self, method: str, t_from: str, t_till: str) -> list[tuple[DayData, int, int]]:
        """Per-day index ranges of the rows with ``t_from <= time field <= t_till`` (wall-clock strings)."""
        day = dt.date.fromisoformat(t_from[:10])
        last = dt.date.fromisoformat(t_till[:10])
        out = []
        while day <= last:
            data = self.day(method, day)
            lo, hi = data.span(t_from, t_till)
            if hi > lo:
                out.append((data, lo, hi))
            day += dt.timedelta(days=1)
        return out

    def head(self, data: DayData) -> list[bytes]:
        """The day's rows as serialized default-field objects."""
        with self._lock:
            if data.head is None:
                model = self.model(data.method)
                names = model.default_names
                columns = [self._column(data, name, cache=False) for name in names]
                dumps = orjson.dumps
                data.head = [dumps(dict(zip(names, values, strict=False))) for values in zip(*columns, strict=False)]
                self._trim()
            return data.head

    def encoded(self, data: DayData, names: Sequence[str]) -> list[bytes]:
        """The day's rows serialized with the fields ``names`` (the last field list asked for is kept)."""
        names = tuple(names)
        with self._lock:
            if data.encoded is None or data.encoded[0] != names:
                data.encoded = None  # free the previous field list's bytes before building the next
                columns = [self._column(data, name, cache=False) for name in names]
                dumps = orjson.dumps
                rows = [dumps(dict(zip(names, values, strict=False))) for values in zip(*columns, strict=False)]
                data.encoded = (names, rows)
                self._trim()
            return data.encoded[1]

    def column(self, data: DayData, name: str) -> list[Any]:
        """One field's values for every row of the day (position order), mutations applied."""
        with self._lock:
            return self._column(data, name, cache=True)

    def column_uncached(self, data: DayData, name: str) -> list[Any]:
        """One field's values for every row of the day, not kept in the cache (a derived method's read)."""
        with self._lock:
            return self._column(data, name, cache=False)

    def retagged_call_days(self, day: dt.date) -> set[dt.date]:
        """Days of the calls whose tags were changed with a ``tag_change_time`` on ``day``."""
        with self._lock:
            return set(self._retagged.get(day, ()))

    def row_fields(self, method: str, row_id: int, names: Sequence[str]) -> dict[str, Any] | None:
        """Fields of the row of ``method`` with numeric id ``row_id`` (None: no such row)."""
        with self._lock:
            model = self.model(method)
            if not model.id_field or row_id < STRIDE:
                return None
            data = self.day(method, day_of_id(row_id))
            position = row_id - day_number(data.day) * STRIDE - 1
            key = (row_id,)
            if not (data.origin is None and 0 <= position < len(data.keys) and data.keys[position] == key):
                position = next((i for i, k in enumerate(data.keys) if k == key), -1)
            if position < 0:
                return None
            return {name: self._column(data, name, cache=True)[position] for name in names}

    def rows(self, data: DayData, names: Sequence[str], lo: int, hi: int) -> list[dict[str, Any]]:
        """Rows ``lo:hi`` of the day with the fields ``names`` only."""
        columns = [self.column(data, name)[lo:hi] for name in names]
        if not columns:
            return [{} for _ in range(hi - lo)]
        return [dict(zip(names, values, strict=False)) for values in zip(*columns, strict=False)]

    # -- generation ----------------------------------------------------------------------------------
    def _build_derived(self, method: str, day: dt.date) -> DayData:
        model = self.model(method)
        rows = DERIVED[method](self, day)
        data = DayData(method, day)
        data.n_generated = len(rows)
        data.time_keys = [model.time_key(row[model.time_field]) for row in rows]
        data.keys = [tuple(row[k] for k in model.key) for row in rows]
        data.epochs = [self.parse_time(key) for key in data.time_keys]
        data.columns = {name: [row.get(name) for row in rows] for name in model.names}
        return data

    def _build_index(self, method: str, day: dt.date) -> DayData:
        if method in DERIVED:
            return self._build_derived(method, day)
        model = self.model(method)
        data = DayData(method, day)
        times, links = self._times(model, day)
        n = len(times)
        data.n_generated = n
        dn = day_number(day)
        if model.date_only:
            time_keys = [f"{day.isoformat()} 00:00:00"] * n
        else:  # the time field, or the row's own time where the method has none (get.mgf_calls)
            time_keys = [self.format_time(t) for t in times]
        if model.id_field:
            keys = [(model.row_id(dn, i + 1),) for i in range(n)]
        elif model.key:  # composite keys are generated columns
            data.time_keys, data.epochs, data.keys = time_keys, times, [(dn, i) for i in range(n)]
            key_columns = [self._generated(model, data, k) for k in model.key]
            keys = list(zip(*key_columns, strict=False))
        else:
            keys = [(dn, i) for i in range(n)]
        data.time_keys, data.keys, data.epochs = time_keys, keys, times
        if links:
            data.columns["__links__"] = links
        cache_key = (method, day)
        if cache_key in self._added or cache_key in self._changed:
            self._apply_row_set_changes(model, data)
        return data

    def _times(self, model: MethodModel, day: dt.date) -> tuple[list[int], list[Any]]:
        """Epoch times of the day's generated rows (ascending) and, for child methods, their parent ids."""
        rng = _rng(self.seed, model.name, day.isoformat(), "__index__")
        start, end = self.day_bounds(day)
        n = 1 if model.name in ONE_ROW_A_DAY else self._rows_per_day(model.name)
        if model.parent:
            parent = self.day(model.parent[0], day)
            if len(parent) == 0:
                return [], []
            size = len(parent)
            picks = sorted(
                (min(end - 1, parent.epochs[j] + int(rng.random() * 300)), parent.keys[j][0])
                for j in (int(rng.random() * size) for _ in range(n))
            )
            return [p[0] for p in picks], [p[1] for p in picks]
        span = end - start
        return sorted(start + int(rng.random() * span) for _ in range(n)), []

    def _generated(self, model: MethodModel, data: DayData, name: str) -> list[Any]:
        """A column for the day's generated rows (before mutations)."""
        n = data.n_generated
        times = data.epochs if data.origin is None else self._generated_epochs(data)
        if name == model.time_field:
            if model.date_only:
                return [data.day.isoformat()] * n
            return [self.format_time(t) for t in times]
        if name in model.time_parts:
            part = model.time_parts[name]
            return [self.format_time(t)[part] for t in times]
        if name == model.id_field:
            dn = day_number(data.day)
            return [model.row_id(dn, i + 1) for i in range(n)]
        if model.parent and name == model.parent[1] and "__links__" in data.columns:
            return data.columns["__links__"]
        if model.id_field and name in RECORD_FIELDS.get(model.name, ()):
            ids = self._generated(model, data, model.id_field)
            return recording_column(
                self.seed, model.name, name, ids, lambda other: self._generated(model, data, other), self._media_base()
            )
        sibling = sibling_id(name, model.names)
        if sibling is not None:
            return derived_name(name, sibling[1], self._generated(model, data, sibling[0]))
        rng = _rng(self.seed, model.name, data.day.isoformat(), name)
        return model.generators[name](rng, n, times)

    def _generated_epochs(self, data: DayData) -> list[int]:
        epochs = [0] * data.n_generated
        for position, origin in enumerate(data.origin or ()):
            if origin >= 0:
                epochs[origin] = data.epochs[position]
        return epochs

    def _column(self, data: DayData, name: str, *, cache: bool) -> list[Any]:
        column = data.columns.get(name)
        if column is not None:
            return column
        model = self.model(data.method)
        generated = self._generated(model, data, name)
        if data.origin is None:
            column = generated
        else:
            added = self._added.get((data.method, data.day), [])
            column = [generated[o] if o >= 0 else added[-1 - o].get(name) for o in data.origin]
            changed = self._changed.get((data.method, data.day), {})
            if changed:
                position_of = {key: i for i, key in enumerate(data.keys)}
                for key, change in changed.items():
                    if change is not REMOVED and name in change and key in position_of:
                        column[position_of[key]] = change[name]
        if cache:
            data.columns[name] = column
            self._trim()
        return column

    def _apply_row_set_changes(self, model: MethodModel, data: DayData) -> None:
        """Merge added rows and drop removed ones; positions keep (time, key) order."""
        cache_key = (model.name, data.day)
        added = self._added.get(cache_key, [])
        removed = {k for k, change in self._changed.get(cache_key, {}).items() if change is REMOVED}
        entries = [(data.time_keys[i], data.keys[i], data.epochs[i], i) for i in range(data.n_generated)]
        for j, row in enumerate(added):
            time_key = (
                model.time_key(row.get(model.time_field)) if model.time_field else self.format_time(row["__epoch__"])
            )
            key = tuple(row.get(k) for k in model.key) if model.key else (day_number(data.day), ADDED_BASE + j)
            entries.append((time_key, key, row["__epoch__"], -1 - j))
        entries = [e for e in entries if e[1] not in removed]
        entries.sort(key=lambda e: (e[0], e[1]))
        data.time_keys = [e[0] for e in entries]
        data.keys = [e[1] for e in entries]
        data.epochs = [e[2] for e in entries]
        data.origin = [e[3] for e in entries]

    # -- mutations -----------------------------------------------------------------------------------
    def add_rows(
        self,
        method: str,
        rows: Sequence[Mapping[str, Any]] = (),
        *,
        count: int = 0,
        t_from: str | None = None,
        t_till: str | None = None,
    ) -> list[dict[str, Any]]:
        """Add rows (given partially, or ``count`` generated ones) stamped between ``t_from`` and ``t_till``.

        Fields a given row lacks are generated; keyed rows get fresh ids. Returns the full rows added.
        """
        if method in DERIVED:
            raise ValueError(f"{method} rows are derived from other rows: change those instead")
        model = self.model(method)
        wanted = [dict(r) for r in rows] + [{} for _ in range(count)]
        out = []
        with self._lock:
            rng = _rng(self.seed, method, "added", self.version)
            for partial in wanted:
                stamp = partial.get(model.time_field) if model.time_field else None
                if stamp is None:
                    if t_from is None or t_till is None:
                        raise ValueError(f"give {model.time_field!r} in the row, or t_from/t_till")
                    lo, hi = self.parse_time(model.time_key(t_from)), self.parse_time(model.time_key(t_till))
                    epoch = lo + int(rng.random() * (hi - lo + 1))
                    stamp = self.format_time(epoch)[:10] if model.date_only else self.format_time(epoch)
                epoch = self.parse_time(model.time_key(stamp))
                day = dt.date.fromisoformat(str(stamp)[:10])
                row = {f: model.generators[f](rng, 1, [epoch])[0] for f in model.names}
                for name in model.names:
                    sibling = sibling_id(name, model.names)
                    if sibling is not None:
                        row[name] = derived_name(name, sibling[1], [row[sibling[0]]])[0]
                row.update(partial)
                if model.time_field:
                    row[model.time_field] = stamp
                bucket = self._added.setdefault((method, day), [])
                for name, part in model.time_parts.items():
                    row[name] = self.format_time(epoch)[part]
                if model.id_field and model.id_field not in partial:
                    row[model.id_field] = model.row_id(day_number(day), ADDED_BASE + len(bucket) + 1)
                if model.id_field and method in RECORD_FIELDS:  # files the media server can serve
                    lost, path_id = bool(row.get("is_lost")), row.get("communication_id")
                    media = recording_fields(
                        self.seed,
                        method,
                        row[model.id_field],
                        lost=lost,
                        path_id=path_id,
                        media_base=self._media_base(),
                    )
                    row.update({name: value for name, value in media.items() if name not in partial})
                row["__epoch__"] = epoch
                bucket.append(row)
                self._invalidate(method, day)
                out.append({k: row.get(k) for k in model.names})
        return out

    def update_row(
        self, method: str, key: Any, changes: Mapping[str, Any] | Any, day: dt.date | str | None = None
    ) -> None:
        """Change fields of an existing row (merged into earlier changes), or delete it (``REMOVED``).

        ``key`` is the row's id (or key tuple); ``day`` is needed only for rows without a numeric id.
        """
        if method in DERIVED:
            raise ValueError(f"{method} rows are derived from other rows: change those instead")
        model = self.model(method)
        key_tuple = tuple(key) if isinstance(key, list | tuple) else (key,)
        if day is None:
            if not model.id_field:
                raise ValueError(f"{method} rows have no numeric id: pass day=")
            day = day_of_id(key_tuple[0])
        elif isinstance(day, str):
            day = dt.date.fromisoformat(day[:10])
        if changes is not REMOVED:
            fixed = {model.time_field, *model.key} & set(changes)
            if fixed:
                raise ValueError(f"cannot change {sorted(fixed)}: remove the row and add a new one")
        with self._lock:
            if key_tuple not in set(self.day(method, day).keys):
                raise KeyError(f"{method}: no row with key {key_tuple} on {day}")
            if method == TAGGED and changes is not REMOVED and "tags" in changes:
                for stamp in tag_stamps(changes["tags"]):
                    self._retagged.setdefault(stamp, set()).add(day)
                    self._cache.pop((TAGS_HISTORY, stamp), None)
            bucket = self._changed.setdefault((method, day), {})
            previous = bucket.get(key_tuple)
            if changes is REMOVED or previous is REMOVED:
                bucket[key_tuple] = REMOVED
            else:
                bucket[key_tuple] = {**(previous or {}), **dict(changes)}
            self._invalidate(method, day)

    def _invalidate(self, method: str, day: dt.date) -> None:
        self.version += 1
        children = [child for child, (parent, _) in PARENTS.items() if parent == method]
        for cached in (method, *children):
            self._cache.pop((cached, day), None)
        if method == TAGGED:  # its tags are events of that day and of the next (set within 30 minutes)
            for tagging_day in (day, day + dt.timedelta(days=1)):
                self._cache.pop((TAGS_HISTORY, tagging_day), None)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
