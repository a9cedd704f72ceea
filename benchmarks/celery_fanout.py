"""The agency fan-out on a distributed Airflow 3: CeleryExecutor, two workers, a triggerer, measured.

    .venv/bin/python benchmarks/celery_fanout.py [--clients 200] [--calls-per-day 300] [--page-size 10000]
                                                 [--lookback-days 1] [--concurrency 4] [--json out.json]

Starts on 127.0.0.1 what the Celery test starts (tests/fixtures/celery_cluster.py): a throwaway PostgreSQL
(metadata), Redis (broker), moto's S3 (the lake), the emulator in partner mode in this process, the API server,
scheduler, DAG processor, triggerer and two Celery workers, each with its own home, temp and working directory.
It runs ``comagic_agency_fanout`` once with the day quota running out half-way (tests/fixtures/agency_fanout.py:
the emulator's clock stands 30 s before midnight until the quota is spent and tasks have deferred, then moves to
the next day); both workers stay up, so where a task resumes is Celery's choice.

Figures (printed, never asserted): wall time of the DAG run, task instances, API calls and points against the
minimum, deferrals and cross-worker resumes (from the workers' own task logs), peak RSS of each worker's process
tree (psutil, sampled every second), the scheduler's loop time (its StatsD ``scheduler.scheduler_loop_duration``
timer, received on a local UDP port), and a projection to 1 000 and 5 000 clients with its assumptions.
Needs the ``bench`` extra (psutil, statsd) and the services of scripts/install-services.sh.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.agency_fanout import (  # noqa: E402
    DAG_FILES,
    DAG_ID,
    FanoutPlan,
    QuotaDirector,
    landed_vs_truth,
    resumes,
    run_days,
    task_log_events,
    xcom_sizes,
)
from tests.fixtures.celery_cluster import CeleryCluster, celery_available  # noqa: E402
from tests.fixtures.postgres import create_database, postgres_server  # noqa: E402
from tests.fixtures.processes import free_port  # noqa: E402
from tests.fixtures.redis import redis_server  # noqa: E402
from tests.fixtures.s3 import moto_s3_server  # noqa: E402

MAX_ACTIVE_TIS = 4  # the example DAG's max_active_tis_per_dag for calls_report
WORKLOAD_SECONDS = re.compile(r"Task execute_workload\[[^\]]+\] succeeded in ([\d.]+)s")


class StatsdTimings(threading.Thread):
    """A UDP server receiving the scheduler's StatsD packets; keeps the timings whose name ends with ``name``."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.name_suffix = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.values: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                packet = self.sock.recv(65536).decode(errors="replace")
            except OSError:
                continue
            for line in packet.splitlines():
                name, _, rest = line.partition(":")
                value, _, kind = rest.partition("|")
                if name.endswith(self.name_suffix) and kind.startswith("ms"):
                    self.values.append((time.monotonic(), float(value)))

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


