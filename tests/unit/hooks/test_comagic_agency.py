"""ComagicHook: quota errors instead of waits (wait_for_quota=False), agent methods and client-user listing."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.comagic.customers import select_client_users
from airflow_provider_comagic.comagic.errors import ComagicDayLimitExceededError, ComagicMinuteLimitExceededError
from airflow_provider_comagic.hooks.comagic import ComagicHook
from tests.unit.hooks.test_comagic import LIMITS, Sleeps, api, set_conn  # noqa: F401 - api is a fixture


@pytest.fixture
def raising_hook(api, httpserver, monkeypatch):  # noqa: F811
    set_conn(monkeypatch, httpserver)
    sleeps = Sleeps()
    hook = ComagicHook(sleep=sleeps, wait_for_quota=False)
    hook.sleeps = sleeps
    return hook


def test_spent_minute_quota_raises_before_sending_instead_of_sleeping(raising_hook, api):  # noqa: F811
    api.limits = {**LIMITS, "minute_remaining": 0, "minute_reset": 17}
    raising_hook.call("get.account")
    with pytest.raises(ComagicMinuteLimitExceededError) as error:
        raising_hook.call("get.account")
    assert len(api.requests) == 1 and raising_hook.sleeps == []
    assert error.value.reset_seconds == pytest.approx(17, abs=0.5)


def test_minute_limit_exceeded_from_the_api_is_raised_not_retried(raising_hook, api):  # noqa: F811
    limits = {**LIMITS, "minute_remaining": 0, "minute_reset": 12}
    api.queue.append(api.error("limit_exceeded", -32029, limits=limits, params={"limit_type": "minute"}))
    with pytest.raises(ComagicMinuteLimitExceededError) as error:
        raising_hook.call("get.account")
    assert error.value.reset_seconds == 12 and len(api.requests) == 1 and raising_hook.sleeps == []


def test_day_limit_still_fails_fast(raising_hook, api):  # noqa: F811
    limits = {**LIMITS, "day_remaining": 0, "day_reset": 7200}
    api.queue.append(api.error("limit_exceeded", -32029, limits=limits, params={"limit_type": "day"}))
    with pytest.raises(ComagicDayLimitExceededError, match="resets in 7200 s"):
        raising_hook.call("get.account")


def test_connection_user_id_is_not_sent_to_the_agents_own_methods(api, httpserver, monkeypatch):  # noqa: F811
    set_conn(monkeypatch, httpserver, extra=json.dumps({"user_id": 42}))
    hook = ComagicHook()
    hook.call("get.customers")
    hook.call("get.calls_report", {"user_id": 7})
    hook.call("get.account")
    assert "user_id" not in api.requests[0]["params"]
    assert api.requests[1]["params"]["user_id"] == 7  # the caller's user_id wins
    assert api.requests[2]["params"]["user_id"] == 42


def test_list_customer_users_joins_and_filters(api, httpserver, monkeypatch):  # noqa: F811
    set_conn(monkeypatch, httpserver)
    customers = [
        {"id": 2, "name": "Beta shop", "status": "active"},
        {"id": 1, "name": "Acme", "status": "active"},
        {"id": 3, "name": "Gamma", "status": "debt_lock"},
    ]
    users = [
        {"id": 21, "login": "beta-api", "customer_id": 2},
        {"id": 11, "login": "acme-api", "customer_id": 1},
        {"id": 12, "login": "acme-2", "customer_id": 1},
        {"id": 31, "login": "gamma-api", "customer_id": 3},
    ]
    api.queue += [lambda body: api.ok(body, customers, 3), lambda body: api.ok(body, users, 4)]
    entries = ComagicHook().list_customer_users()
    assert [r["method"] for r in api.requests] == ["get.customers", "get.customer_users"]
    assert api.requests[0]["params"]["fields"] == ["id", "name", "status"]
    assert entries == [
        {"user_id": 11, "customer_id": 1, "customer_name": "Acme", "user_login": "acme-api"},
        {"user_id": 12, "customer_id": 1, "customer_name": "Acme", "user_login": "acme-2"},
        {"user_id": 21, "customer_id": 2, "customer_name": "Beta shop", "user_login": "beta-api"},
    ]


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


def test_async_hook_raises_instead_of_waiting_too(api, httpserver, monkeypatch):  # noqa: F811
    import asyncio

    from airflow_provider_comagic.hooks.comagic_async import ComagicAsyncHook

    set_conn(monkeypatch, httpserver)
    spent = {**LIMITS, "minute_remaining": 0, "minute_reset": 12}
    api.queue.append(api.error("limit_exceeded", -32029, limits=spent, params={"limit_type": "minute"}))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def call() -> None:
        async with ComagicAsyncHook(sleep=sleep, wait_for_quota=False) as hook:
            await hook.call("get.account")

    with pytest.raises(ComagicMinuteLimitExceededError):
        asyncio.run(call())
    assert slept == [] and len(api.requests) == 1
