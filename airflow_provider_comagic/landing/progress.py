"""Progress of one landing in the task log: pages, rows (of the expected total when the source can tell), the
time spent and an estimate of what is left, at most every few seconds (a 300 000-row report used to say nothing
for half a minute)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from airflow_provider_comagic.utils.units import human_count, human_duration

__all__ = ["PROGRESS_SECONDS", "Progress", "counted_batches"]

B = TypeVar("B")
PROGRESS_SECONDS = 5.0
"""The least time between two progress lines of one landing."""


class Progress:
    """Counts the pages and rows of one landing and logs a line now and then.

    :param label: how the line names the landing.
    :param expected: the rows the whole landing will have, when known (None: not known yet).
    :param rows: rows already landed before this run (a resumed partition).
    :param every: the least seconds between two lines (default :data:`PROGRESS_SECONDS`).
    :param unit: what is counted (``rows``; ``recordings``...); :param pages: what a step is called (``page(s)``,
        ``batch(es)``; None: steps are not shown, e.g. one recording each).
    """

    def __init__(
        self,
        label: str,
        log: logging.Logger,
        *,
        expected: Callable[[], int | None] = lambda: None,
        rows: int = 0,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        unit: str = "rows",
        pages: str | None = "page(s)",
    ):
        self.label = label
        self.unit = unit
        self.page_name = pages
        self.pages = 0
        self.rows = rows
        self._log = log
        self._expected = expected
        self._every = PROGRESS_SECONDS if every is None else every
        self._clock = clock
        self._started = self._last = clock()
        self._first_rows = rows

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def page(self, rows: int) -> None:
        """One more page of ``rows`` landed; log a line when the last one is old enough."""
        self.pages += 1
        self.rows += rows
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            self._log.info("%s", self.line())

    def line(self) -> str:
        """``<label>: 12 pages, 120 000 of ~310 000 rows, 34 s so far, ~54 s left``."""
        expected = self._expected()
        rows = human_count(self.rows)
        steps = f"{self.pages} {self.page_name}, " if self.page_name else ""
        counted = f"{rows} of ~{human_count(expected)} {self.unit}" if expected else f"{rows} {self.unit}"
        text = f"{self.label}: {steps}{counted}"
        elapsed = self.elapsed
        text += f", {human_duration(elapsed)} so far"
        done_here = self.rows - self._first_rows
        if expected and done_here > 0 and expected > self.rows:
            text += f", ~{human_duration(elapsed * (expected - self.rows) / done_here)} left"
        return text


def counted_batches(batches: Iterable[B], progress: Progress) -> Iterator[B]:
    """``batches`` as they are, each counted in ``progress`` (its ``num_rows``) once the consumer took it: a load's
    progress lines."""
    for batch in batches:
        yield batch
        progress.page(batch.num_rows)  # type: ignore[attr-defined]
