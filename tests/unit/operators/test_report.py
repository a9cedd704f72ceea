"""Report operators without a server: construction-time validation, template fields, options, access errors, resume."""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import report_methods
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import (
    ComagicComponentDisabledError,
    ComagicIpNotWhitelistedError,
    ComagicParameterError,
    ComagicPermissionError,
    is_missing_access,
)
from airflow_provider_comagic.operators import report
from airflow_provider_comagic.operators.report import (
    REPORT_OPERATORS,
    ComagicCallsReportOperator,
    ComagicCampaignDailyStatOperator,
    ComagicReportOperator,
)
from airflow_provider_comagic.utils.templating import parse_optional_int

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
        # the closest report method suggested, and only the report methods listed (not every Data API method)
        (
            {"method": "get.cals_report"},
            r"unknown report method 'get.cals_report' \(did you mean 'get.calls_report'\?\)\. The report methods: "
            r"get.calls_report, (?!.*get\.campaigns)",
        ),
        (
            {"method": "get.nope_report"},
            "unknown report method 'get.nope_report'.*The report methods: .*get.calls_report",
        ),
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


def test_missing_interval_fails_in_execute_before_any_call(monkeypatch):
    conn = {"conn_type": "comagic", "host": "http://127.0.0.1:9", "password": "t", "extra": {"timezone": "UTC"}}
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    op = make()
    with pytest.raises(ComagicParameterError, match="no data interval"):
        op.execute({})
    moment = pendulum.datetime(2024, 3, 1, tz="UTC")
    with pytest.raises(ComagicParameterError, match="CronDataIntervalTimetable"):
        op.execute({"data_interval_start": moment, "data_interval_end": moment})


# -- client ids, lookback, deferrable, access errors, resume ---------------------------------------------------------
def test_client_fields_are_templated_and_validated_once_rendered():
    assert {"user_id", "customer_id", "customer_name", "user_login"} <= set(ComagicReportOperator.template_fields)
    make(user_id="{{ params.u }}")  # templated: checked at execute
    with pytest.raises(ComagicParameterError, match="user_id must be an integer id"):
        make(user_id="abc")
    with pytest.raises(ComagicParameterError, match="customer_id must be an integer id"):
        make(customer_id=True)
    assert parse_optional_int(" 5000011 ", "user_id") == 5000011 and parse_optional_int("", "user_id") is None


@pytest.mark.parametrize("value", [7, "7 days", dt.timedelta(days=-1)])
def test_lookback_must_be_a_non_negative_timedelta(value):
    with pytest.raises(ComagicParameterError, match="lookback"):
        make(lookback=value)


def test_deferrable_hook_raises_instead_of_sleeping():
    assert make(deferrable=True).get_hook().wait_for_quota is False
    assert make(deferrable=False).get_hook().wait_for_quota is True


def error(cls, mnemonic, code):
    return cls(code=code, mnemonic=mnemonic, message="x", method="get.calls_report")


def test_what_counts_as_missing_access():
    assert is_missing_access(error(ComagicComponentDisabledError, "method_component_disabled", -32008))
    assert is_missing_access(error(ComagicComponentDisabledError, "parameter_component_disabled", -32008))
    assert is_missing_access(error(ComagicPermissionError, "forbidden", -32003))
    # the machine's IP missing from the whitelist is a setup error, never skipped
    assert not is_missing_access(error(ComagicIpNotWhitelistedError, "ip_not_whitelisted", -32003))


def test_resume_needs_a_success_event():
    with pytest.raises(Exception, match="without success"):
        make().execute_complete({}, event={"status": "error"}, run={})


# -- output_schema ---------------------------------------------------------------------------------------------------
def test_unified_output_is_for_the_calls_report_only():
    ComagicCallsReportOperator(task_id="t", output_path="/tmp/x", output_schema="unified")
    with pytest.raises(ComagicParameterError, match=r"get\.chats_report has no unified form"):
        ComagicReportOperator(task_id="t", method="get.chats_report", output_path="/tmp/x", output_schema="unified")
    with pytest.raises(ComagicParameterError, match="do not pass fields"):
        ComagicCallsReportOperator(task_id="t", output_path="/tmp/x", output_schema="unified", fields=["id"])
    with pytest.raises(ComagicParameterError, match="output_schema must be"):
        ComagicCallsReportOperator(task_id="t", output_path="/tmp/x", output_schema="mcn")


CLIENT = {"user_id": 5000011, "customer_id": 500001, "customer_name": "Customer 500001", "user_login": "api"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clients": [CLIENT], "user_id": 1}, "do not pass user_id with it"),
        ({"clients": [CLIENT], "customer_name": "x"}, "do not pass customer_name with it"),
        ({"clients": []}, "clients is empty"),
        ({"clients": [CLIENT, dict(CLIENT, user_id=7)]}, "customer_id 500001 twice"),
        ({"clients": [{"customer_id": 1}]}, r"clients\[0\] has no user_id"),
        ({"clients": [{"user_id": 1}, {"user_id": 1}]}, "user_id 1 twice"),
        ({"clients": [{"user_id": 1, "site": 3}]}, r"clients\[0\] has unknown key\(s\) \['site'\]"),
        ({"clients": ["5000011"]}, r"clients\[0\] must be a mapping"),
        ({"clients": [{"user_id": "x"}]}, r"clients\[0\].user_id"),
        ({"clients": {"user_id": 1}}, "clients must be a list"),
    ],
)
def test_bad_clients_fail_at_construction(kwargs, match):
    with pytest.raises(ComagicParameterError, match=match):
        make(**kwargs)


def test_templated_clients_are_checked_once_rendered():
    op = make(clients="{{ ti.xcom_pull('users') }}")
    op.clients = json.dumps([CLIENT, CLIENT])  # what the template renders to
    op._validate(rendered=True)  # the other options are fine; the clients are parsed where they are used
    with pytest.raises(ComagicParameterError, match="twice"):
        AgencyClient.parse_group(op.clients)
    assert AgencyClient.parse_group(json.dumps([CLIENT])) == [AgencyClient(500001, "Customer 500001", 5000011, "api")]
