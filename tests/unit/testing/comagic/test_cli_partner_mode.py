"""The emulator's CLI in agent (partner) mode: client customers, one with a disabled component."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def rpc(url: str, method: str, **params):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return requests.post(url, json=body, timeout=10).json()


def test_cli_agent_mode_with_a_disabled_client():
    command = [sys.executable, "-m", "airflow_provider_comagic.testing.comagic.emulator", "--port", "0"]
    command += ["--calls-per-day", "20", "--partner-customers", "3", "--partner-disabled-customer", "500002"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = iter(process.stdout.readline, "")
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        assert "3 client customers; component disabled: 500002" in next(line for line in lines if "agent mode" in line)
        customers = rpc(url, "get.customers", access_token=token)["result"]["data"]
        assert [c["id"] for c in customers] == [500001, 500002, 500003]
        users = rpc(url, "get.customer_users", access_token=token)["result"]["data"]
        by_customer = {u["customer_id"]: u["id"] for u in users}
        day = {"date_from": "2024-03-01 00:00:00", "date_till": "2024-03-01 23:59:59", "limit": 5}
        ok = rpc(url, "get.calls_report", access_token=token, user_id=by_customer[500001], **day)
        assert len(ok["result"]["data"]) == 5
        disabled = rpc(url, "get.calls_report", access_token=token, user_id=by_customer[500002], **day)
        assert disabled["error"]["data"]["mnemonic"] == "method_component_disabled"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_disabled_customer_needs_agent_mode():
    command = [sys.executable, "-m", "airflow_provider_comagic.testing.comagic.emulator"]
    result = subprocess.run([*command, "--partner-disabled-customer", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--partner-disabled-customer needs --partner-customers" in result.stderr
