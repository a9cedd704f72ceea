"""upload.calls client-side rules: validation naming ext_id and field, batching, request ids."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.uploads.rules import (
    MAX_REQUEST_BYTES,
    UploadValidationError,
    batch_calls,
    batch_request_id,
    call_problems,
    validate_calls,
)
from airflow_provider_comagic.version_compat import AirflowFailException
from tests.fixtures.uploads import make_call


def test_documented_examples_are_valid():
    wav = make_call(
        is_transfer=True,
        wait_duration=10,
        talk_duration=20,
        tags=[{"tag_name": "Целевой"}, {"tag_id": 5, "tag_name": "Тест"}],
        wav_records=[
            {"employee_channel": "left", "employee_name": "Иван Васильевич", "record_url": "https://test.ru/a"},
            {"employee_channel": "right", "employee_id": 7, "employee_name": "Саша", "record_url": "https://t.ru/b"},
        ],
        callback={"url": "https://hooks.example/x", "events": ["processed", "error"]},
    )
    mp3 = make_call("c2", campaign_id=435, source_id=-1, site_id=24, mp3_records=[{"record_url": "http://t.ru/x"}])
    assert call_problems(wav) == [] and call_problems(mp3) == []
    validate_calls([wav, mp3])


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"ext_id": None}, "ext_id", "required"),
        ({"is_lost": None}, "is_lost", "required"),
        ({"start_time": None}, "start_time", "required"),
        ({"calling_phone_number": "+79262444397"}, "calling_phone_number", "E.164"),
        ({"called_phone_number": "8 (495) 514-05-76"}, "called_phone_number", "E.164"),
        ({"called_phone_number": ""}, "called_phone_number", "E.164"),  # "" only for outgoing calls
        ({"finish_time": "2024-06-01 11:59:59"}, "finish_time", "before start_time"),
        ({"start_time": "2024-06-01T12:00:00"}, "start_time", "YYYY-MM-DD hh:mm:ss"),
        ({"direction": "inbound"}, "direction", "one of in, out"),
        ({"is_lost": "false"}, "is_lost", "true or false"),
        ({"wait_duration": "10"}, "wait_duration", "number"),
        ({"talk_duration": -1}, "talk_duration", "negative"),
        ({"site_id": True}, "site_id", "number"),
        ({"colour": "red"}, "colour", "unknown field"),
        ({"tags": [{"tag_id": 1}]}, "tags[0].tag_name", "required"),
        ({"tags": "a,b"}, "tags", "list"),
        (
            {"wav_records": [{"employee_channel": "left", "employee_name": "A", "record_url": "http://x.ru/a"}]},
            "wav_records[0].record_url",
            "https",
        ),
        (
            {"wav_records": [{"employee_channel": "middle", "employee_name": "A", "record_url": "https://x.ru"}]},
            "wav_records[0].employee_channel",
            "left, right",
        ),
        ({"mp3_records": [{"record_url": "ftp://x.ru/a.mp3"}]}, "mp3_records[0].record_url", "http(s) URL"),
        (
            {
                "mp3_records": [{"record_url": "https://x.ru/a.mp3"}],
                "wav_records": [{"employee_channel": "left", "employee_name": "A", "record_url": "https://x.ru"}],
            },
            "mp3_records",
            "together with wav_records",
        ),
        ({"callback": {"url": "https://x.ru"}}, "callback.events", "required"),
        ({"callback": {"url": "https://x.ru", "events": ["done"]}}, "callback.events[0]", "processed"),
        ({"callback": {"url": "mailto:a@b", "events": ["error"]}}, "callback.url", "http(s) URL"),
    ],
)
def test_each_rule_names_ext_id_and_field(change, field, text):
    call = make_call("ext-42")
    for key, value in change.items():
        if value is None:
            call.pop(key)
        else:
            call[key] = value
    with pytest.raises(UploadValidationError) as info:
        validate_calls([make_call("fine"), call])
    problems = [p for p in info.value.problems if f"{field}:" in p]
    assert problems, info.value.problems
    assert text in problems[0]
    label = "call #1 (ext_id 'ext-42')" if "ext_id" in call else "call #1 (no ext_id)"
    assert problems[0].startswith(f"{label}: {field}:")


def test_empty_numbers_allowed_where_the_docs_allow_them():
    assert call_problems(make_call(calling_phone_number="")) == []  # incoming: unknown caller
    assert call_problems(make_call(direction="out", called_phone_number="")) == []
    assert call_problems(make_call(direction="out", calling_phone_number=""))  # outgoing needs a caller


def test_all_problems_are_collected_and_the_report_is_capped():
    calls = [make_call(f"bad-{i}", is_lost="no", start_time="yesterday") for i in range(30)]
    calls.append(make_call("bad-0"))  # a duplicate ext_id
    with pytest.raises(UploadValidationError) as info:
        validate_calls(calls, max_reported=5)
    error = info.value
    assert len(error.problems) == 61
    assert any("duplicates call #0" in p for p in error.problems)
    text = str(error)
    assert "61 problem(s)" in text and "nothing was sent" in text and "... and 56 more" in text
    assert isinstance(error, AirflowFailException) and isinstance(error, ComagicParameterError)


def test_no_calls_is_an_error():
    with pytest.raises(ComagicParameterError, match="no calls"):
        validate_calls([])


def test_a_call_over_the_request_size_is_rejected():
    huge = make_call(comment="x" * MAX_REQUEST_BYTES)
    with pytest.raises(UploadValidationError, match="512 KB"):
        validate_calls([huge])


def test_batches_hold_at_most_50_calls():
    calls = [make_call(f"c{i}") for i in range(120)]
    batches = batch_calls(calls)
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [c["ext_id"] for b in batches for c in b] == [c["ext_id"] for c in calls]
    assert [len(b) for b in batch_calls(calls, max_calls=7)][:2] == [7, 7]


def test_batches_stay_under_512_kb():
    calls = [make_call(f"c{i}", comment="x" * 60_000) for i in range(20)]
    batches = batch_calls(calls)
    assert len(batches) > 1
    for batch in batches:
        assert len(json.dumps(batch, ensure_ascii=False).encode()) < MAX_REQUEST_BYTES - 1024
        assert len(batch) <= 50


def test_request_ids_are_deterministic_per_batch():
    first, second = [make_call("a"), make_call("b")], [make_call("c")]
    assert batch_request_id(first) == batch_request_id([make_call("a", comment="changed"), make_call("b")])
    assert batch_request_id(first) != batch_request_id(second)
    assert batch_request_id(first, "crm").startswith("crm-")
    assert len(batch_request_id(first)) <= 40
