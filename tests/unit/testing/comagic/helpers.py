"""Helpers of the emulator tests: a fixed emulated now, a sample day and a JSON-RPC caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from airflow_provider_comagic.testing import ComagicEmulator

NOW = 1717232400.0  # 2024-06-01 12:00:00 Europe/Moscow
DAY = {"date_from": "2024-05-01 00:00:00", "date_till": "2024-05-01 23:59:59"}

Api = Callable[..., dict[str, Any]]


def make_api(emulator: ComagicEmulator) -> Api:
    """``api(method, **params)`` -> decoded JSON-RPC reply; the permanent token unless ``_token`` is given."""
    session = requests.Session()

    def api(method: str, _token: Any = "default", _id: Any = 1, **params: Any) -> dict[str, Any]:
        if _token == "default":
            params["access_token"] = emulator.access_token
        elif _token is not None:
            params["access_token"] = _token
        body = {"jsonrpc": "2.0", "id": _id, "method": method, "params": params}
        response = session.post(emulator.url, json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    return api


def mnemonic(reply: dict[str, Any]) -> str:
    assert "error" in reply, reply
    return reply["error"]["data"]["mnemonic"]
