"""The partition commit protocol step by step, on file:// and on moto's S3 (landing/commit.py, landing/storage.py)."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing import commit
from airflow_provider_comagic.landing.commit import PHASE_FINAL, PHASE_PUBLISHING, repair_partition, staged_name
from airflow_provider_comagic.landing.guard import with_rescued_column
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows, landed_dataset, landed_relation
from airflow_provider_comagic.landing.storage import ManifestConflict, PlainStore, store_for, to_storage_path
from airflow_provider_comagic.landing.writer import PartitionWriter, land_pages
from tests.fixtures.lake import Lake, lake  # noqa: F401 - fixture
from tests.fixtures.landing import as_given
from tests.fixtures.landing_hooks import instrument

SCHEMA = pa.schema([("id", pa.int64()), ("run", pa.string())])


class Killed(BaseException):
    """Stands for the death of the process at a store call (the writer's own cleanup never runs)."""


def rows(run: str, n: int, start: int = 0) -> list[dict]:
    return [{"id": start + i, "run": run} for i in range(n)]


def writer(lake: Lake, **options) -> PartitionWriter:  # noqa: F811
    return PartitionWriter(lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50, **options)


def landed(lake: Lake) -> list[dict]:  # noqa: F811
    return sorted(as_given(iter_landed_rows(lake.url, lake.conn_id)), key=lambda r: (r["run"], r["id"]))


def committed_names(lake: Lake) -> list[str]:  # noqa: F811
    return sorted(f["path"] for f in read_manifest(lake.url, lake.conn_id)["files"])


def test_every_step_keeps_one_committed_copy_and_glob_readers_never_see_two(lake):  # noqa: F811
    land_pages([rows("old", 120)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50)
    old_parts = lake.visible()
    seen = []

    def snapshot(step):
        manifest = read_manifest(lake.url, lake.conn_id)
        listed = [entry["path"] for entry in manifest["files"]]
        seen.append((repr(step), manifest["run_token"], manifest.get("phase"), lake.visible(), listed))
        for entry in manifest["files"]:  # invariant 1 at every step: every listed part is there
            assert entry["path"] in lake.names()

    w = writer(lake)
    instrument(w.store, before=snapshot, after=snapshot)
    w.write(rows("new", 130))
    manifest = w.commit()
    new_parts = [f["path"] for f in manifest["files"]]
    for step, token, phase, visible, listed in seen:
        # the glob view is the old copy, part of it (during the delete), nothing, or the new copy growing
        assert set(visible) <= set(old_parts) or set(visible) <= set(new_parts), step
        if token == w.token and phase == PHASE_PUBLISHING:  # C1 lists the hidden names
            assert listed == [staged_name(name) for name in new_parts], step
    assert next(s[2] for s in seen if s[1] == w.token) == PHASE_PUBLISHING
    assert manifest["phase"] == PHASE_FINAL and manifest["replaces"]["rows"] == 120
    assert lake.names() == sorted([MANIFEST_NAME, *new_parts]) and lake.visible() == sorted(new_parts)
    assert landed(lake) == rows("new", 130)


def test_store_calls_of_a_commit(lake):  # noqa: F811
    land_pages([rows("old", 10)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id)
    w = writer(lake)
    log = instrument(w.store)
    w.write(rows("new", 120))
    w.commit()
    assert [step.op for step in log] == [
        "list",
        "read_manifest",
        "put_manifest",
        "delete",
        "publish",
        "put_manifest",
        "delete",
    ]


def test_a_later_commit_supersedes_one_between_its_two_manifest_writes(lake):  # noqa: F811
    first = writer(lake)
    first.write(rows("first", 120))
    second = writer(lake)
    second.write(rows("second", 70))
    done = []

    def let_the_second_commit(step):
        if step.op == "publish" and not done:
            done.append(second.commit())  # the second run commits while the first is between C1 and P

    instrument(first.store, before=let_the_second_commit)
    manifest = first.commit()
    assert first.superseded_by["run_token"] == second.token == manifest["superseded_by"]["run_token"]
    assert second.superseded_by is None and done[0]["replaces"]["run_token"] == first.token
    assert landed(lake) == rows("second", 70)
    assert lake.names() == sorted([MANIFEST_NAME, *committed_names(lake)])  # nothing of the first run is left


def test_a_commit_retries_when_the_manifest_changed_after_it_was_read(lake):  # noqa: F811
    land_pages([rows("old", 5)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id)
    slow = writer(lake)
    slow.write(rows("slow", 60))
    fast = writer(lake)
    fast.write(rows("fast", 30))

    def commit_the_other_first(step):
        if step.op == "put_manifest" and step.put == 1:
            fast.commit()

    log = instrument(slow.store, before=commit_the_other_first)
    manifest = slow.commit()
    assert [s.op for s in log].count("read_manifest") == 2  # the conflict, then the re-read
    assert slow.superseded_by is None and manifest["replaces"]["run_token"] == fast.token
    assert landed(lake) == rows("slow", 60)
    assert lake.names() == sorted([MANIFEST_NAME, *committed_names(lake)])


def test_parts_of_a_suspended_run_survive_other_commits_and_resume(lake):  # noqa: F811
    with writer(lake) as deferred:
        deferred.write(rows("deferred", 80))
        state = deferred.suspend()
    land_pages([rows("other", 40)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50)
    land_pages([rows("other", 45)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50)
    assert {staged_name(f["path"]) for f in state["files"]} <= set(lake.names())
    resumed = PartitionWriter.resume(state, lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50)
    resumed.write(rows("deferred", 20, start=80))
    resumed.commit()
    assert landed(lake) == rows("deferred", 100)
    assert lake.names() == sorted([MANIFEST_NAME, *committed_names(lake)])


def test_cleanup_deletes_only_what_is_provably_dead(lake, monkeypatch):  # noqa: F811
    land_pages([rows("old", 10)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id)
    lake.write("part-dead-00000.parquet", b"a visible part no manifest lists")
    lake.write("_tmp-ancient-00000.parquet", b"older than the grace period")
    lake.write("_tmp-running-00000.parquet", b"a run in progress")
    lake.write("_SUCCESS", b"someone else's")
    w = writer(lake)
    real_list = type(w.store).list

    def aged_list(store):  # S3 cannot backdate an object: report an old LastModified for the ancient one
        return [
            entry
            if not entry.name.startswith("_tmp-ancient")
            else type(entry)(entry.name, entry.size, time.time() - 3 * 86400)
            for entry in real_list(store)
        ]

    monkeypatch.setattr(type(w.store), "list", aged_list)
    w.write(rows("new", 10))
    w.commit()
    assert lake.names() == sorted([MANIFEST_NAME, "_SUCCESS", "_tmp-running-00000.parquet", *committed_names(lake)])


def test_repair_finishes_a_commit_killed_between_its_manifest_writes(lake):  # noqa: F811
    land_pages([rows("old", 120)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id, max_rows_per_file=50)
    w = writer(lake)

    def die_while_publishing(step):
        if step.op == "publish":
            raise Killed

    instrument(w.store, before=die_while_publishing)
    w.write(rows("new", 130))
    with pytest.raises(Killed):
        w.commit()
    manifest = read_manifest(lake.url, lake.conn_id)
    assert manifest["run_token"] == w.token and manifest["phase"] == PHASE_PUBLISHING
    assert landed(lake) == rows("new", 130)  # readers through the manifest see the new copy already
    assert lake.visible() == []  # the old copy is deleted, the new one not yet published
    removed = repair_partition(store_for(to_storage_path(lake.url, lake.conn_id)))
    assert removed == set() or all(name.startswith("_tmp-") for name in removed)
    assert read_manifest(lake.url, lake.conn_id)["phase"] == PHASE_FINAL
    assert lake.names() == sorted([MANIFEST_NAME, *committed_names(lake)])
    assert lake.glob_table().num_rows == 130


def test_a_new_writer_repairs_the_partition_when_it_opens_it(lake):  # noqa: F811
    w = writer(lake)

    def die_before_the_final_manifest(step):
        if step.op == "put_manifest" and step.put == 2:
            raise Killed

    instrument(w.store, before=die_before_the_final_manifest)
    w.write(rows("new", 70))
    with pytest.raises(Killed):
        w.commit()
    writer(lake).abort()  # just opening the partition finishes the killed run's commit
    assert read_manifest(lake.url, lake.conn_id)["phase"] == PHASE_FINAL
    assert lake.names() == sorted([MANIFEST_NAME, *committed_names(lake)])


def test_parts_missing_or_too_old_fail_before_the_commit_point(lake, monkeypatch):  # noqa: F811
    land_pages([rows("old", 10)], lake.url, "parquet", SCHEMA, conn_id=lake.conn_id)
    before = lake.read(MANIFEST_NAME)
    w = writer(lake)
    w.write(rows("new", 60))
    w._close_part()
    lake.delete(staged_name(w.files[0]["path"]))
    with pytest.raises(
        LandingError, match=r"parts of this run are missing or incomplete: _tmp-.*-00000\.parquet \(missing\)"
    ):
        w.commit()
    assert lake.read(MANIFEST_NAME) == before
    old = writer(lake, orphan_grace_period=10)
    old.write(rows("new", 5))
    monkeypatch.setattr(commit, "_now", lambda: time.time() + 9.5)  # 95% of the grace period later
    with pytest.raises(LandingError, match="close to the orphan grace period"):
        old.commit()
    assert lake.read(MANIFEST_NAME) == before


def test_readers_of_a_publishing_manifest_fall_back_to_the_visible_copies(lake):  # noqa: F811
    w = writer(lake)
    first_manifest = {}

    def publish_then_stop(step):
        if step.op == "put_manifest" and step.put == 2:
            first_manifest.update(read_manifest(lake.url, lake.conn_id))
            raise Killed

    instrument(w.store, before=publish_then_stop)
    w.write(rows("new", 120))
    with pytest.raises(Killed):
        w.commit()
    for entry in first_manifest["files"]:
        lake.delete(entry["path"])  # as the run's own cleanup does right after its final manifest
    assert landed(lake) == rows("new", 120)
    assert landed_dataset(lake.url, lake.conn_id).to_table().num_rows == 120


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_dataset_and_duckdb_relation_of_exactly_the_committed_copy(lake, fmt):  # noqa: F811
    land_pages([rows("old", 30)], lake.url, fmt, SCHEMA, conn_id=lake.conn_id)
    land_pages(
        [rows("new", 100), rows("new", 50, 100)], lake.url, fmt, SCHEMA, conn_id=lake.conn_id, max_rows_per_file=60
    )
    lake.write("_tmp-running-00000.parquet", b"not committed")
    table = landed_dataset(lake.url, lake.conn_id).to_table()
    assert table.schema == with_rescued_column(SCHEMA) and sorted(table.column("id").to_pylist()) == list(range(150))
    relation = landed_relation(lake.url, lake.conn_id)
    assert relation.aggregate("count(*), min(run), max(run), sum(id)").fetchall() == [
        (150, "new", "new", sum(range(150)))
    ]


def test_conditional_manifest_writes(lake):  # noqa: F811
    store = store_for(to_storage_path(lake.url, lake.conn_id))
    assert store.read_manifest() == (None, None)
    first = store.put_manifest(b'{"v": 1}', None)
    with pytest.raises(ManifestConflict):
        store.put_manifest(b'{"v": 2}', None)  # create-if-absent
    second = store.put_manifest(b'{"v": 2}', first)
    with pytest.raises(ManifestConflict):
        store.put_manifest(b'{"v": 3}', first)  # a stale version
    assert store.read_manifest() == (b'{"v": 2}', second)


def test_compare_and_swap_loses_no_update_under_contention(lake):  # noqa: F811
    store_path = to_storage_path(lake.url, lake.conn_id)
    store_for(store_path).put_manifest(b"0", None)
    threads, per_thread, conflicts = 4, 15, []

    def increment():
        store = store_for(store_path)
        for _ in range(per_thread):
            while True:
                body, version = store.read_manifest()
                try:
                    store.put_manifest(str(int(body) + 1).encode(), version)
                    break
                except ManifestConflict:
                    conflicts.append(1)

    workers = [threading.Thread(target=increment) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert int(store_for(store_path).read_manifest()[0]) == threads * per_thread


def test_stores_are_chosen_by_scheme(tmp_path, s3_bucket, s3_conn):
    assert type(store_for(to_storage_path(tmp_path))).__name__ == "LocalStore"
    assert type(store_for(to_storage_path(f"s3://{s3_bucket}/p", s3_conn))).__name__ == "S3Store"


def test_a_store_without_preconditions_runs_the_same_protocol(tmp_path, monkeypatch):
    """Any other fsspec store (gs:// through gcsfs...) gets PlainStore: re-read before and after each write."""
    from airflow_provider_comagic.landing import writer as writer_module

    monkeypatch.setattr(writer_module, "store_for", PlainStore)
    url = f"file://{tmp_path}/plain"
    land_pages([rows("old", 70)], url, "parquet", SCHEMA, max_rows_per_file=50)
    manifest = land_pages([rows("new", 120)], url, "parquet", SCHEMA, max_rows_per_file=50)
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == sorted(
        [MANIFEST_NAME, *(f["path"] for f in manifest["files"])]
    )
    assert sorted(r["id"] for r in iter_landed_rows(url)) == list(range(120))
    store = PlainStore(to_storage_path(url))
    body, version = store.read_manifest()
    with pytest.raises(ManifestConflict):
        store.put_manifest(b"{}", "not-the-version")
    assert store.read_manifest() == (body, version) and not store.conditional
