"""Lookback re-sync against the emulator: earlier days re-landed as whole partitions, late changes win,
nothing duplicated."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from tests.integration.test_report_operators import DAY, api_range, canonical, context, emu  # noqa: F401

pytestmark = pytest.mark.integration

FIELDS = ["id", "start_time", "tags", "is_lost"]
NEW_TAGS = [{"tag_id": 1, "tag_name": "sale", "tag_type": "manual", "tag_change_time": "2024-03-09 10:00:00"}]


def run_day(tmp_path, day: dt.datetime, **kwargs):
    op = ComagicCallsReportOperator(
        task_id="calls",
        output_path=str(tmp_path),
        output_format="jsonl",
        fields=FIELDS,
        lookback=dt.timedelta(days=3),
        **kwargs,
    )
    return op.execute(context(day, day + dt.timedelta(days=1)))


def partition(tmp_path, date: str):
    return tmp_path / "calls_report" / f"date={date}"


def test_lookback_replaces_changed_rows_and_leaves_no_duplicates(emu, tmp_path):  # noqa: F811
    day7, day8 = DAY + dt.timedelta(days=6), DAY + dt.timedelta(days=7)  # 2024-03-07, 2024-03-08
    first = run_day(tmp_path, day7)
    assert [i["date_from"][:10] for i in first["intervals"]] == ["2024-03-07", "2024-03-06", "2024-03-05", "2024-03-04"]
    # a call of 03-06 gets its tags after the run; another one appears late
    changed = emu.truth("get.calls_report", "2024-03-06 00:00:00", "2024-03-06 23:59:59", fields=["id"])[3]["id"]
    emu.set_tags("get.calls_report", changed, NEW_TAGS)
    emu.add_rows("get.calls_report", count=2, date_from="2024-03-05 10:00:00", date_till="2024-03-05 11:00:00")
    emu.stats.reset()

    second = run_day(tmp_path, day8)
    assert [i["date_from"][:10] for i in second["intervals"]] == [
        "2024-03-08",
        "2024-03-07",
        "2024-03-06",
        "2024-03-05",
    ]
    assert second["date_from"] == "2024-03-08 00:00:00" and second["partition"].endswith("date=2024-03-08")
    for date in ("2024-03-08", "2024-03-07", "2024-03-06", "2024-03-05", "2024-03-04"):
        landed = list(iter_landed_rows(partition(tmp_path, date)))
        truth = emu.truth("get.calls_report", f"{date} 00:00:00", f"{date} 23:59:59", fields=FIELDS)
        assert canonical(landed) == canonical(truth), date  # the latest state, every row once
        ids = [row["id"] for row in landed]
        assert len(ids) == len(set(ids))
        manifest = read_manifest(partition(tmp_path, date))
        assert sorted(os.listdir(partition(tmp_path, date))) == sorted(
            [MANIFEST_NAME, *(f["path"] for f in manifest["files"])]
        )
    tags = {row["id"]: row["tags"] for row in iter_landed_rows(partition(tmp_path, "2024-03-06"))}
    assert (
        tags[changed]
        == emu.truth(
            "get.calls_report",
            "2024-03-06 00:00:00",
            "2024-03-06 23:59:59",
            fields=["id", "tags"],
            filter={"field": "id", "operator": "=", "value": changed},
        )[0]["tags"]
    )
    assert tags[changed][0]["tag_name"] == "sale"
    # the cost: 4 intervals of one call each (the points trade-off of the docstring)
    assert second["api_calls"] == emu.stats.successes["get.calls_report"] == 4
    assert sum(i["api_calls"] for i in second["intervals"]) == second["api_calls"]
    assert [i["rows"] for i in second["intervals"]][3] == first["intervals"][2]["rows"] + 2


def test_lookback_must_be_a_timedelta(tmp_path):
    with pytest.raises(ComagicParameterError, match="lookback"):
        ComagicCallsReportOperator(task_id="t", output_path=str(tmp_path), lookback=7)
