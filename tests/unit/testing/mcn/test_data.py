"""Seeded MCN Telecom call-log data: deterministic per seed and vPBX, every seed value each day, coherent rows."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.mcn.call_log import CALL_TYPES, DST_TYPES, SRC_TYPES, STATUSES
from airflow_provider_comagic.testing.mcn.data import day_rows
from airflow_provider_comagic.testing.mcn.emulator import McnEmulatorConfig


def test_data_is_deterministic_per_seed():
    day = dt.date(2024, 3, 1)
    assert day_rows(McnEmulatorConfig(seed=3), "7001", day) == day_rows(McnEmulatorConfig(seed=3), "7001", day)
    assert day_rows(McnEmulatorConfig(seed=3), "7001", day) != day_rows(McnEmulatorConfig(seed=4), "7001", day)
    assert day_rows(McnEmulatorConfig(seed=3), "7001", day) != day_rows(McnEmulatorConfig(seed=3), "7002", day)


@pytest.mark.parametrize("calls", [5, 7, 40])
def test_every_day_shows_every_seed_value(calls):
    config = McnEmulatorConfig(calls_per_day=calls)
    for offset in range(5):
        for vpbx in config.vpbx_ids:
            rows = day_rows(config, vpbx, dt.date(2024, 2, 27) + dt.timedelta(days=offset))
            assert len(rows) == calls
            assert {r["type"] for r in rows} == set(CALL_TYPES)
            assert {r["status"] for r in rows} == set(STATUSES)
            assert {r["src_type"] for r in rows} == set(SRC_TYPES)
            assert {r["dst_type"] for r in rows} == set(DST_TYPES)


def test_rows_are_coherent_and_ordered():
    config = McnEmulatorConfig(calls_per_day=200)
    rows = day_rows(config, "7001", dt.date(2024, 3, 1))
    assert rows[0]["date"] == "2024-03-01 00:00:00" and rows[-1]["date"] == "2024-03-01 23:59:59"
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    assert len({r["callid"] for r in rows}) == len(rows)
    for row in rows:
        assert (row["talktime"] > 0) is (row["status"] == "ANSWERED")
        assert row["billsec"] == (row["talktime"] if row["type"] == "Out" else 0)
        assert row["has_record"] in (0, 1) and not (row["has_record"] and row["status"] != "ANSWERED")
        assert set(row) == {
            "callid", "date", "type", "src_num", "src_name", "src_type", "dst_num", "dst_name", "dst_type",
            "did", "waittime", "talktime", "billsec", "status", "has_record",
        }  # fmt: skip


def test_vpbxs_have_different_calls():
    config = McnEmulatorConfig()
    ids = [{r["callid"] for r in day_rows(config, v, dt.date(2024, 3, 1))} for v in config.vpbx_ids]
    assert not ids[0] & ids[1]
