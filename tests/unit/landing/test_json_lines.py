"""JsonLines pages: rows kept byte for byte, decoded back, and put on one line each."""

from __future__ import annotations

import msgspec
import orjson

from airflow_provider_comagic.comagic.protocol import parse_response
from airflow_provider_comagic.landing.json_lines import JsonLines
from tests.fixtures.jsonrpc import rpc_response as response


def test_json_lines_keep_rows_byte_for_byte_and_decode_back():
    rows = [b'{"id": 1, "name": "\\u0418"}', msgspec.Raw(b'{"id":2}'), {"id": 3}]
    page = JsonLines.from_rows(rows)
    assert page.data == b'{"id": 1, "name": "\\u0418"}\n{"id":2}\n{"id":3}\n'
    assert len(page) == 3 and page.dicts() == [{"id": 1, "name": "И"}, {"id": 2}, {"id": 3}]
    assert JsonLines.from_rows([]).data == b"" and not JsonLines.from_rows([])


def test_rows_with_line_breaks_in_their_whitespace_are_put_on_one_line():
    body = response({"data": [{"id": 1, "x": [1, 2]}, {"id": 2, "s": "a\nb"}], "metadata": {}}, indent=True)
    result, _ = parse_response(body, method="get.calls_report", request_id="r1", raw_rows=True)
    page = JsonLines.from_rows(result["data"])
    lines = page.data.split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == [{"id": 1, "x": [1, 2]}, {"id": 2, "s": "a\nb"}]
