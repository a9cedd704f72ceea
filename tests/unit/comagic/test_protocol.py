"""parse_response with rows kept undecoded (``raw_rows``): slices of the body, every error of the full decode."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from airflow_provider_comagic.comagic.errors import ComagicAuthError, ComagicTransportError
from airflow_provider_comagic.comagic.protocol import parse_response
from tests.fixtures.jsonrpc import rpc_response as response

LIMITS = {"day_remaining": 10, "minute_remaining": 5}


def parse(body: bytes, **kwargs):
    return parse_response(body, method="get.calls_report", request_id="r1", raw_rows=True, **kwargs)


def test_raw_rows_are_slices_of_the_body_and_metadata_is_decoded():
    rows = [{"id": 1, "name": "Иван", "tags": [{"a": None}]}, {"id": 2}]
    result, limits = parse(response({"data": rows, "metadata": {"total_items": 2, "limits": LIMITS}}))
    assert all(isinstance(row, msgspec.Raw) for row in result["data"])
    assert [orjson.loads(bytes(row)) for row in result["data"]] == rows
    assert result["metadata"]["total_items"] == 2 and limits == LIMITS


def test_raw_parse_keeps_every_error_of_the_full_decode():
    error = {"code": -32001, "message": "auth", "data": {"mnemonic": "auth_error", "metadata": {"limits": LIMITS}}}
    with pytest.raises(ComagicAuthError):
        parse(response(error=error))
    with pytest.raises(ComagicTransportError, match="truncated"):
        parse(response({"data": [{"id": 1}], "metadata": {}})[:-5])
    with pytest.raises(ComagicTransportError, match="does not match"):
        parse(response({"data": [], "metadata": {}}, request_id="other"))
    with pytest.raises(ComagicTransportError, match="no result"):
        parse(response(None))


def test_a_result_that_is_not_a_page_of_rows_is_decoded_fully():
    result, _ = parse(response({"data": {"name": "account"}, "metadata": {}}))
    assert result["data"] == {"name": "account"}
