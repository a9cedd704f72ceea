"""Client-side rules of ``upload.calls``: validate every call before anything is sent, then cut batches.

The rules come from the method catalogue (``upload.calls`` -> ``calls`` -> children: required fields, types,
enum values) plus the ones the documentation states in prose (communication.upload_calls): E.164 phone
numbers, ``finish_time`` not before ``start_time``, https recording URLs for wav files, ``wav_records`` and
``mp3_records`` mutually exclusive, at most 50 calls and 512 KB of JSON per request.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson

from airflow_provider_comagic.comagic.catalogue import ParamSpec, get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.version_compat import AirflowFailException

UPLOAD_METHOD = "upload.calls"
MAX_CALLS_PER_REQUEST = 50
MAX_REQUEST_BYTES = 512 * 1024
ENVELOPE_BYTES = 1024
"""Room kept for the JSON-RPC envelope (id, method, access_token, user_id) around the ``calls`` array."""

_API_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")  # API_TIME_FORMAT, exactly
_E164 = re.compile(r"^[1-9]\d{4,14}$")
_NON_NEGATIVE = frozenset({"wait_duration", "talk_duration"})


class UploadValidationError(ComagicParameterError, AirflowFailException):
    """Some calls break the documented rules; nothing was sent. Not retried: the input must be fixed."""

    def __init__(self, problems: Sequence[str], *, calls: int, limit: int):
        self.problems = list(problems)
        shown = self.problems[:limit]
        more = len(self.problems) - len(shown)
        text = f"{len(self.problems)} problem(s) in the {calls} calls to upload; nothing was sent:\n  " + "\n  ".join(
            shown
        )
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)


@functools.cache
def call_spec() -> Mapping[str, ParamSpec]:
    """The documented fields of one call (``upload.calls`` -> ``calls`` -> children), by name."""
    return MappingProxyType({child.name: child for child in get_method(UPLOAD_METHOD).params["calls"].children})


def _label(index: int, call: Any) -> str:
    ext_id = call.get("ext_id") if isinstance(call, Mapping) else None
    return f"call #{index} (ext_id {ext_id!r})" if ext_id not in (None, "") else f"call #{index} (no ext_id)"


def _check_value(spec: ParamSpec, value: Any, path: str) -> Iterator[str]:
    """Type and enum checks of one value against its catalogue spec; yields problems as 'path: text'."""
    kind = spec.type
    if kind in ("string", "iso8601", "enum"):
        if not isinstance(value, str):
            yield f"{path}: must be a string, got {type(value).__name__} {value!r}"
            return
        if kind == "enum" and spec.values and value not in spec.values:
            yield f"{path}: must be one of {', '.join(spec.values)}, got {value!r}"
        if kind == "iso8601" and _parse_time(value) is None:
            yield f"{path}: must be 'YYYY-MM-DD hh:mm:ss' (account time zone), got {value!r}"
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            yield f"{path}: must be a number, got {type(value).__name__} {value!r}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: must be true or false, got {type(value).__name__} {value!r}"
    elif kind == "object":
        if not isinstance(value, Mapping):
            yield f"{path}: must be an object, got {type(value).__name__}"
            return
        yield from _check_object(spec.children, value, path)
    elif kind == "array":
        if not isinstance(value, list):
            yield f"{path}: must be a list, got {type(value).__name__}"
            return
        for i, item in enumerate(value):
            if spec.children:
                if not isinstance(item, Mapping):
                    yield f"{path}[{i}]: must be an object, got {type(item).__name__}"
                else:
                    yield from _check_object(spec.children, item, f"{path}[{i}]")
            elif spec.values and item not in spec.values:  # e.g. callback.events
                yield f"{path}[{i}]: must be one of {', '.join(spec.values)}, got {item!r}"


def _check_object(children: Iterable[ParamSpec], obj: Mapping[str, Any], path: str) -> Iterator[str]:
    specs = {child.name: child for child in children}
    prefix = f"{path}." if path else ""
    for name in obj:
        if name not in specs:
            yield f"{prefix}{name}: unknown field; allowed: {', '.join(specs)}"
    for name, spec in specs.items():
        value = obj.get(name)
        if value is None:
            if spec.required:
                yield f"{prefix}{name}: required"
            continue
        yield from _check_value(spec, value, f"{prefix}{name}")


def _parse_time(value: Any) -> dt.datetime | None:
    """A ``YYYY-MM-DD hh:mm:ss`` value as a naive datetime, or None (regex + fromisoformat: strptime is slow)."""
    if not isinstance(value, str) or not _API_TIME.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:  # e.g. month 13
        return None


def _is_url(value: Any, schemes: tuple[str, ...]) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in schemes and bool(parts.hostname)


def _check_rules(call: Mapping[str, Any]) -> Iterator[str]:
    """The rules the documentation gives in prose (the catalogue cannot express them)."""
    direction = call.get("direction") or "in"
    for name, empty_when in (("calling_phone_number", "in"), ("called_phone_number", "out")):
        number = call.get(name)
        if not isinstance(number, str):
            continue  # missing or wrongly typed: reported by the catalogue checks
        if number == "" and direction == empty_when:
            continue  # the docs allow "" for the caller of an incoming / the callee of an outgoing call
        if not _E164.fullmatch(number):
            allowed = f' (may be "" only when direction is {empty_when!r})'
            yield f"{name}: must be an E.164 number (5 to 15 digits, country code first, no '+'), got {number!r}{allowed}"
    start, finish = call.get("start_time"), call.get("finish_time")
    start_at, finish_at = _parse_time(start), _parse_time(finish)
    if start_at is not None and finish_at is not None and finish_at < start_at:  # bad formats reported elsewhere
        yield f"finish_time: {finish!r} is before start_time {start!r}"
    for name in _NON_NEGATIVE:
        value = call.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            yield f"{name}: must not be negative, got {value!r}"
    ext_id = call.get("ext_id")
    if isinstance(ext_id, str) and not ext_id.strip():
        yield "ext_id: must not be empty"
    if call.get("wav_records") and call.get("mp3_records"):
        yield "mp3_records: not allowed together with wav_records (send one of them)"
    for i, record in enumerate(call.get("wav_records") or []):
        if isinstance(record, Mapping) and record.get("record_url") is not None:
            if not _is_url(record["record_url"], ("https",)):
                yield f"wav_records[{i}].record_url: must be an https URL, got {record['record_url']!r}"
    for i, record in enumerate(call.get("mp3_records") or []):
        if isinstance(record, Mapping) and record.get("record_url") is not None:
            if not _is_url(record["record_url"], ("http", "https")):
                yield f"mp3_records[{i}].record_url: must be an http(s) URL, got {record['record_url']!r}"
    callback = call.get("callback")
    if isinstance(callback, Mapping) and callback.get("url") is not None:
        if not _is_url(callback["url"], ("http", "https")):
            yield f"callback.url: must be an http(s) URL, got {callback['url']!r}"
        if isinstance(callback.get("events"), list) and not callback["events"]:
            yield "callback.events: must list at least one of processed, in_process, error"


def call_problems(call: Any) -> list[str]:
    """Every problem of one call, as ``'field: text'`` (empty when the call is valid)."""
    if not isinstance(call, Mapping):
        return [f"<call>: must be an object, got {type(call).__name__}"]
    return [*_check_object(call_spec().values(), call, ""), *_check_rules(call)]


def validate_calls(calls: Sequence[Any], *, max_reported: int = 20) -> None:
    """Check all calls before anything is sent; raise :class:`UploadValidationError` listing the problems
    (each naming the call's position, ``ext_id`` and field; the first ``max_reported`` are shown)."""
    if not calls:
        raise ComagicParameterError("upload.calls: there are no calls to upload")
    problems: list[str] = []
    seen: dict[str, int] = {}
    for index, call in enumerate(calls):
        label = _label(index, call)
        problems += [f"{label}: {problem}" for problem in call_problems(call)]
        ext_id = call.get("ext_id") if isinstance(call, Mapping) else None
        if isinstance(ext_id, str):
            if ext_id in seen:
                problems.append(f"{label}: ext_id: duplicates call #{seen[ext_id]} (CoMagic would ignore it)")
            seen.setdefault(ext_id, index)
        if isinstance(call, Mapping):
            try:
                size = len(orjson.dumps(call))
            except TypeError as error:
                problems.append(f"{label}: not JSON-serializable ({error})")
                continue
            if size > MAX_REQUEST_BYTES - ENVELOPE_BYTES:
                problems.append(f"{label}: the call alone is {size} bytes of JSON; a request may hold 512 KB")
    if problems:
        raise UploadValidationError(problems, calls=len(calls), limit=max_reported)


def batch_calls(
    calls: Sequence[Mapping[str, Any]],
    *,
    max_calls: int = MAX_CALLS_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> list[list[Mapping[str, Any]]]:
    """Cut validated calls, in order, into requests of at most ``max_calls`` calls and ``max_bytes`` of JSON."""
    if not 1 <= max_calls <= MAX_CALLS_PER_REQUEST:
        raise ComagicParameterError(f"batch_size must be within 1..{MAX_CALLS_PER_REQUEST}, got {max_calls!r}")
    budget = max_bytes - ENVELOPE_BYTES
    batches: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    size = 2  # the brackets of the array
    for call in calls:
        call_size = len(orjson.dumps(call)) + 1  # and its comma
        if current and (len(current) >= max_calls or size + call_size > budget):
            batches.append(current)
            current, size = [], 2
        current.append(call)
        size += call_size
    if current:
        batches.append(current)
    return batches


def batch_request_id(batch: Sequence[Mapping[str, Any]], prefix: str = "airflow") -> str:
    """A deterministic JSON-RPC id for a batch (CoMagic stores it as the calls' ``ext_request_id``).

    It depends only on the batch's ext_ids, so a retry or rerun that sends the same calls again uses the same
    id: the ids the operator returns keep selecting the calls CoMagic first stored.
    """
    digest = hashlib.sha256("\n".join(str(call["ext_id"]) for call in batch).encode()).hexdigest()[:24]
    return f"{prefix}-{digest}" if prefix else digest
