"""Choosing the saved report a report-builder list is read through: the arguments, the report found and checked
in the user's list, the request parameters (no I/O)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.saved_reports import ReportChoice

REPORTS = [
    {"id": 1, "name": "Calls", "type": "calls"},
    {"id": 2, "name": "Chats", "type": "chats"},
    {"id": 3, "name": "All", "type": "communications"},
    {"id": 4, "name": "Twice", "type": "calls"},
    {"id": 5, "name": "Twice", "type": "calls"},
]


def choice(method: str, **kwargs) -> ReportChoice:
    arguments = {"report_id": None, "report_name": None, "report_type": None, "is_realtime": None, **kwargs}
    return ReportChoice.parse(get_method(method), **arguments)


def test_a_report_by_name_or_id_gives_the_lists_parameters():
    assert choice("get.calls", report_name="Calls").params(choice("get.calls", report_name="Calls").find(REPORTS)) == {
        "report_id": 1
    }
    communications = choice("get.communications", report_id="3")  # a rendered template: text
    assert communications.params(communications.find(REPORTS)) == {"report_id": 3, "report_type": "communications"}
    visits = choice("get.visits", report_id=2)  # get.visits reads any saved report
    assert visits.params(visits.find(REPORTS)) == {"report_id": 2, "is_realtime": False}
    realtime = choice("get.visits", report_id=2, is_realtime=True)
    assert realtime.params(realtime.find(REPORTS))["is_realtime"] is True


@pytest.mark.parametrize(
    ("method", "kwargs", "match"),
    [
        ("get.calls", {}, r"give report_id or report_name"),
        ("get.calls", {"report_id": 1, "report_name": "Calls"}, r"give report_id or report_name \(one of them"),
        ("get.calls", {"report_id": 1, "report_type": "calls"}, r"get.calls takes no report_type"),
        ("get.communications", {"report_id": 1, "report_type": "chats"}, r"invalid 'report_type' 'chats'"),
        ("get.calls", {"report_id": 1, "is_realtime": False}, r"get.calls takes no is_realtime"),
        ("get.visits", {"report_id": 1, "is_realtime": 1}, r"invalid 'is_realtime' 1"),
        ("get.calls", {"report_id": "one"}, r"report_id"),
    ],
)
def test_bad_arguments_name_the_parameter(method, kwargs, match):
    with pytest.raises(ComagicParameterError, match=match):
        choice(method, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"report_id": 9}, r"invalid 'report_id': no saved report 9; reports it can read: 1 'Calls' \(calls\), 4"),
        ({"report_name": "Nope"}, r"invalid 'report_name': no saved report 'Nope'"),
        ({"report_id": 2}, r"invalid 'report_id': report 2 'Chats' is a 'chats' report; get.calls reads calls"),
        ({"report_name": "All"}, r"invalid 'report_name': report 3 'All' is a 'communications' report"),
        ({"report_name": "Twice"}, r"invalid 'report_name': 2 saved reports are called 'Twice' \(4, 5\); give"),
    ],
)
def test_a_report_not_found_or_of_the_wrong_type_is_refused(kwargs, match):
    with pytest.raises(ComagicParameterError, match=match):
        choice("get.calls", **kwargs).find(REPORTS)


def test_report_type_must_be_the_reports_own():
    with pytest.raises(ComagicParameterError, match=r"invalid 'report_type' 'communications_operator_workplace'"):
        choice("get.communications", report_id=3, report_type="communications_operator_workplace").find(REPORTS)


def test_templated_arguments_wait_for_rendering_at_parse_time():
    spec = get_method("get.calls")
    ReportChoice.check_literal(spec, report_id="{{ params.id }}", report_name=None, report_type=None, is_realtime=None)
    ReportChoice.check_literal(
        spec, report_id=None, report_name="{{ var.value.r }}", report_type=None, is_realtime=None
    )
    with pytest.raises(ComagicParameterError, match="one of them"):
        ReportChoice.check_literal(spec, report_id="{{ x }}", report_name="Calls", report_type=None, is_realtime=None)
