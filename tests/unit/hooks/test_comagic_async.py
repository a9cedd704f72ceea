"""ComagicAsyncHook over real HTTP on 127.0.0.1 (pytest-httpserver): the same behaviour as the sync hook."""

from __future__ import annotations

import json
import logging

import pytest
from werkzeug import Response

from airflow_provider_comagic.comagic.errors import (
    ComagicDayLimitExceededError,
    ComagicError,
    ComagicInvalidParamsError,
    ComagicMinuteLimitExceededError,
    ComagicTokenExpiredError,
    ComagicTransportError,
)
from airflow_provider_comagic.hooks import comagic_async
from airflow_provider_comagic.hooks.comagic_async import ComagicAsyncHook
from tests.fixtures.jsonrpc import LIMITS, PASSWORD, TOKEN, set_conn
from tests.fixtures.sleeps import AsyncSleeps


@pytest.fixture
def sleeps():
    return AsyncSleeps()


@pytest.fixture
def hook(api, httpserver, monkeypatch, sleeps):
    set_conn(monkeypatch, httpserver)
    return ComagicAsyncHook(sleep=sleeps, retry_initial_wait=0.5, retry_max_wait=4)


async def test_call_sends_json_rpc_with_token(hook, api, httpserver):
    async with hook:
        result = await hook.call("get.account", request_id="fixed-id")
    assert result["metadata"]["limits"] == LIMITS
    body = api.requests[0]
    assert body["method"] == "get.account" and body["id"] == "fixed-id"
    assert body["params"]["access_token"] == TOKEN
    request, _ = httpserver.log[0]
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert hook.quota.calls == 1 and hook.quota.points == 1


async def test_connection_is_fetched_once_and_asynchronously(hook, api, monkeypatch):
    fetched = []
    original = comagic_async.aget_connection

    async def counting(conn_id):
        fetched.append(conn_id)
        return await original(conn_id)

    monkeypatch.setattr(comagic_async, "aget_connection", counting)
    async with hook:
        await hook.call("get.account")
        await hook.call("get.account")
    async with hook:  # a second session of the same hook reuses the parsed connection
        await hook.call("get.account")
    assert fetched == ["comagic_default"]
    assert hook._http is None  # the session is closed on exit


async def test_calls_outside_the_context_fail_clearly(hook):
    with pytest.raises(ComagicError, match="async with"):
        await hook.call("get.account")


async def test_transient_faults_are_retried_with_async_backoff(hook, api, sleeps):
    api.queue.extend([Response("busy", 503), Response("slow down", 429, headers={"Retry-After": "3"})])
    async with hook:
        await hook.call("get.account")
    assert len(api.requests) == 3
    assert len(sleeps) == 2 and sleeps[1] >= 3


async def test_retries_are_bounded(api, httpserver, monkeypatch, sleeps):
    set_conn(monkeypatch, httpserver, extra=json.dumps({"max_retries": 2}))
    api.queue.extend([Response("busy", 503)] * 5)
    async with ComagicAsyncHook(sleep=sleeps) as hook:
        with pytest.raises(ComagicTransportError, match="HTTP 503"):
            await hook.call("get.account")
    assert len(api.requests) == 3


async def test_connection_refused_is_transient(monkeypatch, sleeps):
    monkeypatch.setenv(
        "AIRFLOW_CONN_COMAGIC_DEFAULT",
        json.dumps({"conn_type": "comagic", "host": "http://127.0.0.1:9", "password": TOKEN}),
    )
    async with ComagicAsyncHook(max_retries=1, sleep=sleeps) as hook:
        with pytest.raises(ComagicTransportError, match=r"connection to 127\.0\.0\.1:9 was refused"):
            await hook.call("get.account")
    assert len(sleeps) == 1


async def test_permanent_errors_are_not_retried(hook, api):
    api.queue.append(api.error("invalid_parameter_value", -32602))
    async with hook:
        with pytest.raises(ComagicInvalidParamsError):
            await hook.call("get.calls_report")
    assert len(api.requests) == 1


