"""The example DAGs: a clean DagBag import, then each DAG run through Airflow (`airflow dags test`) against the
emulator, an S3-compatible server (moto) and PostgreSQL on 127.0.0.1, checking what landed against the truth."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pendulum
import psycopg2
import pytest

from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS
from tests.fixtures.airflow_db import asset_events, task_states
from tests.fixtures.dags_test import sync_dags
from tests.fixtures.postgres import postgres_connection, postgres_dsn, recreate_schema  # noqa: F401 - a fixture
from tests.fixtures.uploads import uploaded_around_now

pytestmark = pytest.mark.dag

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags_examples"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
MSK = pendulum.timezone("Europe/Moscow")
# logical date 2024-03-02 00:00 UTC: CronDataIntervalTimetable("@daily", Moscow) runs the day before it
LOGICAL_DATE = "2024-03-02"
DAY_START, DAY_END = dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 3, 2, tzinfo=MSK)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite metadata DB and the environment that points Airflow at the example DAGs."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def run_dag(
    env: dict[str, str], dag_id: str, logical_date: str, log_dir: Path, timeout: float = 240, conf: str | None = None
) -> str:
    """``airflow dags test`` (with the run's ``conf`` JSON, if given); the output, asserted successful."""
    log = log_dir / f"{dag_id}.log"
    sync_dags(env)
    with log.open("w") as handle:  # streamed to a file, so a hung run can be read while it hangs
        result = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, logical_date, *(["--conf", conf] if conf else [])],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    output = log.read_text()
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    # Airflow 3 logs "new_state=success" per task, Airflow 2.10 "Marking task as SUCCESS"
    assert "new_state=success" in output or "Marking task as SUCCESS" in output, (
        "the run succeeded without running a task"
    )
    assert "new_state=failed" not in output and "Marking task as FAILED" not in output, output[-6000:]
    return output


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=3000, upload_step_seconds=1)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def truth_ids(emu, method: str) -> list[int]:
    return sorted(r["id"] for r in emu.truth(method, "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=["id"]))


def test_dagbag_imports_every_example_without_errors_or_api_calls(emu):
    from tests.fixtures.airflow_compat import dag_bag

    bag = dag_bag(str(DAGS))  # no examples of Airflow itself
    assert bag.import_errors == {}
    expected = {
        "comagic_calls_to_object_storage",
        "comagic_reports_to_postgres",
        "comagic_upload_and_wait",
        "comagic_calls_landed",
        "comagic_calls_partition_to_postgres",
        "comagic_warehouse_landed",
        "comagic_warehouse_to_postgres",
        "comagic_mcn_call_log",
        "comagic_call_recordings",
    }
    assert expected <= set(bag.dag_ids)
    for dag_id in bag.dag_ids:
        dag = bag.dags[dag_id]
        assert dag.doc_md and "example" in dag.tags
        assert type(dag.timetable).__name__ != "CronTriggerTimetable", f"{dag_id} would get zero-length intervals"
    assert emu.stats.requests == 0  # nothing at parse time


def test_calls_to_object_storage_on_s3(emu, airflow_home, s3_server, s3_bucket, s3_conn, tmp_path):
    base = f"s3://{s3_conn}@{s3_bucket}/comagic"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        f"AIRFLOW_CONN_{s3_conn.upper()}": s3_server.connection_json(),
        "COMAGIC_OUTPUT_BASE": base,
    }
    run_dag(env, "comagic_calls_to_object_storage", LOGICAL_DATE, tmp_path)
    for report, method in (
        ("calls_report", "get.calls_report"),
        ("communications_report", "get.communications_report"),
    ):
        partition = f"{base}/calls_to_object_storage/{report}/date=2024-03-01"
        manifest = read_manifest(partition)
        assert manifest is not None and manifest["format"] == "parquet"
        landed = sorted(row["id"] for row in iter_landed_rows(partition))
        assert landed == truth_ids(emu, method)
        assert manifest["rows"] == len(landed) > 0
    # what Airflow recorded: both tasks succeeded at once, and each one's asset got its partition's event
    # (the output path is a template: the events arrive through each task's alias, the key in their extra)
    states = task_states(env, "comagic_calls_to_object_storage")
    assert set(states.values()) == {("success", 1)} and len(states) == 2
    events = asset_events(env, "comagic_calls_to_object_storage")
    lake = f"s3://{s3_bucket}/comagic/calls_to_object_storage"
    assert sorted(e["uri"] for e in events) == [f"{lake}/calls_report", f"{lake}/communications_report"]
    for event in events:
        report = event["uri"].rsplit("/", 1)[1]
        assert event["task_id"] == report and event["extra"]["partition_key"] == "2024-03-01"
        landed = read_manifest(f"{base}/calls_to_object_storage/{report}/date=2024-03-01")
        assert event["extra"]["rows"] == landed["rows"]


def test_reports_to_postgres(emu, airflow_home, postgres_dsn, tmp_path):  # noqa: F811
    recreate_schema(postgres_dsn)
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        "AIRFLOW_CONN_POSTGRES_DEFAULT": json.dumps(postgres_connection(postgres_dsn)),
        "COMAGIC_OUTPUT_BASE": f"file://{tmp_path}/out",
    }
    run_dag(env, "comagic_reports_to_postgres", LOGICAL_DATE, tmp_path)
    run_dag(env, "comagic_reports_to_postgres", LOGICAL_DATE, tmp_path)  # a rerun replaces, never appends
    for report, method in (("calls_report", "get.calls_report"), ("call_legs_report", "get.call_legs_report")):
        with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM comagic.{report} ORDER BY id")
            ids = [row[0] for row in cursor.fetchall()]
        assert ids == truth_ids(emu, method) and ids


