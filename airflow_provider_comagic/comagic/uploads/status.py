"""Status logic of uploaded calls (``get.uploaded_calls``), pure: shared by the sensor's poke and the trigger.

A call moves ``new`` -> ``in_process`` -> one of the final statuses ``processed``, ``error``, ``cancelled``
(seed ``get.uploaded_calls``). CoMagic keeps up to three failed attempts of one ``ext_id`` and ignores the
``ext_id`` once an attempt succeeded, so one ``ext_id`` can have several rows: the one that counts is a
``processed`` row if any, else the latest upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.comagic.paging import MAX_LIMIT

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


def query_kwargs(
    ext_request_ids: Sequence[str] | None = None,
    ext_ids: Sequence[str] | None = None,
    *,
    page_size: int = MAX_LIMIT,
) -> dict[str, Any]:
    """Keyword arguments of ``iter_pages(STATUS_METHOD, date_from, date_till, **kwargs)`` for one status poll."""
    return {
        "filter": selection_filter(ext_request_ids, ext_ids),
        "fields": list(FIELDS),
        "page_size": page_size,
    }


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
    :param require_rows: an empty selection is still pending (waiting for a known upload to become visible)
        rather than done.
    """

    def __init__(
        self,
        success_statuses: Iterable[str] = DEFAULT_SUCCESS_STATUSES,
        *,
        expected_ext_ids: Iterable[str] = (),
        require_rows: bool = False,
    ):
        self.success_statuses = normalize_statuses(success_statuses)
        self.expected_ext_ids = tuple(dict.fromkeys(expected_ext_ids))
        self.require_rows = require_rows
        self._rows: dict[str, Mapping[str, Any]] = {}

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Take one page of rows (only the fields of :data:`FIELDS` are kept)."""
        for row in rows:
            ext_id = row.get("ext_id")
            if ext_id is None:
                continue
            ext_id = str(ext_id)
            current = self._rows.get(ext_id)
            if current is None or _outranks(row, current):
                self._rows[ext_id] = {k: row.get(k) for k in FIELDS}

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
        empty_but_required = self.require_rows and not self._rows
        done = not pending and not missing and not empty_but_required
        return {
            "done": done,
            "success": done and not failed,
            "calls": len(self._rows),
            "counts": counts,
            "missing": len(missing),
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
        text += f"; {summary['missing']} expected ext_ids not visible yet"
    if summary.get("pending_ext_ids"):
        text += f"; waiting for e.g. {', '.join(map(str, summary['pending_ext_ids'][:5]))}"
    return text
