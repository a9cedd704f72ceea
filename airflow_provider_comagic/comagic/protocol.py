"""JSON-RPC 2.0 framing of the Data API, without I/O: shared by the sync hook, the async hook and the emulator."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import orjson

from airflow_provider_comagic.comagic.errors import ComagicTransportError, error_from_response

JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8", "Accept": "application/json"}


def new_request_id() -> str:
    """A unique JSON-RPC request id (the docs recommend a unique hash or random number)."""
    return uuid.uuid4().hex


def build_request(method: str, params: Mapping[str, Any], request_id: str) -> bytes:
    """Serialize one JSON-RPC request body."""
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


class _RawPage(msgspec.Struct):
    """A ``get.*`` result whose rows stay undecoded JSON objects."""

    data: list[msgspec.Raw]
    metadata: Any = None


class _RawMessage(msgspec.Struct):
    """A JSON-RPC response whose ``result`` is a page of undecoded rows (``jsonrpc`` and unknown members
    ignored): the body is scanned once. Any other ``result`` shape fails validation (then fully decoded)."""

    id: Any = None
    result: _RawPage | None = None
    error: Any = None


_decode_raw_message = msgspec.json.Decoder(_RawMessage).decode


def parse_response(
    body: bytes, *, method: str, request_id: str, secrets: Iterable[str] = (), raw_rows: bool = False
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Decode a response body and return ``(result, limits)``; raise the typed error for an error response.

    ``limits`` is ``metadata.limits`` when present (success and error responses both carry it). Malformed or
    truncated JSON, and a response to another request id, raise :class:`ComagicTransportError` (retried).

    ``raw_rows=True`` leaves every row of ``result.data`` undecoded (``msgspec.Raw``, a slice of ``body``): a
    page is validated and split into rows in a tenth of a full decode, for callers that pass rows on as JSON.
    Anything else than a successful page of rows (errors, other shapes, bad JSON) takes the full decode.
    """
    if raw_rows:
        page = _raw_page(body, request_id)
        if page is not None:
            metadata = page.metadata if isinstance(page.metadata, dict) else {}
            return {"data": page.data, "metadata": metadata}, metadata.get("limits")
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ComagicTransportError(
            f"CoMagic {method}: malformed or truncated JSON response ({len(body)} bytes)"
        ) from None
    if not isinstance(message, dict):
        raise ComagicTransportError(f"CoMagic {method}: response is not a JSON-RPC object")
    error = message.get("error")
    if error is not None:
        raise error_from_response(error, method=method, secrets=secrets)
    if message.get("id") != request_id:
        raise ComagicTransportError(
            f"CoMagic {method}: response id {message.get('id')!r} does not match the request id"
        )
    result = message.get("result")
    if not isinstance(result, dict):
        raise ComagicTransportError(f"CoMagic {method}: response has no result object")
    metadata = result.get("metadata") or {}
    return result, metadata.get("limits")


def _raw_page(body: bytes, request_id: str) -> _RawPage | None:
    """The page of undecoded rows of a successful response to ``request_id``, else None (fully decoded then)."""
    try:
        message = _decode_raw_message(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if message.error is not None or message.id != request_id:
        return None
    return message.result
