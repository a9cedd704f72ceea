"""What Airflow records when a landing task fails, read back from its metadata database after `airflow dags test`:
a permanent error (a connection zone unlike the account's, a rejected token) ends the task failed on its first
try despite ``retries``, a transient one (the API answering 503) is retried and succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.fixtures.airflow_db import task_states
from tests.fixtures.dags_test import dag_env, dags_test

pytestmark = pytest.mark.dag

DAG_ID = "comagic_failure_modes"
DAG_FILE = '''
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


@pytest.fixture
def airflow_env(tmp_path) -> dict[str, str]:
    return dag_env(tmp_path, DAG_ID, DAG_FILE, LAKE=(tmp_path / "lake").as_uri())


def run(env: dict[str, str], log: Path) -> str:
    return dags_test(env, DAG_ID, "2024-03-02", log)


def task_instance(env: dict[str, str]) -> tuple[str, int]:
    """The state and try number Airflow recorded for the task."""
    (state,) = task_states(env, DAG_ID).values()
    return state


def test_a_zone_unlike_the_accounts_fails_on_the_first_try(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu, timezone="UTC")}
    output = run(env, tmp_path / "zone.log")
    assert task_instance(env) == ("failed", 1), output[-4000:]
    assert "names the time zone UTC, but the account is in Europe/Moscow" in output
    assert emu.stats.calls["get.calls_report"] == 0


def provider_frames(output: str) -> list[list[str]]:
    """The frames of the provider's own code in each traceback the log holds (Airflow 2.10's `dags test` prints
    the task's traceback more than once)."""
    tracebacks = output.split("Traceback (most recent call last):")[1:]
    return [
        [line for line in traceback.splitlines() if 'File "' in line and "airflow_provider_comagic" in line]
        for traceback in tracebacks
    ]


def test_a_rejected_token_fails_on_the_first_try(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    conn = json.loads(connection_json(emu))
    conn["password"] = "not-the-token"
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": json.dumps(conn)}
    output = run(env, tmp_path / "token.log")
    assert task_instance(env) == ("failed", 1), output[-4000:]
    assert "access_token_invalid" in output and "not-the-token" not in output
    # an error that explains itself: one line in the log, and none of the provider's inner frames
    assert "ComagicTokenExpiredError: CoMagic get.account failed: Access token is invalid" in output
    frames = provider_frames(output)
    assert frames and all(len(inner) <= 1 for inner in frames), frames


def test_a_transient_fault_is_retried(comagic_emulator_factory, airflow_env, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50)
    emu.faults.add("http_503", method="get.calls_report", calls={1})
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu, max_retries=0)}
    output = run(env, tmp_path / "transient.log")
    assert task_instance(env) == ("success", 2), output[-4000:]
    assert "Skipping masking" not in output  # no extra too short to mask (the form stores no "v2.0")
    partition = f"{airflow_env['LAKE']}/calls_report/date=2024-03-01"
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=["id"])
    assert sorted(row["id"] for row in iter_landed_rows(partition)) == sorted(r["id"] for r in truth)
