"""``ComagicUploadedCallsTrigger``: waits in the triggerer until uploaded calls reach a final status."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.errors import (
    TRANSIENT_ERRORS,
    ComagicApiError,
    ComagicDataIntegrityError,
    ComagicMinuteLimitExceededError,
)
from airflow_provider_comagic.comagic.paging import MAX_LIMIT
from airflow_provider_comagic.comagic.uploads.status import (
    DEFAULT_SUCCESS_STATUSES,
    FILTER_MODES,
    STATUS_METHOD,
    UploadSelection,
    failure_message,
    normalize_statuses,
    progress_message,
)
from airflow_provider_comagic.version_compat import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from airflow_provider_comagic.hooks.comagic_async import ComagicAsyncHook

MAX_FAILED_POLLS = 3
"""Consecutive polls that may fail on transient faults (after the hook's own retries) before giving up."""


class ComagicUploadedCallsTrigger(BaseTrigger):
    """
    Polls ``get.uploaded_calls`` until every selected uploaded call has a final status.

    Runs in the triggerer's event loop with :class:`~airflow_provider_comagic.hooks.comagic_async.ComagicAsyncHook`:
    the connection is read once per run (its secrets are never part of the kwargs), one HTTP session serves
    every poll, each poll pages the selection like the sync hook does, the quota is honoured (a spent minute
    quota is waited out, never fatal) and ``login.user`` sessions are renewed. The trigger only reads, so it is
    safe to run again after a triggerer restart, or twice at once.

    It yields exactly one event, then returns:

    * ``{"status": "success", "summary": ...}`` when all selected calls are final in ``success_statuses``;
    * ``{"status": "failed", "summary": ..., "message": ...}`` when all are final and some are not;
    * ``{"status": "error", "message": ...}`` when polling failed (e.g. an invalid token or a spent day quota).

    It never times out by itself: the sensor's deferral ``timeout`` ends the wait.

    :param conn_id: the ``comagic`` connection.
    :param date_from: ISO 8601 aware datetime; start (inclusive) of the ``upload_time`` window searched.
    :param date_till: ISO 8601 aware datetime; end (exclusive) of the window.
    :param ext_request_ids: select the calls uploaded by these ``upload.calls`` requests.
    :param ext_ids: select these calls; each must appear before the wait can end.
    :param expected_calls: with ``ext_request_ids``: how many calls they carried (``{ext_request_id: calls}`` or
        a total); until that many are visible the wait goes on.
    :param report_id: passed to ``get.uploaded_calls`` when given.
    :param success_statuses: final statuses that count as success.
    :param poll_interval: seconds between polls.
    :param page_size: rows per ``get.uploaded_calls`` call (10 000 unless testing paging).
    """

    def __init__(
        self,
        *,
        conn_id: str = "comagic_default",
        date_from: str,
        date_till: str,
        ext_request_ids: Sequence[str] | None = None,
        ext_ids: Sequence[str] | None = None,
        expected_calls: int | Mapping[str, int] | None = None,
        report_id: int | None = None,
        success_statuses: Sequence[str] = DEFAULT_SUCCESS_STATUSES,
        poll_interval: float = 60.0,
        page_size: int = MAX_LIMIT,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.date_from = date_from
        self.date_till = date_till
        self.ext_request_ids = list(ext_request_ids) if ext_request_ids else None
        self.ext_ids = list(ext_ids) if ext_ids else None
        self.report_id = int(report_id) if report_id is not None else None
        self.success_statuses = list(normalize_statuses(success_statuses))
        self.poll_interval = float(poll_interval)
        self.page_size = int(page_size)
        self._selection = UploadSelection(
            self.ext_request_ids,
            self.ext_ids,
            expected_calls=expected_calls,
            success_statuses=self.success_statuses,
            report_id=self.report_id,
            page_size=self.page_size,
        )
        self.expected_calls = self._selection.expected_calls  # validated; plain JSON
        self._filter_mode = FILTER_MODES[0]
        for name in ("date_from", "date_till"):
            value = dt.datetime.fromisoformat(getattr(self, name))
            if value.tzinfo is None:
                raise ValueError(f"{name} must carry a time zone offset, got {getattr(self, name)!r}")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_comagic.triggers.uploaded_calls.ComagicUploadedCallsTrigger",
            {
                "conn_id": self.conn_id,
                "date_from": self.date_from,
                "date_till": self.date_till,
                "ext_request_ids": self.ext_request_ids,
                "ext_ids": self.ext_ids,
                "expected_calls": self.expected_calls,
                "report_id": self.report_id,
                "success_statuses": self.success_statuses,
                "poll_interval": self.poll_interval,
                "page_size": self.page_size,
            },
        )

    async def _sleep(self, seconds: float) -> None:
        """Every wait of the trigger and its hook goes through here (tests replace it to drive a fake clock)."""
        await asyncio.sleep(seconds)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # the wait happens in a coroutine, so the HTTP session is closed before the one event is yielded
        payload = await self._wait()
        yield TriggerEvent(payload)

    async def _wait(self) -> dict[str, Any]:
        try:
            from airflow_provider_comagic.hooks.comagic_async import ComagicAsyncHook  # aiohttp: triggerer only

            async with ComagicAsyncHook(self.conn_id, sleep=self._sleep) as hook:
                failed_polls = 0
                while True:
                    try:
                        summary = await self._poll(hook)
                    except ComagicMinuteLimitExceededError as error:
                        # the hook already waited several minute resets; the minute limit is never fatal here
                        self.log.warning("CoMagic minute quota still spent; polling again later: %s", error)
                        await self._sleep(max(error.reset_seconds, self.poll_interval))
                        continue
                    except (*TRANSIENT_ERRORS, ComagicDataIntegrityError) as error:
                        failed_polls += 1
                        if failed_polls > MAX_FAILED_POLLS:
                            raise
                        self.log.warning(
                            "Polling %s failed (%d in a row), retrying later: %s", STATUS_METHOD, failed_polls, error
                        )
                        await self._sleep(self.poll_interval)
                        continue
                    failed_polls = 0
                    if summary["done"]:
                        return self._final_payload(summary)
                    self.log.info("%s; next poll in %.0f s", progress_message(summary), self.poll_interval)
                    await self._sleep(self.poll_interval)
        except Exception as error:  # asyncio.CancelledError is a BaseException: cancellation passes through
            self.log.error("Waiting for uploaded calls failed: %s", error)
            return {"status": "error", "message": f"{type(error).__name__}: {error}", "summary": None}

    async def _poll(self, hook: ComagicAsyncHook) -> dict[str, Any]:
        """Read the whole selection once and summarize it (the same steps as the sensor's poke)."""
        selection = self._selection
        start, end = dt.datetime.fromisoformat(self.date_from), dt.datetime.fromisoformat(self.date_till)
        while True:
            tally = selection.tally()
            try:
                for query in selection.queries(self._filter_mode):
                    async for rows in hook.iter_pages(STATUS_METHOD, start, end, **selection.page_kwargs(query)):
                        tally.add(query.select(rows))
            except ComagicApiError as error:
                mode = selection.fallback(self._filter_mode, error)  # re-raises what a filter cannot fix
                self.log.warning("%s refused the filter (%s); selecting by %r instead", STATUS_METHOD, error, mode)
                self._filter_mode = mode
                continue
            return tally.summary()

    def _final_payload(self, summary: dict[str, Any]) -> dict[str, Any]:
        if summary["success"]:
            return {"status": "success", "summary": summary, "message": progress_message(summary)}
        return {"status": "failed", "summary": summary, "message": failure_message(summary)}
