"""Bad literal input is rejected when the DAG file is parsed (the operator's constructor), before any API call."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.operators.mcn import McnCallLogOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator

CASES = [
    # (kwargs, message): reversed or empty literal intervals
    ({"date_from": "2026-11-26", "date_till": "2026-11-25"}, r"date_till \(2026-11-25\) must be after date_from"),
    ({"date_from": "2026-11-26", "date_till": "2026-11-26"}, "must be after date_from"),
    ({"date_from": dt.date(2026, 11, 26), "date_till": dt.datetime(2026, 11, 25, 12)}, "must be after"),
    ({"date_from": "2026-11-26T00:00:00+03:00", "date_till": "2026-11-25T20:00:00Z"}, "must be after"),
    ({"date_from": "yesterday", "date_till": "2026-11-25"}, "not an ISO 8601"),
    # a relative output path would land under the worker's current directory
    ({"output_path": "landing/comagic"}, r"output_path 'landing/comagic' has no scheme.*file:///abs/path.*s3://"),
    ({"output_path": ""}, "output_path is empty"),
    ({"output_path": "file:landing"}, r"output_path 'file:landing' is not an absolute local path"),
    # the task is named, so a DAG's import error says which task to fix
    ({"output_path": ""}, "^Task 't': output_path is empty"),
    # the drift policy of the typed partitions
    ({"on_type_mismatch": "skip"}, "on_type_mismatch must be one of rescue, coerce_only, fail, got 'skip'"),
    ({"max_rescued_fraction": 5}, "max_rescued_fraction must be a number from 0 to 1"),
    ({"max_rescued_fraction": {"talk_duration": "all"}}, r"max_rescued_fraction\['talk_duration'\]"),
    ({"schema_evolution": "true"}, "schema_evolution must be True or False"),
]


def test_a_one_slash_file_url_lands_where_it_says(tmp_path):
    from airflow_provider_comagic.landing.storage import to_storage_path

    op = ComagicCallsReportOperator(task_id="t", output_path=f"file:{tmp_path}")
    assert op.landing_asset().uri == f"file://{tmp_path}/calls_report"
    assert to_storage_path(f"file:{tmp_path}/x").path == f"{tmp_path}/x"


def test_an_empty_data_interval_names_the_dags_timetable():
    from airflow.timetables.trigger import CronTriggerTimetable

    from airflow_provider_comagic.utils.time import resolve_interval
    from tests.fixtures.airflow_compat import DAG

    day = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    dag = DAG("d", schedule=CronTriggerTimetable("0 3 * * *", timezone="UTC"), start_date=day)
    context = {"dag": dag, "data_interval_start": day, "data_interval_end": day}
    with pytest.raises(ComagicParameterError, match=r"runs on its timetable CronTriggerTimetable \(0 3 \* \* \*\)"):
        resolve_interval(None, None, context, dt.timezone.utc, error=ComagicParameterError)


@pytest.mark.parametrize(("kwargs", "message"), CASES)
@pytest.mark.parametrize(
    ("operator", "error"),
    [(ComagicCallsReportOperator, ComagicParameterError), (McnCallLogOperator, McnParameterError)],
)
def test_bad_literal_input_fails_at_parse_time(comagic_emulator, mcn_emulator, operator, error, kwargs, message):
    arguments = {"task_id": "t", "output_path": "file:///tmp/lake", **kwargs}
    with pytest.raises(error, match=message):
        operator(**arguments)
    assert comagic_emulator.stats.requests == 0 and mcn_emulator.stats["requests"] == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"date_from": "2026-11-25", "date_till": "2026-11-26"},
        {"date_from": "{{ ds }}", "date_till": "2026-11-01"},  # templated: checked once rendered
        {
            "date_from": "2026-11-26 10:00:00",
            "date_till": "2026-11-26T07:30:00+00:00",
        },  # naive vs aware: needs the zone
        {"output_path": "/data/lake"},  # an absolute local path is unambiguous
        {"output_path": "s3://aws_lake@bucket/comagic"},
        {"output_path": "{{ var.value.lake }}"},
    ],
)
def test_good_or_templated_input_is_accepted(kwargs):
    arguments = {"task_id": "t", "output_path": "file:///tmp/lake", **kwargs}
    ComagicCallsReportOperator(**arguments)
    McnCallLogOperator(**arguments)


def test_a_relative_rendered_output_path_fails_at_run_time():
    op = ComagicCallsReportOperator(task_id="t", output_path="{{ var.value.lake }}")
    op.output_path = "landing/comagic"  # what the template rendered to
    with pytest.raises(ComagicParameterError, match="has no scheme"):
        op._validate(rendered=True)


def test_the_drift_policy_reaches_the_writer():
    from airflow_provider_comagic.landing.drift import DriftPolicy

    op = ComagicCallsReportOperator(
        task_id="t",
        output_path="file:///tmp/lake",
        on_type_mismatch="coerce_only",
        max_rescued_fraction={"talk_duration": 0.5},
        schema_evolution=True,
    )
    assert op.writer_options()["drift"] == DriftPolicy("coerce_only", {"talk_duration": 0.5}, True)
    assert McnCallLogOperator(task_id="m", output_path="/lake").writer_options()["drift"] == DriftPolicy()
