"""The status logic shared by the sensor's poke and the trigger (pure)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.errors import (
    ComagicInvalidParamsError,
    ComagicParameterError,
    ComagicPermissionError,
)
from airflow_provider_comagic.comagic.uploads.status import (
    EQ_FILTERS_PER_QUERY,
    ERROR_CODES,
    MAX_EQ_QUERIES,
    StatusQuery,
    UploadSelection,
    UploadStatusTally,
    failure_message,
    normalize_expected_calls,
    normalize_statuses,
    progress_message,
    rejects_filter,
    selection_filter,
)


def row(ext_id, status, *, time="2024-06-01 12:00:00", code=None, session=None, request="r1"):
    return {
        "ext_id": ext_id,
        "ext_request_id": request,
        "upload_time": time,
        "status": status,
        "error_code": code,
        "call_session_id": session,
        "comment": "not kept",
    }


def test_pending_until_every_call_is_final():
    tally = UploadStatusTally()
    tally.add([row("a", "processed", session=1), row("b", "in_process"), row("c", "new")])
    summary = tally.summary()
    assert not summary["done"] and not summary["success"]
    assert summary["counts"] == {"new": 1, "in_process": 1, "processed": 1, "error": 0, "cancelled": 0}
    assert summary["pending_ext_ids"] == ["b", "c"]
    assert "processed 1" in progress_message(summary)


def test_all_processed_is_success_with_call_session_ids():
    tally = UploadStatusTally()
    tally.add([row("a", "processed", session=11)])
    tally.add([row("b", "processed", session=12)])  # pages accumulate
    summary = tally.summary()
    assert summary["done"] and summary["success"]
    assert summary["call_session_ids"] == [11, 12] and summary["failed"] == []


def test_errors_fail_with_code_and_documented_meaning():
    tally = UploadStatusTally()
    tally.add([row("a", "processed", session=1), row("b", "error", code="decode_error"), row("c", "cancelled")])
    summary = tally.summary()
    assert summary["done"] and not summary["success"]
    assert {f["ext_id"]: f["error_code"] for f in summary["failed"]} == {"b": "decode_error", "c": None}
    message = failure_message(summary)
    assert "2 of 3 uploaded calls" in message
    assert "ext_id 'b': error (error_code decode_error: could not open the recording" in message
    assert "ext_id 'c': cancelled (no error_code)" in message


def test_success_statuses_choose_what_counts():
    tally = UploadStatusTally(["processed", "cancelled"])
    tally.add([row("a", "processed"), row("c", "cancelled")])
    assert tally.summary()["success"]
    with pytest.raises(ValueError, match="final statuses"):
        normalize_statuses(["new"])
    assert normalize_statuses("error") == ("error",)


def test_expected_ext_ids_not_visible_yet_are_pending():
    tally = UploadStatusTally(expected_ext_ids=["a", "b"])
    tally.add([row("a", "processed")])
    summary = tally.summary()
    assert not summary["done"] and summary["missing"] == 1 and summary["pending_ext_ids"] == ["b"]


def test_an_empty_selection_is_done_unless_rows_are_required():
    assert UploadStatusTally().summary()["done"]
    assert not UploadStatusTally(require_rows=True).summary()["done"]


def test_a_processed_attempt_wins_over_earlier_failures_and_the_latest_attempt_counts():
    tally = UploadStatusTally()
    tally.add([row("a", "error", code="download_error", time="2024-06-01 10:00:00")])
    tally.add([row("a", "processed", session=5, time="2024-06-01 11:00:00")])
    tally.add([row("b", "error", code="download_error", time="2024-06-01 10:00:00")])
    tally.add([row("b", "in_process", time="2024-06-01 11:00:00")])  # a retry in progress
    tally.add([row("c", "processed", session=6, time="2024-06-01 10:00:00")])
    tally.add([row("c", "error", code="decode_error", time="2024-06-01 11:00:00")])
    summary = tally.summary()
    assert summary["calls"] == 3 and summary["pending_ext_ids"] == ["b"]
    assert summary["call_session_ids"] == [5, 6]


def test_selection_filter():
    assert selection_filter() is None
    assert selection_filter(["r1"]) == {"field": "ext_request_id", "operator": "in", "value": ["r1"]}
    both = selection_filter(["r1"], ["a", "b"])
    assert both["condition"] == "and" and [f["field"] for f in both["filters"]] == ["ext_request_id", "ext_id"]


def test_every_documented_error_code_has_a_meaning():
    from airflow_provider_comagic.comagic.catalogue import get_method

    documented = get_method("get.uploaded_calls").field("error_code").values
    assert set(documented) <= set(ERROR_CODES)


# -- completeness: the calls the upload requests carried --------------------------------------------------------
def test_calls_of_a_request_not_visible_yet_are_pending():
    tally = UploadStatusTally(expected_calls={"r1": 2, "r2": 3})
    tally.add([row("a", "processed", request="r1"), row("b", "processed", request="r1")])
    tally.add([row("c", "processed", request="r2")])
    summary = tally.summary()
    assert not summary["done"] and not summary["success"] and summary["missing"] == 2
    assert summary["incomplete_requests"] == [{"ext_request_id": "r2", "expected": 3, "visible": 1}]
    assert "2 expected calls not visible yet (1 of 3 in r2)" in progress_message(summary)
    tally.add([row("d", "error", code="decode_error", request="r2"), row("e", "processed", request="r2")])
    summary = tally.summary()
    assert summary["done"] and not summary["success"] and summary["missing"] == 0


def test_attempts_of_one_call_count_once_and_a_total_works_too():
    tally = UploadStatusTally(expected_calls={"r1": 2})
    tally.add([row("a", "error", time="2024-06-01 10:00:00"), row("a", "processed", time="2024-06-01 11:00:00")])
    assert tally.summary()["missing"] == 1  # two attempts of one call are one call
    total = UploadStatusTally(expected_calls=3)
    total.add([row("a", "processed"), row("b", "processed", request="r2")])
    summary = total.summary()
    assert not summary["done"] and summary["incomplete_requests"] == [
        {"ext_request_id": None, "expected": 3, "visible": 2}
    ]
    assert "(2 of 3)" in progress_message(summary)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (5, 5),
        ("5", 5),  # a rendered number
        ({"r1": 50, "r2": 3}, {"r1": 50, "r2": 3}),
        ('{"r1": 50, "r2": 3}', {"r1": 50, "r2": 3}),  # rendered with | tojson
        ("{'r1': 50, 'r2': 3}", {"r1": 50, "r2": 3}),  # an XCom dict rendered without native rendering
    ],
)
def test_expected_calls_accept_rendered_values(value, expected):
    assert normalize_expected_calls(value, ["r1", "r2"]) == expected


@pytest.mark.parametrize(
    ("value", "ids", "match"),
    [
        (5, None, "give ext_request_ids too"),
        ({"r1": 5}, ["r1", "r2"], r"no count for \['r2'\]"),
        ({"r1": 5, "r3": 1}, ["r1"], r"counts for requests not selected \['r3'\]"),
        ({"r1": -1}, ["r1"], "number of calls"),
        ({"r1": "many"}, ["r1"], "number of calls"),
        (True, ["r1"], "number of calls"),
        ("[1, 2]", ["r1"], "number of calls"),
        ("{r1: 5", ["r1"], "expected_calls rendered to"),
    ],
)
def test_expected_calls_errors_name_the_parameter(value, ids, match):
    with pytest.raises(ComagicParameterError, match=match):
        normalize_expected_calls(value, ids)


# -- how a poll selects, and what it does when the API refuses a filter ------------------------------------------
def api_error(mnemonic, field=None, value=None, cls=ComagicInvalidParamsError):
    return cls(code=-32602, mnemonic=mnemonic, message="m", method="get.uploaded_calls", field=field, value=value)


def test_queries_per_mode():
    selection = UploadSelection([f"r{i}" for i in range(3)], [f"e{i}" for i in range(250)])
    (plain,) = selection.queries("in")
    assert plain.filter == selection_filter(selection.ext_request_ids, selection.ext_ids) and plain.keep is None
    (eq,) = selection.queries("eq")  # "=" on the shorter list (3 request ids), the ext_ids selected here
    assert eq.filter == {
        "filters": [{"field": "ext_request_id", "operator": "=", "value": f"r{i}"} for i in range(3)],
        "condition": "or",
    }
    rows = [row("e1", "new", request="r1"), row("x", "new", request="r1"), row("e2", "new", request="zz")]
    assert [r["ext_id"] for r in eq.select(rows)] == ["e1", "e2"]  # the server selected the request ids
    (window,) = selection.queries("window")
    assert window.filter is None and [r["ext_id"] for r in window.select(rows)] == ["e1"]
    many = UploadSelection(None, [f"e{i}" for i in range(250)]).queries("eq")
    assert [len(q.filter["filters"]) for q in many] == [100, 100, 50] and all(q.keep is None for q in many)
    assert UploadSelection(None, ["one"]).queries("eq")[0].filter == {
        "field": "ext_id",
        "operator": "=",
        "value": "one",
    }
    assert UploadSelection().queries("eq")[0].filter is None  # the data interval: nothing to select by


def test_fallback_from_in_to_eq_to_the_window():
    small = UploadSelection(["r1", "r2"])
    refused = api_error("invalid_parameter_value", field="filter.operator", value="in")
    assert small.fallback("in", refused) == "eq"
    assert small.fallback("eq", api_error("filter_prohibited", field="filter.field")) == "window"
    with pytest.raises(ComagicInvalidParamsError):
        small.fallback("window", refused)  # nothing left to try
    large = UploadSelection(None, [f"e{i}" for i in range(MAX_EQ_QUERIES * EQ_FILTERS_PER_QUERY + 1)])
    assert large.fallback("in", refused) == "window"  # more "=" queries than a poll may cost
    assert small.fallback("in", api_error("invalid_parameter_value")) == "eq"  # no field named: the filter


@pytest.mark.parametrize(
    "error",
    [
        api_error("invalid_parameter_value", field="date_till"),
        api_error("data_type_error", field="filter.value"),
        api_error("forbidden", cls=ComagicPermissionError),
    ],
)
def test_errors_a_filter_cannot_fix_are_raised(error):
    assert not rejects_filter(error)
    with pytest.raises(type(error)):
        UploadSelection(["r1"]).fallback("in", error)


def test_without_ids_there_is_no_other_filter_to_try():
    with pytest.raises(ComagicInvalidParamsError):
        UploadSelection().fallback("in", api_error("invalid_parameter_value", field="filter.operator"))


def test_a_report_id_the_account_wants_is_explained():
    for error in (
        api_error("required_parameter_missed", field="report_id"),
        api_error("invalid_parameter_value", field="report_id"),
    ):
        with pytest.raises(ComagicParameterError, match="pass report_id= to the sensor") as info:
            UploadSelection(["r1"]).fallback("in", error)
        assert info.value.__cause__ is error


def test_page_kwargs_pass_report_id_only_when_set():
    query = StatusQuery(None)
    assert UploadSelection(["r1"]).page_kwargs(query)["params"] is None
    kwargs = UploadSelection(["r1"], report_id=7, page_size=500).page_kwargs(query)
    assert kwargs["params"] == {"report_id": 7} and kwargs["page_size"] == 500
    assert set(kwargs["fields"]) >= {"ext_id", "ext_request_id", "upload_time", "status"}


def test_selection_tally_carries_the_expected_calls():
    selection = UploadSelection(["r1"], expected_calls='{"r1": 2}', success_statuses=["processed", "error"])
    tally = selection.tally()
    tally.add([row("a", "error", request="r1")])
    assert not tally.summary()["done"]
    tally.add([row("b", "processed", request="r1")])
    assert tally.summary()["success"]
