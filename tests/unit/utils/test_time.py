"""Time helpers: lookback intervals, the run interval from the context or explicit dates, user time values."""

from __future__ import annotations

import datetime as dt
import itertools

import pendulum
import pytest

from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.utils.time import lookback_intervals, parse_user_time, resolve_interval

MSK = pendulum.timezone("Europe/Moscow")
BERLIN = pendulum.timezone("Europe/Berlin")


def days(intervals):
    return [(s.astimezone(MSK).isoformat(), e.astimezone(MSK).isoformat()) for s, e in intervals]


# -- lookback intervals ----------------------------------------------------------------------------------------------
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


# -- the run interval ------------------------------------------------------------------------------------------------
def test_interval_from_the_context():
    ctx = {
        "data_interval_start": pendulum.datetime(2024, 2, 29, 21, tz="UTC"),
        "data_interval_end": pendulum.datetime(2024, 3, 1, 21, tz="UTC"),
    }
    start, end = resolve_interval(None, None, ctx, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK) and end == dt.datetime(2024, 3, 2, tzinfo=MSK)


def test_zero_length_interval_says_which_timetable_to_use():
    moment = pendulum.datetime(2024, 3, 1, tz="UTC")
    with pytest.raises(ParameterError, match=r"CronTriggerTimetable.*CronDataIntervalTimetable.*date_from"):
        resolve_interval(None, None, {"data_interval_start": moment, "data_interval_end": moment}, MSK)


def test_missing_interval_asks_for_date_from_and_date_till():
    with pytest.raises(ParameterError, match=r"no data interval.*date_from and date_till"):
        resolve_interval(None, None, {}, MSK)
    with pytest.raises(ParameterError, match="both date_from and date_till"):
        resolve_interval("2024-03-01", None, {}, MSK)


def test_explicit_dates_naive_means_account_wall_clock():
    start, end = resolve_interval("2024-03-01", "2024-03-01 12:00:00", {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK) and end == dt.datetime(2024, 3, 1, 12, tzinfo=MSK)
    start, _ = resolve_interval("2024-03-01T00:00:00Z", "2024-03-02T00:00:00+00:00", {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    start, _ = resolve_interval(dt.date(2024, 3, 1), dt.datetime(2024, 3, 2), {}, MSK)
    assert start == dt.datetime(2024, 3, 1, tzinfo=MSK)
    # explicit dates win over the data interval
    ctx = {"data_interval_start": pendulum.datetime(2020, 1, 1), "data_interval_end": pendulum.datetime(2020, 1, 2)}
    assert resolve_interval("2024-03-01", "2024-03-02", ctx, MSK)[0].year == 2024
    with pytest.raises(ParameterError, match="must be after"):
        resolve_interval("2024-03-02", "2024-03-01", {}, MSK)
    with pytest.raises(ParameterError, match="not an ISO 8601"):
        parse_user_time("yesterday", MSK, "date_from")
