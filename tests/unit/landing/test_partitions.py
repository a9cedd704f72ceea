"""Partition names: the default layout by interval, per-client folders, templates."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_comagic.exceptions import ParameterError
from airflow_provider_comagic.landing.partitions import partition_name

MSK = pendulum.timezone("Europe/Moscow")


def test_default_partition_names():
    day = dt.datetime(2024, 3, 1, tzinfo=MSK)
    assert partition_name("get.calls_report", day, day + dt.timedelta(days=1), MSK) == "calls_report/date=2024-03-01"
    # the same day given in UTC
    utc_start = day.astimezone(dt.timezone.utc)
    assert partition_name("get.calls_report", utc_start, utc_start + dt.timedelta(days=1), MSK).endswith("2024-03-01")
    hourly = partition_name("get.chats_report", day, day + dt.timedelta(hours=1), MSK)
    assert hourly == "chats_report/interval=20240301T000000_20240301T010000"
    weekly = partition_name("get.campaign_daily_stat", day, day + dt.timedelta(days=7), MSK)
    assert weekly == "campaign_daily_stat/interval=20240301T000000_20240308T000000"


def test_partition_template():
    day = dt.datetime(2024, 3, 1, tzinfo=MSK)
    name = partition_name(
        "get.calls_report", day, day + dt.timedelta(days=1), MSK, "{report}/y={year}/m={month}/d={day}"
    )
    assert name == "calls_report/y=2024/m=03/d=01"
    with pytest.raises(ParameterError, match=r"partition_template.*keys: date, day, end"):
        partition_name("get.calls_report", day, day, MSK, "{nope}")


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
