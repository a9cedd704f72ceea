"""The CLI starts a server that answers, prints its URL and token, and stops on SIGTERM; agent (partner) mode."""

from __future__ import annotations

import subprocess
import sys

import requests

from tests.fixtures.cli import served_cli


def test_cli_serves_and_stops():
    args = ("--port", "0", "--seed", "1", "--calls-per-day", "50")
    with served_cli("airflow_provider_comagic.testing.comagic.emulator", *args) as lines:
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2.0")
        reply = requests.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "get.account", "params": {"access_token": token}},
            timeout=10,
        ).json()
        assert reply["result"]["data"][0]["timezone"] == "Europe/Moscow"


def rpc(url: str, method: str, **params):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return requests.post(url, json=body, timeout=10).json()


def test_cli_agent_mode_with_a_disabled_client():
    args = ("--port", "0", "--calls-per-day", "20", "--partner-customers", "3", "--partner-disabled-customer", "500002")
    with served_cli("airflow_provider_comagic.testing.comagic.emulator", *args) as lines:
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


def test_disabled_customer_needs_agent_mode():
    command = [sys.executable, "-m", "airflow_provider_comagic.testing.comagic.emulator"]
    result = subprocess.run([*command, "--partner-disabled-customer", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--partner-disabled-customer needs --partner-customers" in result.stderr


def test_cli_uploaded_calls_options():
    args = ("--port", "0", "--uploaded-calls-order", "recently_changed", "--uploaded-calls-reject-in")
    with served_cli("airflow_provider_comagic.testing.comagic.emulator", *args) as lines:
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        day = {"date_from": "2024-06-01 00:00:00", "date_till": "2024-06-02 00:00:00"}
        in_filter = {"field": "ext_id", "operator": "in", "value": ["a"]}
        reply = rpc(url, "get.uploaded_calls", access_token=token, filter=in_filter, **day)
        assert reply["error"]["data"]["mnemonic"] == "invalid_parameter_value"
        assert reply["error"]["data"]["field"] == "filter.operator"
    command = [sys.executable, "-m", "airflow_provider_comagic.testing.comagic.emulator"]
    result = subprocess.run([*command, "--uploaded-calls-order", "newest"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr
