"""The status logic shared by the sensor's poke and the trigger (pure)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.uploads.status import (
    ERROR_CODES,
    UploadStatusTally,
    failure_message,
    normalize_statuses,
    progress_message,
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