def test_upload_and_wait_with_deferrable_sensor(emu, airflow_home, tmp_path):
    # the hourly interval [10:00, 11:00) Moscow of 2024-03-01: logical date 08:00 UTC = 11:00 Moscow
    base = tmp_path / "base"
    calls_file = base / "uploads" / "20240301T10.jsonl"
    calls_file.parent.mkdir(parents=True)
    calls = [
        {
            "ext_id": f"pbx-{i}",
            "direction": "in",
            "calling_phone_number": "79262444397",
            "called_phone_number": "74955140576",
            "start_time": "2024-03-01 10:15:00",
            "finish_time": "2024-03-01 10:16:00",
            "is_lost": False,
            "mp3_records": [{"record_url": f"https://pbx.example/pbx-{i}.mp3"}],
        }
        for i in range(60)
    ]
    calls_file.write_bytes(b"\n".join(orjson.dumps(c) for c in calls) + b"\n")
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        "COMAGIC_OUTPUT_BASE": f"file://{base}",
        "COMAGIC_UPLOAD_POKE_INTERVAL": "1",
    }
    output = run_dag(env, "comagic_upload_and_wait", "2024-03-01T08:00:00+00:00", tmp_path)
    # Airflow 3: the task's state "deferred"; Airflow 2.10's `dags test` runs the trigger in line
    assert "deferred" in output.lower() or "[DAG TEST] running trigger in line" in output
    uploaded = uploaded_around_now(emu)
    assert sorted(r["ext_id"] for r in uploaded) == sorted(c["ext_id"] for c in calls)
    assert {r["status"] for r in uploaded} == {"processed"}
    partition = f"file://{base}/upload_and_wait/calls_report/interval=20240301T100000_20240301T110000"
    manifest = read_manifest(partition)
    assert manifest is not None and manifest["rows"] == len(
        emu.truth("get.calls_report", "2024-03-01 10:00:00", "2024-03-01 10:59:59", fields=["id"])
    )


