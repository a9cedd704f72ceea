"""Landed partitions into a real PostgreSQL server on 127.0.0.1: schema, COPY, idempotency, row-count check."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pendulum
import psycopg2
import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
from airflow_provider_comagic.landing.writer import land_pages
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator, postgres_type
from tests.fixtures.airflow_compat import allow_execute_in_this_thread
from tests.fixtures.lake import lake  # noqa: F401 - fixture
from tests.fixtures.landing_crash import context, kill_loader_mid_copy
from tests.fixtures.postgres import postgres_connection, postgres_dsn, recreate_schema  # noqa: F401 - a fixture
from tests.fixtures.processes import require_import

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)


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
    assert types["_rescued"] == "jsonb"
    assert types["_interval_start"] == "timestamp with time zone"


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_rescued_values_land_in_a_jsonb_column(emu, pg, tmp_path, fmt):
    """Drifted values a partition rescued (Parquet at landing; JSON Lines when the loader types it) reach the
    table's _rescued column, queryable as JSON, their typed column null."""
    emu.faults.add("drift_fractional_int", field="talk_duration", fraction=0.03, method="get.calls_report")
    emu.faults.add("drift_new_field", field="surprise", fraction=0.02, method="get.calls_report")
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1), fmt)
    assert load(summary)["rows"] == summary["rows"]
    truth = {r["id"]: r for r in emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59")}
    drifted = {i: r["talk_duration"] for i, r in truth.items() if isinstance(r.get("talk_duration"), float)}
    added = {i: r["surprise"] for i, r in truth.items() if "surprise" in r}
    assert drifted and added
    rows = query(pg, "SELECT id, talk_duration, _rescued FROM comagic.calls_report WHERE _rescued IS NOT NULL")
    assert {i for i, _, _ in rows} == set(drifted) | set(added)
    for i, talk, rescued in rows:
        assert rescued == {
            **({"talk_duration": drifted[i]} if i in drifted else {}),
            **({"surprise": added[i]} if i in added else {}),
        }
        assert talk is None if i in drifted else talk == truth[i]["talk_duration"]
    (count,) = query(
        pg, "SELECT count(*) FROM comagic.calls_report WHERE (_rescued->>'talk_duration')::numeric %% 1 = 0.5"
    )
    assert count == (len(drifted),)


def test_a_load_logs_its_progress(emu, pg, tmp_path, monkeypatch, caplog, capfd):
    from airflow_provider_comagic.landing import progress

    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)  # a line per batch
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    caplog.set_level(logging.INFO)
    load(summary)
    logged = caplog.text + capfd.readouterr().out
    rows = summary["rows"]
    assert f"Loading {summary['partition']} into comagic.calls_report: 1 batch(es), {rows} of ~{rows} rows" in logged


def test_uncommitted_partition_is_not_loaded(pg, tmp_path):
    with pytest.raises(ComagicDataIntegrityError, match="no committed manifest"):
        load({"partition": f"file://{tmp_path}/calls_report/date=2024-03-01"})


def test_postgres_type_mapping():
    import pyarrow as pa

    assert postgres_type(pa.list_(pa.string())) == "jsonb"
    assert postgres_type(pa.float64()) == "double precision"
    assert postgres_type(pa.date32()) == "date"


SMALL = pa.schema([("id", pa.int64()), ("copy", pa.string())])
INTERVAL = {"start": "2024-03-01T00:00:00+03:00", "end": "2024-03-02T00:00:00+03:00"}


def land_copy(lake, name: str, rows: int) -> dict[str, Any]:  # noqa: F811
    pages = [[{"id": i, "copy": name} for i in range(start, min(start + 50, rows))] for start in range(0, rows, 50)]
    return land_pages(  # parts of 100 rows
        pages, lake.url, "parquet", SMALL, conn_id=lake.conn_id, max_rows_per_file=100, extra={"interval": INTERVAL}
    )


def load_lake(lake, table="comagic.small") -> dict[str, Any]:  # noqa: F811
    op = ComagicLandedToPostgresOperator(
        task_id="load",
        partition_path=lake.url,
        table=table,
        postgres_conn_id="postgres_test",
        storage_conn_id=lake.conn_id,
    )
    return op.execute({})


def table_state(dsn) -> list[tuple]:
    return query(dsn, "SELECT copy, count(*), min(_loaded_at), max(_loaded_at) FROM comagic.small GROUP BY copy")


def test_a_manifest_listing_a_missing_part_fails_before_any_row_changes(pg, lake, monkeypatch):  # noqa: F811
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    land_copy(lake, "old", 150)
    load_lake(lake)
    before = table_state(pg)
    manifest = land_copy(lake, "new", 350)
    gone = manifest["files"][2]["path"]
    lake.delete(gone)
    connections = []
    real = PostgresHook.get_conn
    monkeypatch.setattr(PostgresHook, "get_conn", lambda self: connections.append(1) or real(self))
    with pytest.raises(ComagicDataIntegrityError, match=rf"lists parts that are not there: {gone} \(missing\)"):
        load_lake(lake)
    assert connections == []  # failed before it even connected: no transaction, no DELETE
    assert table_state(pg) == before


