"""Column generators: synthetic values for catalogue fields, typed by ``FieldSpec.type`` and shaped by name.

Values are produced a column at a time (``n`` values per call) from a seeded ``random.Random``; that is several
times faster than building rows field by field. Pools (names, ids of campaigns, sites, employees...) come from
a per-field RNG so they stay the same on every day, which makes ids and names consistent across days.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_comagic.testing.comagic.entities import entity_domain, entity_ids, entity_name, entity_of

Column = list[Any]
# (rng, n, times) -> n values; ``times`` are the rows' epoch seconds (the time field), for dependent times
ColumnGen = Callable[[random.Random, int, Sequence[int]], Column]

_MONEY = re.compile(r"(cost|charge|budget|price|amount|sum|revenue|_fee$|services$|^changes$)")
_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
)
_RU_WORDS = ("Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Самара", "Омск")


@dataclasses.dataclass(frozen=True)
class Where:
    """Where a field sits: its method and path (``tags.tag_id``), for :func:`entities.entity_of`."""

    method: str | None = None
    path: str = ""

    def child(self, name: str) -> Where:
        return Where(self.method, f"{self.path}.{name}" if self.path else name)

    def entity(self, name: str) -> str | None:
        return entity_of(name, self.method, self.path or name)


def dimension_of(name: str) -> str | None:
    """The pooled entity an ``*_id`` field refers to (``last_talked_employee_id`` -> ``employee``)."""
    return entity_of(name)


def _with_nulls(values: Column, rng: random.Random, p: float) -> Column:
    if p <= 0:
        return values
    r = rng.random
    return [None if r() < p else v for v in values]


def _pick(rng: random.Random, n: int, pool: Sequence[Any]) -> Column:
    size = len(pool)
    r = rng.random
    return [pool[int(r() * size)] for _ in range(n)]


def _number(name: str, field_rng: random.Random, where: Where) -> ColumnGen:
    if name.endswith("_id") or name.endswith("_ids") or name == "id":
        word = where.entity(name)
        if word is not None:
            pool = entity_ids(word)
            return lambda rng, n, t: _with_nulls(_pick(rng, n, pool), rng, 0.1)
    if _MONEY.search(name) or "ratio" in name.split("_"):
        scale = 5.0 if "per_minute" in name else 5000.0
        p_null = 0.7 if name.startswith("sale_") else 0.0  # most calls bring no sale
        return lambda rng, n, t: _with_nulls([round(rng.random() * scale, 2) for _ in range(n)], rng, p_null)
    if name.endswith("duration"):
        return lambda rng, n, t: [int(rng.expovariate(1 / 90.0)) for _ in range(n)]
    if name.endswith("count") or name.endswith("_number"):
        return lambda rng, n, t: [int(rng.expovariate(1 / 5.0)) for _ in range(n)]
    if "rating" in name:
        return lambda rng, n, t: _with_nulls([1 + int(rng.random() * 5) for _ in range(n)], rng, 0.6)
    if name.endswith("_id") or name.endswith("_ids") or name == "id":
        return lambda rng, n, t: _with_nulls([rng.randrange(10**8, 10**10) for _ in range(n)], rng, 0.15)
    return lambda rng, n, t: [int(rng.random() * 1000) for _ in range(n)]


def _entity_names(name: str, where: Where) -> ColumnGen | None:
    """``site_name``, ``campaign_name``, ``site_domain_name`` without an id beside them: an entity's own name."""
    for suffix in ("_domain_name", "_full_name", "_name"):
        if name.endswith(suffix):
            word = where.entity(name[: -len(suffix)] + "_id")
            if word is None:
                return None
            pool = entity_ids(word)
            render = entity_domain if suffix == "_domain_name" else entity_name
            return lambda rng, n, t: _with_nulls([render(word, i) for i in _pick(rng, n, pool)], rng, 0.1)
    return None


