"""Calls sent ahead (``ComagicHook.iter_pages``): while a slow server's answer arrives, the call of the following
page is already on its way, over real HTTP against the emulator's latency option. Every row still comes exactly
once, with the minimum number of calls, and what the call sent ahead cannot do, the hook does itself."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable

import orjson
import pendulum
import pytest

from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.operators.report import ComagicReportOperator
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.utils.background import AheadTally

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
ROWS = 3_500
PAGE = 1_000
METHOD = "get.calls_report"


@pytest.fixture
def slow_emu(comagic_emulator_factory: Callable[..., ComagicEmulator], monkeypatch: pytest.MonkeyPatch):
    """Every answer held 0.3 s after its request arrived (other requests are served meanwhile)."""
    emu = comagic_emulator_factory(calls_per_day=ROWS, start_time=NOW, frozen_clock=True, response_delay=0.3)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    return emu


def read_ids(hook: ComagicHook) -> list[int]:
    pages = hook.iter_pages(METHOD, DAY, DAY + dt.timedelta(days=1), fields=["id", "start_time"], page_size=PAGE)
    return [row["id"] for page in pages for row in page]


def truth_ids(emu: ComagicEmulator) -> list[int]:
    return sorted(row["id"] for row in emu.truth(METHOD, "2024-03-01 00:00:00", "2024-03-01 23:59:59"))


def slow_hook() -> ComagicHook:
    hook = ComagicHook()
    hook.call_ahead_after = 0.1  # the emulator holds 0.3 s: well above it however busy the machine is
    return hook


def test_the_following_page_is_called_while_the_answer_arrives_with_the_minimum_of_calls(slow_emu):
    hook = slow_hook()
    ids = read_ids(hook)
    assert sorted(ids) == truth_ids(slow_emu) and len(ids) == len(set(ids)) == ROWS
    # pages 0 and 1 are called in turn (the first gives the total); 2 and 3 are sent ahead, and used
    assert hook.calls_ahead == AheadTally(sent=2, used=2)
    assert slow_emu.stats.successes[METHOD] == 4 == hook.quota.calls  # ceil(3 500 / 1 000): nothing wasted
    assert hook.quota.requests == 4


def test_no_call_is_sent_ahead_when_the_server_answers_at_once(comagic_emulator_factory, monkeypatch):
    emu = comagic_emulator_factory(calls_per_day=ROWS, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    hook = ComagicHook()
    hook.call_ahead_after = 0.25  # the default: a loopback answer comes in milliseconds
    assert len(read_ids(hook)) == ROWS
    assert hook.calls_ahead == AheadTally()
    assert emu.stats.successes[METHOD] == 4


def test_a_call_sent_ahead_that_fails_is_made_again_by_the_hook(slow_emu):
    slow_emu.faults.add("http_503", calls={3}, method=METHOD)  # the third request: page 2, sent ahead
    hook = slow_hook()
    ids = read_ids(hook)
    assert sorted(ids) == truth_ids(slow_emu) and len(ids) == ROWS
    # page 2 made again by the hook (with its retries); page 3 sent ahead while that answer arrived
    assert hook.calls_ahead == AheadTally(sent=2, used=1, failed=1)
    assert slow_emu.stats.successes[METHOD] == 4 == hook.quota.calls
    assert hook.quota.requests == 5


def test_the_page_fetched_ahead_is_dropped_when_the_result_changes_and_no_row_is_lost_or_repeated(slow_emu, caplog):
    # rows appear before page 2 is read: its total differs, the query is read again from offset 0, and the
    # page 3 sent ahead meanwhile belongs to the old result
    slow_emu.faults.add("add_rows", calls={3}, method=METHOD, rows=5)
    hook = slow_hook()
    ids = read_ids(hook)
    assert sorted(ids) == truth_ids(slow_emu) and len(ids) == len(set(ids)) == ROWS + 5
    assert hook.calls_ahead.dropped == 1
    assert hook.quota.calls == slow_emu.stats.successes[METHOD]


def test_the_report_operator_lands_every_row_once_with_calls_sent_ahead(slow_emu, tmp_path, monkeypatch):
    hooks: list[ComagicHook] = []
    make_hook = ComagicReportOperator.get_hook

    def get_hook(self: ComagicReportOperator) -> ComagicHook:
        hooks.append(hook := make_hook(self))
        hook.call_ahead_after = 0.1
        return hook

    monkeypatch.setattr(ComagicReportOperator, "get_hook", get_hook)
    operator = ComagicReportOperator(
        task_id="calls",
        method=METHOD,
        output_path=tmp_path.as_uri(),
        date_from="2024-03-01",
        date_till="2024-03-02",
        fields=["id", "start_time"],
        output_format="jsonl",
        page_size=PAGE,
    )
    summary = operator.execute({"run_id": "ahead"})
    landed = [
        row["id"]
        for path in sorted((tmp_path / "calls_report").rglob("*.jsonl.gz"))
        for row in map(orjson.loads, gzip.decompress(path.read_bytes()).splitlines())
    ]
    assert sorted(landed) == truth_ids(slow_emu) and len(landed) == ROWS
    assert hooks[0].calls_ahead == AheadTally(sent=2, used=2)
    assert summary["rows"] == ROWS and summary["api_calls"] == slow_emu.stats.successes[METHOD] == 4
