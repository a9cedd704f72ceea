"""The pytest plugin's fixtures: emulators and Airflow connections to them."""

from __future__ import annotations

import json
import os

import requests

from airflow_provider_comagic.hooks.mcn import McnTelecomHook


def test_comagic_conn(comagic_conn, comagic_emulator):
    conn = json.loads(os.environ["AIRFLOW_CONN_COMAGIC_DEFAULT"])
    assert comagic_conn == "comagic_default"
    assert conn["conn_type"] == "comagic" and conn["host"] == comagic_emulator.base_url
    assert conn["password"] == comagic_emulator.access_token and conn["extra"] == {"timezone": "Europe/Moscow"}
    reply = requests.post(
        conn["host"] + "/v2.0",
        json={"jsonrpc": "2.0", "id": 1, "method": "get.account", "params": {"access_token": conn["password"]}},
    ).json()
    assert "result" in reply


def test_factory_gives_fresh_emulators(comagic_emulator_factory):
    one, two = comagic_emulator_factory(seed=1), comagic_emulator_factory(seed=2, timezone="UTC")
    assert one.port != two.port and two.config.timezone == "UTC"


def test_mcn_conn_fixture(mcn_conn, mcn_emulator):
    assert mcn_conn == "mcn_telecom_default"
    assert os.environ["AIRFLOW_CONN_MCN_TELECOM_DEFAULT"]
    hook = McnTelecomHook(mcn_conn)
    assert hook.config.account_id == mcn_emulator.account_id
    assert [v["vpbx_id"] for v in hook.list_vpbx()] == [7001, 7002]
