"""ComagicQuotaResetTrigger: JSON kwargs, one event after the wait, restarts wait only what is left."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest

from airflow_provider_comagic.triggers import quota
from airflow_provider_comagic.triggers.quota import ComagicQuotaResetTrigger
from tests.fixtures.sleeps import AsyncSleeps


def at(seconds: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)).isoformat()


async def events(trigger):
    return [event async for event in trigger.run()]


def test_serialize_round_trip_with_plain_json_kwargs():
    trigger = ComagicQuotaResetTrigger(resume_at=at(30), limit_type="day", method="get.calls_report")
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    assert getattr(__import__(module, fromlist=[name]), name)(**kwargs).serialize() == (classpath, kwargs)


def test_sleeps_until_the_reset_then_yields_one_event(monkeypatch):
    sleeps = AsyncSleeps()
    monkeypatch.setattr(quota.asyncio, "sleep", sleeps)
    trigger = ComagicQuotaResetTrigger(resume_at=at(3600), limit_type="day", method="get.calls_report")
    (event,) = asyncio.run(asyncio.wait_for(events(trigger), 5))
    assert sleeps == [pytest.approx(3600, abs=5)]
    assert event.payload == {
        "status": "success",
        "limit_type": "day",
        "resume_at": trigger.resume_at,
        "method": "get.calls_report",
    }


def test_a_reset_already_past_fires_at_once(monkeypatch):
    sleeps = AsyncSleeps()
    monkeypatch.setattr(quota.asyncio, "sleep", sleeps)
    (event,) = asyncio.run(events(ComagicQuotaResetTrigger(resume_at=at(-10))))
    assert sleeps == [] and event.payload["status"] == "success"
