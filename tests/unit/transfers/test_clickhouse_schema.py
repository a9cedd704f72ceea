"""The ClickHouse loader's pure parts: Arrow -> ClickHouse types, names, the order key, staging engines, the
connection's client arguments (no server)."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from airflow_provider_comagic.exceptions import DataIntegrityError, ParameterError
from airflow_provider_comagic.landing.manifest import schema_json
from airflow_provider_comagic.transfers.clickhouse_client import client_kwargs
from airflow_provider_comagic.transfers.clickhouse_schema import (
    LandedPartition,
    check_engine,
    clickhouse_type,
    create_table_sql,
    order_key,
    parse_table_name,
    staging_engine,
)

MSK = "Europe/Moscow"


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int64(), "Nullable(Int64)"),
        (pa.uint8(), "Nullable(UInt8)"),
        (pa.float64(), "Nullable(Float64)"),
        (pa.bool_(), "Nullable(Bool)"),
        (pa.decimal128(12, 2), "Nullable(Decimal(12, 2))"),
        (pa.string(), "Nullable(String)"),
        (pa.large_string(), "Nullable(String)"),
        (pa.date32(), "Nullable(Date32)"),
        (pa.timestamp("us", tz=MSK), "Nullable(DateTime64(6, 'Europe/Moscow'))"),
        (pa.timestamp("s"), "Nullable(DateTime64(0, 'UTC'))"),  # naive: wall clock kept as UTC digits
        (pa.list_(pa.string()), "Array(Nullable(String))"),
        (
            pa.list_(pa.struct([("tag_id", pa.int64()), ("tag_name", pa.string())])),
            "Array(Tuple(`tag_id` Nullable(Int64), `tag_name` Nullable(String)))",
        ),
        (pa.struct([("size", pa.int64())]), "Tuple(`size` Nullable(Int64))"),
        (pa.map_(pa.string(), pa.int64()), "Map(String, Nullable(Int64))"),
        (pa.dictionary(pa.int32(), pa.string()), "Nullable(String)"),
    ],
)
def test_clickhouse_types(arrow_type, expected):
    assert clickhouse_type(arrow_type) == expected


def test_not_nullable_fields_and_unknown_types():
    assert clickhouse_type(pa.int64(), nullable=False) == "Int64"
    with pytest.raises(DataIntegrityError, match="No ClickHouse type for the Arrow type duration"):
        clickhouse_type(pa.duration("s"))


@pytest.mark.parametrize("table", ["calls", "db.calls_2", "_x"])
def test_table_names(table):
    assert parse_table_name(table)[1] == table.split(".")[-1]


@pytest.mark.parametrize("table", ["", "a.b.c", "1st", "calls report", "calls;", "`calls`", None, "db."])
def test_bad_table_names_name_the_parameter(table):
    with pytest.raises(ParameterError, match=r"^table must be"):
        parse_table_name(table)


def test_engines():
    assert (
        check_engine(" ReplicatedMergeTree('/t/{shard}', '{replica}') ")
        == "ReplicatedMergeTree('/t/{shard}', '{replica}')"
    )
    assert check_engine("ReplacingMergeTree") == "ReplacingMergeTree"
    for bad in ("Memory", "Log", "", None, "MergeTree; DROP TABLE x"):
        with pytest.raises(ParameterError, match=r"^engine must be"):
            check_engine(bad)


@pytest.mark.parametrize(
    ("engine_full", "expected"),
    [
        ("MergeTree PARTITION BY (_day, _partition) ORDER BY id", None),
        (
            "ReplicatedMergeTree('/clickhouse/tables/{shard}/db/t', '{replica}') PARTITION BY (_day, _partition) ORDER BY id",
            "MergeTree() PARTITION BY (_day, _partition) ORDER BY id",
        ),
        (
            "ReplicatedReplacingMergeTree('/p', 'r', version) PARTITION BY (_day, _partition) ORDER BY id",
            "ReplacingMergeTree(version) PARTITION BY (_day, _partition) ORDER BY id",
        ),
        (
            "ReplicatedMergeTree PARTITION BY (_day, _partition) ORDER BY tuple()",
            "MergeTree() PARTITION BY (_day, _partition) ORDER BY tuple()",
        ),
        (
            "SharedMergeTree('/x', '{replica}') PARTITION BY (_day, _partition) ORDER BY id",
            "MergeTree() PARTITION BY (_day, _partition) ORDER BY id",
        ),
    ],
)
def test_staging_engine_never_shares_a_keeper_path(engine_full, expected):
    assert staging_engine(engine_full) == expected


SCHEMA = pa.schema([("id", pa.int64()), ("start_time", pa.timestamp("us", tz=MSK)), ("name", pa.string())])


def landed(uri="file:///lake/calls_report/date=2024-03-01", schema=SCHEMA, **manifest) -> LandedPartition:
    base = {"rows": 3, "run_token": "r1", "schema": schema_json(schema), "created_at": "2024-03-09T23:30:00+00:00"}
    return LandedPartition.from_manifest(uri, {**base, **manifest})


def test_the_day_of_a_landed_partition():
    interval = {"start": "2024-02-29T21:00:00+00:00", "end": "2024-03-01T21:00:00+00:00", "timezone": MSK}
    assert landed(interval=interval).day == dt.date(2024, 3, 1)  # the account's day, not UTC's
    assert landed("file:///lake/customers/date=2024-03-05").day == dt.date(2024, 3, 5)  # a snapshot's path
    assert landed("file:///lake/customers/latest").day == dt.date(2024, 3, 9)  # when it was landed
    assert landed(interval=interval).partition_expression == (
        "(toDate('2024-03-01'), 'file:///lake/calls_report/date=2024-03-01')"
    )


def test_a_partition_without_a_schema_or_with_a_bookkeeping_column_is_refused():
    with pytest.raises(DataIntegrityError, match="records no schema"):
        LandedPartition.from_manifest("file:///x", {"rows": 1})
    with pytest.raises(DataIntegrityError, match="named like the loader's own: _day"):
        landed(schema=pa.schema([("_day", pa.string())]))


def test_order_key():
    assert order_key(landed(method="get.calls_report", output_schema="raw"), None) == ("id",)
    assert order_key(landed(method="get.calls_report", output_schema="unified"), None) == ()
    assert order_key(landed(method="get.campaigns"), None) == ("id",)  # a reference list: its key
    assert order_key(landed(report="mcn_call_log"), None) == ()
    narrow = pa.schema([("start_time", pa.timestamp("us", tz=MSK))])
    assert order_key(landed(schema=narrow, method="get.calls_report"), None) == ()  # the key was not landed
    assert order_key(landed(method="get.calls_report"), ["start_time", "id"]) == ("start_time", "id")
    with pytest.raises(ParameterError, match=r"^order_by names columns .* does not have: nope"):
        order_key(landed(), ["nope"])


def test_create_table_sql():
    sql = create_table_sql("db", "calls", landed(interval={"timezone": MSK}), ("id",), on_cluster="{cluster}")
    assert sql.startswith("CREATE TABLE IF NOT EXISTS `db`.`calls` ON CLUSTER '{cluster}' (\n  `id` Nullable(Int64),")
    assert "`_interval_start` Nullable(DateTime('Europe/Moscow'))" in sql
    assert sql.endswith(
        "ENGINE = MergeTree\nPARTITION BY (_day, _partition)\nORDER BY `id` SETTINGS allow_nullable_key = 1"
    )
    assert create_table_sql("db", "t", landed(), ()).endswith("ORDER BY tuple()")


class FakeConnection:
    conn_id = "ch"
    host, port, login, password, schema = "ch.example", 8443, "loader", "s3cret", "warehouse"

    def __init__(self, extra):
        self.extra_dejson = extra


def test_client_kwargs_read_the_connection_as_the_official_hook_does():
    extra = {
        "secure": True,
        "compress": False,
        "client_name": "etl",
        "session_settings": json.dumps({"max_threads": 2}),
        "client_kwargs": {"pool_mgr": None, "host": "elsewhere"},
    }
    kwargs = client_kwargs(FakeConnection(extra))
    assert kwargs == {
        "pool_mgr": None,  # passed through; a managed key ("host") is not
        "host": "ch.example",
        "port": 8443,
        "username": "loader",
        "password": "s3cret",
        "database": "warehouse",
        "secure": True,
        "verify": True,
        "compress": False,
        "client_name": "airflow-provider-comagic (etl)",
        "settings": {"max_threads": 2},
    }
