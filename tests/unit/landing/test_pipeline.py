"""The landing pipeline with fake page sources: a partition written and committed, suspended and continued, the
run over intervals and clients paused, resumed, skipped; every state through JSON as Airflow keeps it."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from airflow_provider_comagic.landing import checkpoint
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.pipeline import (
    LandingRun,
    MappedSource,
    PartitionSuspended,
    PartitionTarget,
    RunPaused,
    Step,
    land_partition,
    partition_entry,
)
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.storage import to_storage_path

UTC = dt.timezone.utc
DAY = dt.datetime(2024, 3, 1, tzinfo=UTC)


class Pause(Exception):
    """What a source raises when its task should wait (a spent quota)."""


class Boom(Exception):
    """A failure that is not a pause."""


class FakeSource:
    """Rows ``0..count-1`` in pages of ``page``; raises ``Pause`` when about to fetch the page at each offset of
    ``pause_at`` (once each), ``Boom`` at ``fail_at``. Counts the pages it fetched."""

    def __init__(self, count: int, page: int = 10, pause_at: set[int] | None = None, fail_at: int | None = None):
        self.count, self.page = count, page
        self.pause_at = set(pause_at or ())
        self.fail_at = fail_at
        self.offset = 0
        self.fetched: list[int] = []
        self.spent_before = 0
        self.restored: tuple[Mapping[str, Any], Mapping[str, int]] | None = None

    def pages(self) -> Iterator[list[dict[str, Any]]]:
        while self.offset < self.count:
            if self.offset in self.pause_at:
                self.pause_at.discard(self.offset)
                raise Pause(f"quota spent at offset {self.offset}")
            if self.offset == self.fail_at:
                raise Boom("the server broke")
            rows = [{"id": i, "name": f"row {i}"} for i in range(self.offset, min(self.offset + self.page, self.count))]
            self.fetched.append(self.offset)
            self.offset += len(rows)  # fed: the position is past the page before it is handed over
            yield rows

    def position(self) -> dict[str, Any]:
        return {"offset": self.offset, "padding": "x" * 50}

    def restore(self, position: Mapping[str, Any], spent: Mapping[str, int]) -> None:
        self.restored = (dict(position), dict(spent))
        self.offset = position["offset"]
        self.spent_before = spent["calls"]

    def usage(self) -> dict[str, int]:
        return {"calls": self.spent_before + len(self.fetched)}

    def describe(self) -> dict[str, Any]:
        return {"method": "fake.rows", "api": self.usage()}


def target(tmp_path, name: str = "day", fmt: str = "jsonl") -> PartitionTarget:
    return PartitionTarget(to_storage_path(str(tmp_path / name)), fmt, None, {"max_rows_per_file": 1000})


def ids(path) -> list[int]:
    return sorted(row["id"] for row in iter_landed_rows(str(path)))


def round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))  # what Airflow's metadata database gives back


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_partition_is_written_committed_and_described(tmp_path, fmt):
    where = target(tmp_path, fmt=fmt)
    manifest = land_partition(FakeSource(35), where, label="fake", extra=lambda: {"interval": "the day"})
    assert manifest["rows"] == 35 and manifest["method"] == "fake.rows" and manifest["interval"] == "the day"
    assert manifest["api"] == {"calls": 4}
    assert ids(where.path) == list(range(35)) and read_manifest(str(where.path))["rows"] == 35


def test_a_paused_partition_is_suspended_and_continues_without_reading_a_page_twice(tmp_path):
    where = target(tmp_path)
    first = FakeSource(45, pause_at={20})
    with pytest.raises(PartitionSuspended) as suspended:
        land_partition(first, where, label="fake", pause_on=(Pause,))
    assert isinstance(suspended.value.__cause__, Pause)
    saved = round_trip(suspended.value.checkpoint)
    assert saved["writer"]["rows"] == 20 and saved["plan"] == {"inline": first.position()}
    assert saved["api"] == {"calls": 2}
    assert not (where.path / MANIFEST_NAME).exists()  # nothing committed while suspended

    second = FakeSource(45)
    manifest = land_partition(second, where, label="fake", checkpoint=saved, pause_on=(Pause,))
    assert second.restored == (first.position(), {"calls": 2})
    assert second.fetched == [20, 30, 40]  # continued at the page that paused
    assert ids(where.path) == list(range(45)) and manifest["api"] == {"calls": 5}
    assert len(manifest["files"]) == 2  # the part finished at the pause, then the rest


def test_a_large_position_goes_to_a_scratch_object_removed_by_the_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "INLINE_PLAN_STATE_BYTES", 20)
    where = target(tmp_path)
    with pytest.raises(PartitionSuspended) as suspended:
        land_partition(FakeSource(30, pause_at={10}), where, label="fake", pause_on=(Pause,))
    packed = round_trip(suspended.value.checkpoint)["plan"]
    assert "inline" not in packed and packed["scratch"] in os.listdir(where.path.path)
    second = FakeSource(30)
    land_partition(second, where, label="fake", checkpoint=round_trip(suspended.value.checkpoint))
    assert second.restored[0]["offset"] == 10 and ids(where.path) == list(range(30))
    assert not [name for name in os.listdir(where.path.path) if name.startswith("_tmp-")]


def test_without_pause_rules_the_error_discards_the_run_and_keeps_the_previous_copy(tmp_path):
    where = target(tmp_path)
    land_partition(FakeSource(5), where, label="fake")
    with pytest.raises(Pause):
        land_partition(FakeSource(40, pause_at={20}), where, label="fake")
    with pytest.raises(Boom):
        land_partition(FakeSource(40, fail_at=30), where, label="fake", pause_on=(Pause,))
    assert ids(where.path) == list(range(5))
    committed = read_manifest(str(where.path))["files"]
    assert sorted(os.listdir(where.path.path)) == sorted([MANIFEST_NAME, *(f["path"] for f in committed)])


def test_a_mapped_source_maps_pages_and_keeps_the_position(tmp_path):
    inner = FakeSource(12, pause_at={10})
    mapped = MappedSource(inner, lambda pages: ([{**row, "id": row["id"] * 2} for row in page] for page in pages))
    where = target(tmp_path)
    with pytest.raises(PartitionSuspended) as suspended:
        land_partition(mapped, where, label="mapped", pause_on=(Pause,))
    again = MappedSource(FakeSource(12), lambda pages: ([{**r, "id": r["id"] * 2} for r in p] for p in pages))
    land_partition(again, where, label="mapped", checkpoint=round_trip(suspended.value.checkpoint))
    assert ids(where.path) == [2 * i for i in range(12)]
    assert again.position()["offset"] == 12 and again.describe()["method"] == "fake.rows"


def test_partition_entry_names_what_the_events_and_summary_need(tmp_path):
    where = target(tmp_path)
    manifest = land_partition(FakeSource(3), where, label="fake")
    manifest["api"] = {"calls": 2, "points": 2}
    entry = partition_entry(
        where.path, manifest, key="7|2024-03-01", labels={"customer_id": 7, "user_id": None}, dates=("a", "b")
    )
    assert entry == {
        "partition_key": "7|2024-03-01",
        "customer_id": 7,
        "replaced": False,
        "manifest": str(where.path / MANIFEST_NAME),
        "partition": str(where.path),
        "rows": 3,
        "files": 1,
        "bytes": manifest["bytes"],
        "api_calls": 2,
        "points": 2,
        "date_from": "a",
        "date_till": "b",
    }


# -- the run over intervals and clients ------------------------------------------------------------------------------
INTERVALS = [(DAY, DAY + dt.timedelta(days=1)), (DAY - dt.timedelta(days=1), DAY)]


class Lands:
    """A land_step over fake sources: ``rows[(client, day)]`` rows each; pauses once where ``pause`` says
    (``(client, day, offset)``; offset None: before the partition starts). Records the steps it was given."""

    def __init__(self, tmp_path, rows: dict[tuple[str, str], int], pause: tuple[str, str, int | None] | None = None):
        self.tmp_path, self.rows, self.pause = tmp_path, rows, pause
        self.steps: list[tuple[str, str, bool]] = []

    def __call__(self, step: Step[str]) -> dict[str, Any]:
        day = f"{step.start:%Y-%m-%d}"
        self.steps.append((step.client, day, step.checkpoint is not None))
        if step.client == "denied":
            raise PermissionError("no access")
        pause_at = set()
        if self.pause is not None and self.pause[:2] == (step.client, day):
            offset = self.pause[2]
            self.pause = None
            if offset is None:
                raise Pause("spent before the partition")
            pause_at = {offset}
        where = target(self.tmp_path, f"{step.client}/{day}")
        manifest = step.land(FakeSource(self.rows[(step.client, day)], pause_at=pause_at), where, label=day)
        return partition_entry(where.path, manifest, key=f"{step.client}|{day}", labels={}, dates=(day, day))


def test_one_client_lands_every_interval_and_sums_the_api_use(tmp_path):
    lands = Lands(tmp_path, {("a", "2024-03-01"): 25, ("a", "2024-02-29"): 5})
    run = LandingRun.start(INTERVALS, ["a"], grouped=False, key=str)
    run.land(lands)
    summary = run.summary()
    assert summary["partition_key"] == "a|2024-03-01" and summary["rows"] == 25
    assert summary["api_calls"] == 3 + 1 and [i["rows"] for i in summary["intervals"]] == [25, 5]
    assert "deferrals" not in summary and len(run.entries) == 2


def test_a_paused_run_saves_plain_json_and_resumes_where_it_stood(tmp_path):
    lands = Lands(tmp_path, {("a", "2024-03-01"): 25, ("a", "2024-02-29"): 30}, pause=("a", "2024-02-29", 20))
    run = LandingRun.start(INTERVALS, ["a"], grouped=False, key=str)
    with pytest.raises(RunPaused) as paused:
        run.land(lands, pause_on=(Pause,))
    saved = round_trip(paused.value.saved)
    assert set(saved) == {"run"} and isinstance(paused.value.cause, Pause)
    assert paused.value.committed == 1 and paused.value.rows_in_progress == 20
    assert saved["run"]["deferrals"] == 1 and saved["run"]["current"]["writer"]["rows"] == 20

    again = LandingRun.resume(saved, ["a"], grouped=False, key=str)
    again.land(lands, pause_on=(Pause,))
    assert lands.steps[-1] == ("a", "2024-02-29", True)  # the checkpoint was handed back to the step
    assert ids(tmp_path / "a" / "2024-02-29") == list(range(30))
    summary = again.summary()
    assert summary["deferrals"] == 1 and [i["rows"] for i in summary["intervals"]] == [25, 30]


def test_a_pause_between_partitions_saves_no_checkpoint(tmp_path):
    lands = Lands(tmp_path, {("a", "2024-03-01"): 5, ("a", "2024-02-29"): 5}, pause=("a", "2024-02-29", None))
    run = LandingRun.start(INTERVALS, ["a"], grouped=False, key=str)
    with pytest.raises(RunPaused) as paused:
        run.land(lands, pause_on=(Pause,))
    saved = round_trip(paused.value.saved)
    assert saved["run"]["current"] is None and len(saved["run"]["done"]) == 1 and paused.value.rows_in_progress == 0
    again = LandingRun.resume(saved, ["a"], grouped=False, key=str)
    again.land(lands, pause_on=(Pause,))
    assert [e["partition_key"] for e in again.entries] == ["a|2024-03-01", "a|2024-02-29"]


def test_without_pause_rules_a_pause_error_fails_the_run(tmp_path):
    lands = Lands(tmp_path, {("a", "2024-03-01"): 25}, pause=("a", "2024-03-01", 10))
    with pytest.raises(Pause):
        LandingRun.start(INTERVALS, ["a"], grouped=False, key=str).land(lands)


def test_a_group_skips_a_client_without_access_and_defers_mid_client(tmp_path):
    rows = {(c, d): 15 for c in ("a", "b") for d in ("2024-03-01", "2024-02-29")}
    lands = Lands(tmp_path, rows, pause=("b", "2024-03-01", 10))
    skipped: list[tuple[str, int]] = []
    clients = ["a", "denied", "b"]
    rules = {
        "pause_on": (Pause,),
        "may_skip": lambda error: isinstance(error, PermissionError),
        "on_skip": lambda client, error, committed: skipped.append((client, committed)),
    }
    run = LandingRun.start(INTERVALS, clients, grouped=True, key=str)
    with pytest.raises(RunPaused) as paused:
        run.land(lands, **rules)
    saved = round_trip(paused.value.saved)
    assert set(saved) == {"group"} and skipped == [("denied", 0)]
    state = saved["group"]
    assert (state["position"], state["client"], state["skipped"], state["deferrals"]) == (2, "b", ["denied"], 1)
    assert state["current"]["current"]["writer"]["rows"] == 10 and state["totals"]["partitions"] == 2

    with pytest.raises(Exception, match="client 3 of the group was b when it deferred, now c"):
        LandingRun.resume(saved, ["a", "denied", "c"], grouped=True, key=str)
    again = LandingRun.resume(saved, clients, grouped=True, key=str)
    again.land(lands, **rules)
    summary = again.group_summary()
    assert summary == {
        "clients": 3,
        "landed": 2,
        "skipped": ["denied"],
        "partitions": 4,
        "rows": 60,
        "files": 5,
        "bytes": summary["bytes"],
        "api_calls": 8,
        "points": 0,
        "deferrals": 1,
    }
    assert [e["partition_key"] for e in again.entries] == [
        f"{c}|{d}" for c in "ab" for d in ("2024-03-01", "2024-02-29")
    ]
    assert ids(tmp_path / "b" / "2024-03-01") == list(range(15))


def test_one_client_without_access_is_raised_unless_on_skip_raises_its_own(tmp_path):
    lands = Lands(tmp_path, {})
    run = LandingRun.start(INTERVALS, ["denied"], grouped=False, key=str)
    with pytest.raises(PermissionError):
        run.land(lands, may_skip=lambda error: True)

    class Skipped(Exception):
        pass

    def skip(client, error, committed):
        raise Skipped(client)

    with pytest.raises(Skipped):
        LandingRun.start(INTERVALS, ["denied"], grouped=False, key=str).land(
            lands, may_skip=lambda error: True, on_skip=skip
        )


def test_saved_states_are_checked_on_resume():
    assert not LandingRun.can_resume({"run": None, "group": None}) and LandingRun.can_resume({"run": {"x": 1}})
    with pytest.raises(Exception, match="another version"):
        LandingRun.resume({"run": {"version": 99}}, ["a"], grouped=False, key=str)
    with pytest.raises(ValueError, match="exactly one client"):
        LandingRun.start(INTERVALS, ["a", "b"], grouped=False, key=str)
