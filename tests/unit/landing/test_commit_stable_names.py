"""The commit protocol with stable object names and kept files (landing/commit.py, *Stable names*), on file://
and on moto's S3: what a landing of one file per call and record id (recordings) relies on."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.commit import PHASE_FINAL, PHASE_PUBLISHING, commit_partition, repair_partition
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.storage import store_for, to_storage_path
from tests.fixtures.lake import Lake, lake  # noqa: F401 - fixture
from tests.fixtures.landing_hooks import instrument


class Killed(BaseException):
    """Stands for the death of the process at a store call."""


def store(lake: Lake):  # noqa: F811
    return store_for(to_storage_path(lake.url, lake.conn_id))


def stage(lake: Lake, token: str, name: str, data: bytes) -> dict:  # noqa: F811
    """Write a new file under its hidden name; the entry commit_partition takes for it."""
    hidden = f"_tmp-{token}-{name}"
    lake.write(hidden, data)
    return {"path": f"part-{name}", "staged": hidden, "bytes": len(data), "sha256": f"h-{data!r}"}


def builder(token: str):
    def build(phase, files, replaces):
        return {
            "run_token": token,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "files": files,
            "phase": phase,
            "replaces": replaces,
        }

    return build


def commit(lake: Lake, token: str, files, kept=(), s=None):  # noqa: F811
    return commit_partition(s or store(lake), files, builder(token), kept=kept).manifest


def listed(lake: Lake) -> dict:  # noqa: F811
    return {f["path"]: f for f in read_manifest(lake.url, lake.conn_id)["files"]}


def test_new_files_are_published_under_their_stable_names(lake):  # noqa: F811
    seen = []
    s = store(lake)
    instrument(s, before=lambda step: seen.append((step.op, read_manifest(lake.url, lake.conn_id))))
    manifest = commit(
        lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA"), stage(lake, "t1", "2-mp3-b.mp3", b"BB")], s=s
    )
    c1 = next(m for op, m in seen if op == "publish")
    assert c1["phase"] == PHASE_PUBLISHING
    assert {(f["path"], f["publish_as"]) for f in c1["files"]} == {
        ("_tmp-t1-1-mp3-a.mp3", "part-1-mp3-a.mp3"),
        ("_tmp-t1-2-mp3-b.mp3", "part-2-mp3-b.mp3"),
    }
    assert manifest["phase"] == PHASE_FINAL and "publish_as" not in manifest["files"][0]
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3", "part-2-mp3-b.mp3"]
    assert lake.read("part-1-mp3-a.mp3") == b"AAAA"


def test_kept_files_are_listed_as_they_are_and_neither_copied_nor_deleted(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA"), stage(lake, "t1", "9-mp3-z.mp3", b"ZZ")])
    previous = listed(lake)
    s = store(lake)
    log = instrument(s)
    kept = [previous["part-1-mp3-a.mp3"]]
    manifest = commit(lake, "t2", [stage(lake, "t2", "2-mp3-b.mp3", b"BBB")], kept=kept, s=s)
    publish = next(step for step in log if step.op == "publish")
    assert [copy[1] for copy in publish.args[0]] == ["part-2-mp3-b.mp3"]  # the kept file is not copied again
    assert {f["path"] for f in manifest["files"]} == {"part-1-mp3-a.mp3", "part-2-mp3-b.mp3"}
    assert manifest["replaces"]["run_token"] == "t1"
    # the file the new copy no longer lists is deleted; the kept one stays with its bytes
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3", "part-2-mp3-b.mp3"]
    assert lake.read("part-1-mp3-a.mp3") == b"AAAA"


def test_a_commit_of_kept_files_only_is_final_at_once(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA")])
    s = store(lake)
    log = instrument(s)
    manifest = commit(lake, "t2", [], kept=list(listed(lake).values()), s=s)
    assert manifest["phase"] == PHASE_FINAL and [f["path"] for f in manifest["files"]] == ["part-1-mp3-a.mp3"]
    assert [step.op for step in log].count("put_manifest") == 1 and "publish" not in [step.op for step in log]
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3"]


def test_a_file_fetched_again_replaces_its_stable_name(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"OLD")])
    commit(lake, "t2", [stage(lake, "t2", "1-mp3-a.mp3", b"NEWER")])
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3"] and lake.read("part-1-mp3-a.mp3") == b"NEWER"
    assert listed(lake)["part-1-mp3-a.mp3"]["bytes"] == 5


def test_keeping_a_file_the_committed_manifest_no_longer_lists_commits_nothing(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA")])
    kept = list(listed(lake).values())
    commit(lake, "t2", [stage(lake, "t2", "2-mp3-b.mp3", b"BB")])  # another run dropped part-1 meanwhile
    lake.write("part-1-mp3-a.mp3", b"AAAA")  # (as if its delete had not happened yet)
    before = read_manifest(lake.url, lake.conn_id)
    with pytest.raises(LandingError, match="another run changed the partition meanwhile"):
        commit(lake, "t3", [stage(lake, "t3", "3-mp3-c.mp3", b"C")], kept=kept)
    assert read_manifest(lake.url, lake.conn_id) == before


def test_a_kept_file_that_is_gone_fails_before_the_commit_point(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA")])
    kept = list(listed(lake).values())
    lake.delete("part-1-mp3-a.mp3")
    before = read_manifest(lake.url, lake.conn_id)
    with pytest.raises(LandingError, match=r"part-1-mp3-a\.mp3 \(kept: missing\)"):
        commit(lake, "t2", [], kept=kept)
    assert read_manifest(lake.url, lake.conn_id) == before


def test_a_superseded_run_leaves_the_stable_names_the_later_run_published(lake):  # noqa: F811
    first = store(lake)
    files = [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA")]
    done = []

    def let_the_second_commit(step):
        if step.op == "put_manifest" and step.put == 2 and not done:
            done.append(commit(lake, "t2", [stage(lake, "t2", "1-mp3-a.mp3", b"AAAA")]))

    instrument(first, before=let_the_second_commit)
    result = commit_partition(first, files, builder("t1"))
    assert result.superseded_by["run_token"] == "t2"
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3"] and lake.read("part-1-mp3-a.mp3") == b"AAAA"
    assert read_manifest(lake.url, lake.conn_id)["run_token"] == "t2"


def test_repair_publishes_the_stable_names_of_a_killed_commit(lake):  # noqa: F811
    commit(lake, "t1", [stage(lake, "t1", "1-mp3-a.mp3", b"AAAA")])
    kept = list(listed(lake).values())
    s = store(lake)

    def die_while_publishing(step):
        if step.op == "publish":
            raise Killed

    instrument(s, before=die_while_publishing)
    with pytest.raises(Killed):
        commit(lake, "t2", [stage(lake, "t2", "2-mp3-b.mp3", b"BB")], kept=kept, s=s)
    assert read_manifest(lake.url, lake.conn_id)["phase"] == PHASE_PUBLISHING
    repair_partition(store(lake))
    manifest = read_manifest(lake.url, lake.conn_id)
    assert manifest["phase"] == PHASE_FINAL and manifest["run_token"] == "t2"
    assert sorted(listed(lake)) == ["part-1-mp3-a.mp3", "part-2-mp3-b.mp3"]
    assert lake.names() == [MANIFEST_NAME, "part-1-mp3-a.mp3", "part-2-mp3-b.mp3"]
