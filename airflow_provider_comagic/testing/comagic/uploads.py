"""upload.calls and get.uploaded_calls: validation per communication.upload_calls.txt, ext_id idempotency and
a processing status that moves with the emulator clock: ``new`` -> ``in_process`` -> ``processed`` (with a
``call_session_id``) / ``error`` (with an ``error_code``) / ``cancelled``.

The Data API documents no default order of ``get.uploaded_calls`` rows, so the store can serve the orders a
client must survive (:data:`ROW_ORDERS`): by upload, most recently changed first, or shuffled anew for every
call; a sort then decides, and only rows it ties keep that order. Statuses can also change *between* pages of
one read (``changes``: calls held ``in_process`` until the n-th answered ``get.uploaded_calls`` call).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.testing.comagic.rpc import RpcError

MAX_CALLS = 50
MAX_BODY_BYTES = 512 * 1024
MAX_ERROR_ATTEMPTS = 3
ERROR_CODES: tuple[str, ...] = (
    "internal_error",
    "download_error",
    "connection_download_error",
    "http_status_download_error",
    "http_content_type_download_error",
    "max_file_size_download_error",
    "timeout_download_error",
    "decode_error",
    "processing_error",
    "wav_min_duration_processing_error",
    "wav_channels_processing_error",
)
ROW_ORDERS: tuple[str, ...] = ("upload_time", "recently_changed", "random")
"""Orders of get.uploaded_calls rows without a sort (and of the rows a sort ties): by upload (upload_time, then
upload order), the row whose status changed last first, or a new shuffle for every call."""
OUTCOMES: tuple[str, ...] = ("processed", "error", "cancelled")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_PHONE_RE = re.compile(r"^\d{5,15}$")

# call field -> (type, required); nested arrays list their item fields
_CALL_FIELDS: dict[str, tuple[str, bool]] = {
    "ext_id": ("string", True),
    "direction": ("enum", False),
    "calling_phone_number": ("phone", True),
    "called_phone_number": ("phone", True),
    "start_time": ("iso8601", True),
    "finish_time": ("iso8601", True),
    "is_lost": ("boolean", True),
    "is_transfer": ("boolean", False),
    "wait_duration": ("number", False),
    "talk_duration": ("number", False),
    "visitor_session_id": ("number", False),
    "campaign_id": ("number", False),
    "source_id": ("number", False),
    "site_id": ("number", False),
    "comment": ("string", False),
    "callback": ("object", False),
    "tags": ("array", False),
    "wav_records": ("array", False),
    "mp3_records": ("array", False),
}
_ITEM_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "callback": {"url": ("string", True), "events": ("array", True)},
    "tags": {"tag_id": ("number", False), "tag_name": ("string", True)},
    "wav_records": {
        "employee_channel": ("enum", True),
        "employee_name": ("string", True),
        "employee_id": ("number", False),
        "record_url": ("string", True),
    },
    "mp3_records": {
        "employee_name": ("string", False),
        "employee_id": ("number", False),
        "record_url": ("string", True),
    },
}
_ENUMS = {"direction": ("in", "out"), "employee_channel": ("left", "right")}
_CALLBACK_EVENTS = ("processed", "in_process", "error")


def _type_ok(kind: str, value: Any) -> bool:
    if kind in {"string", "phone", "iso8601", "enum"}:
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, Mapping)
    return True


def _check_object(obj: Any, spec: Mapping[str, tuple[str, bool]], path: str) -> None:
    if not isinstance(obj, Mapping):
        raise RpcError("data_type_error", field=path, value=obj)
    for name in obj:
        if name not in spec:
            raise RpcError("unexpected_parameters", field=f"{path}.{name}")
    for name, (kind, required) in spec.items():
        if name not in obj or obj[name] is None:
            if required:
                raise RpcError("required_parameter_missed", field=f"{path}.{name}")
            continue
        value = obj[name]
        if not _type_ok(kind, value):
            raise RpcError("data_type_error", field=f"{path}.{name}", value=value)
        if kind == "iso8601" and not _TIME_RE.match(value):
            raise RpcError("invalid_parameter_value", field=f"{path}.{name}", value=value)
        if kind == "enum" and value not in _ENUMS.get(name, (value,)):
            raise RpcError("invalid_parameter_value", field=f"{path}.{name}", value=value)
        if kind == "string" and name in {"ext_id", "record_url", "url", "tag_name"} and not value:
            raise RpcError("invalid_parameter_value", field=f"{path}.{name}", value=value)


def validate_call(call: Any) -> None:
    """Check one element of ``calls`` (raise :class:`RpcError` naming the field, e.g. ``calls.start_time``)."""
    _check_object(call, _CALL_FIELDS, "calls")
    direction = call.get("direction") or "in"
    for name, may_be_empty in (("calling_phone_number", "in"), ("called_phone_number", "out")):
        number = call[name]
        if number == "" and direction == may_be_empty:
            continue
        if not _PHONE_RE.match(number):
            raise RpcError("invalid_parameter_value", field=f"calls.{name}", value=number)
    if call["finish_time"] < call["start_time"]:
        raise RpcError("invalid_date_time", field="calls.finish_time", value=call["finish_time"])
    for name in ("wait_duration", "talk_duration"):
        if call.get(name) is not None and call[name] < 0:
            raise RpcError("invalid_parameter_value", field=f"calls.{name}", value=call[name])
    if call.get("wav_records") and call.get("mp3_records"):
        raise RpcError("invalid_parameters_combination", field="calls.mp3_records")
    if call.get("callback") is not None:
        _check_object(call["callback"], _ITEM_FIELDS["callback"], "calls.callback")
        events = call["callback"]["events"]
        if not events or any(e not in _CALLBACK_EVENTS for e in events):
            raise RpcError("invalid_parameter_value", field="calls.callback.events", value=events)
    for name in ("tags", "wav_records", "mp3_records"):
        for item in call.get(name) or ():
            _check_object(item, _ITEM_FIELDS[name], f"calls.{name}")


def _operators(tree: Any) -> set[str]:
    if isinstance(tree, Mapping):
        if isinstance(tree.get("filters"), list):
            return set().union(*(_operators(child) for child in tree["filters"]))
        if isinstance(tree.get("operator"), str):
            return {tree["operator"]}
    return set()


def check_uploaded_calls_params(params: Mapping[str, Any], *, reject_in: bool, report_id: int | None) -> None:
    """The account-dependent rules of get.uploaded_calls: a ``report_id`` the account requires, the ``in``
    operator it may not support (raise :class:`RpcError` as the API would)."""
    if "report_id" in params:
        value = params["report_id"]
        if not isinstance(value, int) or isinstance(value, bool):
            raise RpcError("data_type_error", field="report_id", value=value)
        if report_id is not None and value != report_id:
            raise RpcError("invalid_parameter_value", field="report_id", value=value)
    elif report_id is not None:
        raise RpcError("required_parameter_missed", field="report_id")
    if reject_in and "in" in _operators(params.get("filter")):
        raise RpcError("invalid_parameter_value", field="filter.operator", value="in")


@dataclasses.dataclass
class UploadedCall:
    """One uploaded call and how its processing ends."""

    seq: int
    call: dict[str, Any]
    ext_request_id: str
    upload_time: float
    outcome: str  # processed | error | cancelled
    error_code: str | None = None
    call_session_id: int | None = None


class UploadStore:
    """Uploaded calls of the account; statuses are computed from the clock at read time.

    :param order: one of :data:`ROW_ORDERS`, the order rows are served in without a sort.
    :param changes: ``{n: {ext_id: outcome}}``: each upload of a listed ext_id stays ``in_process`` (at most;
        ``new`` while the clock says so) until ``n`` get.uploaded_calls calls were answered
        (:meth:`answered`), then has ``outcome`` from that moment, whatever the clock says.
    """

    def __init__(
        self,
        *,
        seed: int,
        now: Callable[[], float],
        format_time: Callable[[float], str],
        step_seconds: float,
        error_ext_ids: frozenset[str] = frozenset(),
        cancel_ext_ids: frozenset[str] = frozenset(),
        error_rate: float = 0.0,
        order: str = "upload_time",
        changes: Mapping[int, Mapping[str, str]] | None = None,
    ):
        if order not in ROW_ORDERS:
            raise ValueError(f"uploaded_calls_order must be one of {', '.join(ROW_ORDERS)}, got {order!r}")
        self.seed = seed
        self._now = now
        self._format_time = format_time
        self.step_seconds = step_seconds
        self.error_ext_ids = set(error_ext_ids)
        self.cancel_ext_ids = set(cancel_ext_ids)
        self.error_rate = error_rate
        self.order = order
        self._lock = threading.Lock()
        self._calls: list[UploadedCall] = []
        self._by_ext_id: dict[str, list[UploadedCall]] = {}
        self.reads = 0
        """get.uploaded_calls calls answered so far."""
        self._held: dict[str, tuple[int, str]] = {}  # ext_id -> (answered calls that release it, outcome)
        self._released: dict[str, tuple[float, int]] = {}  # ext_id -> (time, calls answered) of its change
        for after, outcomes in (changes or {}).items():
            if not isinstance(after, int) or after < 1:
                raise ValueError(f"uploaded_calls_changes: keys are numbers of calls (>= 1), got {after!r}")
            for ext_id, outcome in outcomes.items():
                if outcome not in OUTCOMES:
                    raise ValueError(f"uploaded_calls_changes: {ext_id!r} -> {outcome!r} is not a final status")
                self._held[str(ext_id)] = (after, outcome)

    def _fraction(self, *parts: Any) -> float:
        digest = hashlib.blake2b("|".join(map(str, (self.seed, *parts))).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _outcome(self, ext_id: str, attempt: int) -> tuple[str, str | None]:
        held = self._held.get(ext_id)
        if held is not None:
            outcome = held[1]
            code = ERROR_CODES[int(self._fraction(ext_id, attempt, "code") * len(ERROR_CODES))]
            return outcome, code if outcome == "error" else None
        if ext_id in self.cancel_ext_ids:
            return "cancelled", None
        if ext_id in self.error_ext_ids or self._fraction(ext_id, attempt, "error") < self.error_rate:
            code = ERROR_CODES[int(self._fraction(ext_id, attempt, "code") * len(ERROR_CODES))]
            return "error", code
        return "processed", None

    def upload(self, calls: Any, ext_request_id: str) -> int:
        """Validate and store ``calls`` (all or nothing); return how many were accepted (not ignored)."""
        if not isinstance(calls, list):
            raise RpcError("data_type_error", field="calls", value=calls)
        if not calls or len(calls) > MAX_CALLS:
            raise RpcError("invalid_parameter_value", field="calls", value=f"{len(calls)} calls (1..{MAX_CALLS})")
        for call in calls:
            validate_call(call)
        accepted = 0
        with self._lock:
            now = self._now()
            for call in calls:
                ext_id = call["ext_id"]
                history = self._by_ext_id.setdefault(ext_id, [])
                errors = sum(1 for c in history if self._status(c, now) in {"error", "cancelled"})
                if len(history) > errors or errors >= MAX_ERROR_ATTEMPTS:
                    continue  # already uploaded (or in progress), or out of attempts: ignored
                outcome, code = self._outcome(ext_id, len(history))
                seq = len(self._calls) + 1
                session_id = 3_000_000_000 + int(self._fraction(ext_id, "session") * 10**8) * 10 + seq % 10
                uploaded = UploadedCall(
                    seq,
                    dict(call),
                    ext_request_id,
                    now,
                    outcome,
                    code,
                    session_id if outcome == "processed" else None,
                )
                self._calls.append(uploaded)
                history.append(uploaded)
                accepted += 1
        return accepted

    def answered(self) -> None:
        """Count one answered get.uploaded_calls call; release the calls ``changes`` held until it."""
        with self._lock:
            self.reads += 1
            now = self._now()
            for ext_id, (after, _outcome) in self._held.items():
                if after == self.reads:
                    self._released[ext_id] = (now, self.reads)

    def restart_changes(self) -> None:
        """Count answered calls from zero again: the calls ``changes`` holds are held again until their call
        (one upload history serves several tests, each seeing the changes between its own pages)."""
        with self._lock:
            self.reads = 0
            self._released.clear()

    def _status(self, call: UploadedCall, now: float) -> str:
        return self._status_and_change(call, now)[0]

    def _status_and_change(self, call: UploadedCall, now: float) -> tuple[str, tuple[float, int, int]]:
        """The status and when it was reached: ``(time, calls answered at a held change, seq)``, which orders
        changes from the earliest (a release is later than a clock step of the same second)."""
        ext_id = call.call["ext_id"]
        released = self._released.get(ext_id)
        if released is not None:
            return call.outcome, (released[0], released[1], call.seq)
        elapsed = now - call.upload_time
        if elapsed < self.step_seconds:
            return "new", (call.upload_time, 0, call.seq)
        if elapsed < 2 * self.step_seconds or ext_id in self._held:
            return "in_process", (call.upload_time + self.step_seconds, 0, call.seq)
        return call.outcome, (call.upload_time + 2 * self.step_seconds, 0, call.seq)

    def set_outcome(self, ext_id: str, outcome: str, error_code: str | None = None) -> None:
        """Decide the end state of an uploaded (or future) call; for calls not yet uploaded use the config sets."""
        with self._lock:
            for call in self._by_ext_id.get(ext_id, ()):
                call.outcome = outcome
                call.error_code = (error_code or "download_error") if outcome == "error" else None
                if outcome == "processed" and call.call_session_id is None:
                    call.call_session_id = 3_000_000_000 + call.seq
                elif outcome != "processed":
                    call.call_session_id = None
        if outcome == "error":
            self.error_ext_ids.add(ext_id)
        elif outcome == "cancelled":
            self.cancel_ext_ids.add(ext_id)

    def served_rows(self) -> list[dict[str, Any]]:
        """:meth:`rows` in the store's :attr:`order` (``random``: a new shuffle after every answered call)."""
        rows = self.rows()
        if self.order == "recently_changed":
            rows.sort(key=lambda row: row["__changed__"], reverse=True)
        elif self.order == "random":
            random.Random(f"{self.seed}:{self.reads}").shuffle(rows)
        return rows

    def rows(self) -> list[dict[str, Any]]:
        """Rows of get.uploaded_calls as of now (every documented field), in upload order."""
        now = self._now()
        with self._lock:
            calls = list(self._calls)
        out = []
        for item in calls:
            call = item.call
            status, changed = self._status_and_change(item, now)
            records: Sequence[Mapping[str, Any]] | None = call.get("wav_records") or call.get("mp3_records")
            record_type = "wav" if call.get("wav_records") else "mp3" if call.get("mp3_records") else None
            out.append(
                {
                    "ext_id": call["ext_id"],
                    "ext_request_id": item.ext_request_id,
                    "upload_time": self._format_time(item.upload_time),
                    "direction": call.get("direction") or "in",
                    "calling_phone_number": call["calling_phone_number"],
                    "called_phone_number": call["called_phone_number"],
                    "start_time": call["start_time"],
                    "finish_time": call["finish_time"],
                    "is_lost": call["is_lost"],
                    "is_transfer": bool(call.get("is_transfer", False)),
                    "wait_duration": call.get("wait_duration"),
                    "talk_duration": call.get("talk_duration"),
                    "visitor_session_id": call.get("visitor_session_id"),
                    "campaign_id": call.get("campaign_id"),
                    "source_id": call.get("source_id"),
                    "site_id": call.get("site_id"),
                    "comment": call.get("comment"),
                    "record_type": record_type,
                    "status": status,
                    "error_code": item.error_code if status == "error" else None,
                    "call_session_id": item.call_session_id if status == "processed" else None,
                    "callback": call.get("callback"),
                    "tags": [dict(t) for t in call.get("tags") or []],
                    "records": [dict(r) for r in records] if records else None,
                    "__seq__": item.seq,
                    "__changed__": changed,
                }
            )
        return out
