"""ComagicConnectionConfig: the endpoint from the connection's host, token sources, the URI form, errors."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.comagic.config import ComagicConnectionConfig, build_endpoint
from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError, ComagicTimezoneMismatchError
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


# -- the account's time zone against the connection's ------------------------------------------------------------
def zone_config(**fields):
    return ComagicConnectionConfig(endpoint="https://dataapi.comagic.ru/v2.0", access_token="t", **fields)


def test_a_connection_without_a_zone_follows_the_account():
    assert zone_config().landing_timezone("Asia/Yekaterinburg", conn_id="c") == "Asia/Yekaterinburg"


def test_a_connection_naming_the_account_zone_lands_in_it():
    assert zone_config(timezone="Europe/Moscow").landing_timezone("Europe/Moscow", conn_id="c") == "Europe/Moscow"


def test_a_connection_naming_another_zone_fails_naming_both_zones_and_the_connection():
    with pytest.raises(ComagicTimezoneMismatchError) as raised:
        zone_config(timezone="UTC").landing_timezone("Europe/Moscow", conn_id="comagic_acme", who="the account")
    text = str(raised.value)
    assert "'comagic_acme'" in text and "UTC" in text and "Europe/Moscow" in text
    assert "allow_timezone_mismatch" in text and isinstance(raised.value, ComagicConnectionConfigError)


def test_a_deliberate_mismatch_lands_in_the_named_zone():
    config = zone_config(timezone="UTC", allow_timezone_mismatch=True)
    assert config.landing_timezone("Europe/Moscow", conn_id="c") == "UTC"


def test_an_account_that_does_not_tell_its_zone():
    assert zone_config(timezone="UTC").landing_timezone(None, conn_id="c") == "UTC"  # trusted
    with pytest.raises(ComagicConnectionConfigError, match="set the extra 'timezone'"):
        zone_config().landing_timezone(None, conn_id="c", who="the account of client user 5")


@pytest.mark.parametrize(
    ("extra", "zone", "allowed"),
    [
        ({}, None, False),
        ({"timezone": ""}, None, False),
        ({"timezone": "Asia/Omsk"}, "Asia/Omsk", False),
        ({"timezone": "UTC", "allow_timezone_mismatch": True}, "UTC", True),
        ({"timezone": "UTC", "allow_timezone_mismatch": "true"}, "UTC", True),
        ({"allow_timezone_mismatch": "0"}, None, False),
    ],
)
def test_zone_extras(extra, zone, allowed):
    class Conn:
        conn_id, host, port, schema, login, password = "c", None, None, None, None, "t"

    conn = Conn()
    conn.extra = json.dumps(extra)
    config = ComagicConnectionConfig.from_connection(conn)
    assert (config.timezone, config.allow_timezone_mismatch) == (zone, allowed)


def test_a_bad_mismatch_switch_is_refused():
    class Conn:
        conn_id, host, port, schema, login, password = "c", None, None, None, None, "t"
        extra = json.dumps({"allow_timezone_mismatch": "maybe"})

    with pytest.raises(ComagicConnectionConfigError, match="allow_timezone_mismatch"):
        ComagicConnectionConfig.from_connection(Conn())


def test_an_api_error_cuts_a_long_value_short():
    from airflow_provider_comagic.comagic.errors import error_from_response

    ids = [f"pbx-{i}" for i in range(5000)]
    error = error_from_response(
        {
            "code": -32602,
            "message": "Invalid",
            "data": {"mnemonic": "invalid_parameter_value", "field": "filter", "value": ids},
        },
        method="get.uploaded_calls",
    )
    text = str(error)
    assert "pbx-0" in text and "pbx-4999" not in text and "5000 items" in text and len(text) < 400
