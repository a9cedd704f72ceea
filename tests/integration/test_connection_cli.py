"""`airflow connections test` run as a process against the emulators: it prints a failure's message whole (it
renders it as rich markup, which used to swallow the "[mnemonic, code N]" of every API error), and with --verbose
the account a successful test reached."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.processes import AIRFLOW, BIN

pytestmark = pytest.mark.integration
FAILED = 1 if AIRFLOW_V_3_0_PLUS else 0  # Airflow 2.10's command prints the failure and still exits 0


def connections_test(tmp_path, conn_id: str, conn: dict, *flags: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn),
    }
    return subprocess.run(
        [AIRFLOW, "connections", "test", conn_id, *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def words(text: str) -> str:
    """``text`` with every run of whitespace one space: rich wraps long lines at the console's width."""
    return " ".join(text.split())


def hook_message(monkeypatch, hook_class, conn_id: str, conn: dict) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return hook_class(conn_id).test_connection()[1]


def test_a_wrong_token_is_printed_whole(comagic_emulator, tmp_path, monkeypatch):
    conn = {**json.loads(connection_json(comagic_emulator)), "password": "wrong-token", "port": comagic_emulator.port}
    expected = hook_message(monkeypatch, ComagicHook, "comagic_default", conn)
    assert "(access_token_invalid, code -32001)" in expected
    result = connections_test(tmp_path, "comagic_default", conn)
    assert result.returncode == FAILED, result.stdout + result.stderr
    assert "Connection failed!" in result.stdout
    assert words(expected) in words(result.stdout), result.stdout


def test_mcn_wrong_token_is_printed_whole(mcn_emulator, tmp_path, monkeypatch):
    conn = {**json.loads(mcn_connection_json(mcn_emulator)), "password": "wrong-token"}
    expected = hook_message(monkeypatch, McnTelecomHook, "mcn_telecom_default", conn)
    assert "HTTP 401" in expected
    result = connections_test(tmp_path, "mcn_telecom_default", conn)
    assert result.returncode == FAILED and "Connection failed!" in result.stdout, result.stdout + result.stderr
    assert words(expected) in words(result.stdout), result.stdout


def test_success_names_the_account_with_verbose(comagic_emulator, tmp_path):
    conn = {**json.loads(connection_json(comagic_emulator)), "port": comagic_emulator.port}
    result = connections_test(tmp_path, "comagic_default", conn, "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    output = words(result.stdout + result.stderr)
    assert "Connection success!" in output
    assert f"Connected to 127.0.0.1:{comagic_emulator.port} as account 'Emulated account' (app_id " in output
    assert f"Time zone: {comagic_emulator.config.timezone}, the connection's, the account's too." in output
    assert comagic_emulator.access_token not in output
