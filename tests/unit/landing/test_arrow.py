"""The strict rows -> Arrow conversion, from dicts and from JSON Lines, on report schemas of the catalogue."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.landing.arrow import RowConversionError, json_lines_to_batch, rows_to_batch
from airflow_provider_comagic.landing.json_lines import JsonLines

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


def _via_json_lines(rows, schema):
    page = JsonLines.from_rows([json.dumps(row).encode() for row in rows])  # as the API sends them
    return json_lines_to_batch(page.data, page.rows, schema)


@pytest.fixture(params=["rows", "json_lines"])
def to_batch(request):
    """Both conversions (dicts, and JSON Lines through Arrow's reader) must give the same batch or error."""
    return rows_to_batch if request.param == "rows" else _via_json_lines


def test_utc_timestamps_and_zone_metadata(to_batch):
    schema = report_schema("get.calls_report", ["id", "start_time"], timestamps="utc", timezone="Asia/Yekaterinburg")
    field = schema.field("start_time")
    assert field.type == pa.timestamp("us", tz="UTC")
    assert field.metadata[b"source_timezone"] == b"Asia/Yekaterinburg"
    batch = to_batch([{"id": 1, "start_time": "2024-03-01 05:00:00"}], schema)
    assert batch.column("start_time").to_pylist()[0] == dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)


def test_page_conversion_nested_lists_structs_nulls_and_zones(to_batch):
    schema = report_schema(
        "get.calls_report",
        ["id", "start_time", "is_lost", "sale_cost", "tags", "call_records", "attributes", "finish_time"],
    )
    rows = [
        {
            "id": 5,
            "start_time": "2024-03-01 00:00:01",
            "is_lost": False,
            "sale_cost": 12.5,
            "tags": [
                {"tag_id": 7, "tag_name": "vip", "tag_change_time": "2024-03-01 10:00:00", "tag_type": "manual"},
                {"tag_id": 8, "tag_name": None},
            ],
            "call_records": ["abc", "def"],
            "attributes": [],
            "finish_time": None,
        },
        {"id": 6, "start_time": "2024-03-01 23:59:59", "is_lost": None, "sale_cost": 3, "tags": None},
    ]
    table = pa.Table.from_batches([to_batch(rows, schema)])
    out = table.to_pylist()
    assert out[0]["start_time"] == dt.datetime(2024, 3, 1, 0, 0, 1, tzinfo=MSK)
    assert out[0]["start_time"].utcoffset() == dt.timedelta(hours=3)
    assert out[0]["tags"][0]["tag_change_time"] == dt.datetime(2024, 3, 1, 10, tzinfo=MSK)
    assert out[0]["tags"][1] == {
        "tag_name": None,
        "tag_id": 8,
        "tag_change_time": None,
        "tag_type": None,
        "tag_user_id": None,
        "tag_user_login": None,
        "tag_employee_id": None,
        "tag_employee_full_name": None,
    }
    assert out[0]["call_records"] == ["abc", "def"]
    assert out[0]["attributes"] == []
    assert out[1]["tags"] is None and out[1]["call_records"] is None  # null stays null, not []
    assert out[1]["sale_cost"] == 3.0 and out[1]["is_lost"] is None


def test_date_fields_become_date32_and_id_arrays_int64(to_batch):
    schema = report_schema("get.campaign_daily_stat", ["date", "session_ids", "cost_sum"])
    batch = to_batch([{"date": "2024-03-01", "session_ids": [1, 2**40], "cost_sum": "12.30"}], schema)
    assert batch.to_pylist() == [{"date": dt.date(2024, 3, 1), "session_ids": [1, 2**40], "cost_sum": "12.30"}]


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"id": 2.5}, "double"),
        ({"id": 3.0}, "double"),
        ({"id": True}, "bool"),
        ({"id": "12"}, "'12'"),
        ({"id": 2**64}, "id"),
        ({"sale_cost": 2**60 + 1}, "sale_cost"),
        ({"is_lost": 1}, "is_lost"),
        ({"start_time": "2024-03-01T00:00:00"}, "start_time"),
        ({"start_time": 1709251200}, "start_time"),
        ({"start_time": "2024-02-30 00:00:00"}, "start_time"),  # strptime alone rolls it over to March 1st
        ({"start_time": "2024-03-01 23:59:60"}, "start_time"),  # ... and this to the next day
        ({"start_time": "2024-3-1 10:00:00"}, "start_time"),
        ({"tags": [{"tag_id": 1.5}]}, "tags"),
        ({"tags": [{"tag_id": 1, "surprise": 1}]}, "surprise"),
        ({"tags": {"tag_id": 1}}, "expects a list"),
        ({"call_records": "ab"}, "call_records"),  # not the list ["a", "b"]
        ({"nope": 1}, "nope"),
    ],
)
def test_values_that_do_not_fit_raise_instead_of_losing_data(row, match, to_batch):
    schema = report_schema("get.calls_report", ["id", "start_time", "sale_cost", "is_lost", "tags", "call_records"])
    with pytest.raises(RowConversionError, match=match):
        to_batch([{"id": 1}, row], schema)


@pytest.mark.parametrize("value", [643, True, {"a": [1]}])
def test_string_columns_take_strings_only_unless_documented_as_json_text(value, to_batch):
    """A number in a string column is a coercion the drift rules count (landing/coercion.py), not a silent one."""
    schema = report_schema("get.calls_report", ["id", "cpn_country_id"])
    with pytest.raises(RowConversionError, match="cpn_country_id"):
        to_batch([{"id": 3, "cpn_country_id": value}], schema)
    status_stats = report_schema("get.employee_stat", ["status_stats"])  # an object whose keys are data
    batch = to_batch([{"status_stats": {"a": [1]}}, {"status_stats": "x"}], status_stats)
    assert batch.column("status_stats").to_pylist() == ['{"a":[1]}', "x"]


def test_rows_with_different_key_orders_and_missing_keys(to_batch):
    schema = report_schema("get.calls_report", ["id", "start_time", "is_lost"])
    rows = [{"is_lost": True, "id": 1}, {"id": 2, "start_time": "2024-03-01 00:00:00", "is_lost": False}]
    assert [r["id"] for r in to_batch(rows, schema).to_pylist()] == [1, 2]
    assert to_batch([], schema).num_rows == 0


def test_pages_are_parsed_in_the_page_memory_pool(monkeypatch):
    from airflow_provider_comagic.landing import arrow

    seen = []
    read_json = arrow.pa_json.read_json

    def spy(*args, **kwargs):
        seen.append(kwargs.get("memory_pool"))
        return read_json(*args, **kwargs)

    monkeypatch.setattr(arrow.pa_json, "read_json", spy)
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("at", pa.timestamp("us", tz="UTC"))])
    lines = b"".join(b'{"id": %d, "at": "2024-03-01 00:00:%02d"}\n' % (i, i) for i in range(50))
    batch = json_lines_to_batch(lines, 50, schema)
    assert batch.column(0).to_pylist() == list(range(50))
    assert seen == [arrow.page_memory_pool()]


def test_page_memory_pool_is_not_mimalloc_unless_asked(monkeypatch):
    from airflow_provider_comagic.landing import arrow

    arrow.page_memory_pool.cache_clear()
    try:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
        assert arrow.page_memory_pool().backend_name in ("jemalloc", "system")
        arrow.page_memory_pool.cache_clear()
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")  # the user's choice wins
        assert arrow.page_memory_pool().backend_name == pa.default_memory_pool().backend_name
    finally:
        arrow.page_memory_pool.cache_clear()