class RssSampler(threading.Thread):
    """Peak RSS (MiB) of each named process and its descendants, sampled every second."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = dict.fromkeys(pids, 0.0)
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopped.wait(1.0):
            for name, pid in self.pids.items():
                try:
                    root = psutil.Process(pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                rss = 0
                for process in tree:
                    with contextlib.suppress(psutil.Error):
                        rss += process.memory_info().rss
                self.peak[name] = max(self.peak[name], rss / 2**20)

    def stop(self) -> None:
        self.stopped.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--calls-per-day", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--lookback-days", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="task slots of each Celery worker")
    parser.add_argument("--group-size", type=int, default=None, help="clients per mapped task (default: one)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the cluster's homes and logs here")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: every started process is stopped by pid
    celery_available()
    plan = FanoutPlan(args.clients, args.calls_per_day, args.page_size, args.lookback_days, group_size=args.group_size)
    figures = run(plan, args)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


def run(plan: FanoutPlan, args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    from airflow_provider_comagic.testing.comagic.emulator import ComagicEmulator
    from airflow_provider_comagic.testing.pytest_plugin import connection_json

    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="celery-fanout-")))
        started = time.monotonic()
        dsn = stack.enter_context(postgres_server())
        broker = stack.enter_context(redis_server())
        s3 = stack.enter_context(moto_s3_server())
        s3.client().create_bucket(Bucket="lake")
        emu = stack.enter_context(ComagicEmulator(**plan.emulator_settings()))
        statsd = StatsdTimings("scheduler.scheduler_loop_duration")
        statsd.start()
        stack.callback(statsd.stop)
        base = "s3://aws_bench@lake/lake"
        # this process reads the lake too (the truth check), through the same connection as the workers
        os.environ["AIRFLOW_CONN_AWS_BENCH"] = s3.connection_json()
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(name, None)
        env = {
            "AIRFLOW_CONN_COMAGIC_AGENCY": connection_json(emu),
            "AIRFLOW_CONN_AWS_BENCH": s3.connection_json(),
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            **plan.dag_env(base),
        }
        cluster = CeleryCluster(
            workdir / "cluster",
            DAG_FILES,
            db_url=create_database(dsn, "airflow"),
            broker_url=broker,
            env=env,
            concurrency=args.concurrency,
        )
        stack.callback(cluster.stop)
        cluster.start()
        ready = time.monotonic()
        rss = RssSampler({w: cluster.components[w].process.pid for w in cluster.workers})  # type: ignore[union-attr]
        rss.start()
        stack.callback(rss.stop)
        director = QuotaDirector(cluster, emu, plan, drain=False)
        for dag_run in cluster.iter_finished_run(DAG_ID, timeout=args.timeout, interval=1):
            if dag_run:
                break
            director.step()
        rss.stop()
        return figures_of(plan, args, cluster, emu, director, dag_run, statsd, rss, base, ready - started)
    raise AssertionError("unreachable")


def figures_of(plan, args, cluster: CeleryCluster, emu, director, dag_run, statsd, rss, base, startup) -> dict:
    """Everything measured, as plain JSON."""
    tis = cluster.query("SELECT task_id, state, start_date, end_date FROM task_instance WHERE dag_id = %s", [DAG_ID])
    events = task_log_events(cluster.logs, cluster.workers)
    paired = resumes(events)
    workload_seconds = [
        float(seconds)
        for worker in cluster.workers
        for seconds in WORKLOAD_SECONDS.findall((cluster.logs / f"{worker}.log").read_text(errors="replace"))
    ]
    loop = [value for _at, value in statsd.values]
    sizes = xcom_sizes(cluster)
    wall = (dag_run["end_date"] - dag_run["start_date"]).total_seconds()
    stats = emu.stats
    figures = {
        "plan": {
            "clients": plan.clients,
            "calls_per_client_day": plan.calls_per_day,
            "page_size": plan.page_size,
            "lookback_days": plan.lookback_days,
            "group_size": plan.group_size,
            "workers": len(cluster.workers),
            "concurrency_per_worker": args.concurrency,
            "max_active_tis_per_dag": MAX_ACTIVE_TIS,
            "first_day_limit": plan.first_day_limit,
        },
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()]},
        "run_state": dag_run["state"],
        "startup_seconds": round(startup, 1),
        "wall_seconds": round(wall, 1),
        "release_after_spent_seconds": round((director.released_at or 0) - (director.spent_at or 0), 1),
        "task_instances": len(tis),
        "task_states": {state: sum(1 for t in tis if t["state"] == state) for state in {t["state"] for t in tis}},
        "api_calls": stats.successful_calls,
        "api_calls_minimum": plan.minimum_calls,
        "points": stats.points,
        "failed_calls": dict(stats.errors),
        "repeated_pages": len(stats.repeated_pages()),
        "deferrals": sum(1 for e in events if e.kind == "defer"),
        "tasks_deferred": len({e.map_index for e in events if e.kind == "defer"}),
        "resumes": len(paired),
        "cross_worker_resumes": sum(1 for r in paired if r.cross_worker),
        "mid_partition_resumes": sum(1 for r in paired if r.mid_partition),
        "workloads": len(workload_seconds),
        "worker_slot_seconds": round(sum(workload_seconds), 1),
        "peak_rss_mib": {name: round(value) for name, value in rss.peak.items()},
        "scheduler_loop_ms": _distribution(loop),
        "xcom_bytes": {
            "calls_report_max": max((s for (task, _), s in sizes.items() if task == "calls_report"), default=0),
            "client_users": sizes.get(("client_users", -1)),
        },
        "truth": landed_vs_truth(emu, base, run_days(dag_run, plan.lookback_days)),
    }
    figures["projection"] = project(figures, plan)
    return figures


def _distribution(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "loops": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p95": round(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def project(figures: dict[str, Any], plan: FanoutPlan) -> dict[str, Any]:
    """Figures for 1 000 and 5 000 clients from this run's costs, the same way it ran (per client, or in groups of
    the same size); the assumptions are stated alongside."""
    slots = min(MAX_ACTIVE_TIS, figures["plan"]["workers"] * figures["plan"]["concurrency_per_worker"])
    per_client_slot_seconds = figures["worker_slot_seconds"] / plan.clients
    group = plan.group_size or 1
    out: dict[str, Any] = {
        "assumptions": (
            f"clients like these ({plan.calls_per_day} calls a day, {plan.lookback_days} lookback day(s), "
            f"{plan.page_size}-row pages), {group} client(s) per task, {slots} task slots "
            f"(max_active_tis_per_dag={MAX_ACTIVE_TIS}), the measured {per_client_slot_seconds:.2f} worker-slot "
            "seconds per client (task start-up shared by a group; deferral waits excluded), a quota that does "
            "not run out; more than [core] max_map_length=1024 tasks needs a larger group_size"
        )
    }
    for clients in (1_000, 5_000):
        mapped = math.ceil(clients / group)
        out[str(clients)] = {
            "api_calls_and_points": 2 + clients * (plan.lookback_days + 1) * plan.pages_per_partition,
            "task_instances": 1 + mapped,
            "mappable": mapped <= 1024,
            "wall_minutes": round(clients * per_client_slot_seconds / slots / 60, 1),
        }
    return out


def report(figures: dict[str, Any]) -> str:
    """The figures as a short text table."""
    lines = [f"{key}: {json.dumps(value, default=str)}" for key, value in figures.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
