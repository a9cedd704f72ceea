"""A deferrable report task whose day quota runs out mid-report, run through Airflow itself (`airflow dags test`,
both Airflow legs): the task defers to the quota trigger, resumes when the emulated day rolls over, and lands
exactly the day's rows; Airflow records it as one successful try."""

from __future__ import annotations

import pendulum
import pytest

from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.fixtures.airflow_db import task_states
from tests.fixtures.dags_test import dag_env, dags_test

pytestmark = pytest.mark.dag

DAG_ID = "comagic_quota_deferral"
DAG_FILE = """
    import os

    import pendulum
    from airflow.timetables.interval import CronDataIntervalTimetable

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.10
        from airflow import DAG

    from airflow_provider_comagic.operators.report import ComagicCallsReportOperator

    with DAG(
        dag_id="comagic_quota_deferral",
        schedule=CronDataIntervalTimetable("@daily", timezone="Europe/Moscow"),
        start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Moscow"),
        catchup=False,
    ):
        ComagicCallsReportOperator(
            task_id="calls_report", output_path=os.environ["LAKE"], output_format="jsonl", page_size=10,
            deferrable=True,
        )
"""
RESET_SECONDS = 30  # the emulated day ends this long after `airflow dags test` starts: the quota resets then


@pytest.mark.timeout(600)
def test_a_spent_day_quota_defers_and_the_task_resumes(comagic_emulator_factory, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50, hide_future_rows=False)
    # the day quota runs out on the third page; the next emulated day (RESET_SECONDS away) brings it back
    emu.faults.add("limit_exceeded", method="get.calls_report", calls={3}, limit_type="day", exhaust=True)
    lake = (tmp_path / "lake").as_uri()
    env = dag_env(tmp_path, DAG_ID, DAG_FILE, LAKE=lake, AIRFLOW_CONN_COMAGIC_DEFAULT=connection_json(emu))
    # a running clock, just before the account's midnight (set now: migrating the database took a while)
    emu.clock.set(pendulum.now("Europe/Moscow").end_of("day").subtract(seconds=RESET_SECONDS).timestamp())
    output = dags_test(env, DAG_ID, "2024-03-02", tmp_path / "run.log", timeout=400)
    assert task_states(env, DAG_ID) == {("calls_report", -1): ("success", 1)}, output[-5000:]
    assert "quota spent" in output and "; deferring get.calls_report" in output
    # `airflow dags test` on Airflow 3.3.2 and earlier hands the event back without the saved position
    # (apache/airflow#69942): the task then lands from the start, as exact, only slower
    assert "quota has reset; resuming get.calls_report" in output or "landing from the start" in output
    assert emu.stats.errors["limit_exceeded"] >= 1
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=["id"])
    landed = [row["id"] for row in iter_landed_rows(f"{lake}/calls_report/date=2024-03-01")]
    assert sorted(landed) == sorted(row["id"] for row in truth) and len(landed) == len(set(landed)) == 50
