"""Every report method, all fields, against the emulator over HTTP: pages kept as JSON Lines hold exactly the
rows of decoded pages, and Arrow's JSON reader converts them to the same batches as the strict converter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.landing import arrow as rows_to_arrow
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.pytest_plugin import connection_json

pytestmark = pytest.mark.integration

TZ = "Europe/Moscow"
MSK = pendulum.timezone(TZ)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
SITE = {"get.campaign_daily_stat": {"site_id": 1001}}


@pytest.fixture
def hook(comagic_emulator_factory: Callable[..., ComagicEmulator], monkeypatch: pytest.MonkeyPatch) -> ComagicHook:
    emulator = comagic_emulator_factory(
        calls_per_day=700, start_time=NOW, frozen_clock=True, rows_per_day={"get.campaign_daily_stat": 60}
    )
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return ComagicHook()


@pytest.mark.parametrize("method", report_methods())
@pytest.mark.parametrize("timestamps", ["account", "utc"])
def test_json_lines_pages_equal_decoded_pages_and_convert_without_fallback(hook, method, timestamps, monkeypatch):
    fields = [f.name for f in get_method(method).fields]
    query = {"fields": fields, "page_size": 250, "params": SITE.get(method)}
    end = DAY + dt.timedelta(days=2)
    dict_pages = list(hook.iter_pages(method, DAY, end, **query))
    line_pages = list(hook.iter_pages(method, DAY, end, as_json_lines=True, **query))
    assert dict_pages, method
    assert all(isinstance(page, JsonLines) for page in line_pages)
    assert [page.dicts() for page in line_pages] == dict_pages

    schema = report_schema(method, fields, timestamps=timestamps, timezone=TZ)
    expected = [rows_to_arrow.rows_to_batch(rows, schema) for rows in dict_pages]

    def no_fallback(*args, **kwargs):
        raise AssertionError("Arrow's JSON reader rejected a page of valid rows")

    monkeypatch.setattr(rows_to_arrow, "rows_to_batch", no_fallback)
    for page, batch in zip(line_pages, expected, strict=True):
        converted = rows_to_arrow.json_lines_to_batch(page.data, page.rows, schema)
        assert converted.schema == batch.schema
        assert converted.equals(batch), method
