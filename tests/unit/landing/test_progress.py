"""Progress lines of a landing: at most every few seconds, pages and rows (of the expected total when known),
the time spent and an estimate of what is left; and the units they are written in."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_comagic.landing import progress as progress_module
from airflow_provider_comagic.landing.pipeline import PartitionTarget, land_partition
from airflow_provider_comagic.landing.progress import Progress
from airflow_provider_comagic.landing.storage import to_storage_path
from airflow_provider_comagic.utils.units import human_bytes, human_count, human_duration
from tests.unit.landing.test_pipeline import FakeSource


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_at_most_every_few_seconds_with_the_share_and_an_estimate(caplog):
    clock, log = Clock(), logging.getLogger("progress-test")
    progress = Progress("calls", log, expected=lambda: 300_000, every=5, clock=clock)
    with caplog.at_level(logging.INFO, logger="progress-test"):
        for _ in range(3):  # 3 pages in 3 s: no line yet
            clock.now += 1
            progress.page(10_000)
        clock.now += 3  # 6 s
        progress.page(10_000)
        clock.now += 1
        progress.page(10_000)  # only 1 s after the line
    assert [r.getMessage() for r in caplog.records] == [
        "calls: 4 page(s), 40 000 of ~300 000 rows, 6.0 s so far, ~39 s left"
    ]


def test_without_a_known_total_the_line_gives_what_is_done():
    clock = Clock()
    progress = Progress("snapshot", logging.getLogger("x"), rows=5_000, clock=clock)  # resumed after 5 000 rows
    clock.now = 12
    progress.page(1_000)
    assert progress.line() == "snapshot: 1 page(s), 6 000 rows, 12 s so far"


def test_a_landing_logs_progress_and_the_landed_line(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(progress_module, "PROGRESS_SECONDS", 0.0)
    target = PartitionTarget(to_storage_path(str(tmp_path / "p")), "jsonl", None)
    with caplog.at_level(logging.INFO):
        land_partition(FakeSource(25, page=10), target, label="fake rows")
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("pipeline")]
    pages = [line.split(" so far")[0].rsplit(", ", 1)[0] for line in lines if " page(s), " in line]
    assert pages == ["fake rows: 1 page(s), 10 rows", "fake rows: 2 page(s), 20 rows", "fake rows: 3 page(s), 25 rows"]
    (landed,) = [line for line in lines if line.startswith("Landed ")]
    assert landed.startswith("Landed 25 rows of fake rows in 1 file(s), ") and landed.endswith("API use: 3 calls")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (999, "999 B"), (1536, "1.5 KB"), (12_400_000, "12.4 MB"), (3 * 10**9, "3.0 GB")],
)
def test_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.42, "0.4 s"), (9.96, "10.0 s"), (34, "34 s"), (125, "2 min 05 s"), (3725, "1 h 02 min")]
)
def test_durations(seconds, text):
    assert human_duration(seconds) == text


def test_counts():
    assert human_count(310_000) == "310 000" and human_count(7) == "7"


def test_other_units_and_steps_without_a_name(caplog):
    clock, log = Clock(), logging.getLogger("progress-test")
    recordings = Progress(
        "Recordings of x", log, expected=lambda: 40, every=1, clock=clock, unit="recordings", pages=None
    )
    batches = Progress("Loading x into t", log, every=1, clock=clock, pages="batch(es)")
    with caplog.at_level(logging.INFO, logger="progress-test"):
        clock.now += 2
        recordings.page(1)
        batches.page(8192)
    assert [r.getMessage() for r in caplog.records] == [
        "Recordings of x: 1 of ~40 recordings, 2.0 s so far, ~1 min 18 s left",
        "Loading x into t: 1 batch(es), 8 192 rows, 2.0 s so far",
    ]


def test_counted_batches_pass_each_batch_on_and_count_its_rows():
    import pyarrow as pa

    from airflow_provider_comagic.landing.progress import counted_batches

    progress = Progress("load", logging.getLogger("progress-test"), every=3600)
    batches = [pa.record_batch([pa.array(range(n))], names=["a"]) for n in (3, 5)]
    assert list(counted_batches(iter(batches), progress)) == batches
    assert (progress.pages, progress.rows) == (2, 8)
