"""Status logic of uploaded calls (``get.uploaded_calls``), pure: shared by the sensor's poke and the trigger.

A call moves ``new`` -> ``in_process`` -> one of the final statuses ``processed``, ``error``, ``cancelled``
(seed ``get.uploaded_calls``). CoMagic keeps up to three failed attempts of one ``ext_id`` and ignores the
``ext_id`` once an attempt succeeded, so one ``ext_id`` can have several rows: the one that counts is a
``processed`` row if any, else the latest upload.

One poll reads the whole selection (:class:`UploadSelection`): the paging engine sorts the rows by
``ext_id``, ``ext_request_id`` (the catalogue's order for the method), so a status that changes between pages
moves no row past the offset, and checks that each read returned ``total_items`` distinct attempts. On top of
that, a selection by ``ext_request_ids`` knows how many calls those requests carried (the upload operator's
XCom): calls not visible yet are pending, never absent. When the API rejects the ``in`` operator ("not available
for all methods"), the poll falls back to ``=`` filters joined by ``or`` (chunks of :data:`EQ_FILTERS_PER_QUERY`
values, at most :data:`MAX_EQ_QUERIES` of them), else to the ``upload_time`` window alone with the selection
made here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.comagic.errors import ComagicApiError, ComagicInvalidParamsError, ComagicParameterError
from airflow_provider_comagic.comagic.paging import MAX_LIMIT
from airflow_provider_comagic.utils.templating import parse_rendered

STATUS_METHOD = "get.uploaded_calls"
PENDING_STATUSES: tuple[str, ...] = ("new", "in_process")
FINAL_STATUSES: tuple[str, ...] = ("processed", "error", "cancelled")
STATUSES: tuple[str, ...] = (*PENDING_STATUSES, *FINAL_STATUSES)
DEFAULT_SUCCESS_STATUSES: tuple[str, ...] = ("processed",)
FIELDS: tuple[str, ...] = ("ext_id", "ext_request_id", "upload_time", "status", "error_code", "call_session_id")
"""The row fields the status logic reads (requested explicitly to keep pages small)."""

PENDING_SAMPLE = 20
"""How many still-pending ext_ids a summary lists (for logs; the counts are complete)."""

ERROR_CODES: dict[str, str] = {
    # error_code of get.uploaded_calls and of the upload.calls notification, with the meaning the docs give
    # (communication.get_uploaded_calls, communication.upload_calls; translated from Russian)
    "internal_error": "internal error of CoMagic",
    "download_error": "unknown error while downloading the recording",
    "connection_download_error": "could not connect to the server of the recording (a network problem)",
    "http_status_download_error": "the server of the recording answered with an HTTP status other than 200",
    "http_content_type_download_error": (
        "the recording's Content-Type does not match the specification (audio/wav for wav, audio/mpeg for mp3)"
    ),
    "max_file_size_download_error": "the recording exceeds the maximum file size, currently 50 MB",
    "timeout_download_error": (
        "downloading the recording or connecting to its server took too long (at most 30 seconds)"
    ),
    "decode_error": (
        "could not open the recording: the leading bytes (ID3 for mp3, RIFF for wav) are missing, or decoding failed"
    ),
    "processing_error": "unknown error while processing the recording",
    "wav_min_duration_processing_error": "the downloaded wav recording is shorter than 16 seconds",
    "wav_channels_processing_error": "the downloaded wav recording does not have 2 channels",
    "wav_processing_error": "error while converting the wav recording to the required parameters",
}


def error_meaning(code: str | None) -> str:
    """The documented meaning of an upload ``error_code``."""
    if not code:
        return "no error_code given"
    return ERROR_CODES.get(code, "undocumented error code")


def normalize_statuses(statuses: Iterable[str], name: str = "success_statuses") -> tuple[str, ...]:
    """Validate a set of final statuses (``processed``, ``error``, ``cancelled``); raise ValueError naming them."""
    if isinstance(statuses, str):
        statuses = [statuses]
    result = tuple(dict.fromkeys(statuses))
    bad = [s for s in result if s not in FINAL_STATUSES]
    if bad or not result:
        raise ValueError(f"{name} must be final statuses out of {', '.join(FINAL_STATUSES)}; got {list(statuses)}")
    return result


def normalize_expected_calls(value: Any, ext_request_ids: Sequence[str] | None) -> int | dict[str, int] | None:
    """``expected_calls`` as given or rendered: a total, or ``{ext_request_id: calls}`` (the upload operator's
    ``calls_per_request``) covering exactly ``ext_request_ids``; None when unset. Raises
    :class:`~airflow_provider_comagic.comagic.errors.ComagicParameterError` naming the parameter."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    value = parse_rendered(value, "expected_calls", error=ComagicParameterError)
    if not ext_request_ids:
        raise ComagicParameterError("expected_calls counts the calls of ext_request_ids: give ext_request_ids too")
    if _is_count(value):
        return value
    if not isinstance(value, Mapping) or not all(_is_count(n) for n in value.values()):
        raise ComagicParameterError(
            f"expected_calls must be a number of calls or a mapping ext_request_id -> number of calls "
            f"(the upload operator's calls_per_request), got {value!r}"
        )
    counts = {str(request): int(n) for request, n in value.items()}
    uncounted = [r for r in ext_request_ids if r not in counts]
    unselected = [r for r in counts if r not in set(ext_request_ids)]
    if uncounted or unselected:
        raise ComagicParameterError(
            "expected_calls must count the calls of exactly the ext_request_ids selected: "
            + "; ".join(
                text
                for text in (
                    f"no count for {uncounted[:5]}" if uncounted else "",
                    f"counts for requests not selected {unselected[:5]}" if unselected else "",
                )
                if text
            )
        )
    return counts


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def selection_filter(
    ext_request_ids: Sequence[str] | None = None, ext_ids: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The ``filter`` of ``get.uploaded_calls`` selecting these request ids and/or ext_ids (None: all)."""
    simple = [
        {"field": field, "operator": "in", "value": list(values)}
        for field, values in (("ext_request_id", ext_request_ids), ("ext_id", ext_ids))
        if values
    ]
    if not simple:
        return None
    if len(simple) == 1:
        return simple[0]
    return {"filters": simple, "condition": "and"}


def equality_filter(field: str, values: Sequence[str]) -> dict[str, Any]:
    """``field = v1 or field = v2 ...``: the ``=`` operator is documented for strings on every method."""
    simple = [{"field": field, "operator": "=", "value": value} for value in values]
    return simple[0] if len(simple) == 1 else {"filters": simple, "condition": "or"}


def query_kwargs(
    ext_request_ids: Sequence[str] | None = None,
    ext_ids: Sequence[str] | None = None,
    *,
    page_size: int = MAX_LIMIT,
) -> dict[str, Any]:
    """Keyword arguments of ``iter_pages(STATUS_METHOD, date_from, date_till, **kwargs)`` for one status poll
    selecting with the ``in`` operator (see :class:`UploadSelection` for the whole poll)."""
    return {
        "filter": selection_filter(ext_request_ids, ext_ids),
        "fields": list(FIELDS),
        "page_size": page_size,
    }


EQ_FILTERS_PER_QUERY = 100
"""Values per query when ``in`` is rejected and the selection is made of ``=`` filters joined by ``or``."""
MAX_EQ_QUERIES = 10
"""At most this many ``=`` queries per poll (each costs at least a point); a larger selection reads the
``upload_time`` window without a filter instead (a point per 10 000 uploads) and selects the rows here."""
FILTER_MODES: tuple[str, ...] = ("in", "eq", "window")
"""How a poll selects: the ``in`` operator; ``=`` filters joined by ``or``; the upload_time window alone."""


@dataclasses.dataclass(frozen=True)
class StatusQuery:
    """One ``get.uploaded_calls`` query of a poll: its filter and the rows it keeps (None: all it returns)."""

    filter: dict[str, Any] | None
    keep: Callable[[Mapping[str, Any]], bool] | None = None

    def select(self, rows: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        return rows if self.keep is None else [row for row in rows if self.keep(row)]


def rejects_filter(error: ComagicApiError) -> bool:
    """Whether the API refused the request's filter (an operator or field it does not support), not another
    parameter: ``invalid_parameter_value`` / ``filter_prohibited`` naming the filter, or naming nothing."""
    if not isinstance(error, ComagicInvalidParamsError):
        return False
    if error.mnemonic not in ("invalid_parameter_value", "filter_prohibited"):
        return False
    return error.field is None or str(error.field).startswith("filter")


def report_id_error(error: ComagicApiError) -> ComagicParameterError | None:
    """The error to raise when the account wants a (valid) ``report_id`` for get.uploaded_calls, else None."""
    if not isinstance(error, ComagicInvalidParamsError) or error.field != "report_id":
        return None
    return ComagicParameterError(
        f"{STATUS_METHOD} rejected report_id on this account ({error.api_message} [{error.mnemonic}]): pass "
        "report_id= to the sensor, the id of a user report from get.reports_list (the method's parameter table "
        "marks it required)"
    )


class UploadSelection:
    """What one poll of the status reads and how it is judged; the sensor's poke and the trigger drive it::

        mode = "in"
        while True:
            tally = selection.tally()
            try:
                for query in selection.queries(mode):
                    for rows in iter_pages(STATUS_METHOD, start, end, **selection.page_kwargs(query)):
                        tally.add(query.select(rows))
            except ComagicApiError as error:
                mode = selection.fallback(mode, error)  # re-raises when no other way to select is left
                continue
            return tally.summary()

    :param ext_request_ids: select the calls of these ``upload.calls`` requests.
    :param ext_ids: select these calls (each must appear).
    :param expected_calls: how many calls the requests carried: a total, or per ``ext_request_id``.
    :param success_statuses: final statuses that count as success.
    :param report_id: passed to every call when given.
    :param page_size: rows per call.
    """

    def __init__(
        self,
        ext_request_ids: Sequence[str] | None = None,
        ext_ids: Sequence[str] | None = None,
        *,
        expected_calls: int | Mapping[str, int] | None = None,
        success_statuses: Iterable[str] = DEFAULT_SUCCESS_STATUSES,
        report_id: int | None = None,
        page_size: int = MAX_LIMIT,
    ):
        self.ext_request_ids = list(dict.fromkeys(ext_request_ids or ()))
        self.ext_ids = list(dict.fromkeys(ext_ids or ()))
        self.expected_calls = normalize_expected_calls(
            dict(expected_calls) if isinstance(expected_calls, Mapping) else expected_calls, self.ext_request_ids
        )
        self.success_statuses = normalize_statuses(success_statuses)
        self.report_id = report_id
        self.page_size = page_size

    def tally(self) -> UploadStatusTally:
        return UploadStatusTally(
            self.success_statuses,
            expected_ext_ids=self.ext_ids,
            expected_calls=self.expected_calls,
            require_rows=bool(self.ext_request_ids or self.ext_ids),
        )

    def queries(self, mode: str = "in") -> list[StatusQuery]:
        """The queries of one poll selecting with ``mode`` (one of :data:`FILTER_MODES`)."""
        lists = [(f, v) for f, v in (("ext_request_id", self.ext_request_ids), ("ext_id", self.ext_ids)) if v]
        if mode == "in" or not lists:
            return [StatusQuery(selection_filter(self.ext_request_ids, self.ext_ids))]
        if mode == "window":
            return [StatusQuery(None, self._keep(lists))]
        if mode != "eq":
            raise ValueError(f"unknown selection mode {mode!r}")
        (field, values), *others = sorted(lists, key=lambda item: len(item[1]))  # the shorter list goes to =
        keep = self._keep(others) if others else None
        step = EQ_FILTERS_PER_QUERY
        return [StatusQuery(equality_filter(field, values[i : i + step]), keep) for i in range(0, len(values), step)]

    @staticmethod
    def _keep(lists: Sequence[tuple[str, Sequence[str]]]) -> Callable[[Mapping[str, Any]], bool]:
        wanted = [(field, frozenset(values)) for field, values in lists]
        return lambda row: all(str(row.get(field)) in values for field, values in wanted)

    def page_kwargs(self, query: StatusQuery) -> dict[str, Any]:
        """Keyword arguments of ``iter_pages(STATUS_METHOD, date_from, date_till, **kwargs)`` for ``query``."""
        return {
            "filter": query.filter,
            "fields": list(FIELDS),
            "page_size": self.page_size,
            "params": {"report_id": self.report_id} if self.report_id is not None else None,
        }

    def fallback(self, mode: str, error: ComagicApiError) -> str:
        """The mode to poll with after ``error``; re-raises it (explained) when no other way is left."""
        explained = report_id_error(error)
        if explained is not None:
            raise explained from error
        if not rejects_filter(error) or not (self.ext_request_ids or self.ext_ids) or mode == "window":
            raise error
        if mode == "in" and len(self.queries("eq")) <= MAX_EQ_QUERIES:
            return "eq"
        return "window"


def _outranks(row: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether ``row`` rather than ``current`` decides its ext_id's status."""
    if (current.get("status") == "processed") != (row.get("status") == "processed"):
        return row.get("status") == "processed"
    # "YYYY-MM-DD hh:mm:ss" strings order like the times; on a tie a pending attempt wins (keep waiting)
    row_time, current_time = str(row.get("upload_time") or ""), str(current.get("upload_time") or "")
    if row_time != current_time:
        return row_time > current_time
    return row.get("status") in PENDING_STATUSES


class UploadStatusTally:
    """Accumulates ``get.uploaded_calls`` rows page by page and decides whether the wait is over.

    :param success_statuses: final statuses that count as success (default ``processed``).
    :param expected_ext_ids: ext_ids that must appear; one not seen yet counts as pending.
    :param expected_calls: how many calls the selected requests carried, in total or per ``ext_request_id``;
        calls not seen yet (fewer distinct ext_ids than that) count as pending.
    :param require_rows: an empty selection is still pending (waiting for a known upload to become visible)
        rather than done.
    """

    def __init__(
        self,
        success_statuses: Iterable[str] = DEFAULT_SUCCESS_STATUSES,
        *,
        expected_ext_ids: Iterable[str] = (),
        expected_calls: int | Mapping[str, int] | None = None,
        require_rows: bool = False,
    ):
        self.success_statuses = normalize_statuses(success_statuses)
        self.expected_ext_ids = tuple(dict.fromkeys(expected_ext_ids))
        self.expected_calls = dict(expected_calls) if isinstance(expected_calls, Mapping) else expected_calls
        self.require_rows = require_rows
        self._rows: dict[str, Mapping[str, Any]] = {}
        self._by_request: dict[str, set[str]] = {}  # ext_request_id -> ext_ids seen with it

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take one page of rows (only the fields of :data:`FIELDS` are kept)."""
        for row in rows:
            ext_id = row.get("ext_id")
            if ext_id is None:
                continue
            ext_id = str(ext_id)
            if isinstance(self.expected_calls, dict):
                self._by_request.setdefault(str(row.get("ext_request_id")), set()).add(ext_id)
            current = self._rows.get(ext_id)
            if current is None or _outranks(row, current):
                self._rows[ext_id] = {k: row.get(k) for k in FIELDS}

    def _short_requests(self) -> list[dict[str, Any]]:
        """Requests with fewer calls visible than they carried: ``{ext_request_id, expected, visible}``."""
        expected = self.expected_calls
        if isinstance(expected, dict):
            visible = {request: len(self._by_request.get(request, ())) for request in expected}
            return [
                {"ext_request_id": request, "expected": n, "visible": visible[request]}
                for request, n in expected.items()
                if visible[request] < n
            ]
        if expected is not None and len(self._rows) < expected:
            return [{"ext_request_id": None, "expected": expected, "visible": len(self._rows)}]
        return []

    def summary(self) -> dict[str, Any]:
        """Plain-JSON summary: ``done``, ``success``, counts per status, failures, processed call_session_ids."""
        counts = dict.fromkeys(STATUSES, 0)
        failed: list[dict[str, Any]] = []
        pending: list[str] = []
        call_session_ids: list[int] = []
        for ext_id, row in self._rows.items():
            status = str(row.get("status") or "new")  # a row without status has not been picked up yet
            counts[status] = counts.get(status, 0) + 1
            if status not in FINAL_STATUSES:
                pending.append(ext_id)
            elif status not in self.success_statuses:
                code = row.get("error_code")
                failed.append({"ext_id": ext_id, "status": status, "error_code": code, "meaning": error_meaning(code)})
            if status == "processed" and row.get("call_session_id") is not None:
                call_session_ids.append(row["call_session_id"])
        missing = [ext_id for ext_id in self.expected_ext_ids if ext_id not in self._rows]
        short = self._short_requests()
        missing_calls = sum(item["expected"] - item["visible"] for item in short)
        empty_but_required = self.require_rows and not self._rows
        done = not pending and not missing and not short and not empty_but_required
        return {
            "done": done,
            "success": done and not failed,
            "calls": len(self._rows),
            "counts": counts,
            "missing": len(missing) + missing_calls,
            "incomplete_requests": short[:PENDING_SAMPLE],
            "pending_ext_ids": (missing + pending)[:PENDING_SAMPLE],
            "failed": failed,
            "call_session_ids": call_session_ids,
            "success_statuses": list(self.success_statuses),
        }


def failure_message(summary: Mapping[str, Any], *, limit: int = 50) -> str:
    """A message listing each failed ext_id with its status, error_code and the code's documented meaning."""
    failed = list(summary.get("failed") or [])
    lines = [
        f"{len(failed)} of {summary.get('calls', '?')} uploaded calls ended in a status other than "
        f"{' / '.join(summary.get('success_statuses') or DEFAULT_SUCCESS_STATUSES)}:"
    ]
    for item in failed[:limit]:
        code = item.get("error_code")
        detail = f"error_code {code}: {item.get('meaning') or error_meaning(code)}" if code else "no error_code"
        lines.append(f"  ext_id {item.get('ext_id')!r}: {item.get('status')} ({detail})")
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more (see the summary in XCom)")
    return "\n".join(lines)


def progress_message(summary: Mapping[str, Any]) -> str:
    """One log line: counts per status and a few pending ext_ids."""
    counts = ", ".join(f"{status} {n}" for status, n in (summary.get("counts") or {}).items() if n)
    text = f"{summary.get('calls', 0)} uploaded calls ({counts or 'none yet'})"
    if summary.get("missing"):
        text += f"; {summary['missing']} expected calls not visible yet"
    short = summary.get("incomplete_requests") or []
    if short:
        sample = ", ".join(
            f"{item['visible']} of {item['expected']}"
            + (f" in {item['ext_request_id']}" if item.get("ext_request_id") is not None else "")
            for item in short[:3]
        )
        text += f" ({sample})"
    if summary.get("pending_ext_ids"):
        text += f"; waiting for e.g. {', '.join(map(str, summary['pending_ext_ids'][:5]))}"
    return text
