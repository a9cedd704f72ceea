"""
### CoMagic calls and their recordings to object storage

Every day, lands the previous day's `get.calls_report` as Parquet, then the recordings those calls name (the
MP3 of each conversation and its per-channel WAV tracks: one object per recording under a stable name, one
`_manifest.json` per day) from the landed partition, without a second report call (the report's default fields
name them; voice mails need `voice_mail_records` in the report's `fields`). Each run also looks three
days back: a recording that was not ready yet (or absent) is tried again, and what is stored is never downloaded
twice. The task fails only when downloads fail beyond their retries, after committing the others.

* Connection: `comagic_default` (the media host follows its host: `app.comagic.ru` or `app.uiscom.ru`; the
  extra `media_host` overrides it).
* Base path: the Airflow Variable `comagic_output_base`, else the environment variable `COMAGIC_OUTPUT_BASE`, else
  `file:///tmp/comagic`, read at run time; this example lands under `<base>/call_recordings/`.
* Recordings are personal data: on S3 pass `storage_options={"ServerSideEncryption": "aws:kms", ...}` and set a
  lifecycle rule matching your retention policy (the provider never deletes a recording by age).
* Cost: one report call per page of calls (the recordings task reads the landed calls); downloads use no points.
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

from airflow_provider_comagic.operators.recordings import ComagicCallRecordingsOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator

OUTPUT_BASE = example_lake("call_recordings")

with DAG(
    dag_id="comagic_call_recordings",
    description="Daily CoMagic calls and the recordings they name, to object storage",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "comagic", "recordings"],
) as dag:
    calls = ComagicCallsReportOperator(task_id="calls_report", output_path=OUTPUT_BASE, output_format="parquet")
    # [START howto_operator_comagic_call_recordings]
    recordings = ComagicCallRecordingsOperator(
        task_id="call_recordings",
        output_path=OUTPUT_BASE,
        calls_path=OUTPUT_BASE,  # read the calls the task above landed
        kinds=["mp3", "wav"],
        lookback=dt.timedelta(days=3),
        concurrency=4,
    )
    # [END howto_operator_comagic_call_recordings]
    calls >> recordings
