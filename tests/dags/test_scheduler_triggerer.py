"""The upload-and-wait example under a real scheduler, DAG processor, API server and triggerer (SQLite,
LocalExecutor): proves the trigger serializes, runs in the triggerer process and resumes the sensor."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pendulum
import pytest

from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.uploads import uploaded_around_now

pytestmark = [
    pytest.mark.dag,
    pytest.mark.skipif(
        not AIRFLOW_V_3_0_PLUS,
        reason="starts Airflow 3's processes (api-server, dag-processor); the Airflow 2.10 leg runs the same DAG "
        "through `airflow dags test` (tests/dags/test_example_dags.py)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
DAG_ID = "comagic_upload_and_wait"
MSK = pendulum.timezone("Europe/Moscow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def cli_json(env: dict[str, str], *args: str):
    out = cli(env, *args, "-o", "json")
    for line in reversed(out.splitlines()):  # log lines may precede the JSON document
        if line.startswith("["):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return []


def wait_for(predicate, timeout: float, what: str, logs: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    pytest.fail(f"timed out waiting for {what}\n{tails}")


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
    api_port = free_port()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        "COMAGIC_OUTPUT_BASE": f"file://{base}",
        "COMAGIC_UPLOAD_POKE_INTERVAL": "2",
    }
    cli(env, "db", "migrate")
    processes = []
    try:
        for name, args in (
            ("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(api_port)]),
            ("dag-processor", ["dag-processor"]),
            ("scheduler", ["scheduler"]),
            ("triggerer", ["triggerer"]),
        ):
            handle = (logs / f"{name}.log").open("w")
            processes.append(subprocess.Popen([AIRFLOW, *args], env=env, stdout=handle, stderr=subprocess.STDOUT))

        wait_for(lambda: any(d["dag_id"] == DAG_ID for d in cli_json(env, "dags", "list")), 120, "DAG parsing", logs)
        # unpausing makes the scheduler create the run of the latest complete interval (catchup=False): a real
        # scheduled run with a data interval (manual runs in Airflow 3 have none)
        cli(env, "dags", "unpause", DAG_ID)

        def finished_run():
            runs = [r for r in cli_json(env, "dags", "list-runs", DAG_ID) if r["state"] in ("success", "failed")]
            return runs[0] if runs else None

        run = wait_for(finished_run, 420, "the scheduled DAG run to finish", logs)
        assert run["state"] == "success", run
        states = {t["task_id"]: t["state"] for t in cli_json(env, "tasks", "states-for-dag-run", DAG_ID, run["run_id"])}
        assert states == {"upload_calls": "success", "wait_until_processed": "success", "calls_report": "success"}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    # the wait ran in the triggerer process: only the triggerer writes a task's "*.log.trigger.<id>.log", and the
    # trigger's polls are in it
    trigger_logs = list(
        (home / "logs").glob(f"dag_id={DAG_ID}/run_id=*/task_id=wait_until_processed/*.log.trigger.*.log")
    )
    assert trigger_logs and any("uploaded calls" in path.read_text() for path in trigger_logs)
    uploaded = uploaded_around_now(emu)
    assert sorted(r["ext_id"] for r in uploaded) == sorted(c["ext_id"] for c in calls)
    assert {r["status"] for r in uploaded} == {"processed"}
