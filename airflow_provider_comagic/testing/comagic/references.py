"""The account's reference lists (``get.sites``, ``get.campaigns``, ``get.tags``...), its saved reports
(``get.reports_list``) and its CRM deals (``get.deals_history``).

A list of an entity (:mod:`~airflow_provider_comagic.testing.comagic.entities`) has one row per id of the
entity's pool, named as every report row names it; its other fields are generated from the catalogue, their id
fields from the other entities' pools (a campaign's ``site_id`` is a site of ``get.sites``). Other lists hold a
few rows with unique keys. Rows are fixed per seed: they do not change with the clock.

Order: a list whose key the docs let sort (``key_sortable``) comes back in key order. A list that cannot be sorted
by its key (``get.campaigns``, ``get.sites``, ``get.employees``...) comes back, when the request has no sort,
in a new order on every call (API_MAP trap 4): a shuffle seeded by the seed, the method and how many times the
list was served, so a test can reproduce it. A sort on a field orders the rows it does not tie.
"""

from __future__ import annotations

import collections
import hashlib
import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

from airflow_provider_comagic.testing.comagic.entities import (
    entity_domain,
    entity_ids,
    entity_name,
    entity_of_reference,
)
from airflow_provider_comagic.testing.comagic.tagging import tag_color
from airflow_provider_comagic.testing.comagic.values import Where, column_generator, derive_names

SAVED_REPORTS = "get.reports_list"
SAVED_REPORT_BASE = 700_000
# rows of the lists that are no entity's (a few unique keys each)
LIST_SIZES: dict[str, int] = {"get.geolocations": 12, "get.deals_history": 40}
DEFAULT_LIST_SIZE = 5
# rows are stamped weekly back from this instant (2024-01-01 00:00 UTC): fixed, whatever the clock
_ANCHOR = 1_704_067_200
_WEEK = 7 * 86_400
# name fields of an entity's own row
_OWN_NAMES = {"name": entity_name, "full_name": entity_name, "domain_name": entity_domain, "domain": entity_domain}


def _base(method: str) -> int:
    """A first id for a list that is no entity's, apart from every pool (pools stay below 100 000)."""
    return 100_000 * (1 + int(hashlib.blake2b(method.encode(), digest_size=2).hexdigest(), 16) % 5000)


class ReferenceLists:
    """The rows of every reference list (and saved reports, CRM deals) of one emulated account."""

    def __init__(
        self, *, seed: int, spec_of: Callable[[str], Any], format_time: Callable[[int], str], unstable: bool = True
    ):
        self.seed = seed
        self.unstable = unstable
        self._spec_of = spec_of
        self.format_time = format_time
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._served: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def rows(self, method: str) -> list[dict[str, Any]]:
        """Every row of the list, in key order (what ``emu.truth`` compares with)."""
        with self._lock:
            rows = self._rows.get(method)
            if rows is None:
                rows = self._rows[method] = self._generate(self._spec_of(method))
            return rows

    def served(self, method: str) -> tuple[list[dict[str, Any]], bool]:
        """The rows in the order of this call, and whether that order is the key order (stable)."""
        rows = self.rows(method)
        if not self.unstable or self._spec_of(method).key_sortable:
            return rows, True
        with self._lock:
            count = self._served[method]
            self._served[method] += 1
        shuffled = list(rows)
        random.Random(f"{self.seed}|{method}|order|{count}").shuffle(shuffled)
        return shuffled, False

    def calls(self, method: str) -> int:
        """How many times the list was served in an unstable order (the seed of the next shuffle)."""
        with self._lock:
            return self._served[method]

    def report(self, report_id: Any) -> dict[str, Any] | None:
        """A saved report of ``get.reports_list`` by id."""
        return next((row for row in self.rows(SAVED_REPORTS) if row["id"] == report_id), None)

    # -- generation --------------------------------------------------------------------------------------
    def _generate(self, spec: Any) -> list[dict[str, Any]]:
        entity = entity_of_reference(spec.name)
        types = spec.field("type").values if spec.name == SAVED_REPORTS else ()
        n = len(entity_ids(entity)) if entity else len(types) or LIST_SIZES.get(spec.name, DEFAULT_LIST_SIZE)
        times = [_ANCHOR - _WEEK * (n - k) for k in range(n)]
        pools = random.Random(f"{self.seed}|{spec.name}|pools")
        names = [f.name for f in spec.fields]
        columns = []
        for field in spec.fields:
            generate = column_generator(field, pools, self.format_time, where=Where(spec.name, field.name))
            columns.append(generate(random.Random(f"{self.seed}|{spec.name}|{field.name}"), n, times))
        by_name = dict(zip(names, columns, strict=True))
        self._set_keys(spec, by_name, entity, n)
        if entity and "id" in by_name:
            ids = by_name["id"]
            for name, render in _OWN_NAMES.items():
                if name in by_name and spec.field(name).type == "string":
                    by_name[name] = [render(entity, i) for i in ids]
            if "login" in by_name:
                by_name["login"] = [f"{entity}{i}@example.ru" for i in ids]
        if spec.name == "get.tags":
            by_name["color"] = [tag_color(i) for i in by_name["id"]]
        if types:
            by_name["type"] = list(types)
            by_name["name"] = [f"Report {t}" for t in types]
        columns = [by_name[name] for name in names]
        derive_names(names, columns)
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
        key = spec.key
        return sorted(rows, key=lambda row: tuple(row[k] for k in key)) if key else rows

    def _set_keys(self, spec: Any, columns: dict[str, list[Any]], entity: str | None, n: int) -> None:
        """Unique keys: an entity's pool; else ids counted from the list's own base, or ``<list>-<k>`` texts."""
        if spec.name == SAVED_REPORTS:
            columns["id"] = [SAVED_REPORT_BASE + k for k in range(1, n + 1)]
            return
        if entity and "id" in columns:
            text = spec.field("id").type == "string"  # get.site_categories types its ids as text
            columns["id"] = [str(i) if text else i for i in entity_ids(entity)]
            return
        short = spec.name.split(".", 1)[1]
        for position, name in enumerate(spec.key):
            numeric = spec.field(name).type == "number"
            base = _base(spec.name) + 1000 * position
            columns[name] = [base + k if numeric else f"{short}-{name}-{k}" for k in range(1, n + 1)]


def key_of(spec: Any) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    names: Sequence[str] = spec.key
    return lambda row: tuple(row.get(name) for name in names)
