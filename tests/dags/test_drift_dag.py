"""Schema drift through Airflow itself (`airflow dags test`): a calls report whose rows drift lands every row (the
coerced values typed, the rest in ``_rescued``) and succeeds; the same report under a tight limit fails on its
first try despite ``retries`` (a permanent error naming the column) and commits nothing."""

from __future__ import annotations

import textwrap

import orjson
import pytest

from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.fixtures.airflow_db import task_states
from tests.fixtures.dags_test import dag_env, dags_test

pytestmark = pytest.mark.dag

DAG_ID = "comagic_drift"
FIELDS = ["id", "start_time", "talk_duration", "wait_duration", "is_lost", "tags", "direction"]
DAG_FILE = textwrap.dedent(
    f'''
    """A drifting calls report, landed twice: with the default policy, and under a tight limit."""
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
        dag_id="{DAG_ID}",
        schedule=CronDataIntervalTimetable("@daily", timezone="Europe/Moscow"),
        start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Moscow"),
        catchup=False,
        default_args={{"retries": 2, "retry_delay": dt.timedelta(seconds=1)}},
    ):
        ComagicCallsReportOperator(task_id="calls", output_path=os.environ["LAKE"], fields={FIELDS!r})
        ComagicCallsReportOperator(
            task_id="calls_strict",
            output_path=os.environ["LAKE"] + "/strict",
            fields={FIELDS!r},
            max_rescued_fraction=0.005,
        )
    '''
)


@pytest.fixture
def airflow_env(tmp_path) -> dict[str, str]:
    return dag_env(tmp_path, DAG_ID, DAG_FILE, LAKE=(tmp_path / "lake").as_uri())


def test_a_drifting_report_lands_every_row_and_a_tight_limit_fails_at_once(
    comagic_emulator_factory, airflow_env, tmp_path
):
    emu = comagic_emulator_factory(calls_per_day=400)
    emu.faults.add("drift_number_as_string", field="talk_duration", fraction=0.05, method="get.calls_report")
    emu.faults.add("drift_fractional_int", field="wait_duration", fraction=0.03, method="get.calls_report")
    emu.faults.add("drift_object_for_array", field="tags", fraction=0.1, method="get.calls_report")
    env = {**airflow_env, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu)}
    output = dags_test(env, DAG_ID, "2024-03-02", tmp_path / "dags_test.log")
    states = {("calls", -1): ("success", 1), ("calls_strict", -1): ("failed", 1)}
    assert task_states(env, DAG_ID) == states, output[-6000:]
    assert "Schema drift in talk_duration (documented int64)" in output  # the task log, one line per column
    assert "values of wait_duration (documented int64) did not match" in output  # the failure names the column

    truth = {
        r["id"]: r for r in emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=FIELDS)
    }
    partition = f"{airflow_env['LAKE']}/calls_report/date=2024-03-01"
    landed = {row["id"]: row for row in iter_landed_rows(partition)}
    assert sorted(landed) == sorted(truth)  # rows = truth
    for i, row in landed.items():
        sent = truth[i]
        if isinstance(sent["talk_duration"], str):
            assert row["talk_duration"] == int(sent["talk_duration"])  # coerced
        if isinstance(sent["wait_duration"], float):
            assert row["wait_duration"] is None and orjson.loads(row["_rescued"]) == {
                "wait_duration": sent["wait_duration"]
            }
        else:
            assert row["wait_duration"] == sent["wait_duration"] and row["_rescued"] is None
        if isinstance(sent["tags"], dict):
            assert [t["tag_id"] for t in row["tags"]] == [sent["tags"]["tag_id"]]  # a one-element list
    records = {(c["column"], c["arrived"]) for c in read_manifest(partition)["drift"]["columns"]}
    assert {("talk_duration", "digit string"), ("wait_duration", "float"), ("tags", "lone object")} <= records
    assert read_manifest(f"{airflow_env['LAKE']}/strict/calls_report/date=2024-03-01") is None  # nothing committed
