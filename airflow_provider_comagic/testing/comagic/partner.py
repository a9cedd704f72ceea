"""Partner (agent) mode: the customers and customer users an agent account sees.

With ``EmulatorConfig.partner_customers = N`` the account is an agent's: ``get.customers`` and
``get.customer_users`` list N customers with one API user each, and every other call must name one of those
users with ``user_id`` ("Является обязательным для агента"); each customer has its own seeded data.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from airflow_provider_comagic.testing.comagic.values import column_generator, derive_names

CUSTOMER_BASE = 500_000


def user_id_of(customer_id: int) -> int:
    """The API user of a customer (one per customer)."""
    return customer_id * 10 + 1


def customer_of(user_id: int) -> int:
    return (user_id - 1) // 10


def customer_seed(seed: int, customer_id: int) -> int:
    digest = hashlib.blake2b(f"{seed}|customer|{customer_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def partner_rows(
    spec: Any, *, seed: int, count: int, now: float, format_time: Callable[[int], str]
) -> list[dict[str, Any]]:
    """Rows of get.customers / get.customer_users for ``count`` customers."""
    pools = random.Random(f"{seed}|{spec.name}|pools")
    names = [f.name for f in spec.fields]
    times = [int(now) - 86_400 * (30 + 7 * i) for i in range(count)]
    columns = []
    for field in spec.fields:
        generate = column_generator(field, pools, format_time)
        columns.append(generate(random.Random(f"{seed}|{spec.name}|{field.name}"), count, times))
    customer_ids = [CUSTOMER_BASE + i + 1 for i in range(count)]
    index = {name: i for i, name in enumerate(names)}
    if spec.name == "get.customers":
        columns[index["id"]] = customer_ids
        if "name" in index:
            columns[index["name"]] = [f"Customer {c}" for c in customer_ids]
        if "status" in index:  # working clients: an agent's fan-out skips locked ones by default
            columns[index["status"]] = ["active"] * count
        if "creation_date_time" in index:  # every customer was created once (what a snapshot pages them by)
            columns[index["creation_date_time"]] = [format_time(t) for t in times]
    else:
        columns[index["id"]] = [user_id_of(c) for c in customer_ids]
        columns[index["customer_id"]] = customer_ids
        if "login" in index:
            columns[index["login"]] = [f"api-user-{c}" for c in customer_ids]
    derive_names(names, columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    for row in rows:
        row["__seq__"] = row["id"]
    return rows
