"""The agency fan-out on a distributed Airflow 3: CeleryExecutor with two workers, a triggerer, the scheduler, the
DAG processor and the API server, each in its own process with its own home, temp and working directory and host
name, sharing only PostgreSQL (metadata), Redis (broker) and moto's S3 (the lake).

The emulator (partner mode, 20 clients) runs in this process; its day quota runs out half-way, so client tasks
defer to the triggerer. The worker one of them deferred from is then stopped and its folders deleted before the
quota resets (tests/fixtures/agency_fanout.py), so that task can only resume on the other worker, from what the
metadata database and S3 hold. Every client's partitions must equal the emulator's truth, no page may be fetched
twice, and the tasks' XComs stay small.
"""

from __future__ import annotations

import pytest

from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.agency_fanout import (
    DAG_FILES,
    DAG_ID,
    TASK_ID,
    FanoutPlan,
    QuotaDirector,
    client_tasks,
    landed_vs_truth,
    resumes,
    run_days,
    task_log_events,
    xcom_objects,
    xcom_sizes,
)
from tests.fixtures.celery_cluster import celery_cluster_factory  # noqa: F401 - a fixture
from tests.fixtures.postgres import postgres_dsn  # noqa: F401 - a fixture
from tests.fixtures.redis import redis_url  # noqa: F401 - a fixture

pytestmark = [
    pytest.mark.dag,
    pytest.mark.skipif(
        not AIRFLOW_V_3_0_PLUS,
        reason="runs Airflow 3's distributed components (api-server, dag-processor, the Celery workers of the "
        "Execution API); the Airflow 2.10 leg runs the same DAG through `airflow dags test` "
        "(tests/dags/test_example_dags.py)",
    ),
]

PLAN = FanoutPlan(clients=20, calls_per_day=250, page_size=100, lookback_days=1)
MAX_XCOM_BYTES = 2048
CLIENT_ENTRY_BYTES = 128  # one {"user_id", "customer_id", "customer_name", "user_login"} entry


@pytest.mark.timeout(900)
def test_fanout_on_celery_defers_on_one_worker_and_resumes_on_the_other(
    comagic_emulator_factory,
    celery_cluster_factory,  # noqa: F811
    s3_server,
    s3_bucket,
    s3_conn,
):
    emu = comagic_emulator_factory(**PLAN.emulator_settings())
    base = f"s3://{s3_conn}@{s3_bucket}/lake"
    env = {
        "AIRFLOW_CONN_COMAGIC_AGENCY": connection_json(emu),
        f"AIRFLOW_CONN_{s3_conn.upper()}": s3_server.connection_json(),
        **PLAN.dag_env(base),
        # Airflow's object-storage XCom backend (common.io provider): an XCom over 2 KB (the mapping input, one
        # entry per client) goes to S3 and the metadata database keeps its reference, as docs/scale.rst advises
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": f"s3://{s3_conn}@{s3_bucket}/xcom",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": str(MAX_XCOM_BYTES),
    }
    cluster = celery_cluster_factory(DAG_FILES, env)
    director = QuotaDirector(cluster, emu, PLAN, drain=True)
    for run in cluster.iter_finished_run(DAG_ID, timeout=600, interval=1):
        if run:
            break
        director.step()

    states = {t["map_index"]: t for t in client_tasks(cluster)}
    assert run["state"] == "success", states
    assert len(states) == PLAN.clients and {t["state"] for t in states.values()} == {"success"}
    # the day quota ran out half-way, tasks deferred and the worker one of them left was stopped
    assert director.released_at is not None and director.drained in cluster.workers, director
    survivor = next(w for w in cluster.workers if w != director.drained)
    events = task_log_events(cluster.logs, cluster.workers)
    moved = [r for r in resumes(events) if r.cross_worker]
    assert moved, f"no task resumed on another worker than it deferred from: {events}"
    assert {r.resumed_on for r in moved} <= set(cluster.workers)
    for map_index in director.stranded:  # deferred on the stopped worker: finished on the other one
        assert states[map_index]["hostname"] == survivor
        assert any(r.map_index == map_index and r.deferred_on == director.drained for r in moved)

    # every client's partitions equal the truth: 0 lost, 0 duplicated
    tally = landed_vs_truth(emu, base, run_days(run, PLAN.lookback_days))
    assert tally["partitions"] == PLAN.partitions and tally["expected"] == PLAN.partitions * PLAN.calls_per_day
    assert (tally["lost"], tally["duplicated"], tally["extra"]) == (0, 0, 0), tally
    # no page fetched twice: exactly the minimum calls, whatever deferred where
    assert emu.stats.repeated_pages() == {}
    assert emu.stats.successes["get.calls_report"] == PLAN.partitions * PLAN.pages_per_partition
    assert emu.stats.errors["limit_exceeded"] >= 1

    sizes = xcom_sizes(cluster)
    report_xcoms = {key: size for key, size in sizes.items() if key[0] == TASK_ID}
    assert len(report_xcoms) == PLAN.clients
    assert max(report_xcoms.values()) <= MAX_XCOM_BYTES, report_xcoms  # manifests by URI, never rows
    # the mapping input grows with the agency (one small entry per client): past 2 KB the backend moved it to S3
    assert max(sizes.values()) <= MAX_XCOM_BYTES, sizes
    offloaded = xcom_objects(s3_server, s3_bucket, "xcom/")
    assert len(offloaded) == 1 and offloaded[0][1] <= CLIENT_ENTRY_BYTES * PLAN.clients, offloaded
