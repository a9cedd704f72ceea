"""select_client_users: the agent's customers joined with their users, filtered."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.customers import group_client_users, select_client_users


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [11, 21]),
        ({"active_only": False}, [11, 21, 31]),
        ({"customer_ids": ["2", 3], "active_only": False}, [21, 31]),
        ({"name_pattern": "*SHOP*"}, [21]),
        ({"name_pattern": "acme", "one_per_customer": False}, [11, 12]),
    ],
)
def test_select_client_users(kwargs, expected):
    customers = [
        {"id": 1, "name": "Acme", "status": "active"},
        {"id": 2, "name": "Beta shop", "status": "active"},
        {"id": 3, "name": "Gamma", "status": "limit_lock"},
    ]
    users = [{"id": 12, "customer_id": 1}, {"id": 11, "customer_id": 1}, {"id": 21, "customer_id": 2}]
    users.append({"id": 31, "customer_id": 3})
    kwargs.setdefault("one_per_customer", True)
    assert [e["user_id"] for e in select_client_users(customers, users, **kwargs)] == expected


@pytest.mark.parametrize(
    ("count", "group_size", "sizes"),
    [
        (1500, 1000, [750, 750]),
        (1500, 500, [500, 500, 500]),
        (10, 3, [3, 3, 2, 2]),
        (3, 10, [3]),
        (0, 5, []),
    ],
)
def test_group_client_users_chunks_in_order_as_evenly_as_possible(count, group_size, sizes):
    entries = [{"user_id": i * 10 + 1, "customer_id": i} for i in range(count)]
    groups = group_client_users(entries, group_size)
    assert [len(g["clients"]) for g in groups] == sizes
    assert all(set(g) == {"clients"} for g in groups)
    assert [e for g in groups for e in g["clients"]] == entries  # every client once, in order
