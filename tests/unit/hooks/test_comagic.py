"""ComagicHook over real HTTP on 127.0.0.1 (pytest-httpserver): auth, errors, retries, quota, secrets, agent methods."""

from __future__ import annotations

import datetime as dt
import json
import logging

import orjson
import pendulum
import pytest
from werkzeug import Response

from airflow_provider_comagic.comagic.errors import (
    ComagicAuthError,
    ComagicComponentDisabledError,
    ComagicDayLimitExceededError,
    ComagicInvalidParamsError,
    ComagicIpNotWhitelistedError,
    ComagicMethodNotFoundError,
    ComagicMinuteLimitExceededError,
    ComagicParameterError,
    ComagicPermissionError,
    ComagicTokenExpiredError,
    ComagicTransportError,
)
from airflow_provider_comagic.hooks.comagic import ComagicHook
from tests.fixtures.jsonrpc import LIMITS, PASSWORD, TOKEN, set_conn
from tests.fixtures.sleeps import Sleeps


@pytest.fixture
def hook(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver)
    sleeps = Sleeps()
    h = ComagicHook(sleep=sleeps, retry_initial_wait=0.5, retry_max_wait=4)
    h.sleeps = sleeps
    return h


def test_call_sends_json_rpc_with_token_and_content_type(hook, api, httpserver):
    result = hook.call("get.account")
    assert result["metadata"]["limits"]["day_remaining"] == 9000
    body = api.requests[0]
    assert body["jsonrpc"] == "2.0" and body["method"] == "get.account"
    assert body["params"]["access_token"] == TOKEN
    assert isinstance(body["id"], str) and len(body["id"]) >= 16
    request, _ = httpserver.log[0]
    assert request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert hook.quota.calls == 1 and hook.quota.points == 1


def test_user_id_from_connection_is_sent_in_every_call(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, extra=json.dumps({"user_id": 42}))
    ComagicHook().call("get.account")
    assert api.requests[0]["params"]["user_id"] == 42


def test_response_id_mismatch_is_retried(hook, api):
    api.queue.append(lambda body: Response(orjson.dumps({"jsonrpc": "2.0", "id": "other", "result": {}}), 200))
    hook.call("get.account")
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("mnemonic", "code", "exc"),
    [
        ("auth_error", -32001, ComagicAuthError),
        ("access_token_invalid", -32001, ComagicTokenExpiredError),
        ("ip_not_whitelisted", -32003, ComagicIpNotWhitelistedError),
        ("forbidden", -32003, ComagicPermissionError),
        ("method_component_disabled", -32008, ComagicComponentDisabledError),
        ("invalid_parameter_value", -32602, ComagicInvalidParamsError),
        ("filter_prohibited", -32602, ComagicInvalidParamsError),
        ("date_interval_limit_reached", -32602, ComagicInvalidParamsError),
        ("method_not_found", -32601, ComagicMethodNotFoundError),
    ],
)
def test_permanent_errors_fail_fast_with_typed_exception(hook, api, mnemonic, code, exc):
    api.queue.append(api.error(mnemonic, code, field="date_from", value="2026-13-01"))
    with pytest.raises(exc) as info:
        hook.call("get.calls_report", {"date_from": "2026-13-01"})
    assert info.value.mnemonic == mnemonic and info.value.code == code
    text = str(info.value)
    assert "get.calls_report" in text and mnemonic in text and "date_from" in text
    assert len(api.requests) == 1  # no retry


def test_ip_not_whitelisted_says_what_to_do(hook, api):
    api.queue.append(api.error("ip_not_whitelisted", -32003, params={"ip": "203.0.113.5"}))
    with pytest.raises(ComagicIpNotWhitelistedError, match="whitelist"):
        hook.call("get.account")


@pytest.mark.parametrize(
    "fault",
    [
        Response("busy", 503),
        Response("bad gateway", 502),
        Response("oops", 500),
        Response("slow down", 429, headers={"Retry-After": "3"}),
        Response(b'{"jsonrpc": "2.0", "id": "x", "resu', 200),
        "internal_error",
    ],
)
def test_transient_faults_are_retried_with_backoff(hook, api, fault):
    if fault == "internal_error":
        fault = api.error("internal_error", -32603)
    api.queue.extend([fault, fault])
    hook.call("get.account")
    assert len(api.requests) == 3
    assert len(hook.sleeps) == 2 and all(s > 0 for s in hook.sleeps)
    if getattr(fault, "status_code", None) == 429:
        assert min(hook.sleeps) >= 3  # Retry-After honoured


def test_retries_are_bounded(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, extra=json.dumps({"max_retries": 2}))
    api.queue.extend([Response("busy", 503)] * 5)
    hook = ComagicHook(sleep=lambda s: None)
    with pytest.raises(ComagicTransportError, match="HTTP 503"):
        hook.call("get.account")
    assert len(api.requests) == 3


