"""
### Upload calls to CoMagic and wait until they are processed

For PBX recordings kept outside CoMagic: every hour, upload the calls listed in a JSON Lines file in object
storage (`upload.calls`, 50 calls and 5 points per request; CoMagic ignores an `ext_id` it already has, so
retries and reruns are safe), wait with a **deferrable** sensor until every uploaded call reaches a final status
(`processed`, `error`, `cancelled`) without holding a worker slot, then land the interval's calls report.

* Calls file: `<base>/uploads/<YYYYMMDDTHH>.jsonl` named after the interval's start hour in the account's zone, one call per line
  in the `upload.calls` format (`ext_id`, `start_time`, `finish_time`, numbers, `record_url`, ...).
* Base path: Variable `comagic_output_base`, else `COMAGIC_OUTPUT_BASE`, else `file:///tmp/comagic`; the calls
  files are read from `<base>/uploads/`, the calls report lands under `<base>/upload_and_wait/`.
* A call that ends in `error` fails the sensor, listing each `ext_id` with its `error_code` and meaning.
* The sensor selects by the upload's `ext_request_ids` and knows how many calls each request carried
  (`calls_per_request`): a call not visible yet keeps it waiting, it never counts as absent.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10
    from airflow import DAG
from airflow.timetables.interval import CronDataIntervalTimetable
from comagic_example_settings import ACCOUNT_TIMEZONE, DEFAULT_OUTPUT_BASE, example_lake  # one place to edit

from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor

BASE = "{{ var.value.get('comagic_output_base', '" + DEFAULT_OUTPUT_BASE + "') }}"  # the calls files come from here
OUTPUT_BASE = example_lake("upload_and_wait")
# how often the trigger polls get.uploaded_calls (1 point per poll); tests shorten it
POKE_INTERVAL = float(os.environ.get("COMAGIC_UPLOAD_POKE_INTERVAL", "60"))

with DAG(
    dag_id="comagic_upload_and_wait",
    description="Upload PBX calls to CoMagic, wait (deferrable) until processed, then land the calls report",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@hourly", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2)},
    tags=["example", "comagic", "upload"],
) as dag:
    # [START howto_operator_comagic_upload_calls]
    upload = ComagicUploadCallsOperator(
        task_id="upload_calls",
        calls_path=BASE
        + "/uploads/{{ data_interval_start.in_timezone('"
        + ACCOUNT_TIMEZONE
        + "').strftime('%Y%m%dT%H') }}.jsonl",
    )
    # [END howto_operator_comagic_upload_calls]

    # [START howto_sensor_comagic_uploaded_calls]
    wait = ComagicUploadedCallsSensor(
        task_id="wait_until_processed",
        ext_request_ids="{{ ti.xcom_pull(task_ids='upload_calls')['ext_request_ids'] | tojson }}",
        # how many calls each request carried: until all of them are visible, the sensor keeps waiting
        expected_calls="{{ ti.xcom_pull(task_ids='upload_calls')['calls_per_request'] | tojson }}",
        deferrable=True,
        poke_interval=POKE_INTERVAL,
        timeout=dt.timedelta(hours=2).total_seconds(),
    )
    # [END howto_sensor_comagic_uploaded_calls]

    report = ComagicCallsReportOperator(task_id="calls_report", output_path=OUTPUT_BASE, output_format="parquet")

    upload >> wait >> report