def _string(name: str, field_rng: random.Random, where: Where) -> ColumnGen:
    named = _entity_names(name, where)
    if named is not None:
        return named
    if name.endswith("_id") and where.entity(name) is not None:  # ids the page types as text
        pool = [str(i) for i in entity_ids(where.entity(name))]
        return lambda rng, n, t: _with_nulls(_pick(rng, n, pool), rng, 0.1)
    if "phone" in name:
        return lambda rng, n, t: ["79" + str(rng.randrange(10**8, 10**9)) for _ in range(n)]
    if any(part in name for part in ("url", "link", "referrer", "entrance_page", "page")):
        pool = [f"https://site{k}.example.ru/{w}/{k * 7}?utm_source={w}" for k, w in enumerate(_WORDS)]
        return lambda rng, n, t: _with_nulls(_pick(rng, n, pool), rng, 0.2)
    if name.endswith("client_id") or name in {"gclid", "yclid", "ymclid", "ef_id"} or name.endswith("ext_id"):
        return lambda rng, n, t: _with_nulls(
            [f"{rng.getrandbits(64):016x}.{rng.getrandbits(20)}" for _ in range(n)], rng, 0.3
        )
    if any(part in name for part in ("city", "region", "country")):
        return lambda rng, n, t: _with_nulls(_pick(rng, n, _RU_WORDS), rng, 0.1)
    if name in {"text", "message", "comment", "properties"} or name.endswith("_text"):
        return lambda rng, n, t: _with_nulls(
            [" ".join(_pick(rng, 3 + int(rng.random() * 8), _WORDS)) for _ in range(n)], rng, 0.2
        )
    size = 8 + field_rng.randrange(24)
    pool = [f"{name}_{field_rng.choice(_WORDS)}_{k}" for k in range(size)]
    return lambda rng, n, t: _with_nulls(_pick(rng, n, pool), rng, 0.2)


def time_part(fmt: str) -> slice:
    """The part of ``YYYY-MM-DD hh:mm:ss`` a field's format keeps (a date, a time of day, or all)."""
    fmt = fmt.strip()
    return slice(0, 10) if fmt.upper() == "YYYY-MM-DD" else slice(11, 19) if fmt == "hh:mm:ss" else slice(0, 19)


def _time(name: str, fmt: str, tz_format: Callable[[int], str], *, nullable: bool) -> ColumnGen:
    part = time_part(fmt)

    def gen(rng: random.Random, n: int, times: Sequence[int]) -> Column:
        out = []
        for i in range(n):
            if nullable and rng.random() < 0.5:
                out.append(None)
                continue
            out.append(tz_format(times[i] + int(rng.random() * 1800))[part])
        return out

    return gen


def _enum(name: str, values: Sequence[str]) -> ColumnGen:
    pool = list(values) or (["RUB", "USD"] if "currency" in name else [f"{name}_value"])
    return lambda rng, n, t: _pick(rng, n, pool)


def _array_of_scalars(name: str, values: Sequence[str], where: Where) -> ColumnGen:
    if values:
        pool = list(values)
        return lambda rng, n, t: [
            sorted(set(_pick(rng, int(rng.random() * 3), pool)), key=pool.index) for _ in range(n)
        ]
    if name.endswith("_ext_ids"):  # a CRM's text ids
        return lambda rng, n, t: [
            [f"ext-{rng.randrange(10**6)}" for _ in range(int(rng.random() * 3))] for _ in range(n)
        ]
    word = where.entity(name)
    if word is not None:
        ids = entity_ids(word)
        return lambda rng, n, t: [sorted(set(_pick(rng, int(rng.random() * 3), ids))) for _ in range(n)]
    if name.endswith("_ids"):
        return lambda rng, n, t: [
            [rng.randrange(10**8, 10**10) for _ in range(int(rng.random() * 3))] for _ in range(n)
        ]
    # call_records and friends: lists of opaque record ids
    return lambda rng, n, t: [[f"{rng.getrandbits(128):032x}" for _ in range(int(rng.random() * 3))] for _ in range(n)]


def _array_of_objects(
    children: Sequence[Any],
    field_rng: random.Random,
    tz_format: Callable[[int], str],
    max_items: int,
    where: Where,
    *,
    min_items: int = 0,
) -> ColumnGen:
    child_gens = [
        (child.name, column_generator(child, field_rng, tz_format, where=where.child(child.name))) for child in children
    ]
    names = [c.name for c in children]

    def gen(rng: random.Random, n: int, times: Sequence[int]) -> Column:
        counts = [min_items + int(rng.random() * (max_items - min_items + 1)) for _ in range(n)]
        item_times = [times[i] for i in range(n) for _ in range(counts[i])]
        m = len(item_times)
        columns = [g(rng, m, item_times) for _, g in child_gens]
        derive_names(names, columns)
        items = (
            [dict(zip(names, values, strict=False)) for values in zip(*columns, strict=False)]
            if columns
            else [{} for _ in range(m)]
        )
        out, pos = [], 0
        for count in counts:
            out.append(items[pos : pos + count])
            pos += count
        return out

    return gen


