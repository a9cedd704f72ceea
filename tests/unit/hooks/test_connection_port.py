"""The connection's Port: asked for by both forms (Airflow 3.3's connections list cannot Test a connection without
one), never moving a call elsewhere than the host says, a port unlike the URL's rejected; the connection test's
messages (a note when Port is empty, the account's zone) and texts that `airflow connections test` prints whole."""

from __future__ import annotations

import json

import pytest
from rich.text import Text

from airflow_provider_comagic.comagic.config import build_endpoint
from airflow_provider_comagic.comagic.errors import API_ERRORS, ComagicConnectionConfigError, error_from_response
from airflow_provider_comagic.get_provider_info import get_provider_info
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.mcn.config import build_base_url
from airflow_provider_comagic.mcn.errors import McnConnectionConfigError
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.version_compat import EMPTY_PORT_FAILS_LIST_TEST


def set_conn(monkeypatch, conn_id: str, conn: dict) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def printed_by_the_cli(message: str) -> str:
    """What `airflow connections test` shows of ``message``: it prints it inside rich markup."""
    return Text.from_markup(message).plain


@pytest.mark.parametrize("conn_type", ["comagic", "mcn_telecom"])
def test_both_forms_show_the_port_and_say_what_to_put_there(conn_type):
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type]
    behaviour = entry["ui-field-behaviour"]
    assert "port" not in behaviour["hidden-fields"]
    assert "Test" in behaviour["relabeling"]["port"]
    assert behaviour["placeholders"]["port"].startswith("443")


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("dataapi.comagic.ru", 443, "https://dataapi.comagic.ru/v2.0"),  # the HTTPS port adds nothing
        ("https://dataapi.uiscom.ru", 443, "https://dataapi.uiscom.ru/v2.0"),
        ("http://127.0.0.1:8765", 8765, "http://127.0.0.1:8765/v2.0"),  # the emulator URL's own port
        ("http://127.0.0.1", 80, "http://127.0.0.1/v2.0"),
        ("dataapi.comagic.ru", 0, "https://dataapi.comagic.ru/v2.0"),  # what the Airflow 3 UI sends for "empty"
        ("dataapi.comagic.ru", 8443, "https://dataapi.comagic.ru:8443/v2.0"),  # another port on a bare host: a proxy
    ],
)
def test_comagic_port_never_moves_the_endpoint(host, port, expected):
    assert build_endpoint(host, port, None, "v2.0") == expected
    if port in (443, 80, 0) or "127.0.0.1:" in host:
        assert build_endpoint(host, port, None, "v2.0") == build_endpoint(host, None, None, "v2.0")


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("api.mcn.ru", 443, "https://api.mcn.ru/v2/rest"),
        ("http://127.0.0.1:8766", 8766, "http://127.0.0.1:8766/v2/rest"),
        ("https://api.mcntele.com/v2/rest", 443, "https://api.mcntele.com/v2/rest"),
    ],
)
def test_mcn_port_never_moves_the_base_url(host, port, expected):
    assert build_base_url(host, port) == expected == build_base_url(host, None)


def test_a_port_unlike_the_urls_is_rejected_naming_both():
    with pytest.raises(ComagicConnectionConfigError, match=r"port 443 is not the port .*\(8765\): set Port to 8765"):
        build_endpoint("http://127.0.0.1:8765", 443, None, "v2.0")
    with pytest.raises(McnConnectionConfigError, match=r"set Port to 8766"):
        build_base_url("http://127.0.0.1:8766", 443)
    with pytest.raises(ComagicConnectionConfigError, match="not a host name or URL"):
        build_endpoint("http://127.0.0.1:port", 443, None, "v2.0")


def test_comagic_test_with_the_emulator_port_stored(comagic_emulator, monkeypatch):
    conn = json.loads(connection_json(comagic_emulator))
    set_conn(monkeypatch, "comagic_default", {**conn, "port": comagic_emulator.port})
    hook = ComagicHook()
    ok, message = hook.test_connection()
    assert ok, message
    assert hook.config.endpoint == f"{comagic_emulator.base_url}/v2.0"
    assert message.startswith(f"Connected to 127.0.0.1:{comagic_emulator.port} as account 'Emulated account'")
    zone = comagic_emulator.config.timezone
    assert f"Time zone: {zone}, the connection's, the account's too." in message
    assert "Port is empty" not in message
    assert printed_by_the_cli(message) == message


@pytest.mark.skipif(not EMPTY_PORT_FAILS_LIST_TEST, reason="Airflow before 3.3 tests a connection without a port")
def test_comagic_test_without_a_port_says_which_port_to_store(comagic_emulator, monkeypatch):
    set_conn(monkeypatch, "comagic_default", json.loads(connection_json(comagic_emulator, timezone=None)))
    ok, message = ComagicHook().test_connection()
    assert ok, message
    assert f"Time zone: {comagic_emulator.config.timezone}, the account's (the connection names none)." in message
    assert message.endswith(
        "Note: Port is empty, so Test in Airflow's connections list answers Bad Request: set Port to "
        f"{comagic_emulator.port} (the port calls go to now)."
    )


@pytest.mark.skipif(not EMPTY_PORT_FAILS_LIST_TEST, reason="Airflow before 3.3 tests a connection without a port")
def test_mcn_test_reports_the_vpbxs_and_the_port_note(mcn_emulator, monkeypatch):
    conn = json.loads(mcn_connection_json(mcn_emulator))
    set_conn(monkeypatch, "mcn_telecom_default", conn)
    ok, message = McnTelecomHook().test_connection()
    assert ok and message.endswith(f"set Port to {mcn_emulator.port} (the port calls go to now).")
    set_conn(monkeypatch, "mcn_telecom_default", {**conn, "port": mcn_emulator.port})
    ok, message = McnTelecomHook().test_connection()
    assert ok and message == f"Connected to 127.0.0.1:{mcn_emulator.port}: account 100500 has active vPBXs: 7001, 7002."


@pytest.mark.parametrize("mnemonic", sorted(API_ERRORS))
def test_every_api_error_text_survives_the_cli(mnemonic):
    code, text = API_ERRORS[mnemonic]
    error = {"code": code, "message": text, "data": {"mnemonic": mnemonic, "field": "date_from", "value": "x"}}
    message = str(error_from_response(error, method="get.account"))
    assert f"({mnemonic}, code {code})" in message
    assert printed_by_the_cli(message) == message


def test_a_wrong_token_is_reported_whole(comagic_emulator, monkeypatch):
    conn = json.loads(connection_json(comagic_emulator))
    set_conn(monkeypatch, "comagic_default", {**conn, "password": "wrong-token", "port": comagic_emulator.port})
    ok, message = ComagicHook().test_connection()
    assert not ok
    assert message.startswith("CoMagic get.account failed: Access token is invalid (access_token_invalid, code -32001)")
    assert printed_by_the_cli(message) == message
