"""
### CoMagic warehouse: one day of facts and dimensions, landed, then loaded into PostgreSQL

Two DAGs build a call-analytics warehouse every day of the account.

`comagic_warehouse_landed` lands, under `<COMAGIC_OUTPUT_BASE>/warehouse`, the day's

* classic facts: `get.calls_report` (with the ids of each call's campaign, site, scenario and employees) and
  `get.call_legs_report`;
* the report builder's `get.communications`, read through the saved report named by `COMAGIC_COMMUNICATIONS_REPORT`
  (a "communications" report of the account's report builder);
* the reference snapshots that name those ids: campaigns, sites, site blocks, tags, employees, employee groups,
  virtual numbers, scenarios, segments, events, chat channels, statuses, sources, source groups and channels,
  sales funnels, contacts. A list whose component the account lacks is skipped.

Each committed partition is an asset event keyed `YYYY-MM-DD`. `comagic_warehouse_to_postgres` is scheduled on those
assets and loads every partition it is told of into `comagic_warehouse.<folder>` (one load per partition, which
replaces that partition's rows only). Run by hand with `{"date": "YYYY-MM-DD"}` as its conf, it loads that day's
committed partitions again. `comagic_warehouse_calls.sql` (next to this file) names the campaign, site and employee
of each call.

* Connections: `comagic_default`, `postgres_default`. Base path: the environment variable `COMAGIC_OUTPUT_BASE`
  (else `file:///tmp/comagic`); a literal, so the assets are known when the DAGs are parsed.
* Cost: about 40 points a day for an account of up to 10 000 calls a day (41 for 300 calls, 43 for 8 000 on the
  emulator): each of the 20 tasks reads the account's zone once, then one call per report page of 10 000 rows,
  one per list of up to 10 000 rows, one for the saved reports.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.decorators import task
from airflow.timetables.interval import CronDataIntervalTimetable
from comagic_example_settings import ACCOUNT_TIMEZONE, COMMUNICATIONS_REPORT, DEFAULT_OUTPUT_BASE  # one place

from airflow_provider_comagic.landing.assets import landed_partitions, landing_asset, partitioned_schedule
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.operators.reference import REFERENCE_OPERATORS
from airflow_provider_comagic.operators.report import ComagicCallLegsReportOperator, ComagicCallsReportOperator
from airflow_provider_comagic.operators.report_builder import ComagicReportBuilderCommunicationsOperator
from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator

OUTPUT = f"{DEFAULT_OUTPUT_BASE.rstrip('/')}/warehouse"  # this example's own folder
SCHEMA = os.environ.get("COMAGIC_WAREHOUSE_SCHEMA", "comagic_warehouse")
CALL_FIELDS = [
    "id",
    "start_time",
    "finish_time",
    "direction",
    "is_lost",
    "talk_duration",
    "total_duration",
    "campaign_id",
    "site_id",
    "scenario_id",
    "source_id",
    "last_answered_employee_id",
    "tags",
]
START = pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE)

# [START howto_comagic_warehouse]
with DAG(
    dag_id="comagic_warehouse_landed",
    description="A day of CoMagic facts, report-builder communications and reference snapshots -> object storage",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),  # a day of the account per run
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "comagic", "assets", "warehouse"],
):
    landing = [
        ComagicCallsReportOperator(task_id="calls_report", output_path=OUTPUT, fields=CALL_FIELDS),
        ComagicCallLegsReportOperator(task_id="call_legs_report", output_path=OUTPUT),
        ComagicReportBuilderCommunicationsOperator(
            task_id="communications", output_path=OUTPUT, report_name=COMMUNICATIONS_REPORT
        ),
    ]
    for method, snapshot in REFERENCE_OPERATORS.items():  # the lists that name the facts' ids
        landing.append(snapshot(task_id=method.removeprefix("get."), output_path=OUTPUT, skip_on_missing_access=True))

ASSETS = {op.asset_folder(): landing_asset(OUTPUT, op.asset_folder()) for op in landing}  # folder -> its asset

with DAG(
    dag_id="comagic_warehouse_to_postgres",
    description="Load each landed partition of the CoMagic warehouse into PostgreSQL when its asset event arrives",
    doc_md=__doc__,
    schedule=partitioned_schedule(list(ASSETS.values())),  # 3.3+: a run per partition key; older: per event
    start_date=START,
    catchup=False,
    tags=["example", "comagic", "assets", "postgres", "warehouse"],
):

    @task
    def partitions_to_load(**context) -> list[dict[str, str]]:
        """Each partition the triggering events name, with its table; in a manual run, the committed partitions
        of the day given as ``{"date": "YYYY-MM-DD"}``."""
        day = ((context.get("dag_run") and context["dag_run"].conf) or {}).get("date")
        loads = []
        for folder, asset in ASSETS.items():
            manifests = [partition["manifest"] for partition in landed_partitions(context, asset)]
            if not manifests and day:
                manifest = f"{OUTPUT}/{folder}/date={day}/_manifest.json"
                manifests = [manifest] if read_manifest(manifest) is not None else []  # a skipped list has none
            loads += [{"partition_path": manifest, "table": f"{SCHEMA}.{folder}"} for manifest in manifests]
        return loads

    ComagicLandedToPostgresOperator.partial(task_id="load_partition").expand_kwargs(partitions_to_load())
# [END howto_comagic_warehouse]
