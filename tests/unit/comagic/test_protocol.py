"""Rows kept undecoded from the response to the landed file: protocol, paging, JSON Lines pages, landing."""

from __future__ import annotations

import gzip
import json

import msgspec
import orjson
import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.errors import ComagicAuthError, ComagicDataIntegrityError, ComagicTransportError
from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.comagic.protocol import parse_response
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.writer import land_pages

MSK = pendulum.timezone("Europe/Moscow")
LIMITS = {"day_remaining": 10, "minute_remaining": 5}


def response(result=None, *, request_id="r1", error=None, indent=False) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id}
    message.update({"error": error} if error else {"result": result})
    return json.dumps(message, indent=2 if indent else None, ensure_ascii=False).encode()


def parse(body: bytes, **kwargs):
    return parse_response(body, method="get.calls_report", request_id="r1", raw_rows=True, **kwargs)


# -- protocol -----------------------------------------------------------------------------------------------
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


# -- paging -------------------------------------------------------------------------------------------------
def test_plan_reads_composite_keys_and_odd_field_names_from_raw_rows():
    plan = PagePlan(
        "get.x", None, None, tz=MSK, time_field="at time", key=("a-id", "b"), sortable=("at time",), page_size=3
    )
    assert plan.next_request() is not None
    rows = [{"a-id": 1, "b": "x", "at time": "2024-03-01 00:00:00"}, {"b": "y", "at time": "2024-03-01 00:00:01"}]
    raw = [msgspec.Raw(orjson.dumps(row)) for row in rows]
    emitted = plan.feed({"data": raw, "metadata": {"total_items": 2}})
    assert emitted == raw and plan.done
    assert plan.state()["query"] is None and plan.stats.rows == 2


def test_plan_rejects_a_raw_row_that_is_not_an_object():
    plan = PagePlan("get.x", None, None, tz=MSK, time_field=None, key=("id",))
    plan.next_request()
    with pytest.raises(ComagicDataIntegrityError, match="not a JSON object"):
        plan.feed({"data": [msgspec.Raw(b"[1, 2]")], "metadata": {"total_items": 1}})


def test_drift_reread_skips_rows_already_emitted_from_raw_rows():
    plan = PagePlan("get.x", None, None, tz=MSK, time_field=None, key=("id",), page_size=2)
    page = lambda ids, total: {  # noqa: E731
        "data": [msgspec.Raw(orjson.dumps({"id": i})) for i in ids],
        "metadata": {"total_items": total},
    }
    plan.next_request()
    assert [bytes(r) for r in plan.feed(page([1, 2], 3))] == [b'{"id":1}', b'{"id":2}']
    plan.next_request()
    assert plan.feed(page([3, 4], 4)) == []  # a row appeared: total changed, the query is read again
    out = []
    while plan.next_request() is not None:
        out += plan.feed(page([1, 2] if plan.state()["query"]["offset"] == 0 else [3, 4], 4))
    assert [orjson.loads(bytes(r))["id"] for r in out] == [3, 4]
    assert plan.stats.skipped_duplicates == 2 and plan.stats.rows == 4


# -- JSON Lines pages ---------------------------------------------------------------------------------------
def test_json_lines_keep_rows_byte_for_byte_and_decode_back():
    rows = [b'{"id": 1, "name": "\\u0418"}', msgspec.Raw(b'{"id":2}'), {"id": 3}]
    page = JsonLines.from_rows(rows)
    assert page.data == b'{"id": 1, "name": "\\u0418"}\n{"id":2}\n{"id":3}\n'
    assert len(page) == 3 and page.dicts() == [{"id": 1, "name": "И"}, {"id": 2}, {"id": 3}]
    assert JsonLines.from_rows([]).data == b"" and not JsonLines.from_rows([])


def test_rows_with_line_breaks_in_their_whitespace_are_put_on_one_line():
    body = response({"data": [{"id": 1, "x": [1, 2]}, {"id": 2, "s": "a\nb"}], "metadata": {}}, indent=True)
    result, _ = parse(body)
    page = JsonLines.from_rows(result["data"])
    lines = page.data.split(b"\n")
    assert len(lines) == 3 and lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == [{"id": 1, "x": [1, 2]}, {"id": 2, "s": "a\nb"}]


# -- landing ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_json_lines_pages_land_like_dict_pages(tmp_path, fmt):
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("tags", pa.list_(pa.string()))])
    dict_pages = [[{"id": p * 10 + i, "name": f"n{i}", "tags": ["a"] * i} for i in range(4)] for p in range(3)]
    raw_pages = [JsonLines.from_rows([json.dumps(row).encode() for row in page]) for page in dict_pages]
    from_dicts = land_pages(dict_pages, tmp_path / "dicts", fmt, schema)
    from_lines = land_pages(raw_pages, tmp_path / "lines", fmt, schema)
    assert from_lines["rows"] == from_dicts["rows"] == 12
    assert list(iter_landed_rows(tmp_path / "lines")) == list(iter_landed_rows(tmp_path / "dicts"))
    if fmt == "jsonl":  # the bytes the API sent, not a re-encoding
        part = tmp_path / "lines" / from_lines["files"][0]["path"]
        assert gzip.decompress(part.read_bytes()).startswith(b'{"id": 0, "name": "n0", "tags": []}\n')


def test_parquet_schema_inferred_from_a_first_json_lines_page(tmp_path):
    page = JsonLines.from_rows([b'{"id": 1, "name": "a"}', b'{"id": 2, "name": null}'])
    manifest = land_pages([page], tmp_path, "parquet")
    assert manifest["rows"] == 2
    assert list(iter_landed_rows(tmp_path)) == [{"id": 1, "name": "a"}, {"id": 2, "name": None}]
