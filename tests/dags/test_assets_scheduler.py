"""Partitioned assets under a real scheduler, dag-processor, api-server and triggerer: the report DAG lands two
partitions (its day and one lookback day), the DAG scheduled on the asset runs once per partition with its key
and loads it into PostgreSQL, and the metadata DB's asset events hold the partition's details."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pendulum
import psycopg2
import pytest

from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS
from tests.fixtures.airflow_db import asset_events, task_states
from tests.fixtures.airflow_processes import airflow_env, airflow_processes, cli, finished_runs, wait_for, wait_for_dags
from tests.fixtures.postgres import postgres_connection, postgres_dsn, recreate_schema  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.dag,
    pytest.mark.skipif(
        not PARTITIONED_ASSETS,
        reason="run-time partition keys and PartitionedAssetTimetable need Airflow 3.3+; older versions run the "
        "consumer once per event (documented in docs/assets_lineage.rst)",
    ),
]

PRODUCER, CONSUMER = "comagic_calls_landed", "comagic_calls_partition_to_postgres"
TEMPLATED = "comagic_calls_to_object_storage"  # its output path is a template: events through its tasks' aliases
MSK = pendulum.timezone("Europe/Moscow")


def _truth_ids(emu, day: dt.date) -> list[int]:
    rows = emu.truth("get.calls_report", f"{day} 00:00:00", f"{day} 23:59:59", fields=["id"])
    return sorted(r["id"] for r in rows)


@pytest.mark.timeout(900)
def test_asset_events_schedule_one_load_per_partition(comagic_emulator_factory, postgres_dsn, tmp_path):  # noqa: F811
    emu = comagic_emulator_factory(calls_per_day=300)
    recreate_schema(postgres_dsn)
    home, logs, base = tmp_path / "home", tmp_path / "logs", tmp_path / "lake"
    for folder in (home, logs, base):
        folder.mkdir(parents=True)
    env = airflow_env(
        home,
        AIRFLOW_CONN_COMAGIC_DEFAULT=connection_json(emu),
        AIRFLOW_CONN_POSTGRES_DEFAULT=json.dumps(postgres_connection(postgres_dsn)),
        COMAGIC_OUTPUT_BASE=f"file://{base}",
        COMAGIC_CALLS_TABLE="comagic.calls_report",
        # the OpenLineage provider's own listener, writing its events with the file transport
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(tmp_path / "openlineage.json"), "append": True}
        ),
        AIRFLOW__OPENLINEAGE__NAMESPACE="tests",
    )
    with airflow_processes(env, logs):
        wait_for_dags(env, {PRODUCER, CONSUMER, TEMPLATED}, logs)
        cli(env, "dags", "unpause", CONSUMER)
        cli(env, "dags", "unpause", PRODUCER)  # the scheduler runs the latest complete day (catchup=False)
        cli(env, "dags", "unpause", TEMPLATED)
        producer = wait_for(lambda: finished_runs(env, PRODUCER), 300, "the report DAG run", logs)[0]
        assert producer["state"] == "success", producer
        templated = wait_for(lambda: finished_runs(env, TEMPLATED), 300, "the templated-path DAG run", logs)[0]
        assert templated["state"] == "success", templated
        consumer = wait_for(
            lambda: (runs := finished_runs(env, CONSUMER)) and len(runs) >= 2 and runs, 300, "two load runs", logs
        )
        assert {r["state"] for r in consumer} == {"success"}, consumer

    db = sqlite3.connect(home / "airflow.db")
    ((start,),) = db.execute("SELECT data_interval_start FROM dag_run WHERE dag_id = ?", (PRODUCER,)).fetchall()
    day = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc).astimezone(MSK).date()  # stored in UTC
    days = [day, day - dt.timedelta(days=1)]
    keys = [d.isoformat() for d in days]
    runs = dict(db.execute("SELECT partition_key, run_type FROM dag_run WHERE dag_id = ?", (CONSUMER,)).fetchall())
    assert runs == {key: "asset_triggered" for key in keys}  # one run per partition, with its key

    events = db.execute(
        "SELECT e.partition_key, e.extra, a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE e.source_dag_id = ?",
        (PRODUCER,),
    ).fetchall()
    assert sorted(key for key, _, _ in events) == sorted(keys)
    assert {uri for _, _, uri in events} == {f"file://{base}/assets_to_postgres/calls_report"}
    extra = json.loads(events[0][1])
    assert extra["partition_keys"] == keys  # the data interval first, then the re-landed day
    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        for d, key in zip(days, keys, strict=True):
            details = extra["partitions"][key]
            partition = base / "assets_to_postgres" / "calls_report" / f"date={key}"
            manifest = read_manifest(str(partition))
            truth = _truth_ids(emu, d)
            assert details["manifest"] == f"file://{partition}/_manifest.json"
            assert details["rows"] == manifest["rows"] == len(truth) > 0
            assert details["bytes"] == manifest["bytes"] and details["files"] == len(manifest["files"])
            assert (details["date_from"], details["date_till"]) == (f"{d} 00:00:00", f"{d} 23:59:59")
            assert details["api_calls"] >= 1 and details["points"] >= 1 and details["replaced"] is False
            cursor.execute(
                "SELECT id FROM comagic.calls_report WHERE _interval_start = %s ORDER BY id",
                (manifest["interval"]["start"],),
            )
            assert [row[0] for row in cursor.fetchall()] == truth

    # the DAG whose output path is a template: each task's asset got its partition's event (through its alias)
    assert set(task_states(env, TEMPLATED).values()) == {("success", 1)}
    lake = f"file://{base}/calls_to_object_storage"
    templated_events = asset_events(env, TEMPLATED)
    assert sorted(e["uri"] for e in templated_events) == [f"{lake}/calls_report", f"{lake}/communications_report"]
    assert [e["extra"]["partition_key"] for e in templated_events] == [keys[0], keys[0]]

    lineage = [json.loads(line) for line in (tmp_path / "openlineage.json").read_text().splitlines()]
    complete = {}
    for event in lineage:
        if event["eventType"] == "COMPLETE" and event["job"]["name"].endswith((".land_calls", ".load_partition")):
            complete.setdefault(event["job"]["name"].rsplit(".", 1)[1], []).append(event)
    (land,) = complete["land_calls"]
    (source,) = land["inputs"]
    assert source["namespace"].startswith("comagic://127.0.0.1:") and source["name"] == "get.calls_report"
    assert {o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in land["outputs"]} == {
        str(base / "assets_to_postgres" / "calls_report" / f"date={d}"): len(_truth_ids(emu, d)) for d in days
    }
    assert {o["namespace"] for o in land["outputs"]} == {"file"}
    pg = postgres_connection(postgres_dsn)
    loads = sorted(complete["load_partition"], key=lambda e: e["inputs"][0]["name"])
    assert [e["inputs"][0]["name"] for e in loads] == sorted(
        str(base / "assets_to_postgres" / "calls_report" / f"date={d}") for d in days
    )
    for event in loads:
        (table,) = event["outputs"]
        assert (table["namespace"], table["name"]) == (
            f"postgres://{pg['host']}:{pg['port']}",
            "comagic.comagic.calls_report",
        )
