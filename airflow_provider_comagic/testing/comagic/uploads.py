"""upload.calls and get.uploaded_calls: validation per communication.upload_calls.txt, ext_id idempotency and
a processing status that moves with the emulator clock: ``new`` -> ``in_process`` -> ``processed`` (with a
``call_session_id``) / ``error`` (with an ``error_code``) / ``cancelled``.
"""

from __future__ import annotations

import dataclasses
import hashlib
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
    """Uploaded calls of the account; statuses are computed from the clock at read time."""

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
    ):
        self.seed = seed
        self._now = now
        self._format_time = format_time
        self.step_seconds = step_seconds
        self.error_ext_ids = set(error_ext_ids)
        self.cancel_ext_ids = set(cancel_ext_ids)
        self.error_rate = error_rate
        self._lock = threading.Lock()
        self._calls: list[UploadedCall] = []

    def _fraction(self, *parts: Any) -> float:
        digest = hashlib.blake2b("|".join(map(str, (self.seed, *parts))).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def _outcome(self, ext_id: str, attempt: int) -> tuple[str, str | None]:
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
                history = [c for c in self._calls if c.call["ext_id"] == ext_id]
                errors = sum(1 for c in history if self._status(c, now) in {"error", "cancelled"})
                if len(history) > errors or errors >= MAX_ERROR_ATTEMPTS:
                    continue  # already uploaded (or in progress), or out of attempts: ignored
                outcome, code = self._outcome(ext_id, len(history))
                seq = len(self._calls) + 1
                session_id = 3_000_000_000 + int(self._fraction(ext_id, "session") * 10**8) * 10 + seq % 10
                self._calls.append(
                    UploadedCall(
                        seq,
                        dict(call),
                        ext_request_id,
                        now,
                        outcome,
                        code,
                        session_id if outcome == "processed" else None,
                    )
                )
                accepted += 1
        return accepted

    def _status(self, call: UploadedCall, now: float) -> str:
        elapsed = now - call.upload_time
        if elapsed < self.step_seconds:
            return "new"
        if elapsed < 2 * self.step_seconds:
            return "in_process"
        return call.outcome

    def set_outcome(self, ext_id: str, outcome: str, error_code: str | None = None) -> None:
        """Decide the end state of an uploaded (or future) call; for calls not yet uploaded use the config sets."""
        with self._lock:
            for call in self._calls:
                if call.call["ext_id"] == ext_id:
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

    def rows(self) -> list[dict[str, Any]]:
        """Rows of get.uploaded_calls as of now (every documented field)."""
        now = self._now()
        with self._lock:
            calls = list(self._calls)
        out = []
        for item in calls:
            call = item.call
            status = self._status(item, now)
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
                }
            )
        return out
