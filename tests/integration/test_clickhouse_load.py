"""Landed partitions into a real ClickHouse server on 127.0.0.1 (tests/fixtures/clickhouse.py): exact rows, rerun,
overlapping and killed loads, partitions replaced mid-load, schema drift, types, bad input."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import logging
import threading
from typing import Any

import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.exceptions import DataIntegrityError, ParameterError
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME
from airflow_provider_comagic.landing.writer import land_pages
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.transfers import clickhouse as loader
from airflow_provider_comagic.transfers.clickhouse import ComagicLandedToClickHouseOperator
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.airflow_compat import allow_execute_in_this_thread
from tests.fixtures.clickhouse import (  # noqa: F401 - fixtures
    PASSWORD,
    PASSWORD_USER,
    clickhouse,
    clickhouse_database,
    kill_loader_mid_insert,
)
from tests.fixtures.lake import lake  # noqa: F401 - fixture
from tests.fixtures.landing_crash import context
from tests.fixtures.processes import require_import

pytestmark = [pytest.mark.integration, pytest.mark.clickhouse]

MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
FIELDS = ["id", "start_time", "finish_time", "direction", "tags", "call_records", "is_lost", "talk_duration"]


@pytest.fixture
def ch(clickhouse, clickhouse_database):  # noqa: F811 - the fixtures above
    """A client of the test's own database."""
    client = clickhouse.client(clickhouse_database)
    yield client
    client.close()


def land(tmp_path, start, end, fmt="parquet") -> dict[str, Any]:
    op = ComagicCallsReportOperator(task_id="calls", output_path=f"file://{tmp_path}", output_format=fmt, fields=FIELDS)
    return op.execute({"data_interval_start": start, "data_interval_end": end, "run_id": "t"})


def load(path: str, table: str = "calls_report", **kwargs: Any) -> dict[str, Any]:
    op = ComagicLandedToClickHouseOperator(
        task_id="load", partition_path=path, table=table, clickhouse_conn_id="clickhouse_test", **kwargs
    )
    return op.execute({})


def rows(ch, sql: str) -> list[tuple]:
    return ch.query(sql).result_rows


def staging_tables(ch) -> list[str]:
    return [
        r[0]
        for r in rows(ch, "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE '%staging%'")
    ]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_partition_loads_with_exact_rows_and_values(emu, ch, tmp_path, fmt):
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1), fmt)
    result = load(summary["partition"])
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=FIELDS)
    assert result["rows"] == len(truth) == summary["rows"] > 0 and result["replaced"] == 0
    assert [r[0] for r in rows(ch, "SELECT id FROM calls_report ORDER BY id")] == sorted(r["id"] for r in truth)
    by_id = {r["id"]: r for r in truth}
    loaded = rows(
        ch, "SELECT id, start_time, direction, tags, is_lost, talk_duration, _day, _interval_start FROM calls_report"
    )
    for row_id, start, direction, tags, is_lost, talk, day, interval_start in loaded:
        sample = by_id[row_id]
        assert start == dt.datetime.strptime(sample["start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=MSK)
        assert start.tzinfo.key == "Europe/Moscow"  # DateTime64 in the account's zone
        assert direction == sample["direction"] and is_lost == sample["is_lost"]
        assert talk == sample["talk_duration"]
        assert [t["tag_id"] for t in tags] == [t["tag_id"] for t in sample["tags"] or []]
        assert day == dt.date(2024, 3, 1) and interval_start == DAY
    assert staging_tables(ch) == []


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_drifted_values_load_typed_or_in_the_rescue_column(emu, ch, tmp_path, fmt):
    """Schema drift (issue 27) through the loader: coerced values typed, rescued ones null with their value as sent
    in ``_rescued``, readable with ClickHouse's JSON functions; a JSON Lines partition is typed on the way."""
    emu.faults.add("drift_number_as_string", field="talk_duration", fraction=0.2, method="get.calls_report")
    emu.faults.add("drift_fractional_int", field="talk_duration", fraction=0.03, method="get.calls_report")
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1), fmt)
    assert load(summary["partition"])["rows"] == summary["rows"]
    truth = emu.truth("get.calls_report", "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=FIELDS)
    loaded = dict(
        (row_id, (talk, sent))
        for row_id, talk, sent in rows(
            ch, "SELECT id, talk_duration, JSONExtractRaw(_rescued, 'talk_duration') FROM calls_report"
        )
    )
    assert sorted(loaded) == sorted(r["id"] for r in truth)
    kinds = {str: 0, float: 0}
    for sample in truth:
        talk, sent = loaded[sample["id"]]
        kinds[type(sample["talk_duration"])] = kinds.get(type(sample["talk_duration"]), 0) + 1
        if isinstance(sample["talk_duration"], float):
            assert talk is None and float(sent) == sample["talk_duration"]
        elif isinstance(sample["talk_duration"], str):
            assert talk == int(sample["talk_duration"]) and not sent
        else:
            assert talk == sample["talk_duration"] and not sent
    assert kinds[str] and kinds[float], kinds


def test_a_load_logs_its_progress(emu, ch, tmp_path, monkeypatch, caplog, capfd):
    from airflow_provider_comagic.landing import progress

    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)  # a line per batch
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    caplog.set_level(logging.INFO)
    load(summary["partition"])
    logged = caplog.text + capfd.readouterr().out
    rows = summary["rows"]
    assert f"Loading {summary['partition']} into calls_report: 1 batch(es), {rows} of ~{rows} rows" in logged


