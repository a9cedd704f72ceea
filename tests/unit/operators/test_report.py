"""Report operators without a server: construction-time validation, template fields, intervals, partitions."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import report_methods
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.landing.partitions import partition_name
from airflow_provider_comagic.operators import report
from airflow_provider_comagic.operators.report import (
    REPORT_OPERATORS,
    ComagicCallsReportOperator,
    ComagicCampaignDailyStatOperator,
    ComagicReportOperator,
)
from airflow_provider_comagic.utils.time import parse_user_time, resolve_interval

MSK = pendulum.timezone("Europe/Moscow")


def make(**kwargs):
    kwargs.setdefault("task_id", "t")
    kwargs.setdefault("output_path", "file:///tmp/out")
    kwargs.setdefault("method", "get.calls_report")
    return ComagicReportOperator(**kwargs)


def test_one_named_operator_per_report_method():
    assert sorted(REPORT_OPERATORS) == sorted(report_methods())
    for method, cls in REPORT_OPERATORS.items():
        extra = {"api_params": {"site_id": 1}} if method == "get.campaign_daily_stat" else {}
        op = cls(task_id="t", output_path="/tmp/x", **extra)
        assert op.method == method
        assert cls.__doc__ and method in cls.__doc__
        assert hasattr(report, cls.__name__) and cls.__name__ in report.__all__


def test_named_operator_refuses_another_method():
    with pytest.raises(ComagicParameterError, match=r"always reads get\.calls_report"):
        ComagicCallsReportOperator(task_id="t", output_path="/x", method="get.chats_report")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "get.nope_report"}, "unknown Data API method 'get.nope_report'; known methods: .*get.calls_report"),
        ({"method": "get.account"}, "not a report method"),
        ({"fields": ["id", "bogus"]}, r"unknown field 'bogus'; allowed fields: id, start_time, finish_time"),
        ({"filter": {"field": "bogus", "operator": "=", "value": 1}}, "unknown field 'bogus'; filterable fields"),
        ({"filter": {"field": "id", "operator": "~~", "value": 1}}, "unknown operator '~~'"),
        ({"sort": [{"field": "bogus", "order": "asc"}]}, "unknown field 'bogus'; sortable fields"),
        ({"output_format": "csv"}, "output_format must be one of jsonl, parquet"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 10_001}, "page_size"),
        ({"timestamps": "local"}, "timestamps"),
        ({"api_params": {"nope": 1}}, r"invalid 'api_params' \['nope'\]; allowed: include_ongoing_calls"),
        ({"api_params": {"limit": 5}}, "invalid 'api_params'"),
    ],
)
def test_invalid_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ComagicParameterError, match=match):
        make(**kwargs)


def test_required_method_params_are_checked():
    with pytest.raises(ComagicParameterError, match=r"requires site_id: pass api_params=\{'site_id': ...\}"):
        ComagicCampaignDailyStatOperator(task_id="t", output_path="/x")


def test_templated_values_are_validated_at_execute_not_at_parse_time():
    op = make(
        fields="{{ var.json.fields }}",
        filter={"field": "site_id", "operator": "=", "value": "{{ params.site }}"},
        output_format="{{ var.value.fmt }}",
        sort="{{ var.json.sort }}",
    )
    assert op.fields == "{{ var.json.fields }}"
    # a templated value does not hide a wrong field name elsewhere in the filter
    with pytest.raises(ComagicParameterError, match="unknown field 'bogus'"):
        make(filter={"field": "bogus", "operator": "=", "value": "{{ params.x }}"})
    op.fields, op.output_format = '["id", "bogus"]', "parquet"
    with pytest.raises(ComagicParameterError, match="unknown field 'bogus'"):
        op._validate(rendered=True)
    op.fields, op.output_format = "id, start_time", "xml"
    with pytest.raises(ComagicParameterError, match="output_format"):
        op._validate(rendered=True)


def test_template_fields():
    assert set(ComagicReportOperator.template_fields) >= {
        "date_from",
        "date_till",
        "filter",
        "fields",
        "output_path",
        "output_format",
        "api_params",
        "partition_template",
    }
    op = make(date_from="{{ ds }}")
    for name in op.template_fields:
        assert hasattr(op, name)


def test_template_rendering_of_the_operator():
    op = make(
        date_from="{{ ds }}",
        date_till="{{ macros.ds_add(ds, 1) }}",
        output_path="file:///data/{{ ds_nodash }}",
        fields=["id", "{{ params.f }}"],
    )
    op.render_template_fields({"ds": "2024-03-01", "ds_nodash": "20240301", "macros": _Macros(), "params": {"f": "x"}})
    assert (op.date_from, op.date_till, op.output_path) == ("2024-03-01", "2024-03-02", "file:///data/20240301")
    assert op.fields == ["id", "x"]


class _Macros:
    @staticmethod
    def ds_add(ds: str, days: int) -> str:
        return (dt.date.fromisoformat(ds) + dt.timedelta(days=days)).isoformat()


# -- intervals ------------------------------------------------------------------------------------------------
def test_interval_from_the_context():
    ctx = {
        "data_interval_start": pendulum.datetime(2024, 2, 29, 21, tz="UTC"),
        "data_interval_end": pendulum.datetime(2024, 3, 1, 21, tz="UTC"),
    }
    start, end = resolve_interval(None, None, ctx, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK) and end == dt.datetime(2024, 3, 2, tzinfo=MSK)


def test_zero_length_interval_says_which_timetable_to_use():
    moment = pendulum.datetime(2024, 3, 1, tz="UTC")
    with pytest.raises(ParameterError, match=r"CronTriggerTimetable.*CronDataIntervalTimetable.*date_from"):
        resolve_interval(None, None, {"data_interval_start": moment, "data_interval_end": moment}, MSK)


def test_missing_interval_asks_for_date_from_and_date_till():
    with pytest.raises(ParameterError, match=r"no data interval.*date_from and date_till"):
        resolve_interval(None, None, {}, MSK)
    with pytest.raises(ParameterError, match="both date_from and date_till"):
        resolve_interval("2024-03-01", None, {}, MSK)


def test_explicit_dates_naive_means_account_wall_clock():
    start, end = resolve_interval("2024-03-01", "2024-03-01 12:00:00", {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK) and end == dt.datetime(2024, 3, 1, 12, tzinfo=MSK)
    start, _ = resolve_interval("2024-03-01T00:00:00Z", "2024-03-02T00:00:00+00:00", {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    start, _ = resolve_interval(dt.date(2024, 3, 1), dt.datetime(2024, 3, 2), {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK)
    # explicit dates win over the data interval
    ctx = {"data_interval_start": pendulum.datetime(2020, 1, 1), "data_interval_end": pendulum.datetime(2020, 1, 2)}
    assert resolve_interval("2024-03-01", "2024-03-02", ctx, MSK)[0].year == 2024
    with pytest.raises(ParameterError, match="must be after"):
        resolve_interval("2024-03-02", "2024-03-01", {}, MSK)
    with pytest.raises(ParameterError, match="not an ISO 8601"):
        parse_user_time("yesterday", MSK, "date_from")


def test_missing_interval_fails_in_execute_before_any_call(monkeypatch):
    conn = {"conn_type": "comagic", "host": "http://127.0.0.1:9", "password": "t", "extra": {"timezone": "UTC"}}
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    op = make()
    with pytest.raises(ComagicParameterError, match="no data interval"):
        op.execute({})
    moment = pendulum.datetime(2024, 3, 1, tz="UTC")
    with pytest.raises(ComagicParameterError, match="CronDataIntervalTimetable"):
        op.execute({"data_interval_start": moment, "data_interval_end": moment})


# -- partitions -----------------------------------------------------------------------------------------------
def test_default_partition_names():
    day = dt.datetime(2024, 3, 1, tzinfo=MSK)
    assert partition_name("get.calls_report", day, day + dt.timedelta(days=1), MSK) == "calls_report/date=2024-03-01"
    # the same day given in UTC
    utc_start = day.astimezone(dt.timezone.utc)
    assert partition_name("get.calls_report", utc_start, utc_start + dt.timedelta(days=1), MSK).endswith("2024-03-01")
    hourly = partition_name("get.chats_report", day, day + dt.timedelta(hours=1), MSK)
    assert hourly == "chats_report/interval=20240301T000000_20240301T010000"
    weekly = partition_name("get.campaign_daily_stat", day, day + dt.timedelta(days=7), MSK)
    assert weekly == "campaign_daily_stat/interval=20240301T000000_20240308T000000"


def test_partition_template():
    day = dt.datetime(2024, 3, 1, tzinfo=MSK)
    name = partition_name(
        "get.calls_report", day, day + dt.timedelta(days=1), MSK, "{report}/y={year}/m={month}/d={day}"
    )
    assert name == "calls_report/y=2024/m=03/d=01"
    with pytest.raises(ParameterError, match=r"partition_template.*keys: date, day, end"):
        partition_name("get.calls_report", day, day, MSK, "{nope}")
