"""The CLI starts a server that answers, prints its URL and token, and stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_cli_serves_and_stops():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_comagic.testing.comagic.emulator",
            "--port",
            "0",
            "--seed",
            "1",
            "--calls-per-day",
            "50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = iter(process.stdout.readline, "")
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2.0")
        reply = requests.post(
            url,
            json={"jsonrpc": "2.0", "id": 1, "method": "get.account", "params": {"access_token": token}},
            timeout=10,
        ).json()
        assert reply["result"]["data"][0]["timezone"] == "Europe/Moscow"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
