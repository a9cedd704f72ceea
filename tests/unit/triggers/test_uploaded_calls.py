"""ComagicUploadedCallsTrigger arguments (no server)."""

from __future__ import annotations

import pytest

from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger


def test_trigger_rejects_naive_datetimes():
    with pytest.raises(ValueError, match="time zone offset"):
        ComagicUploadedCallsTrigger(date_from="2024-06-01T00:00:00", date_till="2024-06-02T00:00:00+00:00")
