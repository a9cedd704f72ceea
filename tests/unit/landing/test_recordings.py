"""The storage side of recordings without HTTP (landing/recordings.py): names, what is kept, outcomes, bounded
concurrency, and a fatal error mid-way. Over real HTTP: tests/integration/test_recordings.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time

import pytest

from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.recordings import _outcome, _plan, land_recordings, object_name
from airflow_provider_comagic.utils.recordings import Fetched, Recording

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 3, 3, tzinfo=UTC)


def rec(call="1", record="abc", kind="mp3", fmt="mp3", ended=None):
    return Recording(call, record, kind, fmt, f"https://media/{call}/{record}", ended)


@pytest.mark.parametrize(
    ("recording", "name"),
    [
        (rec(), "part-1-mp3-abc.mp3"),
        (rec("1709276400.5", "1709276400.5", "mp3"), "part-1709276400.5-mp3-1709276400.5.mp3"),
        (rec(kind="wav", fmt="wav"), "part-1-wav-abc.wav"),
        (rec(kind="voice_mail"), "part-1-voice_mail-abc.mp3"),
        (rec(record="a/b?c"), "part-1-mp3-x" + hashlib.sha256(b"a/b?c").hexdigest()[:32] + ".mp3"),
        (rec(call="-1"), "part-x" + hashlib.sha256(b"-1").hexdigest()[:32] + "-mp3-abc.mp3"),
        (rec(record="5f0c-4e2a"), "part-1-mp3-5f0c-4e2a.mp3"),
    ],
)
def test_object_names_are_stable_and_safe(recording, name):
    assert object_name(recording) == name


def test_only_what_the_manifest_lists_as_landed_with_the_same_size_is_kept():
    a, b, c, d = rec("1"), rec("2"), rec("3"), rec("4")
    entry = {"status": "landed", "sha256": "h", "kind": "mp3", "record": "abc", "bytes": 10}
    previous = {
        "files": [
            {**entry, "call": "1", "path": object_name(a)},
            {**entry, "call": "2", "path": object_name(b)},  # its object changed size
            {**entry, "call": "3", "path": "part-old-naming.mp3"},  # another name: fetched again
        ]
    }
    sizes = {object_name(a): 10, object_name(b): 9, "part-old-naming.mp3": 10}
    plan = _plan([a, b, c, d], previous, sizes)
    assert [e["call"] for e in plan.kept] == ["1"] and plan.fetch == [b, c, d]
    assert _plan([a], None, sizes).fetch == [a]


def test_a_404_is_not_ready_for_a_recent_call_and_absent_otherwise():
    missing = Fetched("not_found", "HTTP 404")
    window = dt.timedelta(hours=2)
    assert _outcome(rec(ended=NOW - dt.timedelta(minutes=30)), missing, NOW, window)[0] == "not_ready"
    assert _outcome(rec(ended=NOW - dt.timedelta(hours=3)), missing, NOW, window)[0] == "absent"
    assert _outcome(rec(ended=None), missing, NOW, window)[0] == "absent"
    assert _outcome(rec(), Fetched("empty", "HTTP 400: nothing to join"), NOW, window) == (
        "empty",
        "HTTP 400: nothing to join",
    )
    assert _outcome(rec(), Fetched("failed", "HTTP 403"), NOW, window) == ("failed", "HTTP 403")


class FakeDownloader:
    """Writes ``body`` into each sink after ``pause`` seconds; counts downloads running at once."""

    def __init__(self, concurrency=3, pause=0.02, fail_on=None):
        self.concurrency = concurrency
        self.pause = pause
        self.fail_on = fail_on
        self.running = self.most = self.calls = 0
        self.lock = threading.Lock()

    def fetch(self, recording, open_sink):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.pause)
            if recording.call_id == self.fail_on:
                raise RuntimeError("storage is gone")
            body = b"ID3" + recording.call_id.encode() * 100
            sink = open_sink()
            sink.write(body)
            sink.finish()
            return Fetched("ok", bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
        finally:
            with self.lock:
                self.running -= 1


def test_downloads_run_at_most_concurrency_at_once_and_land_in_order(tmp_path):
    recordings = [rec(str(i)) for i in range(20)]
    downloader = FakeDownloader(concurrency=3)
    manifest = land_recordings(recordings, tmp_path, downloader, extra={"interval": {"start": "x"}})
    assert downloader.most == 3 and downloader.calls == 20
    assert [f["call"] for f in manifest["files"]] == [str(i) for i in range(20)]
    assert manifest["interval"] == {"start": "x"} and manifest["counts"]["landed"] == manifest["rows"] == 20
    from airflow_provider_comagic.landing.lineage import landed_dataset

    statistics = landed_dataset(tmp_path, manifest, output=True).outputFacets["outputStatistics"]  # for lineage
    assert (statistics.rowCount, statistics.fileCount, statistics.size) == (20, 20, manifest["bytes"])
    assert manifest["bytes"] == sum(f["bytes"] for f in manifest["files"])


def test_an_error_mid_way_commits_nothing_and_leaves_no_object(tmp_path):
    previous = land_recordings([rec("1")], tmp_path, FakeDownloader())
    with pytest.raises(RuntimeError, match="storage is gone"):
        land_recordings([rec(str(i)) for i in range(10)], tmp_path, FakeDownloader(fail_on="6"))
    assert read_manifest(tmp_path) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_NAME, object_name(rec("1"))]


def test_duplicate_keys_are_fetched_once_and_nothing_is_an_empty_commit(tmp_path):
    downloader = FakeDownloader()
    manifest = land_recordings([rec("1"), rec("1"), rec("2")], tmp_path, downloader)
    assert downloader.calls == 2 and len(manifest["files"]) == 2
    empty = land_recordings([], tmp_path / "none", downloader)
    assert empty["files"] == [] and empty["missing"] == [] and empty["phase"] == "final"
    assert sorted(p.name for p in (tmp_path / "none").iterdir()) == [MANIFEST_NAME]
