"""Envelope, error format, authentication and account: index.txt conventions."""

from __future__ import annotations

import requests

from airflow_provider_comagic.comagic.errors import API_ERRORS
from tests.unit.testing.comagic.helpers import DAY, NOW, make_api, mnemonic

LIMIT_KEYS = {"day_limit", "day_remaining", "day_reset", "minute_limit", "minute_remaining", "minute_reset"}


def _raw(emu, body: bytes) -> dict:
    response = requests.post(emu.url, data=body, headers={"Content-Type": "application/json; charset=UTF-8"})
    assert response.status_code == 200
    return response.json()


def test_error_json_structure(api):
    reply = api("get.calls_report", date_from="bad", date_till="2024-05-01 00:00:00")
    assert reply["jsonrpc"] == "2.0" and reply["id"] == 1
    error = reply["error"]
    assert (error["code"], error["message"]) == API_ERRORS["invalid_parameter_value"]
    assert error["data"]["mnemonic"] == "invalid_parameter_value"
    assert error["data"]["field"] == "date_from" and error["data"]["value"] == "bad"
    assert set(error["data"]["metadata"]["limits"]) == LIMIT_KEYS


def test_success_has_data_and_metadata(api):
    result = api("get.calls_report", **DAY, limit=3)["result"]
    assert isinstance(result["data"], list) and len(result["data"]) == 3
    assert result["metadata"]["total_items"] == 200
    assert set(result["metadata"]["limits"]) == LIMIT_KEYS


def test_parse_error(emu):
    assert _raw(emu, b"{not json")["error"]["data"]["mnemonic"] == "parse_error"


def test_batch_not_supported(emu):
    assert _raw(emu, b"[]")["error"]["data"]["mnemonic"] == "batch_opreations_not_supported"


def test_notification_not_supported(emu):
    reply = _raw(emu, b'{"jsonrpc": "2.0", "method": "get.account", "params": {}}')
    assert reply["error"]["data"]["mnemonic"] == "notifications_not_supported"


def test_invalid_request(emu):
    reply = _raw(emu, b'{"jsonrpc": "1.0", "id": 1, "method": "get.account", "params": {}}')
    assert reply["error"]["data"]["mnemonic"] == "invalid_request"


def test_method_not_found(api):
    assert mnemonic(api("get.nothing")) == "method_not_found"


def test_post_only(emu):
    assert requests.get(emu.url).status_code == 405


def test_missing_token(api):
    reply = api("get.account", _token=None)
    assert mnemonic(reply) == "required_parameter_missed" and reply["error"]["data"]["field"] == "access_token"


def test_unknown_token(api):
    assert mnemonic(api("get.account", _token="nope")) == "access_token_invalid"


def test_get_account(api, emu):
    reply = api("get.account")
    assert reply["result"]["data"] == [
        {"app_id": emu.config.app_id, "name": emu.config.account_name, "timezone": "Europe/Moscow"}
    ]


def test_login_logout(api, emu):
    assert mnemonic(api("login.user", _token=None, login=emu.login, password="wrong")) == "auth_error"
    data = api("login.user", _token=None, login=emu.login, password=emu.password)["result"]["data"]
    assert data["app_id"] == emu.config.app_id
    assert data["expire_at"] == int(emu.clock.now()) + 3600
    assert "result" in api("get.account", _token=data["access_token"])
    assert api("logout.user", _token=data["access_token"])["result"]["data"] == {}
    assert mnemonic(api("get.account", _token=data["access_token"])) == "access_token_invalid"


def test_session_expires_with_clock(api, emu):
    token = api("login.user", _token=None, login=emu.login, password=emu.password)["result"]["data"]["access_token"]
    emu.clock.advance(3599)
    assert "result" in api("get.account", _token=token)
    emu.clock.advance(1)
    assert mnemonic(api("get.account", _token=token)) == "access_token_expired"
    assert "result" in api("get.account")  # the permanent token is unaffected


def test_session_lifetime_configurable(comagic_emulator_factory):
    emu = comagic_emulator_factory(session_lifetime=60, start_time=NOW, frozen_clock=True)
    api = make_api(emu)
    data = api("login.user", _token=None, login=emu.login, password=emu.password)["result"]["data"]
    assert data["expire_at"] == int(NOW) + 60


def test_expiring_permanent_token(api, emu):
    token = emu.issue_token(expire_at=emu.clock.now() + 10)
    assert "result" in api("get.account", _token=token)
    emu.clock.advance(10)
    assert mnemonic(api("get.account", _token=token)) == "access_token_expired"


def test_revoke_and_block(api, emu):
    emu.revoke_token()
    assert mnemonic(api("get.account")) == "access_token_invalid"
    emu.revoke_token(mnemonic="access_token_blocked")
    assert mnemonic(api("get.account")) == "access_token_blocked"
    emu.restore_token()
    assert "result" in api("get.account")


def test_user_id_accepted(api):
    assert "result" in api("get.calls_report", **DAY, user_id=42, limit=1)
    assert mnemonic(api("get.calls_report", **DAY, user_id="x")) == "data_type_error"


def test_partner_methods_forbidden_for_client(api):
    assert mnemonic(api("get.customers")) == "forbidden"


def test_in_process_call(emu):
    assert emu.call("get.account")["result"]["data"][0]["app_id"] == emu.config.app_id


def test_keep_alive(emu):
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(emu.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "get.account", "params": {"access_token": emu.access_token}}
    )
    sockets = []
    for _ in range(3):
        connection.request("POST", parts.path, body, {"Content-Type": "application/json; charset=UTF-8"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["result"]
        sockets.append(connection.sock)
    assert sockets[0] is not None and sockets[0] is sockets[1] is sockets[2]
    connection.close()