def test_connection_refused_is_transient_and_bounded(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_COMAGIC_DEFAULT",
        json.dumps({"conn_type": "comagic", "host": "http://127.0.0.1:9", "password": TOKEN}),
    )
    hook = ComagicHook(max_retries=1, sleep=lambda s: None)
    with pytest.raises(ComagicTransportError, match="was refused"):
        hook.call("get.account")
    assert hook.quota.requests == 2


def test_minute_limit_exhausted_waits_before_next_call(hook, api):
    api.limits = {**LIMITS, "minute_remaining": 0, "minute_reset": 17}
    hook.call("get.account")
    api.limits = dict(LIMITS)
    hook.call("get.account")
    assert hook.sleeps == [pytest.approx(17, abs=0.5)]


def test_minute_limit_exceeded_error_waits_and_retries(hook, api):
    api.queue.append(
        api.error(
            "limit_exceeded",
            -32029,
            limits={**LIMITS, "minute_remaining": 0, "minute_reset": 12},
            params={"limit_type": "minute"},
        )
    )
    hook.call("get.account")
    assert hook.sleeps == [12] and len(api.requests) == 2


def test_day_limit_fails_fast_saying_when_it_resets(hook, api):
    api.queue.append(
        api.error(
            "limit_exceeded",
            -32029,
            limits={**LIMITS, "day_remaining": 0, "day_reset": 7200},
            params={"limit_type": "day"},
        )
    )
    with pytest.raises(ComagicDayLimitExceededError, match="resets in 7200 s"):
        hook.call("get.account")
    assert len(api.requests) == 1 and hook.sleeps == []


def test_spent_day_quota_fails_before_sending(hook, api):
    api.limits = {**LIMITS, "day_remaining": 0, "day_reset": 500}
    hook.call("get.account")
    with pytest.raises(ComagicDayLimitExceededError):
        hook.call("get.account")
    assert len(api.requests) == 1


def test_login_password_session_is_cached_and_renewed_on_expiry(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, login="analyst", password=PASSWORD)
    hook = ComagicHook(sleep=lambda s: None)
    hook.call("get.account")
    hook.call("get.account")
    methods = [r["method"] for r in api.requests]
    assert methods == ["login.user", "get.account", "get.account"]
    assert api.requests[0]["params"] == {"login": "analyst", "password": PASSWORD}
    assert api.requests[1]["params"]["access_token"] == "session-1"

    api.queue.append(api.error("access_token_expired", -32001))
    hook.call("get.account")
    methods = [r["method"] for r in api.requests]
    assert methods[3:] == ["get.account", "login.user", "get.account"]
    assert api.requests[-1]["params"]["access_token"] == "session-5"


def test_session_renewed_before_expire_at(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, login="analyst", password=PASSWORD)
    now = [1_000_000.0]
    hook = ComagicHook(wall_clock=lambda: now[0])
    api.queue.append(
        lambda body: Response(
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "result": {"data": {"access_token": "s1", "expire_at": now[0] + 3600}},
                }
            )
        )
    )
    hook.call("get.account")
    now[0] += 3590  # inside the renewal margin
    hook.call("get.account")
    assert [r["method"] for r in api.requests] == ["login.user", "get.account", "login.user", "get.account"]


def test_renewal_happens_once_then_fails(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, login="analyst", password=PASSWORD)
    api.queue.extend(
        [api.ok, api.error("access_token_expired", -32001), api.ok, api.error("access_token_expired", -32001)]
    )
    with pytest.raises(ComagicTokenExpiredError):
        ComagicHook(sleep=lambda s: None).call("get.account")


def test_wrong_password_fails_fast(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, login="analyst", password="wrong")
    api.queue.append(api.error("auth_error", -32001))
    with pytest.raises(ComagicAuthError, match="uiscom"):
        ComagicHook(sleep=lambda s: None).call("get.account")
    assert len(api.requests) == 1


def test_permanent_token_is_not_renewed(hook, api):
    api.queue.append(api.error("access_token_expired", -32001))
    with pytest.raises(ComagicTokenExpiredError):
        hook.call("get.account")
    assert len(api.requests) == 1


def test_secrets_never_appear_in_logs_or_exceptions(api, httpserver, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, httpserver, login="analyst", password=PASSWORD)
    hook = ComagicHook(sleep=lambda s: None, max_retries=1)
    texts = []
    api.queue.extend(
        [
            api.ok,
            Response("busy", 503),
            api.error("access_token_invalid", -32001, field="access_token", value="session-1"),
            api.error("invalid_parameter_value", -32602, field="date_from", value=f"x{PASSWORD}x"),
        ]
    )
    for _ in range(2):
        try:
            hook.call("get.calls_report", {"date_from": "x"})
        except Exception as error:
            texts.append(str(error))
            texts.append(repr(error))
    texts.append(repr(hook.config))
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert "invalid_parameter_value" in blob
    for secret in (PASSWORD, "session-1", "session-5"):
        assert secret not in blob


