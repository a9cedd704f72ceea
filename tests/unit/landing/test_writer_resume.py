"""PartitionWriter.suspend()/resume(): a partition written across a deferral, committed once."""

from __future__ import annotations

import json

import pytest

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.commit import staged_name
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.writer import PartitionWriter, land_pages
from tests.fixtures.landing import SCHEMA, Boom, all_rows, as_given, listing, pages


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_suspend_then_resume_commits_every_row_once(tmp_path, fmt):
    land_pages(pages(2, start=10_000), tmp_path / "p", fmt, SCHEMA)  # an earlier commit the run replaces
    source = pages(6)
    with pytest.raises(Boom), PartitionWriter(tmp_path / "p", fmt, SCHEMA, max_rows_per_file=1000) as writer:
        for _ in range(3):
            writer.write(next(source))
        state = json.loads(json.dumps(writer.suspend()))  # plain JSON
        raise Boom("deferred")  # leaving the block does not abort a suspended writer
    assert state["rows"] == 300 and [f["rows"] for f in state["files"]] == [300]  # the open part was finished
    assert read_manifest(tmp_path / "p")["rows"] == 200  # nothing committed yet
    with PartitionWriter.resume(state, tmp_path / "p", fmt, SCHEMA, max_rows_per_file=1000) as resumed:
        for page in source:
            resumed.write(page)
        manifest = resumed.commit()
    assert manifest["rows"] == 600 and manifest["run_token"] == state["token"]
    assert manifest["files"][0]["path"] == state["files"][0]["path"]
    assert len({f["path"] for f in manifest["files"]}) == len(manifest["files"]) == 2
    assert as_given(iter_landed_rows(tmp_path / "p")) == all_rows(6)
    assert listing(tmp_path / "p") == sorted([MANIFEST_NAME, *(f["path"] for f in manifest["files"])])


def test_resume_checks_the_parts_are_still_there(tmp_path):
    with PartitionWriter(tmp_path / "p", "jsonl") as writer:
        writer.write(next(pages(1)))
        state = writer.suspend()
    (tmp_path / "p" / staged_name(state["files"][0]["path"])).unlink()  # a suspended run's parts are hidden
    with pytest.raises(LandingError, match="parts of the suspended run are gone"):
        PartitionWriter.resume(state, tmp_path / "p", "jsonl")
    with pytest.raises(LandingError, match="holds jsonl, not parquet"):
        PartitionWriter.resume(state, tmp_path / "p", "parquet", SCHEMA)


def test_a_resumed_run_that_fails_removes_its_parts_and_scratch(tmp_path):
    land_pages(pages(1, start=5_000), tmp_path / "p", "jsonl")
    before = listing(tmp_path / "p")
    with PartitionWriter(tmp_path / "p", "jsonl") as writer:
        writer.write(next(pages(1)))
        writer.write_scratch("plan.json", b"{}")
        state = writer.suspend()
    with pytest.raises(Boom), PartitionWriter.resume(state, tmp_path / "p", "jsonl") as resumed:
        assert resumed.read_scratch(f"_tmp-{state['token']}-plan.json") == b"{}"
        resumed.write(next(pages(1, start=100)))
        raise Boom("the API died after the resume")
    assert listing(tmp_path / "p") == before


def test_scratch_objects_are_private_and_removed_by_the_commit(tmp_path):
    with PartitionWriter(tmp_path / "p", "jsonl") as writer:
        key = writer.write_scratch("plan.json", b'{"a": 1}')
        assert key == f"_tmp-{writer.token}-plan.json" and writer.read_scratch(key) == b'{"a": 1}'
        with pytest.raises(LandingError, match="not a scratch object"):
            writer.read_scratch("_tmp-other-plan.json")
        manifest = writer.commit()
    assert listing(tmp_path / "p") == [MANIFEST_NAME] and manifest["files"] == []
