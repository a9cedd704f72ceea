"""Asset URIs, partition keys, event extras and what a consuming run reads back (landing/assets.py)."""

from __future__ import annotations

import datetime as dt
import types
import zoneinfo

import pytest

from airflow_provider_comagic.landing.assets import (
    asset_event_extra,
    landed_partitions,
    landing_asset,
    partition_key,
    partitioned_schedule,
    storage_uri,
)
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS, TRIGGERING_ASSET_EVENTS, Asset

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("s3://aws_lake@Bucket/comagic/", "s3://Bucket/comagic"),  # the conn_id is no part of the asset
        ("S3://bucket/a/b", "s3://bucket/a/b"),
        ("file:///data/comagic/", "file:///data/comagic"),
        ("/data/comagic", "file:///data/comagic"),
        ("gs://gcp@bucket/x", "gs://bucket/x"),
    ],
)
def test_storage_uri_follows_the_asset_rules(path, uri):
    assert storage_uri(path) == uri


def test_landing_asset_is_the_report_folder():
    assert landing_asset("s3://aws@bucket/lake/", "/calls_report/").uri == "s3://bucket/lake/calls_report"


@pytest.mark.parametrize(
    ("start", "end", "client", "key"),
    [
        (dt.datetime(2026, 11, 30, tzinfo=MSK), dt.datetime(2026, 12, 1, tzinfo=MSK), None, "2026-11-30"),
        (dt.datetime(2026, 11, 30, tzinfo=MSK), dt.datetime(2026, 12, 1, tzinfo=MSK), 500001, "500001|2026-11-30"),
        # the same day given in UTC: the key is the account's day
        (
            dt.datetime(2026, 11, 29, 21, tzinfo=dt.timezone.utc),
            dt.datetime(2026, 11, 30, 21, tzinfo=dt.timezone.utc),
            "7001",
            "7001|2026-11-30",
        ),
        (
            dt.datetime(2026, 11, 30, 6, tzinfo=MSK),
            dt.datetime(2026, 11, 30, 12, tzinfo=MSK),
            None,
            "20261130T060000_20261130T120000",
        ),
        (
            dt.datetime(2026, 11, 30, tzinfo=MSK),
            dt.datetime(2026, 12, 2, tzinfo=MSK),
            "",
            "20261130T000000_20261202T000000",
        ),
    ],
)
def test_partition_key(start, end, client, key):
    assert partition_key(start, end, MSK, client) == key


def _entry(key: str, rows: int) -> dict:
    return {"partition_key": key, "manifest": f"file:///l/{key}/_manifest.json", "rows": rows, "other": "dropped"}


def test_event_extra_lists_every_partition_and_puts_the_first_on_top():
    extra = asset_event_extra([_entry("2026-11-30", 5), _entry("2026-11-29", 7)])
    assert extra["partition_keys"] == ["2026-11-30", "2026-11-29"] and extra["partition_key"] == "2026-11-30"
    assert extra["partitions"]["2026-11-29"] == {"manifest": "file:///l/2026-11-29/_manifest.json", "rows": 7}
    assert extra["rows"] == 5 and "other" not in extra
    assert asset_event_extra([]) == {"partition_key": None, "partition_keys": [], "partitions": {}}


def _context(events: dict, partition: str | None = None) -> dict:
    return {TRIGGERING_ASSET_EVENTS: events, "partition_key": partition}


def _event(extra: dict, key: str | None = None) -> types.SimpleNamespace:
    return types.SimpleNamespace(extra=extra, partition_key=key)


CALLS, CHATS = "file:///l/calls_report", "file:///l/chats_report"
TWO = asset_event_extra([_entry("2026-11-30", 5), _entry("2026-11-29", 7)])


def test_a_partition_run_reads_its_own_partition():
    context = _context({CALLS: [_event(TWO, "2026-11-29")]}, partition="2026-11-29")
    assert [(p["partition_key"], p["rows"]) for p in landed_partitions(context)] == [("2026-11-29", 7)]


def test_without_partition_keys_a_run_reads_every_listed_partition_of_every_event_once():
    later = asset_event_extra([_entry("2026-12-01", 3), _entry("2026-11-30", 6)])  # re-landed: the newer wins
    other = asset_event_extra([_entry("2026-11-30", 99)])
    context = _context({CALLS: [_event(TWO), _event(later)], CHATS: [_event(other)]})
    found = {p["partition_key"]: p["rows"] for p in landed_partitions(context, Asset(CALLS))}
    assert found == {"2026-11-30": 6, "2026-11-29": 7, "2026-12-01": 3}
    assert {p["rows"] for p in landed_partitions(context, CHATS)} == {99}
    assert landed_partitions(_context({})) == []


def test_partitioned_schedule_by_version():
    schedule = partitioned_schedule([Asset(CALLS), Asset(CHATS)])
    if PARTITIONED_ASSETS:
        from airflow.sdk import PartitionedAssetTimetable

        assert isinstance(schedule, PartitionedAssetTimetable)
    else:
        assert [a.uri for a in schedule] == [CALLS, CHATS]


def test_events_through_an_alias_are_read_one_partition_each():
    """An alias event's extra is one partition's details, flat (Airflow 2.10 hashes it: no lists or dicts)."""
    from airflow_provider_comagic.landing.assets import emit_alias_events, landing_alias
    from tests.fixtures.airflow_compat import OutletEventAccessors, alias_events

    accessors, alias = OutletEventAccessors(), landing_alias("d", "t")
    emit_alias_events(accessors, alias, Asset(CALLS), [_entry("2026-11-30", 5), _entry("2026-11-29", 7)])
    extras = [extra for _, _, extra in alias_events(accessors, alias)]
    assert [e["partition_key"] for e in extras] == ["2026-11-30", "2026-11-29"]
    assert all(not isinstance(v, list | dict) for e in extras for v in e.values())
    context = _context({CALLS: [_event(extra) for extra in extras]})
    assert {p["partition_key"]: p["rows"] for p in landed_partitions(context)} == {"2026-11-30": 5, "2026-11-29": 7}
