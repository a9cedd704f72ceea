"""The upload-and-wait example under a real scheduler, DAG processor, API server and triggerer (SQLite,
LocalExecutor): proves the trigger serializes, runs in the triggerer process and resumes the sensor."""

from __future__ import annotations

import orjson
import pendulum
import pytest

from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.airflow_processes import airflow_env, airflow_processes, cli, cli_json, finished_runs, wait_for
from tests.fixtures.uploads import uploaded_around_now

pytestmark = [
    pytest.mark.dag,
    pytest.mark.skipif(
        not AIRFLOW_V_3_0_PLUS,
        reason="starts Airflow 3's processes (api-server, dag-processor); the Airflow 2.10 leg runs the same DAG "
        "through `airflow dags test` (tests/dags/test_example_dags.py)",
    ),
]

DAG_ID = "comagic_upload_and_wait"
MSK = pendulum.timezone("Europe/Moscow")


@pytest.mark.timeout(900)
def test_upload_and_wait_with_scheduler_and_triggerer(comagic_emulator_factory, tmp_path):
    # statuses move every 15 s, so the sensor's first check finds them pending and defers to the triggerer
    emu = comagic_emulator_factory(calls_per_day=500, upload_step_seconds=15)
    home, logs, base = tmp_path / "home", tmp_path / "logs", tmp_path / "base"
    for folder in (home, logs, base / "uploads"):
        folder.mkdir(parents=True)
    calls = [
        {
            "ext_id": f"sched-{i}",
            "direction": "out",
            "calling_phone_number": "74955140576",
            "called_phone_number": "79262444397",
            "start_time": "2026-01-10 10:20:00",
            "finish_time": "2026-01-10 10:25:00",
            "is_lost": False,
            "mp3_records": [{"record_url": f"https://pbx.example/sched-{i}.mp3"}],
        }
        for i in range(7)
    ]
    # a manual run covers the last complete hour before it is triggered (Airflow 3 infers its interval from
    # run_after), so the calls file is there for whichever recent hour that is
    now = pendulum.now(MSK)
    for hours_ago in range(4):
        name = now.subtract(hours=hours_ago).format("YYYYMMDD[T]HH")
        (base / "uploads" / f"{name}.jsonl").write_bytes(b"\n".join(map(orjson.dumps, calls)))
    env = airflow_env(
        home,
        AIRFLOW_CONN_COMAGIC_DEFAULT=connection_json(emu),
        COMAGIC_OUTPUT_BASE=f"file://{base}",
        COMAGIC_UPLOAD_POKE_INTERVAL="2",
    )
    with airflow_processes(env, logs):
        wait_for(lambda: any(d["dag_id"] == DAG_ID for d in cli_json(env, "dags", "list")), 120, "DAG parsing", logs)
        # unpausing makes the scheduler create the run of the latest complete interval (catchup=False): a real
        # scheduled run with a data interval (manual runs in Airflow 3 have none)
        cli(env, "dags", "unpause", DAG_ID)

        def finished_run():
            runs = finished_runs(env, DAG_ID)
            return runs[0] if runs else None

        run = wait_for(finished_run, 420, "the scheduled DAG run to finish", logs)
        assert run["state"] == "success", run
        states = {t["task_id"]: t["state"] for t in cli_json(env, "tasks", "states-for-dag-run", DAG_ID, run["run_id"])}
        assert states == {"upload_calls": "success", "wait_until_processed": "success", "calls_report": "success"}

    # the wait ran in the triggerer process: only the triggerer writes a task's "*.log.trigger.<id>.log", and the
    # trigger's polls are in it
    trigger_logs = list(
        (home / "logs").glob(f"dag_id={DAG_ID}/run_id=*/task_id=wait_until_processed/*.log.trigger.*.log")
    )
    assert trigger_logs and any("uploaded calls" in path.read_text() for path in trigger_logs)
    uploaded = uploaded_around_now(emu)
    assert sorted(r["ext_id"] for r in uploaded) == sorted(c["ext_id"] for c in calls)
    assert {r["status"] for r in uploaded} == {"processed"}
