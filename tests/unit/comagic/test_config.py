"""ComagicConnectionConfig: the endpoint from the connection's host, token sources, the URI form, errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.comagic.config import ComagicConnectionConfig, build_endpoint
from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError
from airflow_provider_comagic.hooks.comagic import ComagicHook


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        (None, {}, "https://dataapi.comagic.ru/v2.0"),
        ("dataapi.uiscom.ru", {}, "https://dataapi.uiscom.ru/v2.0"),
        ("http://127.0.0.1:8765", {}, "http://127.0.0.1:8765/v2.0"),
        ("https://dataapi.comagic.ru/v2.0", {}, "https://dataapi.comagic.ru/v2.0"),
        ("dataapi.comagic.ru", {"api_version": "v2.1"}, "https://dataapi.comagic.ru/v2.1"),
    ],
)
def test_endpoint_from_host(host, extra, expected):
    assert build_endpoint(host, None, None, extra.get("api_version", "v2.0")) == expected


def test_connection_config_token_sources_and_errors():
    class Conn:
        conn_id, host, port, schema, login, password, extra = "c", None, None, None, None, None, "{}"

    conn = Conn()
    conn.password = "t1"
    assert ComagicConnectionConfig.from_connection(conn).access_token == "t1"
    conn.extra = json.dumps({"access_token": "t2"})
    assert ComagicConnectionConfig.from_connection(conn).access_token == "t2"
    conn.extra, conn.login, conn.password = "{}", "u", "pass-XYZ"
    config = ComagicConnectionConfig.from_connection(conn)
    assert config.uses_login and "pass-XYZ" not in repr(config)
    conn.password = None
    with pytest.raises(ComagicConnectionConfigError, match="access token"):
        ComagicConnectionConfig.from_connection(conn)
    conn.password, conn.extra = "p", json.dumps({"timezone": "Mars/Olympus"})
    with pytest.raises(ComagicConnectionConfigError, match="timezone"):
        ComagicConnectionConfig.from_connection(conn)


@pytest.mark.parametrize("host", ["http://", "https:///v2.0", "://"])
def test_host_without_a_name_is_rejected(host):
    with pytest.raises(ComagicConnectionConfigError, match="not a host name or URL"):
        build_endpoint(host, None, None, "v2.0")


def test_uri_connection_form(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_COMAGIC_DEFAULT", "comagic://:TOKEN-123@dataapi.uiscom.ru?timezone=Asia%2FYekaterinburg&user_id=7"
    )
    config = ComagicHook().config
    assert config.endpoint == "https://dataapi.uiscom.ru/v2.0"
    assert config.access_token == "TOKEN-123" and not config.uses_login
    assert config.timezone == "Asia/Yekaterinburg" and config.user_id == 7
