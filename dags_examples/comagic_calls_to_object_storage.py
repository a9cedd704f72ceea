"""
### CoMagic calls and communications to object storage

Every day, lands the previous day's `get.calls_report` and `get.communications_report` (the data interval,
in the account's time zone) as Parquet under the base path, one partition per report and day, with a
`_manifest.json` written last. Reruns and backfills replace a day's partition; they never append.

* Connection: `comagic_default` (see the provider's connection docs; the README's demo points it at the emulator).
* Base path: the Airflow Variable `comagic_output_base` (any `ObjectStoragePath` URL such as
  `s3://aws_default@bucket/comagic` or `file:///data/comagic`), else the environment variable
  `COMAGIC_OUTPUT_BASE`, else `file:///tmp/comagic`. Read at run time through templates, never at parse time.
  This example lands into its own folder, `<base>/calls_to_object_storage/`; its tasks' asset events arrive
  through the alias `comagic:comagic_calls_to_object_storage.<task_id>` (the path is a template).
* Quota: each report costs about one point per 10 000 rows; `max_active_runs=1` keeps backfills within the
  minute limit, and the tasks retry transient faults themselves.
"""

from __future__ import annotations

import datetime as dt

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10
    from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from comagic_example_settings import ACCOUNT_TIMEZONE, example_lake  # one place to edit

from airflow_provider_comagic.operators.report import (
    ComagicCallsReportOperator,
    ComagicCommunicationsReportOperator,
)

OUTPUT_BASE = example_lake("calls_to_object_storage")

with DAG(
    dag_id="comagic_calls_to_object_storage",
    description="Daily CoMagic calls and communications reports to object storage (Parquet)",
    doc_md=__doc__,
    # a data-interval timetable: plain "@daily" gives zero-length intervals in Airflow 3
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5), "comagic_conn_id": "comagic_default"},
    tags=["example", "comagic"],
) as dag:
    # [START howto_operator_comagic_calls_report]
    calls = ComagicCallsReportOperator(
        task_id="calls_report",
        output_path=OUTPUT_BASE,
        output_format="parquet",
        api_params={"include_ongoing_calls": False},
    )
    # [END howto_operator_comagic_calls_report]

    # [START howto_operator_comagic_communications_report]
    communications = ComagicCommunicationsReportOperator(
        task_id="communications_report",
        output_path=OUTPUT_BASE,
        output_format="parquet",
    )
    # [END howto_operator_comagic_communications_report]