def test_column_types(emu, ch, tmp_path):
    load(land(tmp_path, DAY, DAY + dt.timedelta(days=1))["partition"])
    types = dict(
        rows(ch, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'calls_report'")
    )
    assert types["id"] == "Nullable(Int64)"
    assert types["start_time"] == "Nullable(DateTime64(6, 'Europe/Moscow'))"
    assert types["is_lost"] == "Nullable(Bool)"
    assert types["tags"].startswith("Array(Tuple(") and "tag_id Nullable(Int64), " in types["tags"]
    assert types["_partition"] == "LowCardinality(String)" and types["_day"] == "Date"
    assert types["_interval_start"] == "Nullable(DateTime('Europe/Moscow'))"
    ((partition_key, sorting_key),) = rows(
        ch,
        "SELECT partition_key, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'calls_report'",
    )
    assert (partition_key, sorting_key) == ("(_day, _partition)", "id")  # the catalogue's key of get.calls_report


def test_rerun_replaces_the_partition_and_keeps_the_others(emu, ch, tmp_path):
    first = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    second = land(tmp_path, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2))
    load(first["manifest"])  # the manifest's path loads like the folder's
    load(second["partition"])
    again = load(first["partition"])
    assert again["replaced"] == again["rows"] == first["rows"]
    assert rows(ch, "SELECT count(), uniqExact(id) FROM calls_report") == [(first["rows"] + second["rows"],) * 2]
    assert staging_tables(ch) == []


SMALL = pa.schema([("id", pa.int64()), ("copy", pa.string())])
INTERVAL = {"start": "2024-03-01T00:00:00+03:00", "end": "2024-03-02T00:00:00+03:00", "timezone": "Europe/Moscow"}


def land_copy(lake, name: str, count: int, schema: pa.Schema = SMALL, **extra: Any) -> dict[str, Any]:  # noqa: F811
    def row(i: int) -> dict[str, Any]:
        values = {"id": i, "copy": name, "added": f"new-{i}", "_rescued": None if i % 2 else '{"x": 1}'}
        return {field: values[field] for field in schema.names}

    pages = [[row(i) for i in range(start, min(start + 50, count))] for start in range(0, count, 50)]
    return land_pages(  # parts of 100 rows
        pages,
        lake.url,
        "parquet",
        schema,
        conn_id=lake.conn_id,
        max_rows_per_file=100,
        extra={"interval": INTERVAL, "method": "get.calls_report", "output_schema": "raw", **extra},
    )


def load_lake(lake, table: str = "small", **kwargs: Any) -> dict[str, Any]:  # noqa: F811
    op = ComagicLandedToClickHouseOperator(
        task_id="load",
        partition_path=lake.url,
        table=table,
        clickhouse_conn_id="clickhouse_test",
        storage_conn_id=lake.conn_id,
        **kwargs,
    )
    return op.execute({})


