"""McnConnectionConfig: the base URL from host and port, the token and extras, the URI form, errors."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.mcn.config import DEFAULT_BASE_URL, McnConnectionConfig, build_base_url
from airflow_provider_comagic.mcn.errors import McnConnectionConfigError


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("api.mcn.ru", None, "https://api.mcn.ru/v2/rest"),
        ("https://api.mcntele.com/v2/rest/", None, "https://api.mcntele.com/v2/rest"),
        ("http://127.0.0.1", 8766, "http://127.0.0.1:8766/v2/rest"),
        ("http://127.0.0.1:8766/custom", None, "http://127.0.0.1:8766/custom"),
    ],
)
def test_base_url(host, port, expected):
    assert build_base_url(host, port) == expected


def test_config_from_extra_token_and_uri_form(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_MCN_TELECOM_DEFAULT",
        "mcn-telecom://api.mcn.ru?token=TOK-1&account_id=555&timezone=Asia%2FYekaterinburg&timeout=30",
    )
    config = McnTelecomHook().config
    assert config.base_url == "https://api.mcn.ru/v2/rest" and config.token == "TOK-1"
    assert config.account_id == "555" and config.timezone == "Asia/Yekaterinburg" and config.timeout == 30
    assert "TOK-1" not in repr(config)


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"host": "api.mcn.ru"}, "no MCN Telecom API token"),
        ({"password": "t", "extra": json.dumps({"timezone": "Mars/Base"})}, "timezone"),
        ({"password": "t", "extra": json.dumps({"timeout": -1})}, "timeout"),
    ],
)
def test_config_errors(conn, message):
    fields = {"conn_id": "c", "port": None, "host": None, "password": None, "extra_dejson": {}, **conn}
    if "extra" in fields:
        fields["extra_dejson"] = json.loads(fields.pop("extra"))
    with pytest.raises(McnConnectionConfigError, match=message):
        McnConnectionConfig.from_connection(mock.Mock(**fields))
