"""Report operator options without a server: client ids, lookback and deferrable arguments, access errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_comagic.comagic.errors import (
    ComagicComponentDisabledError,
    ComagicIpNotWhitelistedError,
    ComagicParameterError,
    ComagicPermissionError,
)
from airflow_provider_comagic.landing.checkpoint import ReportRun
from airflow_provider_comagic.operators import report
from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.operators.report import ComagicReportOperator
from airflow_provider_comagic.utils.templating import parse_list, parse_optional_int


def make(**kwargs):
    return ComagicReportOperator(task_id="t", output_path="file:///tmp/out", method="get.calls_report", **kwargs)


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
    assert report._is_missing_access(error(ComagicComponentDisabledError, "method_component_disabled", -32008))
    assert report._is_missing_access(error(ComagicComponentDisabledError, "parameter_component_disabled", -32008))
    assert report._is_missing_access(error(ComagicPermissionError, "forbidden", -32003))
    # the machine's IP missing from the whitelist is a setup error, never skipped
    assert not report._is_missing_access(error(ComagicIpNotWhitelistedError, "ip_not_whitelisted", -32003))


def test_resume_needs_a_success_event():
    with pytest.raises(Exception, match="without success"):
        make().execute_complete({}, event={"status": "error"}, run={})


def test_run_state_round_trips_as_json():
    start = dt.datetime(2024, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    run = ReportRun([(start, start + dt.timedelta(days=1)), (start - dt.timedelta(days=1), start)])
    run.finish({"rows": 1})
    run.suspend({"writer": {"token": "t"}, "plan": {"inline": {}}, "api": {"calls": 1}})
    again = ReportRun.from_json(json.loads(json.dumps(run.to_json())))
    assert again.intervals == run.intervals and again.done == [{"rows": 1}] and again.deferrals == 1
    assert again.next_interval() == run.intervals[1] and again.current == run.current
    with pytest.raises(Exception, match="another version"):
        ReportRun.from_json({"version": 99})


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("[1, 2]", [1, 2]), ("3,4", [3, 4]), ([5, "6"], [5, 6])]
)
def test_customer_ids_from_lists_and_rendered_templates(value, expected):
    assert parse_list(value, "customer_ids", item=int, error=ComagicParameterError) == expected


def test_customer_users_operator_template_fields():
    op = ComagicCustomerUsersOperator(task_id="u", customer_ids="{{ params.ids }}", name_pattern="Acme*")
    assert set(op.template_fields) == {"customer_ids", "name_pattern"} and op.one_per_customer is True
    with pytest.raises(ComagicParameterError, match="customer_ids must be integers"):
        parse_list("a,b", "customer_ids", item=int, error=ComagicParameterError)
