"""
### CoMagic reports: land, then load each landed partition into ClickHouse when its asset event arrives

Two DAGs. `comagic_reports_landed_for_clickhouse` lands the previous day's `get.calls_report` and
`get.call_legs_report` every day, re-landing the day before too (`lookback`: late tags and recordings), so one run
commits four partitions. Its outputs are the assets `<COMAGIC_OUTPUT_BASE>/calls_report` and `.../call_legs_report`;
each committed partition emits an asset event whose `extra` names its manifest.

`comagic_partitions_to_clickhouse` is scheduled on those assets: on Airflow 3.3+ once per partition, on older
versions once per asset event (loading every partition the event lists). Each partition goes into the table
`<database>.<report>` (`comagic.calls_report`, ...) through a staging table and one `REPLACE PARTITION`, so a
re-landed day replaces its rows atomically, never appends. A manual run loads the partitions its conf names:
`{"partitions": ["<COMAGIC_OUTPUT_BASE>/calls_report/date=2024-03-01", ...]}` (folders or manifests).

* Connections: `comagic_default`, `clickhouse_default` (HTTP interface; the `clickhouse` connection type of
  `apache-airflow-providers-clickhousedb`, or the same fields without it). The database must exist.
* Base path: the environment variable `COMAGIC_OUTPUT_BASE` (else `file:///tmp/comagic`), read when the file is
  parsed: the assets must be literals. Database: `COMAGIC_CLICKHOUSE_DATABASE` (else `comagic`).
* Running the PostgreSQL example too? Its `comagic_calls_landed` lands the same `calls_report` asset: keep one
  producer, and both loaders run on its events.
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

from airflow_provider_comagic.landing.assets import landed_partitions, landing_asset, partitioned_schedule
from airflow_provider_comagic.operators.report import ComagicCallLegsReportOperator, ComagicCallsReportOperator
from airflow_provider_comagic.transfers.clickhouse import ComagicLandedToClickHouseOperator

ACCOUNT_TZ = "Europe/Moscow"
OUTPUT_BASE = os.environ.get("COMAGIC_OUTPUT_BASE", "file:///tmp/comagic").rstrip("/")
DATABASE = os.environ.get("COMAGIC_CLICKHOUSE_DATABASE", "comagic")

# [START howto_asset_comagic_to_clickhouse]
REPORTS = {"calls_report": ComagicCallsReportOperator, "call_legs_report": ComagicCallLegsReportOperator}
ASSETS = {report: landing_asset(OUTPUT_BASE, report) for report in REPORTS}  # what the report operators update


def report_folder(path: str) -> str:
    """``calls_report`` of ``.../calls_report/[customer_id=5/]date=2024-03-01[/_manifest.json]``."""
    parts = path.rstrip("/").split("/")
    return next(part for part in reversed(parts[:-1] if parts[-1] == "_manifest.json" else parts) if "=" not in part)


with DAG(
    dag_id="comagic_reports_landed_for_clickhouse",
    description="Daily calls and call legs (and the day before, re-landed) -> object storage; an asset event each",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TZ),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TZ),
    catchup=False,
    max_active_runs=1,
    tags=["example", "comagic", "assets", "clickhouse"],
):
    for report, operator in REPORTS.items():
        operator(
            task_id=f"land_{report}",
            output_path=OUTPUT_BASE,  # literal: the asset is declared when the DAG is parsed
            output_format="parquet",
            lookback=dt.timedelta(days=1),
        )

with DAG(
    dag_id="comagic_partitions_to_clickhouse",
    description="Load each landed calls / call legs partition into ClickHouse when its asset event arrives",
    doc_md=__doc__,
    schedule=partitioned_schedule(list(ASSETS.values())),  # 3.3+: a run per partition; older: per asset event
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TZ),
    catchup=False,
    tags=["example", "comagic", "assets", "clickhouse"],
):

    @task
    def partitions_to_load(**context) -> list[dict[str, str]]:
        """The partitions this run was triggered by (or that a manual run's conf names), each with its table."""
        named = (context["dag_run"].conf or {}).get("partitions")
        paths = list(named) if named else [p["manifest"] for p in landed_partitions(context)]
        return [{"partition_path": path, "table": f"{DATABASE}.{report_folder(path)}"} for path in paths]

    ComagicLandedToClickHouseOperator.partial(task_id="load_partition").expand_kwargs(partitions_to_load())
# [END howto_asset_comagic_to_clickhouse]
