"""``ComagicUploadedCallsSensor``: wait until uploaded calls are processed (``get.uploaded_calls``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID
from airflow_provider_comagic.comagic.errors import ComagicApiError, ComagicParameterError
from airflow_provider_comagic.comagic.uploads.status import (
    DEFAULT_SUCCESS_STATUSES,
    FILTER_MODES,
    STATUS_METHOD,
    UploadSelection,
    failure_message,
    normalize_expected_calls,
    normalize_statuses,
    progress_message,
)
from airflow_provider_comagic.utils.task_errors import explained_failures
from airflow_provider_comagic.utils.templating import parse_list, parse_optional_int
from airflow_provider_comagic.version_compat import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    TaskDeferralTimeout,
    conf,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

UPLOAD_LOOKAHEAD = dt.timedelta(days=1)
"""How far past "now" an id-based selection searches ``upload_time`` (absorbs clock differences)."""


def _as_datetime(value: Any, name: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ComagicParameterError(f"{name}: not an ISO 8601 datetime: {value!r}") from None
    if not isinstance(value, dt.datetime):
        raise ComagicParameterError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        raise ComagicParameterError(f"{name} must be time-zone aware, got {value.isoformat()}")
    return value


class ComagicUploadedCallsSensor(BaseSensorOperator):
    """
    Wait until uploaded calls reach a final status in CoMagic (``get.uploaded_calls``).

    Calls move ``new`` -> ``in_process`` -> ``processed`` / ``error`` / ``cancelled``. The sensor selects the
    calls uploaded by ``ext_request_ids``, or the calls ``ext_ids`` (each must appear), or, with neither, every
    call uploaded in the data interval (by ``upload_time``), and succeeds once all of them are final with a
    status in ``success_statuses``. When all are final and some are not (``error`` by default), the task fails
    listing each such ``ext_id`` with its ``error_code`` and what the code means; ``soft_fail=True`` skips
    instead, also on timeout.

    Every poll reads the whole selection in a stable order (``ext_id``, ``ext_request_id``) and checks that it
    got every row. With ``ext_request_ids``, pass ``expected_calls`` (the upload operator's
    ``calls_per_request``): until that many calls of each request are visible, the wait goes on. When the API
    rejects the ``in`` filter operator, the poll selects with ``=`` filters, or reads the ``upload_time`` window
    and selects here.

    Both modes use the same status logic (:mod:`airflow_provider_comagic.comagic.uploads.status`). With
    ``deferrable=True`` (default: ``[operators] default_deferrable``) the sensor checks once and, unless
    already done, hands the wait to :class:`~airflow_provider_comagic.triggers.uploaded_calls.ComagicUploadedCallsTrigger`
    with ``timeout`` as the deferral timeout and ``poke_interval`` as its poll interval.

    Returns (XCom) the summary: ``counts`` per status, ``failed`` (ext_id, status, error_code, meaning),
    ``call_session_ids`` of the processed calls, ``calls``, ``done``, ``success``.

    :param ext_request_ids: ``ext_request_id``\\s of ``upload.calls`` requests (e.g. from
        :class:`~airflow_provider_comagic.operators.upload.ComagicUploadCallsOperator`'s XCom).
    :param ext_ids: ext_ids of the calls to wait for.
    :param expected_calls: with ``ext_request_ids``: how many calls those requests carried, as the upload
        operator's ``calls_per_request`` (``{ext_request_id: calls}``) or a total; calls not visible yet are
        pending.
    :param report_id: passed to ``get.uploaded_calls`` when given (its parameter table marks it required, its
        request example omits it; the API has been seen to work without it). When an account asks for it, the
        poll fails saying so: pass the id of a user report (``get.reports_list``).
    :param date_from: start of the ``upload_time`` window searched (aware datetime or ISO string); default:
        the data interval start, or ``upload_lookback`` before now when selecting by ids.
    :param date_till: end (exclusive) of that window; default: the data interval end, or a day after now.
    :param upload_lookback: how far back an id-based selection searches by default.
    :param success_statuses: final statuses that count as success.
    :param comagic_conn_id: the ``comagic`` connection.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = (
        "ext_request_ids",
        "ext_ids",
        "expected_calls",
        "date_from",
        "date_till",
        "report_id",
    )
    ui_color = "#d6ecf3"

    def __init__(
        self,
        *,
        ext_request_ids: str | Sequence[str] | None = None,
        ext_ids: str | Sequence[str] | None = None,
        expected_calls: int | Mapping[str, int] | str | None = None,
        report_id: int | str | None = None,
        date_from: str | dt.datetime | None = None,
        date_till: str | dt.datetime | None = None,
        upload_lookback: dt.timedelta = dt.timedelta(days=7),
        success_statuses: Iterable[str] = DEFAULT_SUCCESS_STATUSES,
        comagic_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ext_request_ids = ext_request_ids
        self.ext_ids = ext_ids
        self.expected_calls = expected_calls
        self.report_id = report_id
        self.date_from = date_from
        self.date_till = date_till
        self.upload_lookback = upload_lookback
        self.success_statuses = normalize_statuses(success_statuses)
        self.comagic_conn_id = comagic_conn_id
        self.deferrable = deferrable
        self._filter_mode = FILTER_MODES[0]  # how polls select; moves on when the API rejects a filter

    # -- selection ------------------------------------------------------------------------------------------
    def _selection(self) -> tuple[list[str] | None, list[str] | None]:
        return (
            parse_list(self.ext_request_ids, "ext_request_ids", item=str, error=ComagicParameterError),
            parse_list(self.ext_ids, "ext_ids", item=str, error=ComagicParameterError),
        )

    def _window(self, context: Context) -> tuple[dt.datetime, dt.datetime]:
        """The ``upload_time`` window ``[start, end)`` to search."""
        if self.date_from or self.date_till:
            if not (self.date_from and self.date_till):
                raise ComagicParameterError("Give both date_from and date_till, or neither")
            start, end = _as_datetime(self.date_from, "date_from"), _as_datetime(self.date_till, "date_till")
        elif any(self._selection()):
            now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            start, end = now - self.upload_lookback, now + UPLOAD_LOOKAHEAD
        else:
            start, end = context.get("data_interval_start"), context.get("data_interval_end")
            if start is None or end is None:
                raise ComagicParameterError(
                    "No calls selected: give ext_request_ids or ext_ids, or date_from/date_till; this run has no "
                    "data interval (manual and asset-triggered runs have none)"
                )
            if start == end:
                raise ComagicParameterError(
                    f"The data interval is empty ({start} .. {end}): use a timetable with data intervals, e.g. "
                    "CronDataIntervalTimetable, or pass date_from/date_till"
                )
        if end <= start:
            raise ComagicParameterError(f"date_till {end} must be after date_from {start}")
        return start, end

    def _status_selection(self) -> UploadSelection:
        ext_request_ids, ext_ids = self._selection()
        return UploadSelection(
            ext_request_ids,
            ext_ids,
            expected_calls=normalize_expected_calls(self.expected_calls, ext_request_ids),
            success_statuses=self.success_statuses,
            report_id=parse_optional_int(self.report_id, "report_id", error=ComagicParameterError),
        )

    # -- checking -------------------------------------------------------------------------------------------
    def check(self, context: Context, window: tuple[dt.datetime, dt.datetime] | None = None) -> dict[str, Any]:
        """Read the selection once with the sync hook and return its summary."""
        selection = self._status_selection()
        start, end = window or self._window(context)
        from airflow_provider_comagic.hooks.comagic import ComagicHook  # requests: not at DAG parse time

        hook = ComagicHook(self.comagic_conn_id)
        try:
            while True:
                tally = selection.tally()
                try:
                    for query in selection.queries(self._filter_mode):
                        for rows in hook.iter_pages(STATUS_METHOD, start, end, **selection.page_kwargs(query)):
                            tally.add(query.select(rows))
                except ComagicApiError as error:
                    mode = selection.fallback(self._filter_mode, error)  # re-raises what a filter cannot fix
                    self.log.warning("%s refused the filter (%s); selecting by %r instead", STATUS_METHOD, error, mode)
                    self._filter_mode = mode
                    continue
                return tally.summary()
        finally:
            hook.close()

    def poke(self, context: Context) -> bool | PokeReturnValue:
        summary = self.check(context)
        if not summary["done"]:
            self.log.info("Waiting: %s", progress_message(summary))
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._finish(summary))

    def _finish(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The summary of a finished wait, or the failure (AirflowFailException: waiting again cannot help)."""
        if not summary["success"]:
            raise AirflowFailException(failure_message(summary))
        self.log.info("All uploaded calls are final: %s", progress_message(summary))
        return summary

    # -- execution ------------------------------------------------------------------------------------------
    @explained_failures
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        start, end = self._window(context)
        summary = self.check(context, (start, end))  # poke once: skip the triggerer when already done
        if summary["done"]:
            return self._finish_or_skip(summary)
        selection = self._status_selection()
        self.log.info("Deferring: %s", progress_message(summary))
        from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger

        self.defer(
            trigger=ComagicUploadedCallsTrigger(
                conn_id=self.comagic_conn_id,
                date_from=start.isoformat(),
                date_till=end.isoformat(),
                ext_request_ids=selection.ext_request_ids or None,
                ext_ids=selection.ext_ids or None,
                expected_calls=selection.expected_calls,
                report_id=selection.report_id,
                success_statuses=list(self.success_statuses),
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout),
        )

    @explained_failures
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: return the summary, or fail (skip with ``soft_fail``) clearly."""
        if not event:
            return self._fail("The trigger fired without an event")
        status = event.get("status")
        if status in ("success", "failed") and isinstance(event.get("summary"), dict):
            return self._finish_or_skip(event["summary"])
        # polling failed (auth, day quota, network after retries): a task retry may help
        return self._fail(f"Waiting for uploaded calls failed: {event.get('message') or event}", retryable=True)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout as error:
            # Airflow 3.0/3.1 ignored soft_fail when a deferred sensor timed out (apache/airflow#61130)
            if self.soft_fail:
                raise AirflowSkipException(f"Timed out waiting for uploaded calls: {error}") from error
            raise

    def _finish_or_skip(self, summary: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._finish(summary)
        except AirflowFailException as error:
            return self._fail(str(error))

    def _fail(self, message: str, *, retryable: bool = False) -> Any:
        # soft_fail is applied here as well: execute_complete may run outside BaseSensorOperator's handling
        if self.soft_fail:
            raise AirflowSkipException(f"{message}\n(skipped: soft_fail=True)")
        raise (AirflowException if retryable else AirflowFailException)(message)