def copies(ch, table: str = "small") -> list[tuple]:
    return rows(
        ch, f"SELECT copy, count(), uniqExact(id), uniqExact(_loaded_at) FROM {table} GROUP BY copy ORDER BY copy"
    )


def test_partitions_of_one_day_never_replace_each_other(ch, lake):  # noqa: F811
    """An agency's clients (or MCN vPBXs, or hours) of the same day: one ClickHouse partition each."""
    client_a, client_b = lake.sub("customer_id=1"), lake.sub("customer_id=2")
    land_copy(client_a, "a", 120)
    land_copy(client_b, "b", 80)
    load_lake(client_a)
    load_lake(client_b)
    land_copy(client_a, "a2", 30)
    assert load_lake(client_a)["replaced"] == 120
    assert [row[:2] for row in copies(ch)] == [("a2", 30), ("b", 80)]


def test_concurrent_loads_of_one_partition_end_with_one_complete_copy(ch, lake, monkeypatch):  # noqa: F811
    """Four loads swap at the same instant (a barrier before REPLACE PARTITION), five times: one copy each time."""
    land_copy(lake, "only", 450)
    real = ComagicLandedToClickHouseOperator._replace
    barrier = threading.Barrier(4)

    def replace_together(*args):
        try:
            barrier.wait(timeout=2)  # under the partition lock only one load gets here at a time: the barrier breaks
        except threading.BrokenBarrierError:
            pass
        return real(*args)

    monkeypatch.setattr(ComagicLandedToClickHouseOperator, "_replace", staticmethod(replace_together))
    for _ in range(5):
        barrier.reset()
        with concurrent.futures.ThreadPoolExecutor(max_workers=4, initializer=allow_execute_in_this_thread) as pool:
            results = list(pool.map(lambda _: load_lake(lake), range(4)))
        assert [r["rows"] for r in results] == [450] * 4
        (copy,) = copies(ch)
        assert copy[:3] == ("only", 450, 450)
    assert staging_tables(ch) == [] and rows(
        ch, "SELECT count() FROM system.tables WHERE name LIKE 'small_lock_%'"
    ) == [(0,)]


def test_concurrent_loads_of_different_days_into_a_new_table(emu, ch, tmp_path):
    summaries = [land(tmp_path, DAY + dt.timedelta(days=i), DAY + dt.timedelta(days=i + 1)) for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4, initializer=allow_execute_in_this_thread) as pool:
        results = list(pool.map(lambda s: load(s["partition"]), summaries))
    assert [r["rows"] for r in results] == [s["rows"] for s in summaries]
    assert rows(ch, "SELECT count() FROM calls_report") == [(sum(s["rows"] for s in summaries),)]


def test_a_loader_killed_mid_insert_leaves_the_previous_copy(ch, lake, monkeypatch):  # noqa: F811
    land_copy(lake, "old", 120)
    load_lake(lake)
    before = copies(ch)
    land_copy(lake, "new", 400)
    assert kill_loader_mid_insert(context(), lake.url, lake.conn_id, "small")
    assert copies(ch) == before  # the killed INSERT went to its staging table only
    (dead,) = staging_tables(ch)
    assert load_lake(lake)["rows"] == 400
    assert [row[:2] for row in copies(ch)] == [("new", 400)]
    assert staging_tables(ch) == [dead]  # a dead load's staging table waits for STALE_STAGING (it may be running)
    monkeypatch.setattr(loader, "STALE_STAGING", dt.timedelta(0))
    load_lake(lake)
    assert staging_tables(ch) == []


