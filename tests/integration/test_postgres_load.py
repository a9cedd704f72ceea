"""Landed partitions into a real PostgreSQL server on 127.0.0.1: schema, COPY, idempotency, row-count check."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pendulum
import psycopg2
import pytest

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator, postgres_type
from tests.fixtures.postgres import postgres_connection, postgres_dsn, recreate_schema  # noqa: F401 - a fixture

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=700, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


@pytest.fixture
def pg(postgres_dsn, monkeypatch):  # noqa: F811 - the fixture above
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_TEST", json.dumps(postgres_connection(postgres_dsn)))
    recreate_schema(postgres_dsn)
    return postgres_dsn


def land(tmp_path, start, end, fmt="parquet") -> dict[str, Any]:
    op = ComagicCallsReportOperator(
        task_id="calls",
        output_path=f"file://{tmp_path}",
        output_format=fmt,
        fields=["id", "start_time", "finish_time", "direction", "tags", "call_records", "is_lost", "talk_duration"],
    )
    return op.execute({"data_interval_start": start, "data_interval_end": end, "run_id": "t"})


def load(summary: dict[str, Any], table="comagic.calls_report") -> dict[str, Any]:
    op = ComagicLandedToPostgresOperator(
        task_id="load", partition_path=summary["partition"], table=table, postgres_conn_id="postgres_test"
    )
    return op.execute({})


def query(dsn, sql, *args):
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_partition_loads_with_exact_rows_and_values(emu, pg, tmp_path, fmt):
    end = DAY + dt.timedelta(days=1)
    summary = land(tmp_path, DAY, end, fmt)
    result = load(summary)
    truth = emu.truth(
        "get.calls_report",
        "2024-03-01 00:00:00",
        "2024-03-01 23:59:59",
        fields=["id", "start_time", "direction", "tags"],
    )
    assert result["rows"] == len(truth) == summary["rows"] > 0
    ids = [r[0] for r in query(pg, "SELECT id FROM comagic.calls_report ORDER BY id")]
    assert ids == sorted(r["id"] for r in truth)
    sample = truth[len(truth) // 2]
    (row,) = query(pg, "SELECT start_time, tags, direction FROM comagic.calls_report WHERE id = %s", sample["id"])
    assert row[0] == dt.datetime.strptime(sample["start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=MSK)
    assert [t["tag_id"] for t in row[1]] == [t["tag_id"] for t in sample["tags"]]
    assert row[2] == sample["direction"]


def test_reload_replaces_the_interval_and_keeps_others(emu, pg, tmp_path):
    first = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    second = land(tmp_path, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2))
    load(first)
    load(second)
    again = load(first)  # a rerun of the first day
    assert again["deleted"] == first["rows"] and again["rows"] == first["rows"]
    (total,) = query(pg, "SELECT count(*), count(DISTINCT id) FROM comagic.calls_report")
    assert total == (first["rows"] + second["rows"],) * 2


def test_column_types_follow_the_report_schema(emu, pg, tmp_path):
    load(land(tmp_path, DAY, DAY + dt.timedelta(days=1)))
    types = dict(
        query(pg, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'calls_report'")
    )
    assert types["id"] == "bigint"
    assert types["start_time"] == "timestamp with time zone"
    assert types["tags"] == "jsonb"
    assert types["_interval_start"] == "timestamp with time zone"


def test_uncommitted_partition_is_not_loaded(pg, tmp_path):
    with pytest.raises(ComagicDataIntegrityError, match="no committed manifest"):
        load({"partition": f"file://{tmp_path}/calls_report/date=2024-03-01"})


def test_postgres_type_mapping():
    import pyarrow as pa

    assert postgres_type(pa.list_(pa.string())) == "jsonb"
    assert postgres_type(pa.float64()) == "double precision"
    assert postgres_type(pa.date32()) == "date"
