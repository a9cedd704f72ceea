"""The warehouse example through Airflow itself (`airflow dags test`): a day of classic facts, the report builder's
communications and the reference snapshots landed from the emulator, then loaded into PostgreSQL on 127.0.0.1;
the landed rows and the tables equal the emulator's truth, and the example's SQL names each call's campaign, site
and employee."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.reference import REFERENCE_OPERATORS
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.dags.test_example_dags import AIRFLOW, DAGS, LOGICAL_DATE, airflow_home, run_dag  # noqa: F401
from tests.fixtures.postgres import postgres_connection, postgres_dsn, recreate_schema  # noqa: F401 - a fixture
from tests.integration.test_report_operators import canonical, typed_rows

pytestmark = pytest.mark.dag

DAY = ("2024-03-01 00:00:00", "2024-03-01 23:59:59")
SCHEMA = "comagic_warehouse"
SKIPPED = "get.sales_funnel"  # its component is off in this account: the snapshot is skipped, the load goes on


def run_dag_with_conf(env: dict[str, str], dag_id: str, conf: dict[str, Any], log_dir: Path) -> str:
    log = log_dir / f"{dag_id}.log"
    with log.open("w") as handle:
        result = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id, LOGICAL_DATE, "-c", json.dumps(conf)],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=400,
        )
    output = log.read_text()
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    assert "new_state=failed" not in output and "Marking task as FAILED" not in output, output[-6000:]
    return output


def truth_of(emu, folder: str, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    fields = manifest["query"]["fields"]
    if folder == "communications":
        return emu.truth("get.communications", *DAY, fields=fields, report_id=700005, report_type="communications")
    method = f"get.{folder}"
    if get_method(method).date_range:
        return emu.truth(method, *DAY, fields=fields)
    return emu.truth(method, fields=fields)


def query(dsn: str, sql: str) -> list[tuple]:
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.timeout(900)
def test_a_day_of_the_warehouse_lands_and_loads(comagic_emulator_factory, airflow_home, postgres_dsn, tmp_path):  # noqa: F811
    emu = comagic_emulator_factory(calls_per_day=300, disabled_components=frozenset({"sales_funnel"}))
    recreate_schema(postgres_dsn, SCHEMA)
    base = tmp_path / "lake"
    env = {
        **airflow_home,
        "AIRFLOW_CONN_COMAGIC_DEFAULT": connection_json(emu),
        "AIRFLOW_CONN_POSTGRES_DEFAULT": json.dumps(postgres_connection(postgres_dsn)),
        "COMAGIC_OUTPUT_BASE": base.as_uri(),
        "COMAGIC_COMMUNICATIONS_REPORT": "Report communications",
    }
    output = run_dag(env, "comagic_warehouse_landed", LOGICAL_DATE, tmp_path, timeout=400)
    assert f"has no access to {SKIPPED}" in output
    folders = ["calls_report", "call_legs_report", "communications"]
    folders += [m.removeprefix("get.") for m in REFERENCE_OPERATORS if m != SKIPPED]
    landed: dict[str, int] = {}
    for folder in folders:
        partition = f"{base.as_uri()}/warehouse/{folder}/date=2024-03-01"
        manifest = read_manifest(partition)
        assert manifest is not None and manifest["format"] == "parquet", folder
        truth = truth_of(emu, folder, manifest)
        rows = list(iter_landed_rows(partition))
        assert canonical(rows) == canonical(typed_rows(truth, manifest_schema(manifest))), folder
        landed[folder] = len(rows)
    assert not (base / "warehouse" / "sales_funnel" / "date=2024-03-01").exists()
    assert landed["calls_report"] > 0 and landed["communications"] > 0 and landed["employees"] == 40

    run_dag_with_conf(env, "comagic_warehouse_to_postgres", {"date": "2024-03-01"}, tmp_path)
    for folder, rows in landed.items():
        assert query(postgres_dsn, f"SELECT count(*) FROM {SCHEMA}.{folder}") == [(rows,)], folder
    calls = emu.truth("get.calls_report", *DAY, fields=["id", "campaign_id", "site_id", "last_answered_employee_id"])
    ids = [row[0] for row in query(postgres_dsn, f"SELECT id FROM {SCHEMA}.calls_report ORDER BY id")]
    assert ids == sorted(call["id"] for call in calls)

    # the example's query: every call with the names of its campaign, site and employee on that day
    campaigns = {row["id"]: row["name"] for row in emu.truth("get.campaigns", fields=["id", "name"])}
    sites = {row["id"]: row["domain_name"] for row in emu.truth("get.sites", fields=["id", "domain_name"])}
    employees = {row["id"]: row["full_name"] for row in emu.truth("get.employees", fields=["id", "full_name"])}
    expected = sorted(
        (
            c["id"],
            campaigns.get(c["campaign_id"]),
            sites.get(c["site_id"]),
            employees.get(c["last_answered_employee_id"]),
        )
        for c in calls
    )
    named = sorted(
        (call_id, campaign, site, employee)
        for call_id, _, campaign, site, employee in query(
            postgres_dsn, (DAGS / "comagic_warehouse_calls.sql").read_text()
        )
    )
    assert named == expected
    assert sum(1 for _, campaign, site, employee in named if campaign and site and employee) > len(named) // 4


def test_the_loader_loads_the_partitions_its_asset_events_name(monkeypatch, tmp_path):
    """What a run triggered by asset events loads (the scheduler's way; the test above runs the loader by hand):
    one load per partition an event lists, into the table of the event's asset folder."""
    import sys
    import types

    from airflow_provider_comagic.landing.assets import asset_event_extra
    from airflow_provider_comagic.version_compat import TRIGGERING_ASSET_EVENTS

    monkeypatch.setenv("COMAGIC_OUTPUT_BASE", "file:///lake")
    monkeypatch.syspath_prepend(str(DAGS))
    for name in ("comagic_example_settings", "comagic_warehouse"):
        sys.modules.pop(name, None)
    import comagic_warehouse

    def event(folder: str, key: str) -> types.SimpleNamespace:
        manifest = f"file:///lake/warehouse/{folder}/date={key}/_manifest.json"
        return types.SimpleNamespace(
            extra=asset_event_extra([{"partition_key": key, "manifest": manifest}]), partition_key=None
        )

    events = {
        "file:///lake/warehouse/calls_report": [event("calls_report", "2024-03-01")],
        "file:///lake/warehouse/campaigns": [event("campaigns", "2024-03-01")],
    }
    load_of = comagic_warehouse.partitions_to_load.function  # the task's own function, outside a run
    loads = load_of(**{TRIGGERING_ASSET_EVENTS: events, "dag_run": None})
    assert loads == [
        {
            "partition_path": "file:///lake/warehouse/calls_report/date=2024-03-01/_manifest.json",
            "table": f"{SCHEMA}.calls_report",
        },
        {
            "partition_path": "file:///lake/warehouse/campaigns/date=2024-03-01/_manifest.json",
            "table": f"{SCHEMA}.campaigns",
        },
    ]
    for name in ("comagic_example_settings", "comagic_warehouse"):
        sys.modules.pop(name, None)