def test_a_partition_replaced_during_the_load_is_loaded_again(ch, lake, monkeypatch):  # noqa: F811
    land_copy(lake, "first", 250)
    real = loader.arrow_stream_chunks
    replaced = []

    def replace_after_the_first_chunk(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            yield chunk
            if not replaced:
                replaced.append(land_copy(lake, "second", 180))  # deletes the parts being read

    monkeypatch.setattr(loader, "arrow_stream_chunks", replace_after_the_first_chunk)
    monkeypatch.setattr(loader, "_BATCH_ROWS", 100)
    result = load_lake(lake)
    assert replaced and result["rows"] == 180 and result["landed_run"] == replaced[0]["run_token"]
    assert [row[:2] for row in copies(ch)] == [("second", 180)]
    assert staging_tables(ch) == []


def test_a_commit_after_the_read_is_loaded_instead(ch, lake, monkeypatch):  # noqa: F811
    """The parts were all read before the new commit deleted them: the manifest, read again before the swap,
    tells."""
    land_copy(lake, "first", 60)
    real = loader.ComagicLandedToClickHouseOperator._swap
    recommitted = []

    def commit_then_swap(self, *args):
        if not recommitted:
            recommitted.append(land_copy(lake, "second", 70))
        return real(self, *args)

    monkeypatch.setattr(loader.ComagicLandedToClickHouseOperator, "_swap", commit_then_swap)
    assert load_lake(lake)["rows"] == 70
    assert [row[:2] for row in copies(ch)] == [("second", 70)]


def test_a_failed_load_drops_its_staging_table_and_leaves_the_table(ch, lake, monkeypatch):  # noqa: F811
    land_copy(lake, "old", 90)
    load_lake(lake)
    before = copies(ch)
    land_copy(lake, "new", 300)

    def chunks_then_fail(*args, **kwargs):
        for n, chunk in enumerate(real(*args, **kwargs)):
            yield chunk
            if n == 1:
                raise RuntimeError("the reader broke")

    real = loader.arrow_stream_chunks
    monkeypatch.setattr(loader, "arrow_stream_chunks", chunks_then_fail)
    monkeypatch.setattr(loader, "_BATCH_ROWS", 100)
    with pytest.raises(RuntimeError, match="the reader broke"):
        load_lake(lake)
    assert copies(ch) == before and staging_tables(ch) == []


def test_a_row_count_other_than_the_manifest_fails_before_the_swap(ch, tmp_path, emu):
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    manifest_path = tmp_path / "calls_report" / "date=2024-03-01" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest["rows"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(
        DataIntegrityError, match=rf"{summary['rows']} rows reached the staging table but the manifest lists"
    ):
        load(summary["partition"])
    assert rows(ch, "SELECT count() FROM calls_report") == [(0,)] and staging_tables(ch) == []


def test_an_empty_partition_empties_its_rows(ch, lake):  # noqa: F811
    land_copy(lake, "old", 40)
    load_lake(lake)
    land_copy(lake, "none", 0)
    assert load_lake(lake) | {"rows": 0, "replaced": 40} == load_lake(lake) | {"replaced": 40}
    assert copies(ch) == []


WIDER = pa.schema([("id", pa.int64()), ("copy", pa.string()), ("added", pa.string()), ("_rescued", pa.string())])


def test_a_new_landed_column_is_added_to_the_table(ch, lake):  # noqa: F811
    day_one, day_two = lake.sub("date=2024-03-01"), lake.sub("date=2024-03-02")
    land_copy(day_one, "narrow", 30)
    load_lake(day_one)
    land_copy(day_two, "wide", 20, WIDER)
    load_lake(day_two)
    types = dict(
        rows(ch, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'small'")
    )
    assert types["added"] == types["_rescued"] == "Nullable(String)"
    assert rows(
        ch, "SELECT copy, countIf(added IS NULL), countIf(_rescued IS NOT NULL) FROM small GROUP BY copy ORDER BY copy"
    ) == [
        ("narrow", 30, 0),
        ("wide", 0, 10),
    ]
    land_copy(day_one, "narrow", 30)
    assert load_lake(day_one)["rows"] == 30  # an older, narrower partition still loads: the new columns are NULL


def test_a_new_landed_column_fails_clearly_when_adding_is_off(ch, lake):  # noqa: F811
    land_copy(lake, "narrow", 30)
    load_lake(lake)
    land_copy(lake, "wide", 20, WIDER)
    # every typed partition has _rescued (schema drift), so the narrow table has it already
    with pytest.raises(DataIntegrityError, match=r"lacks: added Nullable\(String\) \(add_new_columns=False"):
        load_lake(lake, add_new_columns=False)
    assert [row[:2] for row in copies(ch)] == [("narrow", 30)] and staging_tables(ch) == []


def test_partitions_without_a_method_or_an_interval(ch, lake):  # noqa: F811
    """An MCN call log (no method: ORDER BY tuple()) and a reference snapshot (no interval: the day of its path)."""
    mcn = lake.sub("mcn_call_log/vpbx_id=7/date=2024-03-01")
    land_pages(
        [[{"callid": "a1", "talktime": 5}]],
        mcn.url,
        "parquet",
        pa.schema([("callid", pa.string()), ("talktime", pa.int64())]),
        conn_id=mcn.conn_id,
        extra={"report": "mcn_call_log", "interval": INTERVAL},
    )
    snapshot = lake.sub("customers/date=2024-03-05")
    land_pages(
        [[{"id": 1, "name": "x"}]],
        snapshot.url,
        "parquet",
        pa.schema([("id", pa.int64()), ("name", pa.string())]),
        conn_id=snapshot.conn_id,
        extra={"method": "get.customers"},
    )
    assert load_lake(mcn, "mcn")["day"] == "2024-03-01"
    result = load_lake(snapshot, "customers")
    assert result["day"] == "2024-03-05" and result["interval_start"] is None
    keys = dict(
        rows(
            ch,
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase() AND name IN ('mcn', 'customers')",
        )
    )
    assert keys == {"mcn": "", "customers": "id"}
    assert rows(ch, "SELECT name, _day, _interval_start FROM customers") == [("x", dt.date(2024, 3, 5), None)]


def test_order_by_given_by_the_user(ch, lake):  # noqa: F811
    land_copy(lake, "x", 10)
    load_lake(lake, order_by="copy, id")
    assert rows(ch, "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'small'") == [
        ("copy, id",)
    ]
    with pytest.raises(ParameterError, match=r"order_by names columns .* does not have: nope"):
        load_lake(lake, table="other", order_by=["nope"])


def test_bad_input_is_refused_before_the_server_is_touched(ch, lake, monkeypatch):  # noqa: F811
    clients = []
    monkeypatch.setattr(loader, "clickhouse_client", lambda conn_id: clients.append(conn_id))
    for table in ("small; DROP TABLE x", "a.b.c", "1st", ""):
        with pytest.raises(ParameterError, match=r"^table must be"):
            load_lake(lake, table=table)
    templated = ComagicLandedToClickHouseOperator(
        task_id="t", partition_path=lake.url, table="{{ params.table }}", storage_conn_id=lake.conn_id
    )
    templated.table = "bad name"  # as rendered
    with pytest.raises(ParameterError, match=r"^table must be"):
        templated.execute({})
    with pytest.raises(ParameterError, match=r"^partition_path: .* has no committed manifest"):
        load_lake(lake)
    land_copy(lake, "x", 250)
    gone = land_copy(lake, "x", 250)["files"][1]["path"]
    lake.delete(gone)
    with pytest.raises(DataIntegrityError, match=rf"{gone} \(missing\)"):
        load_lake(lake)
    with pytest.raises(ParameterError, match=r"^engine must be a MergeTree engine"):
        ComagicLandedToClickHouseOperator(task_id="t", partition_path="x", table="t", engine="Memory")
    assert clients == []


def test_a_table_partitioned_otherwise_is_refused(ch, lake):  # noqa: F811
    ch.command("CREATE TABLE small (id Nullable(Int64), copy Nullable(String)) ENGINE = MergeTree ORDER BY tuple()")
    ch.command("INSERT INTO small VALUES (1, 'mine')")
    land_copy(lake, "x", 10)
    with pytest.raises(
        DataIntegrityError, match=r"partitioned by nothing, not a MergeTree table partitioned by \(_day, _partition\)"
    ):
        load_lake(lake)
    assert rows(ch, "SELECT * FROM small") == [(1, "mine")] and staging_tables(ch) == []


def test_without_the_official_provider_the_same_connection_works(ch, lake, monkeypatch):  # noqa: F811
    from airflow_provider_comagic.transfers import clickhouse_client

    monkeypatch.setattr(clickhouse_client, "official_hook", lambda: None)
    land_copy(lake, "x", 10)
    assert load_lake(lake)["rows"] == 10


def test_the_official_provider_hook_is_used_when_installed(ch, lake, monkeypatch):  # noqa: F811
    if not AIRFLOW_V_3_0_PLUS:
        pytest.skip("the official ClickHouse provider needs Airflow 2.11+ (not the 2.10 leg)")
    module = "airflow.providers.clickhousedb.hooks.clickhouse"
    hook = require_import(module, "make setup installs the test-airflow3 extra").ClickHouseHook
    made = []
    real = hook.get_client
    monkeypatch.setattr(hook, "get_client", lambda self: made.append(self.client_kwargs) or real(self))
    land_copy(lake, "x", 10)
    assert load_lake(lake)["rows"] == 10
    assert made == [{"autogenerate_session_id": False}]


def test_openlineage_of_a_load(emu, ch, clickhouse, clickhouse_database, tmp_path):  # noqa: F811
    pytest.importorskip("airflow.providers.openlineage")
    summary = land(tmp_path, DAY, DAY + dt.timedelta(days=1))
    op = ComagicLandedToClickHouseOperator(
        task_id="load", partition_path=summary["partition"], table="calls_report", clickhouse_conn_id="clickhouse_test"
    )
    op.execute({})
    lineage = op.get_openlineage_facets_on_complete(None)
    (source,), (table,) = lineage.inputs, lineage.outputs
    assert (source.namespace, source.name) == ("file", str(tmp_path / "calls_report" / "date=2024-03-01"))
    assert (table.namespace, table.name) == (
        f"clickhouse://127.0.0.1:{clickhouse.http_port}",
        f"{clickhouse_database}.calls_report",
    )
    assert table.outputFacets["outputStatistics"].rowCount == summary["rows"] > 0
    assert ("start_time", "Nullable(DateTime64(6, 'Europe/Moscow'))") in [
        (f.name, f.type) for f in table.facets["schema"].fields
    ]


def test_a_password_never_shows_in_errors_or_logs(ch, clickhouse, clickhouse_database, lake, monkeypatch, caplog):  # noqa: F811
    land_copy(lake, "x", 10)
    for password in ("Wrong-pw-4402", PASSWORD):
        connection = {**clickhouse.connection(clickhouse_database), "login": PASSWORD_USER, "password": password}
        monkeypatch.setenv("AIRFLOW_CONN_CLICKHOUSE_TEST", json.dumps(connection))
        try:
            outcome = str(load_lake(lake))
        except Exception as error:  # the wrong password
            outcome = f"{error!r} {error.__cause__!r} {error.__context__!r}"
            assert "Authentication failed" in outcome
        assert password not in outcome and password not in caplog.text
    assert outcome.startswith("{'table'") and rows(ch, "SELECT count() FROM small") == [(10,)]


def test_a_swap_lock_left_by_a_dead_load_is_taken_over(ch, clickhouse, clickhouse_database, lake, monkeypatch):  # noqa: F811
    from airflow_provider_comagic.landing.manifest import read_manifest
    from airflow_provider_comagic.landing.storage import to_storage_path
    from airflow_provider_comagic.transfers.clickhouse_schema import LandedPartition

    land_copy(lake, "x", 10)
    load_lake(lake)
    partition = to_storage_path(lake.url, lake.conn_id)
    landed = LandedPartition.from_manifest(partition, read_manifest(partition))
    held = loader.partition_lock(ch, clickhouse_database, "small", landed, None)
    held.__enter__()  # a load that died holding the lock: never released
    monkeypatch.setattr(loader, "_LOCK_WAIT", dt.timedelta(seconds=0.3))
    with pytest.raises(DataIntegrityError, match=r"another load of .* held .*small_lock_.*nothing was swapped"):
        load_lake(lake)
    monkeypatch.setattr(loader, "STALE_LOCK", dt.timedelta(seconds=-1))  # it is old enough now
    assert load_lake(lake)["rows"] == 10
    assert rows(
        ch, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name LIKE 'small_lock_%'"
    ) == [(0,)]
