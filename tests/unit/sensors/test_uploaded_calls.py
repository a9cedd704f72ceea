"""ComagicUploadedCallsSensor arguments (no server): defaults, template fields, windows."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor

UTC = dt.timezone.utc


def test_defaults_and_template_fields():
    sensor = ComagicUploadedCallsSensor(task_id="s", ext_ids=["a"])
    assert sensor.deferrable is False  # [operators] default_deferrable is unset here
    assert sensor.success_statuses == ("processed",)
    assert set(sensor.template_fields) == {
        "ext_request_ids",
        "ext_ids",
        "expected_calls",
        "date_from",
        "date_till",
        "report_id",
    }
    with pytest.raises(ValueError, match="final statuses"):
        ComagicUploadedCallsSensor(task_id="s", success_statuses=["in_process"])


def test_windows():
    day = dt.datetime(2024, 6, 1, tzinfo=UTC)
    explicit = ComagicUploadedCallsSensor(task_id="s", date_from=day.isoformat(), date_till=day + dt.timedelta(days=1))
    assert explicit._window({}) == (day, day + dt.timedelta(days=1))
    by_ids = ComagicUploadedCallsSensor(task_id="s", ext_request_ids="r1", upload_lookback=dt.timedelta(hours=2))
    start, end = by_ids._window({})
    assert end - start == dt.timedelta(hours=2) + dt.timedelta(days=1)
    interval = ComagicUploadedCallsSensor(task_id="s")
    context = {"data_interval_start": day, "data_interval_end": day + dt.timedelta(days=1)}
    assert interval._window(context) == (day, day + dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("kwargs", "context", "match"),
    [
        ({"date_from": "2024-06-01T00:00:00+00:00"}, {}, "both date_from and date_till"),
        ({"date_from": "2024-06-01T00:00:00", "date_till": "2024-06-02T00:00:00"}, {}, "time-zone aware"),
        ({"date_from": "yesterday", "date_till": "2024-06-02T00:00:00+00:00"}, {}, "ISO 8601"),
        ({}, {}, "no data interval"),
        (
            {},
            {
                "data_interval_start": dt.datetime(2024, 6, 1, tzinfo=UTC),
                "data_interval_end": dt.datetime(2024, 6, 1, tzinfo=UTC),
            },
            "CronDataIntervalTimetable",
        ),
    ],
)
def test_window_errors_say_what_to_do(kwargs, context, match):
    with pytest.raises(ComagicParameterError, match=match):
        ComagicUploadedCallsSensor(task_id="s", **kwargs)._window(context)


def test_expected_calls_and_report_id_are_read_as_rendered():
    sensor = ComagicUploadedCallsSensor(
        task_id="s", ext_request_ids="['r1', 'r2']", expected_calls="{'r1': 50, 'r2': 7}", report_id="42"
    )
    selection = sensor._status_selection()
    assert selection.ext_request_ids == ["r1", "r2"] and selection.expected_calls == {"r1": 50, "r2": 7}
    assert selection.report_id == 42


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ext_ids": ["a"], "expected_calls": 3}, "give ext_request_ids too"),
        ({"ext_request_ids": ["r1"], "expected_calls": {"r2": 3}}, "no count for"),
        ({"ext_request_ids": ["r1"], "report_id": "report"}, "report_id must be an integer id"),
    ],
)
def test_bad_expected_calls_or_report_id_fail_before_any_call(kwargs, match):
    with pytest.raises(ComagicParameterError, match=match):
        ComagicUploadedCallsSensor(task_id="s", **kwargs).check({})
