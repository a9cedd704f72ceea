"""The ClickHouse example DAGs through Airflow (``airflow dags test``) against the emulator and the real ClickHouse
server on 127.0.0.1: the producer lands the reports, a run of the loading DAG (its conf naming the partitions, as a
manual run does) loads each into its table, a second run replaces, and the tables hold exactly the truth."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.dags.test_example_dags import LOGICAL_DATE, airflow_home, run_dag  # noqa: F401 - a fixture
from tests.fixtures.clickhouse import clickhouse, clickhouse_database  # noqa: F401 - fixtures

pytestmark = [pytest.mark.dag, pytest.mark.clickhouse]

REPORTS = {"calls_report": "get.calls_report", "call_legs_report": "get.call_legs_report"}


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=600)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def test_reports_landed_then_loaded_into_clickhouse(emu, airflow_home, clickhouse, clickhouse_database, tmp_path):  # noqa: F811
    base = f"file://{tmp_path}/lake"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": clickhouse.connection_json(clickhouse_database),
        "COMAGIC_OUTPUT_BASE": base,
        "COMAGIC_CLICKHOUSE_DATABASE": clickhouse_database,
    }
    run_dag(env, "comagic_reports_landed_for_clickhouse", LOGICAL_DATE, tmp_path)
    days = ("2024-02-29", "2024-03-01")  # the data interval and the lookback day
    partitions = [f"{base}/{report}/date={day}" for report in REPORTS for day in days]
    conf = json.dumps({"partitions": partitions})
    for _ in range(2):  # the second run replaces every partition, never appends
        run_dag(env, "comagic_partitions_to_clickhouse", LOGICAL_DATE, tmp_path, conf=conf)
    client = clickhouse.client(clickhouse_database)
    try:
        for report, method in REPORTS.items():
            loaded = [row[0] for row in client.query(f"SELECT id FROM {report} ORDER BY id").result_rows]
            truth = sorted(
                row["id"]
                for day in days
                for row in emu.truth(method, f"{day} 00:00:00", f"{day} 23:59:59", fields=["id"])
            )
            assert loaded == truth and loaded
            assert client.query(f"SELECT uniqExact(_partition) FROM {report}").result_rows == [(2,)]
    finally:
        client.close()
