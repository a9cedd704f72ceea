"""Agency (partner) accounts: which client users to act as, without I/O.

An agent's connection lists its clients with ``get.customers`` and the API users of each client with
``get.customer_users``; every client method then takes the chosen user's ``user_id``. :func:`select_client_users`
joins the two lists into small entries, one per client user, that feed dynamic task mapping::

    {"user_id": 5000011, "customer_id": 500001, "customer_name": "Acme", "user_login": "api-acme"}

Every key of an entry is a parameter of the report operators, so ``.expand_kwargs(entries)`` works as is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CUSTOMER_FIELDS", "USER_FIELDS", "group_client_users", "select_client_users"]

CUSTOMER_FIELDS = ("id", "name", "status")
"""Fields of ``get.customers`` the selection needs."""
USER_FIELDS = ("id", "login", "customer_id")
"""Fields of ``get.customer_users`` the selection needs."""
ACTIVE = "active"


def select_client_users(
    customers: Iterable[Mapping[str, Any]],
    users: Iterable[Mapping[str, Any]],
    *,
    active_only: bool = True,
    customer_ids: Iterable[int | str] | None = None,
    name_pattern: str | None = None,
    one_per_customer: bool = False,
) -> list[dict[str, Any]]:
    """Join customers and their API users into fan-out entries, ordered by customer id then user id.

    :param active_only: keep customers whose ``status`` is ``active`` (locked and waiting ones are dropped).
    :param customer_ids: keep only these customers.
    :param name_pattern: keep customers whose name matches this shell-style pattern, case-insensitively
        (``"Acme*"``, ``"*shop*"``).
    :param one_per_customer: keep the lowest user id of each customer (two users of one client would land
        the same client's data twice).
    """
    wanted = {int(c) for c in customer_ids} if customer_ids is not None else None
    pattern = name_pattern.casefold() if name_pattern else None
    selected: dict[int, Mapping[str, Any]] = {}
    for customer in customers:
        if active_only and customer.get("status") != ACTIVE:
            continue
        if wanted is not None and customer.get("id") not in wanted:
            continue
        if pattern is not None and not fnmatch.fnmatchcase(str(customer.get("name") or "").casefold(), pattern):
            continue
        selected[customer["id"]] = customer
    entries: list[dict[str, Any]] = []
    taken: set[int] = set()
    for user in sorted(users, key=lambda u: (u.get("customer_id") or 0, u.get("id") or 0)):
        customer = selected.get(user.get("customer_id"))  # type: ignore[arg-type]
        if customer is None or (one_per_customer and customer["id"] in taken):
            continue
        taken.add(customer["id"])
        entries.append(
            {
                "user_id": user["id"],
                "customer_id": customer["id"],
                "customer_name": customer.get("name"),
                "user_login": user.get("login"),
            }
        )
    return entries


def group_client_users(entries: list[dict[str, Any]], group_size: int) -> list[dict[str, list[dict[str, Any]]]]:
    """Chunk fan-out entries into groups of at most ``group_size``, in order: ``[{"clients": [entry, ...]}, ...]``.

    Each group is the ``clients`` argument of one report task (``.expand_kwargs(groups)``), so an agency with
    more clients than Airflow's ``[core] max_map_length`` maps one task per group instead of one per client.
    The groups are as even as the count allows (1 500 clients in groups of at most 1 000 make two of 750).
    """
    if not entries:
        return []
    count = -(-len(entries) // group_size)  # ceil: the fewest groups of at most group_size
    base, extra = divmod(len(entries), count)
    groups, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        groups.append({"clients": entries[start:end]})
        start = end
    return groups
