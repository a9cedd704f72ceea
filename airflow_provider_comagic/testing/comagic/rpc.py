"""JSON-RPC 2.0 envelopes of the Data API: the error object of index.txt and success bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from airflow_provider_comagic.comagic.errors import API_ERRORS


class _SafeFormat(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class RpcError(Exception):
    """An API error the emulator answers with; ``mnemonic`` is a key of :data:`API_ERRORS`."""

    def __init__(
        self,
        mnemonic: str,
        *,
        field: str | None = None,
        value: Any = None,
        params: Mapping[str, Any] | None = None,
    ):
        if mnemonic not in API_ERRORS:
            raise KeyError(f"unknown API error mnemonic {mnemonic!r}")
        self.mnemonic = mnemonic
        self.code, template = API_ERRORS[mnemonic]
        self.params = dict(params or {})
        self.message = template.format_map(_SafeFormat(self.params))
        self.field = field
        self.value = value
        super().__init__(f"{mnemonic}: {self.message}")

    def to_json(self, request_id: Any, limits: Mapping[str, Any] | None) -> dict[str, Any]:
        data: dict[str, Any] = {"mnemonic": self.mnemonic}
        if self.field is not None:
            data["field"] = self.field
        if self.value is not None:
            data["value"] = self.value
        if self.params:
            data["params"] = self.params
        data["metadata"] = {"limits": dict(limits)} if limits is not None else {}
        return {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": self.code, "message": self.message, "data": data},
        }


def error_body(error: RpcError, request_id: Any, limits: Mapping[str, Any] | None) -> bytes:
    """Serialized error response."""
    return orjson.dumps(error.to_json(request_id, limits))


def result_body(request_id: Any, data: Any, metadata: Mapping[str, Any]) -> bytes:
    """Serialized success response with ``result.data`` and ``result.metadata``."""
    return orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": {"data": data, "metadata": metadata}})


def rows_result_body(request_id: Any, rows_json: list[bytes], metadata: Mapping[str, Any]) -> bytes:
    """Success response around rows that are already serialized (the fast path of report pages)."""
    head = orjson.dumps({"jsonrpc": "2.0", "id": request_id})[:-1]
    return b"".join(
        (
            head,
            b',"result":{"data":[',
            b",".join(rows_json),
            b'],"metadata":',
            orjson.dumps(dict(metadata)),
            b"}}",
        )
    )
