"""Classic reports that total a period per entity: ``get.ct_summary_report`` (per site),
``get.ct_ac_summary_report`` (per campaign of the ``site_id`` asked for), ``get.employee_stat`` (per employee),
``get.source_costs`` (per source and site).

Rows name the account's entities as the reference lists do (``ac_id``/``ac_name`` are a campaign of
``get.campaigns`` on that site); the figures are seeded by the method, the period and the entity, so the same
query always answers the same.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from airflow_provider_comagic.testing.comagic.entities import entity_domain, entity_name
from airflow_provider_comagic.testing.comagic.references import ReferenceLists
from airflow_provider_comagic.testing.comagic.values import Where, column_generator

AGGREGATES = frozenset({"get.ct_summary_report", "get.ct_ac_summary_report", "get.employee_stat", "get.source_costs"})
_STATUSES = ("available", "away", "not_available", "do_not_disturb")


def _generated(spec: Any, seed: int, period: str, count: int, format_time: Any) -> list[dict[str, Any]]:
    pools = random.Random(f"{seed}|{spec.name}|pools")
    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for field in spec.fields:
        generate = column_generator(field, pools, format_time, where=Where(spec.name, field.name))
        values = generate(random.Random(f"{seed}|{spec.name}|{period}|{field.name}"), count, [0] * count)
        for row, value in zip(rows, values, strict=True):
            row[field.name] = value
    return rows


def _entities(method: str, refs: ReferenceLists, site_id: Any) -> list[dict[str, Any]]:
    """The entity fields of each row: which site / campaign / employee / source and site it totals."""
    if method == "get.ct_summary_report":
        return [{"site_id": s["id"], "site_domain": entity_domain("site", s["id"])} for s in refs.rows("get.sites")]
    if method == "get.ct_ac_summary_report":
        campaigns = [c for c in refs.rows("get.campaigns") if c.get("site_id") == site_id]
        return [{"ac_id": c["id"], "ac_name": entity_name("campaign", c["id"])} for c in campaigns]
    if method == "get.employee_stat":
        names = ("id", "first_name", "last_name", "patronymic", "full_name", "groups")
        return [{name: e.get(name) for name in names} for e in refs.rows("get.employees")]
    return [
        {
            "source_id": source["id"],
            "source_name": source.get("name"),
            "site_id": site["id"],
            "site_domain_name": entity_domain("site", site["id"]),
            "child_customer_id": None,
        }
        for source in refs.rows("get.sources")
        for site in refs.rows("get.sites")
    ]


def aggregate_rows(
    spec: Any, refs: ReferenceLists, *, seed: int, period: tuple[str | None, str | None], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of ``spec.name`` for the period ``(date_from, date_till)``."""
    owners = _entities(spec.name, refs, params.get("site_id"))
    rows = _generated(spec, seed, "|".join(map(str, period)), len(owners), refs.format_time)
    rng = random.Random(f"{seed}|{spec.name}|{period}|stats")
    for row, owner in zip(rows, owners, strict=True):
        row.update(owner)
        if spec.name == "get.employee_stat":  # seconds per status mnemonic (only_default_statuses_in_stats)
            row["status_stats"] = {status: rng.randrange(0, 28_800) for status in _STATUSES}
    return rows
