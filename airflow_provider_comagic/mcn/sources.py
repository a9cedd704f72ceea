"""The MCN Telecom page source of the landing pipeline (:mod:`~airflow_provider_comagic.landing.pipeline`):
one vPBX's call log over one interval."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from airflow_provider_comagic.mcn.call_log import chunk_params, covering_chunks, normalize_row
from airflow_provider_comagic.mcn.errors import McnError

__all__ = ["CallLogSource", "CallLogWindow"]


class CallLogApi(Protocol):
    """What the source needs of :class:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook`."""

    stats: dict[str, int]

    def iter_call_log(
        self, account_id: str, vpbx_id: str, start: dt.datetime, end: dt.datetime, *, chunk_days: int
    ) -> Iterator[list[dict[str, Any]]]: ...


@dataclasses.dataclass(frozen=True)
class CallLogWindow:
    """The interval of a run and the whole-date chunks that cover it (the API takes inclusive dates)."""

    start: dt.datetime
    end: dt.datetime
    tz: dt.tzinfo
    chunk_days: int

    @property
    def chunks(self) -> list[tuple[dt.date, dt.date]]:
        return covering_chunks(self.start, self.end, self.tz, self.chunk_days)

    def dates(self) -> dict[str, str]:
        """The requested dates (``date_from``/``date_to``, both inclusive)."""
        chunks = self.chunks
        return {"date_from": chunks[0][0].isoformat(), "date_to": chunks[-1][1].isoformat()}

    def chunk_params(self) -> list[dict[str, str]]:
        return [chunk_params(chunk) for chunk in self.chunks]


class CallLogSource:
    """The calls of one vPBX that started in the window's interval, a page per date chunk.

    :param hook: the hook that sends the requests.
    :param account: the personal account.
    :param vpbx: the vPBX id.
    :param window: the interval and its date chunks.
    :param typed: normalize each row for typed (Parquet) columns; otherwise rows stay exactly as the API sent them.

    The MCN API has no quota to wait for, so the call log is read in one go: it has no position to resume from.
    """

    def __init__(self, hook: CallLogApi, account: str, vpbx: str, window: CallLogWindow, *, typed: bool = False):
        self.hook = hook
        self.account = account
        self.vpbx = vpbx
        self.window = window
        self.typed = typed
        self._before = dict(hook.stats)

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        window = self.window
        pages = self.hook.iter_call_log(self.account, self.vpbx, window.start, window.end, chunk_days=window.chunk_days)
        for page in pages:
            yield [normalize_row(row, window.tz) for row in page] if self.typed else page

    def position(self) -> Mapping[str, Any]:
        return {}

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        raise McnError("the MCN call log is read in one go: a partition of it cannot be resumed")

    def usage(self) -> dict[str, int]:
        return {name: self.hook.stats[name] - self._before.get(name, 0) for name in self.hook.stats}

    def describe(self) -> dict[str, Any]:
        window = self.window
        return {
            "api": {
                **window.dates(),
                "chunk_days": window.chunk_days,
                "chunks": window.chunk_params(),
                **self.usage(),
            }
        }
