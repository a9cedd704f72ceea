"""Calls to upload read from files: JSON Lines, CSV and gzip on object storage, cells typed, bad lines numbered."""

from __future__ import annotations

import gzip
import json

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.uploads.files import coerce_row, detect_format, read_calls
from airflow_provider_comagic.comagic.uploads.rules import UploadValidationError, call_problems
from airflow_provider_comagic.version_compat import ObjectStoragePath
from tests.fixtures.uploads import make_call


def test_csv_cells_are_converted_to_documented_types():
    row = {
        "ext_id": "c1",
        "direction": "in",
        "calling_phone_number": "",
        "called_phone_number": "74955140576",
        "start_time": "2024-06-01 12:00:00",
        "finish_time": "2024-06-01 12:00:30",
        "is_lost": "FALSE",
        "is_transfer": "1",
        "wait_duration": "10",
        "site_id": "",
        "tags": '[{"tag_name": "A"}]',
        "comment": "  keep spaces ",
    }
    call = coerce_row(row)
    assert call["is_lost"] is False and call["is_transfer"] is True and call["wait_duration"] == 10
    assert call["calling_phone_number"] == "" and "site_id" not in call
    assert call["tags"] == [{"tag_name": "A"}] and call["comment"] == "  keep spaces "
    assert call_problems(call) == []
    assert call_problems(coerce_row({**row, "is_lost": "maybe"})) == ["is_lost: must be true or false, got str 'maybe'"]


def test_format_detection():
    assert detect_format("s3://b/calls.jsonl.gz") == "jsonl"
    assert detect_format("calls.CSV") == "csv"
    with pytest.raises(ComagicParameterError, match="calls_format"):
        detect_format("calls.txt")


def test_read_jsonl_csv_and_gzip_from_object_storage(tmp_path):
    calls = [make_call("a"), make_call("b", tags=[{"tag_name": "T"}])]
    (tmp_path / "calls.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in calls) + "\n\n")
    with gzip.open(tmp_path / "calls.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(c) for c in calls))
    header = list(calls[0])
    lines = [",".join(header), ",".join(str(calls[0][h]).lower() if h == "is_lost" else calls[0][h] for h in header)]
    (tmp_path / "calls.csv").write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    base = f"file://{tmp_path}"
    assert read_calls(ObjectStoragePath(f"{base}/calls.jsonl")) == calls
    assert read_calls(ObjectStoragePath(f"{base}/calls.jsonl.gz")) == calls
    assert read_calls(ObjectStoragePath(f"{base}/calls.csv")) == [calls[0]]


def test_bad_jsonl_lines_are_reported_by_number(tmp_path):
    (tmp_path / "calls.jsonl").write_text('{"ext_id": "a"}\n{"ext_id": \n')
    with pytest.raises(UploadValidationError, match="line 2: invalid JSON"):
        read_calls(ObjectStoragePath(f"file://{tmp_path}/calls.jsonl"))
