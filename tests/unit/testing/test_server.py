"""The emulator's latency option: each response held back by ``response_delay + delay_per_row x rows`` after its
request arrived, other requests served meanwhile (lower bounds only: no test here depends on a machine's speed
beyond a get.account answering within the other call's hold)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest
import requests

from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.server import EmulatorServer
from tests.fixtures.cli import served_cli

DAY = {"date_from": "2024-03-01 00:00:00", "date_till": "2024-03-01 23:59:59"}


def post(url: str, method: str, **params) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return requests.post(url, json=body, timeout=120).json()


def test_a_response_is_held_for_the_delay_plus_its_rows(comagic_emulator_factory: Callable[..., ComagicEmulator]):
    emu = comagic_emulator_factory(calls_per_day=400, response_delay=0.3, delay_per_row=0.002)
    started = time.monotonic()
    reply = post(emu.url, "get.calls_report", access_token=emu.access_token, limit=100, **DAY)
    elapsed = time.monotonic() - started
    assert len(reply["result"]["data"]) == 100
    assert elapsed >= 0.3 + 100 * 0.002
    assert emu.stats.delayed_responses == 1
    assert emu.stats.delay_seconds == pytest.approx(0.5)
    account = post(emu.url, "get.account", access_token=emu.access_token)  # no rows: the fixed delay only
    assert account["result"]["data"]
    assert emu.stats.delayed_responses == 2
    assert emu.stats.delay_seconds == pytest.approx(0.8)


def test_no_delay_by_default(comagic_emulator: ComagicEmulator):
    post(comagic_emulator.url, "get.account", access_token=comagic_emulator.access_token)
    assert comagic_emulator.stats.delayed_responses == 0 and comagic_emulator.stats.delay_seconds == 0


def test_other_requests_are_answered_while_one_is_held(comagic_emulator_factory: Callable[..., ComagicEmulator]):
    emu = comagic_emulator_factory(calls_per_day=400, delay_per_row=0.02)  # 200 rows: held 4 s; get.account: 0 s
    finished: dict[str, float] = {}

    def slow_call() -> None:
        post(emu.url, "get.calls_report", access_token=emu.access_token, limit=200, **DAY)
        finished["report"] = time.monotonic()

    thread = threading.Thread(target=slow_call)
    thread.start()
    while emu.stats.rows_served == 0:  # the report is executed: from now on it is being held
        time.sleep(0.01)
    post(emu.url, "get.account", access_token=emu.access_token)
    finished["account"] = time.monotonic()
    thread.join(60)
    assert finished["account"] < finished["report"]
    assert emu.stats.delayed_responses == 2


def test_negative_delays_are_rejected():
    emu = ComagicEmulator()
    with pytest.raises(ValueError, match="response_delay and delay_per_row must be >= 0"):
        EmulatorServer(emu.dispatcher, emu.faults, response_delay=-1)


def test_cli_delay_options():
    args = ("--port", "0", "--calls-per-day", "50", "--response-delay", "0.4", "--delay-per-row", "0.001")
    with served_cli("airflow_provider_comagic.testing.comagic.emulator", *args) as lines:
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        started = time.monotonic()
        reply = post(url, "get.calls_report", access_token=token, limit=20, **DAY)
        assert len(reply["result"]["data"]) == 20
        assert time.monotonic() - started >= 0.4 + 20 * 0.001
    command = [sys.executable, "-m", "airflow_provider_comagic.testing.comagic.emulator"]
    result = subprocess.run([*command, "--delay-per-row", "-0.1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--delay-per-row must be >= 0" in result.stderr
