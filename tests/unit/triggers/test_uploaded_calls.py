"""ComagicUploadedCallsTrigger arguments (no server)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger


def test_trigger_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="time zone offset"):
        ComagicUploadedCallsTrigger(date_from="2024-06-01T00:00:00", date_till="2024-06-02T00:00:00+00:00")


def test_trigger_validates_and_serializes_expected_calls_and_report_id():
    kwargs = {"date_from": "2024-06-01T00:00:00+03:00", "date_till": "2024-06-02T00:00:00+03:00"}
    trigger = ComagicUploadedCallsTrigger(ext_request_ids=["r1"], expected_calls={"r1": 5}, report_id=9, **kwargs)
    _path, serialized = trigger.serialize()
    assert serialized["expected_calls"] == {"r1": 5} and serialized["report_id"] == 9
    assert ComagicUploadedCallsTrigger(**serialized).serialize()[1] == serialized
    assert ComagicUploadedCallsTrigger(ext_ids=["a"], **kwargs).serialize()[1]["expected_calls"] is None
    with pytest.raises(ComagicParameterError, match="no count for"):
        ComagicUploadedCallsTrigger(ext_request_ids=["r1", "r2"], expected_calls={"r1": 5}, **kwargs)
