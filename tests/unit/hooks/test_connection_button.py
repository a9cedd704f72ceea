"""The UI's "Test connection": fast whatever happens, one attempt, no temporary connection id in its messages;
one place for each secret in the forms, the legacy form derived from the same definition."""

from __future__ import annotations

import json
import socket
import time

import pytest

from airflow_provider_comagic.get_provider_info import get_provider_info
from airflow_provider_comagic.hooks import comagic as comagic_hooks
from airflow_provider_comagic.hooks import mcn as mcn_hooks
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json

TEMPORARY_ID = "aW23ud1z"  # how Airflow's API server names the unsaved connection it tests


def set_conn(monkeypatch, conn_id: str, value: str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a black-holed API host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def test_comagic_fault_is_one_attempt_no_retry_ladder(comagic_emulator, monkeypatch):
    set_conn(monkeypatch, "comagic_default", connection_json(comagic_emulator))
    fault = comagic_emulator.faults.add("http_503")
    started = time.monotonic()
    ok, message = ComagicHook().test_connection()
    assert not ok and "HTTP 503" in message
    assert fault.seen == 1  # one request: the hook's normal policy would retry 5 times with backoff
    assert time.monotonic() - started < 5


def test_comagic_silent_host_answers_within_the_test_timeout(silent_port, monkeypatch):
    monkeypatch.setattr(comagic_hooks, "TEST_CONNECTION_TIMEOUT", 0.5)
    conn = {"conn_type": "comagic", "host": f"http://127.0.0.1:{silent_port}", "password": "t"}
    set_conn(monkeypatch, "comagic_default", json.dumps(conn))
    started = time.monotonic()
    ok, message = ComagicHook().test_connection()
    assert not ok and "reachable" in message
    assert time.monotonic() - started < 3  # one attempt of 0.5 s (the connection's own timeout is 120 s)


def test_comagic_messages_say_this_connection_not_the_temporary_id(monkeypatch):
    set_conn(monkeypatch, TEMPORARY_ID, json.dumps({"conn_type": "comagic", "host": "dataapi.comagic.ru"}))
    ok, message = ComagicHook(TEMPORARY_ID).test_connection()
    assert not ok and message.startswith("This connection: give either an access token")
    assert TEMPORARY_ID not in message


def test_mcn_is_one_attempt_and_never_names_the_temporary_id(mcn_emulator, monkeypatch):
    conn = json.loads(mcn_connection_json(mcn_emulator))
    conn["password"] = "wrong-token"
    set_conn(monkeypatch, TEMPORARY_ID, json.dumps(conn))
    ok, message = McnTelecomHook(TEMPORARY_ID).test_connection()
    assert not ok and "HTTP 401" in message and "this connection" in message
    assert TEMPORARY_ID not in message
    fault = mcn_emulator.faults.add("http_503")
    conn["password"] = mcn_emulator.token
    set_conn(monkeypatch, TEMPORARY_ID, json.dumps(conn))
    ok, message = McnTelecomHook(TEMPORARY_ID).test_connection()
    assert not ok and "HTTP 503" in message
    assert fault.seen == 1


def test_mcn_silent_host_answers_within_the_test_timeout(silent_port, monkeypatch):
    monkeypatch.setattr(mcn_hooks, "TEST_CONNECTION_TIMEOUT", 0.5)
    conn = {"conn_type": "mcn_telecom", "host": f"http://127.0.0.1:{silent_port}", "password": "t"}
    conn["extra"] = json.dumps({"account_id": "1"})
    set_conn(monkeypatch, "mcn_telecom_default", json.dumps(conn))
    started = time.monotonic()
    ok, _message = McnTelecomHook().test_connection()
    assert not ok and time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("conn_type", "hook", "legacy_secret"),
    [("comagic", ComagicHook, "access_token"), ("mcn_telecom", McnTelecomHook, "token")],
)
def test_one_place_for_the_secret_and_one_form_definition(conn_type, hook, legacy_secret):
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type]
    assert legacy_secret not in entry["conn-fields"]  # the Password field is the one place
    assert not [f for f in entry["conn-fields"].values() if f["schema"].get("format") == "password"]
    behaviour = entry["ui-field-behaviour"]
    assert "token" in behaviour["relabeling"]["password"].lower()
    legacy = hook.get_ui_field_behaviour()  # Airflow 2.10-3.1: the same form, snake_case keys
    assert legacy == {key.replace("-", "_"): value for key, value in behaviour.items()}


@pytest.mark.parametrize(("conn_type", "hook"), [("comagic", ComagicHook), ("mcn_telecom", McnTelecomHook)])
def test_legacy_widgets_are_the_conn_fields(conn_type, hook):
    pytest.importorskip("flask_appbuilder", reason="the classic form widgets need Flask-AppBuilder (Airflow 2.10)")
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == conn_type]
    widgets = hook.get_connection_form_widgets()
    assert set(widgets) == set(entry["conn-fields"])
    from wtforms import IntegerField, StringField

    for name, field in entry["conn-fields"].items():
        expected = IntegerField if "integer" in field["schema"]["type"] else StringField
        assert widgets[name].field_class is expected, name


def test_old_connections_with_the_secret_in_the_extra_still_work(monkeypatch):
    conn = {"conn_type": "comagic", "host": "dataapi.comagic.ru", "extra": json.dumps({"access_token": "t-old"})}
    set_conn(monkeypatch, "comagic_default", json.dumps(conn))
    assert ComagicHook().config.access_token == "t-old"
    conn = {"conn_type": "mcn_telecom", "extra": json.dumps({"token": "m-old", "account_id": "1"})}
    set_conn(monkeypatch, "mcn_telecom_default", json.dumps(conn))
    assert McnTelecomHook().config.token == "m-old"
