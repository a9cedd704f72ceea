"""Lookback intervals and the per-client partition layout."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest

from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.landing.partitions import partition_name
from airflow_provider_comagic.utils.time import lookback_intervals

MSK = pendulum.timezone("Europe/Moscow")
BERLIN = pendulum.timezone("Europe/Berlin")


def days(intervals):
    return [(s.astimezone(MSK).isoformat(), e.astimezone(MSK).isoformat()) for s, e in intervals]


def test_seven_previous_days_newest_first():
    start = dt.datetime(2024, 3, 8, tzinfo=MSK)
    intervals = lookback_intervals(start, start + dt.timedelta(days=1), MSK, dt.timedelta(days=7))
    assert len(intervals) == 7
    assert intervals[0] == (dt.datetime(2024, 3, 7, tzinfo=MSK), start)
    assert intervals[-1][0] == dt.datetime(2024, 3, 1, tzinfo=MSK)
    assert all(a[0] == b[1] for a, b in itertools.pairwise(intervals))  # contiguous, no gaps


def test_no_or_zero_lookback():
    start = dt.datetime(2024, 3, 8, tzinfo=MSK)
    assert lookback_intervals(start, start + dt.timedelta(days=1), MSK, None) == []
    assert lookback_intervals(start, start + dt.timedelta(days=1), MSK, dt.timedelta(0)) == []
    with pytest.raises(ParameterError, match="negative"):
        lookback_intervals(start, start + dt.timedelta(days=1), MSK, dt.timedelta(days=-1))


def test_partial_lookback_rounds_up_to_whole_intervals():
    start = dt.datetime(2024, 3, 8, 12, tzinfo=MSK)
    intervals = lookback_intervals(start, start + dt.timedelta(hours=6), MSK, dt.timedelta(hours=13))
    assert [s.hour for s, _ in intervals] == [6, 0, 18]


def test_days_stay_calendar_days_across_dst():
    # Berlin springs forward on 2024-03-31: that day has 23 hours
    start = dt.datetime(2024, 4, 2, tzinfo=BERLIN)
    intervals = lookback_intervals(start, start + dt.timedelta(days=1), BERLIN, dt.timedelta(days=3))
    locals_ = [
        (s.astimezone(BERLIN).strftime("%m-%d %H:%M"), e.astimezone(BERLIN).strftime("%m-%d %H:%M"))
        for s, e in intervals
    ]
    assert locals_ == [("04-01 00:00", "04-02 00:00"), ("03-31 00:00", "04-01 00:00"), ("03-30 00:00", "03-31 00:00")]


def test_whole_months_step_by_months():
    start = dt.datetime(2024, 3, 1, tzinfo=MSK)
    intervals = lookback_intervals(start, dt.datetime(2024, 4, 1, tzinfo=MSK), MSK, dt.timedelta(days=60))
    assert days(intervals) == [
        ("2024-02-01T00:00:00+03:00", "2024-03-01T00:00:00+03:00"),
        ("2024-01-01T00:00:00+03:00", "2024-02-01T00:00:00+03:00"),
    ]  # 29 + 31 days cover 60


def test_client_partitions():
    day = dt.datetime(2024, 3, 1, tzinfo=MSK)
    end = day + dt.timedelta(days=1)
    name = partition_name("get.calls_report", day, end, MSK, customer_id=500001, user_id=5000011)
    assert name == "calls_report/customer_id=500001/date=2024-03-01"
    assert partition_name("get.calls_report", day, end, MSK, user_id=7) == "calls_report/user_id=7/date=2024-03-01"
    hours = partition_name("get.calls_report", day, day + dt.timedelta(hours=1), MSK, customer_id="9")
    assert hours == "calls_report/customer_id=9/interval=20240301T000000_20240301T010000"
    templated = partition_name("get.calls_report", day, end, MSK, "{customer_id}/{report}/{date}", customer_id=9)
    assert templated == "9/calls_report/2024-03-01"
    with pytest.raises(ParameterError, match="customer_id"):
        partition_name("get.calls_report", day, end, MSK, "{customer_id}/{date}")
