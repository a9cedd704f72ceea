"""
### CoMagic agency fan-out: every client's calls, one partition per client

An agency (partner) account holds one CoMagic connection and acts for many client accounts. Every day this DAG

1. lists the clients' API users (`get.customers` + `get.customer_users`: active clients, one user each), then
2. maps one `get.calls_report` task per client (`.partial(...).expand_kwargs(...)`): each acts as its client's
   `user_id` and lands Parquet under `<base>/calls_report/customer_id=<id>/date=YYYY-MM-DD/`.

* A client whose account lacks the call-tracking component or the API permission is **skipped** (its mapped
  task shows as skipped, with the reason in its log) instead of failing the run.
* `lookback`: each run also re-lands the 3 days (`COMAGIC_LOOKBACK_DAYS`) before the data interval, so tags,
  sales fields and `is_lost` changed after the call reach the lake. The price is 4x the API points of one day
  per client.
* `deferrable`: a spent minute or day quota frees the worker slot; the task resumes in the triggerer's wake
  where it stopped, without fetching a page twice.

Connection: `comagic_agency`, the agency's own connection (its token; leave its `user_id` empty), beside the
client account's `comagic_default` of the other examples. Base path: the Airflow Variable `comagic_output_base`,
else the environment variable `COMAGIC_OUTPUT_BASE`, else `file:///tmp/comagic`, read at run time through a
template, never at parse time; this example lands under `<base>/agency_fanout/`.

Environment variables read when the DAG file is parsed (the DAG processor's and the workers' environment):

* `COMAGIC_LOOKBACK_DAYS`: the lookback in days (default 3; 0 lands the data interval only).
* `COMAGIC_PAGE_SIZE`: rows per API call (default and maximum 10 000; smaller pages only cost more points, so
  lower it only to exercise paging).
* `COMAGIC_CLIENT_GROUP_SIZE`: land the clients in groups of at most this many per mapped task, for agencies
  with more clients than Airflow maps tasks (`[core] max_map_length`, 1 024 by default); unset: one task per
  client.
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
from comagic_example_settings import ACCOUNT_TIMEZONE, example_lake  # one place to edit

from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator

OUTPUT_BASE = example_lake("agency_fanout")
AGENCY_CONN_ID = "comagic_agency"
LOOKBACK_DAYS = int(os.environ.get("COMAGIC_LOOKBACK_DAYS", "3"))
PAGE_SIZE = int(os.environ.get("COMAGIC_PAGE_SIZE", "10000"))
GROUP_SIZE = int(os.environ.get("COMAGIC_CLIENT_GROUP_SIZE", "0")) or None
# the UI names each mapped task by its client, or by the first client of its group
MAP_INDEX = (
    "{{ task.customer_name }}"
    if GROUP_SIZE is None
    else "{{ task.clients[0]['customer_name'] }} + {{ task.clients | length - 1 }} more"
)

with DAG(
    dag_id="comagic_agency_fanout",
    description="Daily CoMagic calls of every client of an agency account, one partition per client",
    doc_md=__doc__,
    # a data-interval timetable: plain "@daily" gives zero-length intervals in Airflow 3
    schedule=CronDataIntervalTimetable("@daily", timezone=ACCOUNT_TIMEZONE),
    start_date=pendulum.datetime(2026, 11, 1, tz=ACCOUNT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5), "comagic_conn_id": AGENCY_CONN_ID},
    tags=["example", "comagic"],
) as dag:
    # [START howto_operator_comagic_agency_fanout]
    client_users = ComagicCustomerUsersOperator(task_id="client_users", active_only=True, group_size=GROUP_SIZE)

    calls = ComagicCallsReportOperator.partial(
        task_id="calls_report",
        output_path=OUTPUT_BASE,
        output_format="parquet",
        skip_on_missing_access=True,
        lookback=dt.timedelta(days=LOOKBACK_DAYS),
        page_size=PAGE_SIZE,
        deferrable=True,
        map_index_template=MAP_INDEX,  # the client's name in the UI instead of 0, 1, 2...
        max_active_tis_per_dag=4,  # the clients share the agency's point quota
    ).expand_kwargs(client_users.output)  # user_id, customer_id, customer_name, user_login per client (or clients)
    # [END howto_operator_comagic_agency_fanout]