async def test_minute_limit_is_waited_out_with_asyncio_sleep(hook, api, sleeps):
    spent = {**LIMITS, "minute_remaining": 0, "minute_reset": 12}
    api.queue.append(api.error("limit_exceeded", -32029, limits=spent, params={"limit_type": "minute"}))
    async with hook:
        await hook.call("get.account")
    assert sleeps == [12] and len(api.requests) == 2


async def test_day_limit_fails_fast(hook, api, sleeps):
    spent = {**LIMITS, "day_remaining": 0, "day_reset": 7200}
    api.queue.append(api.error("limit_exceeded", -32029, limits=spent, params={"limit_type": "day"}))
    async with hook:
        with pytest.raises(ComagicDayLimitExceededError, match="resets in 7200 s"):
            await hook.call("get.account")
    assert sleeps == []


async def test_login_session_is_renewed_on_expiry_and_never_logged(api, httpserver, monkeypatch, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, httpserver, login="analyst", password=PASSWORD)
    api.queue.extend([api.ok, api.ok, api.error("access_token_expired", -32001)])
    async with ComagicAsyncHook(sleep=sleeps) as hook:
        await hook.call("get.account")
        await hook.call("get.account")
        assert hook.session_ttl > 0
    methods = [r["method"] for r in api.requests]
    assert methods == ["login.user", "get.account", "get.account", "login.user", "get.account"]
    assert api.requests[-1]["params"]["access_token"] == "session-4"
    for secret in (PASSWORD, "session-1", "session-4"):
        assert secret not in caplog.text


async def test_permanent_token_is_not_renewed(hook, api):
    api.queue.append(api.error("access_token_expired", -32001))
    async with hook:
        with pytest.raises(ComagicTokenExpiredError):
            await hook.call("get.account")
    assert len(api.requests) == 1


async def test_iter_pages_drives_the_shared_page_plan(hook, api):
    import datetime as dt

    tz = dt.timezone(dt.timedelta(hours=3))
    api.pages = [{"ext_id": str(i), "upload_time": "2024-06-01 12:00:00"} for i in range(25)]
    async with hook:
        pages = [
            page
            async for page in hook.iter_pages(
                "get.uploaded_calls",
                dt.datetime(2024, 6, 1, tzinfo=tz),
                dt.datetime(2024, 6, 2, tzinfo=tz),
                page_size=10,
                fields=["ext_id", "status"],
            )
        ]
    # get.uploaded_calls is sorted by ext_id, ext_request_id and each page re-reads the last 2 rows of the one
    # before (attempts of one call may tie in that order): they are skipped by key
    assert [len(p) for p in pages] == [10, 8, 7]
    offsets = [r["params"]["offset"] for r in api.requests]
    assert offsets == [0, 8, 16]
    params = api.requests[0]["params"]
    assert params["date_from"] == "2024-06-01 00:00:00" and params["date_till"] == "2024-06-01 23:59:59"
    assert params["fields"] == ["ext_id", "status", "ext_request_id", "upload_time"]
    assert [s["field"] for s in params["sort"]] == ["ext_id", "ext_request_id"]


def test_async_hook_raises_instead_of_waiting_too(api, httpserver, monkeypatch):
    import asyncio

    set_conn(monkeypatch, httpserver)
    spent = {**LIMITS, "minute_remaining": 0, "minute_reset": 12}
    api.queue.append(api.error("limit_exceeded", -32029, limits=spent, params={"limit_type": "minute"}))
    slept = AsyncSleeps()

    async def call() -> None:
        async with ComagicAsyncHook(sleep=slept, wait_for_quota=False) as hook:
            await hook.call("get.account")

    with pytest.raises(ComagicMinuteLimitExceededError):
        asyncio.run(call())
    assert slept == [] and len(api.requests) == 1