def test_a_loader_killed_mid_copy_leaves_the_old_rows(pg, lake):  # noqa: F811
    land_copy(lake, "old", 120)
    load_lake(lake)
    before = table_state(pg)
    assert before[0][:2] == ("old", 120)
    land_copy(lake, "new", 400)
    assert kill_loader_mid_copy(context(), lake.url, lake.conn_id, "comagic.small")
    assert table_state(pg) == before  # the killed COPY's transaction is rolled back: the old rows, all of them
    result = load_lake(lake)  # and a rerun loads the new copy
    assert result["rows"] == 400 and [row[:2] for row in table_state(pg)] == [("new", 400)]


def test_a_partition_replaced_during_the_load_is_loaded_again(pg, lake, monkeypatch):  # noqa: F811
    from airflow_provider_comagic.transfers import postgres

    land_copy(lake, "first", 250)
    real = postgres.csv_chunks
    replaced = []

    def replace_after_the_first_chunk(batches):
        for chunk in real(batches):
            yield chunk
            if not replaced:
                replaced.append(land_copy(lake, "second", 180))  # deletes the parts being read

    monkeypatch.setattr(postgres, "csv_chunks", replace_after_the_first_chunk)
    monkeypatch.setattr(postgres, "_BATCH_ROWS", 100)
    result = load_lake(lake)
    assert result["rows"] == 180 and [row[:2] for row in table_state(pg)] == [("second", 180)]


def test_the_manifest_path_loads_like_the_folder(emu, pg, tmp_path):
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    assert load({"partition": summary["manifest"]})["rows"] == summary["rows"] > 0


def test_concurrent_loads_into_a_new_table(emu, pg, tmp_path):
    """One DAG run per partition loads several partitions at once: the first loads race to create the table."""
    import concurrent.futures

    summaries = [land(tmp_path, DAY + dt.timedelta(days=i), DAY + dt.timedelta(days=i + 1)) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4, initializer=allow_execute_in_this_thread) as pool:
        results = list(pool.map(load, summaries))
    assert [r["rows"] for r in results] == [s["rows"] for s in summaries]
    (total,) = query(pg, "SELECT count(*) FROM comagic.calls_report")
    assert total == (sum(s["rows"] for s in summaries),)


def test_openlineage_of_a_load(emu, pg, tmp_path):
    require_import("airflow.providers.openlineage", "the OpenLineage provider (the [test] extra has it)")
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    op = ComagicLandedToPostgresOperator(
        task_id="load",
        partition_path=summary["partition"],
        table="comagic.calls_report",
        postgres_conn_id="postgres_test",
    )
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    (source,), (table,) = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == ("file", str(tmp_path / "calls_report" / "date=2024-03-01"))
    host, port = postgres_connection(pg)["host"], postgres_connection(pg)["port"]
    assert (table.namespace, table.name) == (f"postgres://{host}:{port}", "comagic.comagic.calls_report")
    assert table.outputFacets["outputStatistics"].rowCount == summary["rows"] > 0
    assert "id" in [f.name for f in table.facets["schema"].fields]


def land_client_copy(lake, client: str, rows: int) -> dict[str, Any]:  # noqa: F811
    """A partition of the same interval for another client (``<lake>/customer_id=<client>``)."""
    pages = [[{"id": i, "copy": client} for i in range(rows)]]
    extra = {"interval": INTERVAL, "client": {"customer_id": int(client)}}
    return land_pages(pages, f"{lake.url}/customer_id={client}", "parquet", SMALL, conn_id=lake.conn_id, extra=extra)


def load_client(lake, client: str) -> dict[str, Any]:  # noqa: F811
    op = ComagicLandedToPostgresOperator(
        task_id="load",
        partition_path=f"{lake.url}/customer_id={client}",
        table="comagic.small",
        postgres_conn_id="postgres_test",
        storage_conn_id=lake.conn_id,
    )
    return op.execute({})


def test_partitions_of_the_same_interval_do_not_replace_each_other(pg, lake):  # noqa: F811
    """Two agency clients (or two vPBXs, two reference lists' partitions) of the same day in one table: each load
    replaces its own partition's rows only, identified by the partition, not by the interval."""
    land_client_copy(lake, "500001", 30)
    land_client_copy(lake, "500002", 20)
    load_client(lake, "500001")
    second = load_client(lake, "500002")
    assert second["deleted"] == 0
    assert sorted(query(pg, "SELECT copy, count(*) FROM comagic.small GROUP BY copy")) == [
        ("500001", 30),
        ("500002", 20),
    ]
    land_client_copy(lake, "500001", 25)  # a rerun of the first client replaces its rows, and only those
    again = load_client(lake, "500001")
    assert (again["deleted"], again["rows"]) == (30, 25)
    assert sorted(query(pg, "SELECT copy, count(*) FROM comagic.small GROUP BY copy")) == [
        ("500001", 25),
        ("500002", 20),
    ]