def _enum_object(name: str, value_id_type: str) -> ColumnGen:
    """A report-builder ``{value, value_id}``: a label and its mnemonic (or flag)."""
    if value_id_type == "boolean":
        pool: list[dict[str, Any]] = [{"value": "Да", "value_id": True}, {"value": "Нет", "value_id": False}]
    else:
        pool = [{"value": f"{name.replace('_', ' ').capitalize()} {k}", "value_id": f"{name}_{k}"} for k in range(4)]
    return lambda rng, n, t: [dict(item) for item in _pick(rng, n, pool)]


def _duration(rng: random.Random, n: int, times: Sequence[int]) -> Column:
    seconds = [int(rng.expovariate(1 / 90.0)) for _ in range(n)]
    return [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in seconds]


def column_generator(
    field: Any,
    field_rng: random.Random,
    tz_format: Callable[[int], str],
    *,
    time_field: str | None = None,
    where: Where | None = None,
) -> ColumnGen:
    """Generator of one field's column from its catalogue ``FieldSpec`` (``where``: its method and path)."""
    name, ftype = field.name, field.type
    where = where or Where(path=name)
    values = tuple(getattr(field, "values", ()) or ())
    children = tuple(getattr(field, "children", ()) or ())
    if ftype == "number" or ftype == "id":
        return _number(name, field_rng, where)
    if ftype == "boolean":
        p_true = 0.2 if name == "is_lost" else 0.5
        return lambda rng, n, t: [rng.random() < p_true for _ in range(n)]
    if ftype == "iso8601":
        fmt = getattr(field, "format", "") or ""
        always = name in {"finish_time", "end_time"} or (name.endswith("_time") and "finish" in name)
        return _time(name, fmt, tz_format, nullable=not always and name != time_field)
    if ftype == "enum":
        return _enum(name, values)
    if ftype == "duration":
        return _duration
    if ftype == "array":
        if children:
            return _array_of_objects(children, field_rng, tz_format, 2 if name == "tags" else 3, where)
        return _array_of_scalars(name, values, where)
    if ftype == "object" and {c.name for c in children} == {"value", "value_id"}:
        return _enum_object(name, next(c.type for c in children if c.name == "value_id"))
    if ftype == "object" and children:  # one object: its members generated as an array of exactly one
        items = _array_of_objects(children, field_rng, tz_format, 1, where, min_items=1)
        return lambda rng, n, t: [row[0] for row in items(rng, n, t)]
    if ftype == "object":
        return lambda rng, n, t: [{} for _ in range(n)]
    return _string(name, field_rng, where)


def sibling_id(name: str, names: Sequence[str]) -> tuple[str, str] | None:
    """For ``X_name``/``X_full_name``/``X_domain_name`` with an ``X_id`` field: (``X_id``, suffix)."""
    for suffix in ("_full_name", "_domain_name", "_name"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base + "_id" in names:
                return base + "_id", suffix
            return None
    return None


def derived_name(name: str, suffix: str, ids: Column) -> Column:
    """Names that agree with their ids (same id -> same name): an entity's own name (``Campaign 2005``,
    ``site1001.example.ru``), the same in every method."""
    base = name[: -len(suffix)]
    word = entity_of(base + "_id")
    if suffix == "_domain_name":
        return [None if v is None else entity_domain(word or base, v) for v in ids]
    if word is not None:
        return [entity_name(word, v) for v in ids]
    label = base.replace("_", " ").strip().title() or "Item"
    return [None if v is None else f"{label} {v}" for v in ids]


def derive_names(names: Sequence[str], columns: list[Column]) -> None:
    """Make ``X_name`` columns agree with their ``X_id`` sibling, in place."""
    index = {name: i for i, name in enumerate(names)}
    for i, name in enumerate(names):
        sibling = sibling_id(name, names)
        if sibling is not None:
            columns[i] = derived_name(name, sibling[1], columns[index[sibling[0]]])
