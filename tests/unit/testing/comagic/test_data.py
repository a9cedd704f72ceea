"""Synthetic data: determinism, shapes typed by the catalogue, related reports, mutations."""

from __future__ import annotations

import re

import orjson
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.testing import ComagicEmulator
from tests.unit.testing.comagic.helpers import DAY, NOW

TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _check_value(field, value):
    if value is None:
        assert field.type not in ("array", "object"), f"{field.name}: empty arrays/objects are [] / {{}}"
        return
    if field.type == "number":
        assert isinstance(value, int | float) and not isinstance(value, bool), field.name
    elif field.type == "boolean":
        assert isinstance(value, bool), field.name
    elif field.type == "iso8601":
        assert (DATE if field.format == "YYYY-MM-DD" else TIME).match(value), (field.name, value)
    elif field.type == "enum":
        assert not field.values or value in field.values, (field.name, value)
    elif field.type == "string":
        assert isinstance(value, str), field.name
    elif field.type == "array":
        assert isinstance(value, list), field.name
        for item in value:
            if field.children:
                assert set(item) == {c.name for c in field.children}
                for child in field.children:
                    _check_value(child, item[child.name])
            elif field.values:
                assert item in field.values
    elif field.type == "object":
        assert isinstance(value, dict), field.name


@pytest.mark.parametrize("method", report_methods())
def test_rows_typed_by_catalogue(emu, method):
    spec = get_method(method)
    params = {"site_id": 1001} if method == "get.campaign_daily_stat" else {}
    rows = emu.truth(method, **DAY, fields=spec.field_names, **params)
    assert rows, method
    for row in rows[:50]:
        assert list(row) == list(spec.field_names)
        for field in spec.fields:
            _check_value(field, row[field.name])
        stamp = row[spec.time_field]
        assert stamp[:10] == "2024-05-01"
    if spec.key:
        keys = [tuple(r[k] for k in spec.key) for r in rows]
        assert len(set(keys)) == len(keys)


def test_same_seed_same_rows(comagic_emulator_factory):
    one = comagic_emulator_factory(seed=3, calls_per_day=100)
    two = ComagicEmulator(seed=3, calls_per_day=100)  # not started: truth needs no server
    other = ComagicEmulator(seed=4, calls_per_day=100)
    fields = get_method("get.calls_report").field_names

    def own_links_apart(emulator):  # a full recording link points at its own emulator's server: the rest is equal
        rows = emulator.truth("get.calls_report", **DAY, fields=fields)
        for row in rows:
            link = row["full_record_file_link"]
            assert link is None or link.startswith(emulator.base_url + "/media/")
            row["full_record_file_link"] = link and link.removeprefix(emulator.base_url)
        return rows

    assert own_links_apart(one) == own_links_apart(two)
    assert one.truth("get.calls_report", **DAY) != other.truth("get.calls_report", **DAY)


def test_rows_survive_cache_eviction(emu):
    before = emu.truth("get.calls_report", **DAY)
    emu.dispatcher.store.clear_cache()
    assert emu.truth("get.calls_report", **DAY) == before


def test_calls_per_day_and_overrides(comagic_emulator_factory):
    emu = comagic_emulator_factory(calls_per_day=123, rows_per_day={"get.goals_report": 7}, start_time=NOW)
    assert len(emu.truth("get.calls_report", **DAY)) == 123
    assert len(emu.truth("get.goals_report", **DAY)) == 7


def test_call_legs_refer_to_calls(emu):
    call_ids = {r["id"] for r in emu.truth("get.calls_report", **DAY)}
    legs = emu.truth("get.call_legs_report", **DAY)
    assert legs and {leg["call_session_id"] for leg in legs} <= call_ids


def test_time_zone_of_rows(comagic_emulator_factory):
    # NOW is 12:00 in Moscow, 09:00 in UTC: rows (wall-clock in the account zone) are visible up to that
    today = {"date_from": "2024-06-01 00:00:00", "date_till": "2024-06-01 23:59:59"}
    utc = comagic_emulator_factory(calls_per_day=500, start_time=NOW, timezone="UTC")
    rows = utc.truth("get.calls_report", **today)
    assert rows and rows[-1]["start_time"] <= "2024-06-01 09:00:00" < rows[-1]["start_time"][:11] + "09:10:00"
    assert utc.call("get.account")["result"]["data"][0]["timezone"] == "UTC"


def test_calls_row_size(comagic_emulator_factory):
    emu = comagic_emulator_factory(calls_per_day=500, start_time=NOW)
    rows = emu.truth("get.calls_report", **DAY)
    size = sum(len(orjson.dumps(r)) for r in rows) / len(rows)
    assert 600 < size < 1500


def test_add_rows(emu):
    before = emu.truth("get.calls_report", **DAY)
    added = emu.add_rows(
        "get.calls_report",
        [{"direction": "in", "start_time": "2024-05-01 10:00:00"}],
        count=2,
        date_from="2024-05-01 11:00:00",
        date_till="2024-05-01 11:59:59",
    )
    after = emu.truth("get.calls_report", **DAY)
    assert len(after) == len(before) + 3
    ids = {r["id"] for r in after}
    assert {r["id"] for r in added} <= ids and len(ids) == len(after)
    assert added[0]["start_time"] == "2024-05-01 10:00:00" and added[0]["direction"] == "in"
    assert all("2024-05-01 11:00:00" <= r["start_time"] <= "2024-05-01 11:59:59" for r in added[1:])
    assert [r["start_time"] for r in after] == sorted(r["start_time"] for r in after)


def test_change_tags_after_the_fact(emu, api):
    row = emu.truth("get.calls_report", **DAY)[5]
    tags = [
        {
            "tag_id": 1,
            "tag_name": "Продажа",
            "tag_type": "manual",
            "tag_change_time": "2024-05-20 10:00:00",
            "tag_user_id": None,
            "tag_user_login": None,
            "tag_employee_id": None,
            "tag_employee_full_name": None,
        }
    ]
    emu.set_tags("get.calls_report", row["id"], tags)
    changed = api(
        "get.calls_report",
        **DAY,
        fields=["id", "tags"],
        filter={"field": "tags", "operator": "overlap", "value": ["Продажа"]},
    )["result"]["data"]
    assert changed == [{"id": row["id"], "tags": tags}]
    with pytest.raises(ValueError):
        emu.update_row("get.calls_report", row["id"], {"start_time": "2024-05-02 00:00:00"})
    with pytest.raises(KeyError):
        emu.update_row("get.calls_report", row["id"] + 10_000, {"tags": []})


def test_remove_row(emu):
    rows = emu.truth("get.calls_report", **DAY)
    emu.remove_row("get.calls_report", rows[0]["id"])
    assert emu.truth("get.calls_report", **DAY) == rows[1:]
