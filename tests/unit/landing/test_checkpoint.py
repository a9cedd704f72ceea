"""ReportRun: the state of a report run across deferrals, as plain JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_comagic.landing.checkpoint import IntervalRun as ReportRun


def test_run_state_round_trips_as_json():
    start = dt.datetime(2024, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    run = ReportRun([(start, start + dt.timedelta(days=1)), (start - dt.timedelta(days=1), start)])
    run.finish({"rows": 1})
    run.suspend({"writer": {"token": "t"}, "plan": {"inline": {}}, "api": {"calls": 1}})
    again = ReportRun.from_json(json.loads(json.dumps(run.to_json())))
    assert again.intervals == run.intervals and again.done == [{"rows": 1}] and again.deferrals == 1
    assert again.next_interval() == run.intervals[1] and again.current == run.current
    with pytest.raises(Exception, match="another version"):
        ReportRun.from_json({"version": 99})
