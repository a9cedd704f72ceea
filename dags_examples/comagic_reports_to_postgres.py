"""
### CoMagic reports to PostgreSQL

Every day: land the previous day's `get.calls_report` and `get.call_legs_report` as Parquet in object storage
(one partition per report and day, committed by a `_manifest.json`), load each partition into PostgreSQL, then
check that the table holds exactly the rows the manifest lists for the interval.

* The load is idempotent per data interval: in one transaction it deletes the interval's rows and bulk-loads the
  partition with `COPY`, so reruns and backfills replace, never append. Tables are created from the report's
  schema (nested arrays as `jsonb`) with `_interval_start`, `_interval_end` and `_loaded_at` columns.
* Connections: `comagic_default`, `postgres_default`. Base path: Variable `comagic_output_base`, else the
  environment variable `COMAGIC_OUTPUT_BASE`, else `file:///tmp/comagic`; this example lands under
  `<base>/reports_to_postgres/`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.providers.common.sql.operators.sql import SQLValueCheckOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10
    from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from comagic_example_settings import ACCOUNT_TIMEZONE, example_lake  # one place to edit

from airflow_provider_comagic.operators.report import ComagicCallLegsReportOperator, ComagicCallsReportOperator
from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator

OUTPUT_BASE = example_lake("reports_to_postgres")
TABLE_SCHEMA = "comagic"

with DAG(
    dag_id="comagic_reports_to_postgres",
    description="Daily CoMagic reports -> object storage (Parquet) -> PostgreSQL, idempotent per interval",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "comagic", "postgres"],
) as dag:
    for report_operator, report in (
        (ComagicCallsReportOperator, "calls_report"),
        (ComagicCallLegsReportOperator, "call_legs_report"),
    ):
        land = report_operator(task_id=f"land_{report}", output_path=OUTPUT_BASE, output_format="parquet")

        # [START howto_operator_comagic_landed_to_postgres]
        load = ComagicLandedToPostgresOperator(
            task_id=f"load_{report}",
            partition_path=f"{{{{ ti.xcom_pull(task_ids='land_{report}')['partition'] }}}}",
            table=f"{TABLE_SCHEMA}.{report}",
            postgres_conn_id="postgres_default",
        )
        # [END howto_operator_comagic_landed_to_postgres]

        check = SQLValueCheckOperator(
            task_id=f"check_{report}",
            conn_id="postgres_default",
            sql=(
                f"SELECT count(*) FROM {TABLE_SCHEMA}.{report} "
                "WHERE _interval_start = '{{ data_interval_start }}' AND _interval_end = '{{ data_interval_end }}'"
            ),
            pass_value=f"{{{{ ti.xcom_pull(task_ids='land_{report}')['rows'] }}}}",
        )
        land >> load >> check
