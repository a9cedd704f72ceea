"""Column generators: synthetic values for catalogue fields, typed by ``FieldSpec.type`` and shaped by name.

Values are produced a column at a time (``n`` values per call) from a seeded ``random.Random``; that is several
times faster than building rows field by field. Pools (names, ids of campaigns, sites, employees...) come from
a per-field RNG so they stay the same on every day, which makes ids and names consistent across days.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

Column = list[Any]
# (rng, n, times) -> n values; ``times`` are the rows' epoch seconds (the time field), for dependent times
ColumnGen = Callable[[random.Random, int, Sequence[int]], Column]

_MONEY = re.compile(r"(cost|charge|budget|price|amount|sum)")
# id fields that name a small set of account entities (picked from a pool), by the word they contain
_DIMENSIONS: dict[str, int] = {
    "site": 3,
    "campaign": 25,
    "employee": 40,
    "scenario": 12,
    "source": 15,
    "region": 30,
    "country": 4,
    "segment": 8,
    "tag": 20,
    "channel": 6,
    "user": 10,
    "group": 6,
    "goal": 10,
    "form": 5,
    "banner": 30,
    "keyword": 40,
    "widget": 4,
    "operator": 40,
    "sip": 8,
}
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


def dimension_of(name: str) -> str | None:
    """The pooled entity an ``*_id`` field refers to (``last_talked_employee_id`` -> ``employee``)."""
    for word in _DIMENSIONS:
        if re.search(rf"(^|_){word}(_|$)", name):
            return word
    return None


def _dimension_ids(word: str) -> list[int]:
    base = 1000 * (list(_DIMENSIONS).index(word) + 1)
    return [base + k for k in range(1, _DIMENSIONS[word] + 1)]


def _with_nulls(values: Column, rng: random.Random, p: float) -> Column:
    if p <= 0:
        return values
    r = rng.random
    return [None if r() < p else v for v in values]


def _pick(rng: random.Random, n: int, pool: Sequence[Any]) -> Column:
    size = len(pool)
    r = rng.random
    return [pool[int(r() * size)] for _ in range(n)]


def _number(name: str, field_rng: random.Random) -> ColumnGen:
    if _MONEY.search(name):
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
        word = dimension_of(name)
        if word is not None:
            pool = _dimension_ids(word)
            return lambda rng, n, t: _with_nulls(_pick(rng, n, pool), rng, 0.1)
        return lambda rng, n, t: _with_nulls([rng.randrange(10**8, 10**10) for _ in range(n)], rng, 0.15)
    return lambda rng, n, t: [int(rng.random() * 1000) for _ in range(n)]


def _string(name: str, field_rng: random.Random) -> ColumnGen:
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


def _time(name: str, fmt: str, tz_format: Callable[[int], str], *, nullable: bool) -> ColumnGen:
    date_only = fmt.strip().upper() == "YYYY-MM-DD"

    def gen(rng: random.Random, n: int, times: Sequence[int]) -> Column:
        out = []
        for i in range(n):
            if nullable and rng.random() < 0.5:
                out.append(None)
                continue
            text = tz_format(times[i] + int(rng.random() * 1800))
            out.append(text[:10] if date_only else text)
        return out

    return gen


def _enum(name: str, values: Sequence[str]) -> ColumnGen:
    pool = list(values) or (["RUB", "USD"] if "currency" in name else [f"{name}_value"])
    return lambda rng, n, t: _pick(rng, n, pool)


def _array_of_scalars(name: str, values: Sequence[str]) -> ColumnGen:
    if values:
        pool = list(values)
        return lambda rng, n, t: [
            sorted(set(_pick(rng, int(rng.random() * 3), pool)), key=pool.index) for _ in range(n)
        ]
    if name.endswith("_ids"):
        return lambda rng, n, t: [
            [rng.randrange(10**8, 10**10) for _ in range(int(rng.random() * 3))] for _ in range(n)
        ]
    # call_records and friends: lists of opaque record ids
    return lambda rng, n, t: [[f"{rng.getrandbits(128):032x}" for _ in range(int(rng.random() * 3))] for _ in range(n)]


def _array_of_objects(
    children: Sequence[Any], field_rng: random.Random, tz_format: Callable[[int], str], max_items: int
) -> ColumnGen:
    child_gens = [(child.name, column_generator(child, field_rng, tz_format)) for child in children]
    names = [c.name for c in children]

    def gen(rng: random.Random, n: int, times: Sequence[int]) -> Column:
        counts = [int(rng.random() * (max_items + 1)) for _ in range(n)]
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


def column_generator(
    field: Any, field_rng: random.Random, tz_format: Callable[[int], str], *, time_field: str | None = None
) -> ColumnGen:
    """Generator of one field's column from its catalogue ``FieldSpec``."""
    name, ftype = field.name, field.type
    values = tuple(getattr(field, "values", ()) or ())
    children = tuple(getattr(field, "children", ()) or ())
    if ftype == "number" or ftype == "id":
        return _number(name, field_rng)
    if ftype == "boolean":
        p_true = 0.2 if name == "is_lost" else 0.5
        return lambda rng, n, t: [rng.random() < p_true for _ in range(n)]
    if ftype == "iso8601":
        fmt = getattr(field, "format", "") or ""
        always = name in {"finish_time", "end_time"} or (name.endswith("_time") and "finish" in name)
        return _time(name, fmt, tz_format, nullable=not always and name != time_field)
    if ftype == "enum":
        return _enum(name, values)
    if ftype == "array":
        if children:
            return _array_of_objects(children, field_rng, tz_format, 2 if name == "tags" else 3)
        return _array_of_scalars(name, values)
    if ftype == "object":
        return lambda rng, n, t: [{} for _ in range(n)]
    return _string(name, field_rng)


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
    """Names that agree with their ids (same id -> same name)."""
    base = name[: -len(suffix)]
    if suffix == "_domain_name":
        return [None if v is None else f"{base}{v}.example.ru" for v in ids]
    label = base.replace("_", " ").strip().title() or "Item"
    return [None if v is None else f"{label} {v}" for v in ids]


def derive_names(names: Sequence[str], columns: list[Column]) -> None:
    """Make ``X_name`` columns agree with their ``X_id`` sibling, in place."""
    index = {name: i for i, name in enumerate(names)}
    for i, name in enumerate(names):
        sibling = sibling_id(name, names)
        if sibling is not None:
            columns[i] = derived_name(name, sibling[1], columns[index[sibling[0]]])
