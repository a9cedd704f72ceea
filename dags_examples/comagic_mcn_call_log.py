"""
### MCN Telecom vPBX call log to object storage, into the unified call table, and its recordings

Every day, lands the previous day's call log of every active vPBX of the MCN Telecom account: the raw log as
Parquet (`<base>/mcn_call_log/mcn_call_log/vpbx_id=<id>/date=YYYY-MM-DD/`) and the same calls mapped to the call
table CoMagic's calls share (`<base>/mcn_call_log/unified_calls/mcn/vpbx_id=<id>/...`), each partition committed
by its `_manifest.json`. Reruns replace a day's partitions, never append. Then the recordings of the calls marked
`has_record` (`<base>/mcn_call_log/mcn_call_recordings/vpbx_id=<id>/date=YYYY-MM-DD/`), read from the landed raw
log; the download endpoint is not in MCN's documentation this provider follows (see its recordings page).

* Connection: `mcn_telecom_default` (type "MCN Telecom": the API token in Password, the personal account in
  Account ID).
* Base path: the Airflow Variable `comagic_output_base`, else the environment variable `COMAGIC_OUTPUT_BASE`, else
  `file:///tmp/comagic`, read at run time; this example lands under `<base>/mcn_call_log/`.
* The schedule follows the zone of `comagic_example_settings.py`; the call log's dates are in the connection's
  `timezone` (the MCN API states no zone of its own).
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

from airflow_provider_comagic.operators.mcn import McnCallLogOperator, McnCallRecordingsOperator

OUTPUT_BASE = example_lake("mcn_call_log")

with DAG(
    dag_id="comagic_mcn_call_log",
    description="Daily MCN Telecom vPBX call logs to object storage, raw and in the unified call table",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2024, 1, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["example", "mcn"],
) as dag:
    # [START howto_operator_mcn_call_log]
    raw = McnCallLogOperator(task_id="call_log", output_path=OUTPUT_BASE, output_format="parquet")
    unified = McnCallLogOperator(
        task_id="unified_calls", output_path=OUTPUT_BASE, output_format="parquet", output_schema="unified"
    )
    # [END howto_operator_mcn_call_log]
    # [START howto_operator_mcn_call_recordings]
    recordings = McnCallRecordingsOperator(task_id="call_recordings", output_path=OUTPUT_BASE, calls_path=OUTPUT_BASE)
    # [END howto_operator_mcn_call_recordings]
    raw >> unified
    raw >> recordings
