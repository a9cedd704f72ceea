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


def call_params(emu: ComagicEmulator, method: str, fields: Any = None) -> dict[str, Any]:
    """Parameters of one valid call of any landable method: the day, a saved report, a site, a month."""
    from airflow_provider_comagic.comagic.catalogue import get_method

    spec = get_method(method)
    params: dict[str, Any] = dict(DAY) if spec.date_range or spec.name == "get.chat_messages_report" else {}
    if spec.name == "get.financial_summary_report":
        params = {"year": 2024, "month": 5}
    if "site_id" in spec.required_params:
        params["site_id"] = 1001
    if spec.family == "report_builder":
        reports = {r["type"]: r["id"] for r in emu.truth("get.reports_list")}
        kind = spec.report_types[0] if spec.report_types else "dashboard"
        params["report_id"] = reports[kind]
        if "report_type" in spec.params:
            params["report_type"] = kind
        if "is_realtime" in spec.params:
            params["is_realtime"] = False
        params["fields"] = list(fields or spec.default_fields)
    elif fields is not None:
        params["fields"] = list(fields)
    return params