def test_test_connection_reports_points(hook, api):
    api.queue.append(lambda body: api.ok(body, data=[{"app_id": 7, "name": "Shop", "timezone": "Asia/Yekaterinburg"}]))
    ok, message = hook.test_connection()
    assert ok
    assert "9000 of 10000 today" in message and "Shop" in message and "Asia/Yekaterinburg" in message


def test_test_connection_explains_auth_failure(hook, api):
    api.queue.append(api.error("access_token_invalid", -32001))
    ok, message = hook.test_connection()
    assert not ok and "dataapi.comagic.ru" in message and TOKEN not in message


def test_iter_pages_validates_before_any_call(hook, api):
    day = dt.datetime(2026, 11, 25, tzinfo=pendulum.timezone("Europe/Moscow"))
    with pytest.raises(ComagicParameterError, match="no_such_field"):
        list(hook.iter_pages("get.calls_report", day, day + dt.timedelta(days=1), fields=["no_such_field"]))
    with pytest.raises(ComagicParameterError):
        list(hook.iter_pages("get.calls_report", day, day - dt.timedelta(days=1)))
    with pytest.raises(ValueError, match="aware"):
        list(hook.iter_pages("get.calls_report", day.replace(tzinfo=None), day + dt.timedelta(days=1)))
    with pytest.raises(ComagicParameterError, match=r"get\.nope"):
        list(hook.iter_pages("get.nope", day, day + dt.timedelta(days=1)))
    assert api.requests == []


# -- quota errors instead of waits (wait_for_quota=False), agent methods ---------------------------------------------
@pytest.fixture
def raising_hook(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver)
    sleeps = Sleeps()
    hook = ComagicHook(sleep=sleeps, wait_for_quota=False)
    hook.sleeps = sleeps
    return hook


def test_spent_minute_quota_raises_before_sending_instead_of_sleeping(raising_hook, api):
    api.limits = {**LIMITS, "minute_remaining": 0, "minute_reset": 17}
    raising_hook.call("get.account")
    with pytest.raises(ComagicMinuteLimitExceededError) as error:
        raising_hook.call("get.account")
    assert len(api.requests) == 1 and raising_hook.sleeps == []
    assert error.value.reset_seconds == pytest.approx(17, abs=0.5)


def test_minute_limit_exceeded_from_the_api_is_raised_not_retried(raising_hook, api):
    limits = {**LIMITS, "minute_remaining": 0, "minute_reset": 12}
    api.queue.append(api.error("limit_exceeded", -32029, limits=limits, params={"limit_type": "minute"}))
    with pytest.raises(ComagicMinuteLimitExceededError) as error:
        raising_hook.call("get.account")
    assert error.value.reset_seconds == 12 and len(api.requests) == 1 and raising_hook.sleeps == []


def test_day_limit_still_fails_fast(raising_hook, api):
    limits = {**LIMITS, "day_remaining": 0, "day_reset": 7200}
    api.queue.append(api.error("limit_exceeded", -32029, limits=limits, params={"limit_type": "day"}))
    with pytest.raises(ComagicDayLimitExceededError, match="resets in 7200 s"):
        raising_hook.call("get.account")


def test_connection_user_id_is_not_sent_to_the_agents_own_methods(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, extra=json.dumps({"user_id": 42}))
    hook = ComagicHook()
    hook.call("get.customers")
    hook.call("get.calls_report", {"user_id": 7})
    hook.call("get.account")
    assert "user_id" not in api.requests[0]["params"]
    assert api.requests[1]["params"]["user_id"] == 7  # the caller's user_id wins
    assert api.requests[2]["params"]["user_id"] == 42


def test_list_customer_users_joins_and_filters(api, httpserver, monkeypatch):
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
    # the list's order field comes along: the paging engine tells tied rows apart by it
    assert api.requests[0]["params"]["fields"] == ["id", "name", "status", "creation_date_time"]
    assert entries == [
        {"user_id": 11, "customer_id": 1, "customer_name": "Acme", "user_login": "acme-api"},
        {"user_id": 12, "customer_id": 1, "customer_name": "Acme", "user_login": "acme-2"},
        {"user_id": 21, "customer_id": 2, "customer_name": "Beta shop", "user_login": "beta-api"},
    ]


def test_raw_rows_are_decoded_to_dicts_in_the_callers_thread():
    import msgspec

    from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
    from airflow_provider_comagic.hooks.comagic import _decoded

    raw = msgspec.json.decode(b'[{"id": 1, "tags": [{"a": null}]}, {"id": 2}]', type=list[msgspec.Raw])
    assert _decoded(raw, "get.calls_report") == [{"id": 1, "tags": [{"a": None}]}, {"id": 2}]
    dicts = [{"id": 3}]
    assert _decoded(dicts, "get.calls_report") is dicts  # a response read whole already gave dicts
    too_big = msgspec.json.decode(b'[{"id": 1e400}]', type=list[msgspec.Raw])  # valid JSON, beyond a float
    with pytest.raises(ComagicDataIntegrityError, match=r"get\.calls_report: a row of the result cannot be decoded"):
        _decoded(too_big, "get.calls_report")
