"""Fault injection: every kind, probability and schedules."""

from __future__ import annotations

import time

import pytest
import requests

from tests.unit.testing.comagic.helpers import DAY, mnemonic

BODY = {"jsonrpc": "2.0", "id": 1, "method": "get.calls_report", "params": {**DAY, "limit": 5}}


def _post(emu, method="get.calls_report", **params):
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": method,
        "params": {"access_token": emu.access_token, **DAY, "limit": 5, **params},
    }
    if method != "get.calls_report":
        body["params"] = {"access_token": emu.access_token, **params}
    return requests.post(emu.url, json=body, timeout=10)


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503"])
def test_http_errors(emu, kind):
    emu.faults.add(kind, calls={2})
    assert _post(emu).status_code == 200
    assert _post(emu).status_code == int(kind[-3:])
    assert _post(emu).status_code == 200
    assert emu.stats.points == 2 and emu.stats.faults[kind] == 1


def test_http_429_retry_after(emu):
    emu.faults.add("http_429", retry_after=7, times=1)
    response = _post(emu)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert _post(emu).status_code == 200


def test_drop_connection(emu):
    emu.faults.add("drop", times=1)
    with pytest.raises(requests.ConnectionError):
        _post(emu)
    assert _post(emu).status_code == 200
    assert emu.stats.points == 1


def test_slow_response(emu):
    emu.faults.add("slow", delay=0.3, times=1)
    started = time.monotonic()
    assert _post(emu).json()["result"]["data"]
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        emu.faults.add("slow", delay=1.0, times=1)
        requests.post(emu.url, json=BODY, timeout=0.2)


def test_truncated_body(emu):
    emu.faults.add("truncate", times=1)
    response = _post(emu)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_internal_error_not_charged(emu):
    emu.faults.add("internal_error", method="get.calls_report", calls={1})
    reply = _post(emu).json()
    assert mnemonic(reply) == "internal_error" and reply["error"]["code"] == -32603
    assert emu.stats.points == 0
    assert "result" in _post(emu).json()


def test_limit_exceeded_fault(emu):
    emu.faults.add("limit_exceeded", limit_type="day", times=1)
    reply = _post(emu).json()
    assert mnemonic(reply) == "limit_exceeded" and reply["error"]["data"]["params"]["limit_type"] == "day"
    emu.faults.add("limit_exceeded", exhaust=True, times=1)
    assert mnemonic(_post(emu).json()) == "limit_exceeded"
    assert mnemonic(_post(emu).json()) == "limit_exceeded"  # the minute is really spent
    emu.clock.advance(60)
    assert "result" in _post(emu).json()


def test_token_revoked_mid_run(emu):
    emu.faults.add("revoke_token", calls={3})
    assert "result" in _post(emu).json() and "result" in _post(emu).json()
    assert mnemonic(_post(emu).json()) == "access_token_invalid"
    assert mnemonic(_post(emu).json()) == "access_token_invalid"


def test_session_expiry_fault(emu):
    login = requests.post(
        emu.url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "login.user",
            "params": {"login": emu.login, "password": emu.password},
        },
    ).json()
    token = login["result"]["data"]["access_token"]
    emu.faults.add("expire_session", method="get.account", times=1)
    reply = requests.post(
        emu.url, json={"jsonrpc": "2.0", "id": 2, "method": "get.account", "params": {"access_token": token}}
    ).json()
    assert mnemonic(reply) == "access_token_expired"
    assert "result" in _post(emu, "get.account").json()


def test_rows_added_while_paging(emu):
    total = len(emu.truth("get.calls_report", **DAY))
    emu.faults.add("add_rows", rows=4, calls={2})
    first = _post(emu).json()["result"]["metadata"]["total_items"]
    second = _post(emu, offset=5).json()["result"]["metadata"]["total_items"]
    assert (first, second) == (total, total + 4)
    assert len(emu.truth("get.calls_report", **DAY)) == total + 4


def test_probability_is_seeded(comagic_emulator_factory):
    outcomes = []
    for _ in range(2):
        emu = comagic_emulator_factory(seed=7, calls_per_day=10)
        emu.faults.add("http_503", probability=0.5)
        outcomes.append([_post(emu).status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1] and {200, 503} == set(outcomes[0])


def test_schedule_by_method_and_range(emu):
    emu.faults.add("http_500", method="get.account", calls=range(2, 4))
    codes = [_post(emu, "get.account").status_code for _ in range(5)]
    assert codes == [200, 500, 500, 200, 200]
    assert _post(emu).status_code == 200  # other methods are untouched


def test_faults_from_config(comagic_emulator_factory):
    from airflow_provider_comagic.testing import Fault

    emu = comagic_emulator_factory(calls_per_day=10, faults=[Fault("http_502", calls={1})])
    assert _post(emu).status_code == 502
    emu.faults.clear()
    assert _post(emu).status_code == 200
