"""Which paths fix glibc's mmap threshold (``utils/memory``): the decoded-dict pages and Parquet parts (set by the
Parquet format itself, for every landing operator), whose peak it lowers; not JSON Lines, whose pages are small
beside it and would pay in speed."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_comagic.hooks import comagic as hook_module
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.landing import formats as formats_module
from airflow_provider_comagic.operators.report import ComagicReportOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def tunings(comagic_emulator_factory, monkeypatch) -> list[str]:
    emu = comagic_emulator_factory(calls_per_day=50, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    calls: list[str] = []
    for module in (hook_module, formats_module):
        monkeypatch.setattr(module, "return_large_buffers_to_os", lambda name=module.__name__: calls.append(name))
    return calls


@pytest.mark.parametrize(("as_json_lines", "tuned"), [(False, True), (True, False)])
def test_the_hook_tunes_for_dict_pages_only(tunings, as_json_lines, tuned):
    pages = list(
        ComagicHook().iter_pages("get.calls_report", DAY, DAY + dt.timedelta(days=1), as_json_lines=as_json_lines)
    )
    assert sum(len(page) for page in pages) == 50
    assert bool(tunings) is tuned


@pytest.mark.parametrize(("output_format", "tuned"), [("parquet", True), ("jsonl", False)])
def test_the_report_operator_tunes_for_parquet_only(tunings, tmp_path, output_format, tuned):
    operator = ComagicReportOperator(
        task_id="calls",
        method="get.calls_report",
        output_path=tmp_path.as_uri(),
        output_format=output_format,
        date_from="2024-03-01",
        date_till="2024-03-02",
    )
    assert operator.execute({"run_id": "memory"})["rows"] == 50
    assert tunings == (["airflow_provider_comagic.landing.formats"] if tuned else [])