def test_agency_fanout_in_partner_mode(comagic_emulator_factory, airflow_home, tmp_path):
    """Every active client lands its day and the 3 lookback days; the client without the component is skipped and
    leaves nothing behind."""
    emu = comagic_emulator_factory(
        calls_per_day=300, partner_customers=3, partner_disabled_customers=frozenset({500002})
    )
    base = tmp_path / "lake"
    env = {**airflow_home, "AIRFLOW_CONN_COMAGIC_AGENCY": connection_json(emu), "COMAGIC_OUTPUT_BASE": base.as_uri()}
    # the DAG starts 2026-11-01: logical date 2026-11-27 runs the Moscow day 2026-11-26
    output = run_dag(env, "comagic_agency_fanout", "2026-11-27", tmp_path)
    assert "has no access to get.calls_report" in output  # the skip, with its reason, in the task log
    users = {u["customer_id"]: u["id"] for u in emu.call("get.customer_users", {})["result"]["data"]}
    days = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]  # lookback=3 days and the data interval
    for customer in (500001, 500003):
        landed_days = sorted(
            p.name for p in (base / "agency_fanout" / "calls_report" / f"customer_id={customer}").iterdir()
        )
        assert landed_days == [f"date={day}" for day in days]
        for day in days:
            partition = f"{base.as_uri()}/agency_fanout/calls_report/customer_id={customer}/date={day}"
            truth = emu.truth(
                "get.calls_report", f"{day} 00:00:00", f"{day} 23:59:59", fields=["id"], user_id=users[customer]
            )
            assert sorted(row["id"] for row in iter_landed_rows(partition)) == sorted(r["id"] for r in truth)
            assert read_manifest(partition)["client"]["customer_id"] == customer
    assert not (base / "agency_fanout" / "calls_report" / "customer_id=500002").exists()  # skipped: no folder
    # what Airflow recorded: the client without access skipped, the others succeeded; the asset the example names at
    # parse time got one event per partition, each with its client and day (a partition key on Airflow 3.3+)
    states = task_states(env, "comagic_agency_fanout")
    clients = {index: state for (task, index), state in states.items() if task == "calls_report"}
    assert sorted(state for state, _ in clients.values()) == ["skipped", "success", "success"]
    assert {tries for _, tries in clients.values()} == {1}
    events = asset_events(env, "comagic_agency_fanout")
    assert {e["uri"] for e in events} == {"comagic://agency_fanout/calls_report"}
    keys = sorted(f"{customer}|{day}" for customer in (500001, 500003) for day in days)
    for task_events in ([e for e in events if e["map_index"] == i] for i in {e["map_index"] for e in events}):
        (customer,) = {key.split("|")[0] for key in task_events[0]["extra"]["partition_keys"]}
        assert sorted(task_events[0]["extra"]["partition_keys"]) == [k for k in keys if k.startswith(customer)]
    if PARTITIONED_ASSETS:
        assert sorted(e["partition_key"] for e in events) == keys


def test_agency_fanout_in_groups_past_max_map_length(comagic_emulator_factory, airflow_home, tmp_path):
    """More clients (30) than Airflow maps tasks ([core] max_map_length=8 here, 1 024 by default): the DAG with
    COMAGIC_CLIENT_GROUP_SIZE=4 maps 8 group tasks; every client still lands its own partition, the client
    without the component is skipped inside its group."""
    disabled = 500013
    emu = comagic_emulator_factory(
        calls_per_day=40, partner_customers=30, partner_disabled_customers=frozenset({disabled})
    )
    base = tmp_path / "lake"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_AGENCY": connection_json(emu),
        "COMAGIC_OUTPUT_BASE": base.as_uri(),
        "COMAGIC_LOOKBACK_DAYS": "0",
        "COMAGIC_CLIENT_GROUP_SIZE": "4",
        "AIRFLOW__CORE__MAX_MAP_LENGTH": "8",
    }
    output = run_dag(env, "comagic_agency_fanout", "2026-11-27", tmp_path, timeout=400)
    assert "8 group(s) of at most 4 client(s)" in output
    assert f"Skipping get.calls_report for customer 'Customer {disabled}'" in output
    users = {u["customer_id"]: u["id"] for u in emu.call("get.customer_users", {})["result"]["data"]}
    assert len(users) == 30
    landed = sorted(int(p.name.split("=")[1]) for p in (base / "agency_fanout" / "calls_report").iterdir())
    assert landed == sorted(set(users) - {disabled})
    for customer in landed:
        partition = f"{base.as_uri()}/agency_fanout/calls_report/customer_id={customer}/date=2026-11-26"
        truth = emu.truth(
            "get.calls_report", "2026-11-26 00:00:00", "2026-11-26 23:59:59", fields=["id"], user_id=users[customer]
        )
        assert sorted(row["id"] for row in iter_landed_rows(partition)) == sorted(r["id"] for r in truth)
        assert read_manifest(partition)["client"]["customer_id"] == customer


