"""
### CoMagic calls: land, then load each landed partition into PostgreSQL when its asset event arrives

Two DAGs. `comagic_calls_landed` lands the previous day's `get.calls_report` every day, re-landing the day before
it too (`lookback`: late tags and recordings), so one run commits two partitions. Its output is the asset
`<COMAGIC_OUTPUT_BASE>/assets_to_postgres/calls_report`; each committed partition emits an asset event whose `extra` names its
manifest, rows, bytes and interval.

`comagic_calls_partition_to_postgres` has no time schedule: it is scheduled on that asset. On Airflow 3.3+ it runs
once per partition (`PartitionedAssetTimetable`; the run's `partition_key` is `YYYY-MM-DD` of the account's zone,
`<customer_id>|YYYY-MM-DD` for an agency's client) and loads that partition. On older Airflow versions it runs
once per asset event (one per landing task) and loads every partition the event lists. Either way the load
replaces the interval's rows, so a re-landed day is loaded again without duplicates.

* Connections: `comagic_default`, `postgres_default`. Base path: the environment variable `COMAGIC_OUTPUT_BASE`
  (else `file:///tmp/comagic`); it must be a literal for the asset to be known when the DAGs are parsed.
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
from comagic_example_settings import ACCOUNT_TIMEZONE, DEFAULT_OUTPUT_BASE  # one place to edit

from airflow_provider_comagic.landing.assets import landed_partitions, landing_asset, partitioned_schedule
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator

OUTPUT_BASE = f"{DEFAULT_OUTPUT_BASE}/assets_to_postgres"  # literal: the asset is known at parse time
TABLE = os.environ.get("COMAGIC_CALLS_TABLE", "comagic.calls_report")

# [START howto_asset_comagic_calls_landed]
CALLS = landing_asset(OUTPUT_BASE, "calls_report")  # the asset the calls report operator updates

with DAG(
    dag_id="comagic_calls_landed",
    description="Daily get.calls_report (and the day before, re-landed) -> object storage; one asset event per day",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["example", "comagic", "assets"],
):
    ComagicCallsReportOperator(
        task_id="land_calls",
        output_path=OUTPUT_BASE,  # literal: the asset is declared when the DAG is parsed
        output_format="parquet",
        lookback=dt.timedelta(days=1),
    )

with DAG(
    dag_id="comagic_calls_partition_to_postgres",
    description="Load each landed get.calls_report partition into PostgreSQL when its asset event arrives",
    doc_md=__doc__,
    schedule=partitioned_schedule(CALLS),  # 3.3+: a run per partition; older: a run per asset event
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    tags=["example", "comagic", "assets", "postgres"],
):

    @task
    def landed_manifests(**context) -> list[str]:
        """The manifests of the partitions this run was triggered by (the event's extra names them)."""
        return [partition["manifest"] for partition in landed_partitions(context, CALLS)]

    ComagicLandedToPostgresOperator.partial(task_id="load_partition", table=TABLE).expand(
        partition_path=landed_manifests()
    )
# [END howto_asset_comagic_calls_landed]
