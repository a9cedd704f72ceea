"""What Airflow records when a landing task fails, read back from its metadata database after `airflow dags test`:
a permanent error (a connection zone unlike the account's, a rejected token) ends the task failed on its first
try despite ``retries``, a transient one (the API answering 503) is retried and succeeds."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.fixtures.dags_test import dags_test as run_dags_test
from tests.fixtures.dags_test import one_dag_env, task_states

pytestmark = pytest.mark.dag

DAG_ID = "comagic_failure_modes"
DAG_FILE = textwrap.dedent(
    '''
    """One report task with retries, for the failure tests."""
    import datetime as dt
    import os

    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.10
        from airflow import DAG

    from airflow_provider_comagic.operators.report import ComagicCallsReportOperator

    with DAG(
        dag_id="comagic_failure_modes",
        schedule=CronDataIntervalTimetable("@daily", timezone="Europe/Moscow"),
        start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Moscow"),
        catchup=False,
        default_args={"retries": 2, "retry_delay": dt.timedelta(seconds=1)},
    ):
        ComagicCallsReportOperator(task_id="calls_report", output_path=os.environ["LAKE"], output_format="jsonl")
    '''
)


@pytest.fixture
def airflow_env(tmp_path) -> dict[str, str]:
    """A migrated SQLite metadata database and a dags folder holding the one DAG above."""
    return one_dag_env(tmp_path, DAG_ID, DAG_FILE)


def dags_test(env: dict[str, str], log: Path) -> str:
    return run_dags_test(env, DAG_ID, log)


def task_instance(env: dict[str, str]) -> tuple[str, int]:
    """The state and try number Airflow recorded for the task."""
    states = task_states(env, DAG_ID)
    assert list(states) == ["calls_report"], states
    return states["calls_report"]


def test_a_zone_unlike_the_accounts_fails_on_the_first_try(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu, timezone="UTC")}
    output = dags_test(env, tmp_path / "zone.log")
    assert task_instance(env) == ("failed", 1), output[-4000:]
    assert "names the time zone UTC, but the account is in Europe/Moscow" in output
    assert emu.stats.calls["get.calls_report"] == 0


def provider_frames(output: str) -> list[str]:
    """The frames of the provider's own code in the task's traceback."""
    return [line for line in output.splitlines() if 'File "' in line and "airflow_provider_comagic" in line]


def test_a_rejected_token_fails_on_the_first_try(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    conn = json.loads(connection_json(emu))
    conn["password"] = "not-the-token"
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": json.dumps(conn)}
    output = dags_test(env, tmp_path / "token.log")
    assert task_instance(env) == ("failed", 1), output[-4000:]
    assert "access_token_invalid" in output and "not-the-token" not in output
    # an error that explains itself: one line in the log, and none of the provider's inner frames
    assert "ComagicTokenExpiredError: CoMagic get.account failed: Access token is invalid" in output
    assert len(provider_frames(output)) <= 1, provider_frames(output)


def test_a_transient_fault_is_retried(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    emu.faults.add("http_503", method="get.calls_report", calls={1})
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu, max_retries=0)}
    output = dags_test(env, tmp_path / "transient.log")
    assert task_instance(env) == ("success", 2), output[-4000:]
    assert "Skipping masking" not in output  # no extra too short to mask (the form stores no "v2.0")
    partition = f"{airflow_env['LAKE']}/calls_report/date=2024-03-01"
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=["id"])
    assert sorted(row["id"] for row in iter_landed_rows(partition)) == sorted(r["id"] for r in truth)