def test_mcn_call_log_example(mcn_emulator_factory, airflow_home, tmp_path):
    """Every active vPBX's day lands raw and unified, equal to the emulator's truth; Airflow recorded both tasks'
    success and one asset event per vPBX partition (through each task's alias: the path is a template)."""
    mcn = mcn_emulator_factory(calls_per_day=40)
    base = tmp_path / "lake"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_MCN_TELECOM_DEFAULT": mcn_connection_json(mcn),
        "COMAGIC_OUTPUT_BASE": base.as_uri(),
    }
    run_dag(env, "comagic_mcn_call_log", LOGICAL_DATE, tmp_path)
    lake = f"{base.as_uri()}/mcn_call_log"
    for vpbx in mcn.vpbx_ids:
        truth = sorted(row["callid"] for row in mcn.calls(vpbx, DAY_START, DAY_END))
        for folder in ("mcn_call_log", "unified_calls/mcn"):
            partition = f"{lake}/{folder}/vpbx_id={vpbx}/date=2024-03-01"
            ids = sorted(
                row["callid" if folder == "mcn_call_log" else "call_id"] for row in iter_landed_rows(partition)
            )
            assert [str(i) for i in ids] == [str(i) for i in truth] and truth
        recorded = sorted(row["callid"] for row in mcn.calls(vpbx, DAY_START, DAY_END) if row["has_record"])
        manifest = read_manifest(f"{lake}/mcn_call_recordings/vpbx_id={vpbx}/date=2024-03-01")
        assert sorted(entry["call"] for entry in manifest["files"]) == sorted(map(str, recorded)) and recorded
    assert set(task_states(env, "comagic_mcn_call_log").values()) == {("success", 1)}
    events = asset_events(env, "comagic_mcn_call_log")
    assert sorted((e["uri"], e["extra"]["partition_key"]) for e in events) == sorted(
        (f"{lake}/{folder}", f"{vpbx}|2024-03-01")
        for folder in ("mcn_call_log", "unified_calls/mcn", "mcn_call_recordings")
        for vpbx in mcn.vpbx_ids
    )


def test_call_recordings_example(comagic_emulator_factory, airflow_home, tmp_path):
    """The day's calls land, then every recording they name of the chosen kinds, read from the landed calls (one
    report read in all); the three days of lookback find no calls landed and read them from the API; Airflow
    recorded both tasks' success and the recordings' asset events."""
    from airflow_provider_comagic.comagic.recordings import CALLS_METHOD, recordings_of

    emu = comagic_emulator_factory(calls_per_day=30)
    base = tmp_path / "lake"
    env = {**airflow_home, "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu), "COMAGIC_OUTPUT_BASE": base.as_uri()}
    run_dag(env, "comagic_call_recordings", LOGICAL_DATE, tmp_path)
    lake = f"{base.as_uri()}/call_recordings"
    calls = list(iter_landed_rows(f"{lake}/calls_report/date=2024-03-01"))
    named = recordings_of(CALLS_METHOD, calls, media_base=emu.base_url, tz=MSK, kinds=["mp3", "wav"])
    manifest = read_manifest(f"{lake}/calls_report_recordings/date=2024-03-01")
    landed = {(e["call"], e["kind"], e["record"]) for e in manifest["files"]}
    assert landed == {r.key for r in named} and landed and manifest["missing"] == []
    # one report read for the day (the calls task), one for each lookback day (nothing landed there to read)
    assert emu.stats.calls["get.calls_report"] == 1 + 3
    assert set(task_states(env, "comagic_call_recordings").values()) == {("success", 1)}
    keys = sorted(
        e["extra"]["partition_key"]
        for e in asset_events(env, "comagic_call_recordings")
        if e["uri"].endswith("calls_report_recordings")
    )
    assert keys == ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01"]


def test_the_upload_examples_sample_calls_file_is_valid():
    """dags_examples/upload_sample_calls.jsonl, the file the walkthrough copies into ``<base>/uploads/``, passes the
    checks upload.calls makes."""
    from airflow_provider_comagic.comagic.uploads.files import read_calls
    from airflow_provider_comagic.comagic.uploads.rules import validate_calls

    calls = read_calls(DAGS / "upload_sample_calls.jsonl")
    validate_calls(calls)
    assert len(calls) == 5 and {c["ext_id"] for c in calls} == {f"pbx-sample-{i}" for i in range(1, 6)}
