"""select_client_users: the agent's customers joined with their users, filtered."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.customers import select_client_users


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
