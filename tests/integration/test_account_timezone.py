"""The account's time zone, checked before any report call (against the emulator over real HTTP).

A connection whose zone is not the account's used to shift every day's window silently: a UTC connection on a
Moscow account read [03:00, 03:00) Moscow time as "the day", so rows landed in the wrong partitions, every task
green. Now: no zone on the connection follows the account (``get.account``, once per hook), an equal one lands, a
different one fails before any report call naming both zones and the connection, unless the connection allows
the mismatch deliberately. An agency checks each client's zone (``getobj.account`` with the client's user).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pendulum
import pytest

from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError, ComagicTimezoneMismatchError
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing import ComagicEmulator

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
END = DAY + dt.timedelta(days=1)
REPORT = "get.calls_report"


@pytest.fixture
def emu(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    return comagic_emulator_factory(calls_per_day=300, start_time=NOW, frozen_clock=True)


def land(tmp_path, **kwargs):
    op = ComagicCallsReportOperator(task_id="calls", output_path=str(tmp_path), output_format="jsonl", **kwargs)
    return op.execute({"data_interval_start": DAY, "data_interval_end": END, "run_id": "zone"})


def truth_ids(emu: ComagicEmulator, **params) -> list[int]:
    rows = emu.truth(REPORT, "2024-03-01 00:00:00", "2024-03-01 23:59:59", fields=["id"], **params)
    return sorted(row["id"] for row in rows)


def landed_ids(summary) -> list[int]:
    return sorted(row["id"] for row in iter_landed_rows(summary["partition"]))


def test_a_connection_without_a_zone_lands_the_accounts_day(emu, tmp_path, comagic_conn_factory):
    comagic_conn_factory(emu, timezone=None)
    summary = land(tmp_path)
    assert landed_ids(summary) == truth_ids(emu) and summary["partition_key"] == "2024-03-01"
    assert read_manifest(summary["partition"])["interval"]["timezone"] == "Europe/Moscow"
    assert emu.stats.successes["get.account"] == 1  # read once, before the report


def test_a_connection_naming_the_accounts_zone_lands_it(emu, tmp_path, comagic_conn_factory):
    comagic_conn_factory(emu)  # names Europe/Moscow, the emulated account's zone
    summary = land(tmp_path, lookback=dt.timedelta(days=2))
    assert landed_ids(summary) == truth_ids(emu) and len(summary["intervals"]) == 3
    assert emu.stats.successes["get.account"] == 1  # once per hook, not per interval


def test_a_connection_naming_another_zone_fails_before_any_report_call(emu, tmp_path, comagic_conn_factory):
    comagic_conn_factory(emu, conn_id="comagic_utc", timezone="UTC")
    with pytest.raises(ComagicTimezoneMismatchError) as raised:
        land(tmp_path, comagic_conn_id="comagic_utc")
    text = str(raised.value)
    assert "'comagic_utc'" in text and "UTC" in text and "Europe/Moscow" in text
    assert emu.stats.calls[REPORT] == 0 and not list(tmp_path.iterdir())  # nothing read, nothing landed


def test_a_deliberate_mismatch_lands_the_shifted_window(emu, tmp_path, comagic_conn_factory):
    comagic_conn_factory(emu, timezone="UTC", allow_timezone_mismatch=True)
    summary = land(tmp_path)
    # the day's instants written as UTC wall clock, which the Moscow account reads as Moscow time: [21:00, 21:00)
    # of the day before, 3 hours early; this is why the check exists
    shifted = emu.truth(REPORT, "2024-02-29 21:00:00", "2024-03-01 20:59:59", fields=["id"])
    assert landed_ids(summary) == sorted(row["id"] for row in shifted) != truth_ids(emu)


@pytest.fixture
def agency(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    return comagic_emulator_factory(
        calls_per_day=50,
        start_time=NOW,
        frozen_clock=True,
        partner_customers=2,
        partner_timezones={500002: "Asia/Yekaterinburg"},
    )


def test_an_agency_checks_each_clients_zone(agency, tmp_path, comagic_conn_factory):
    comagic_conn_factory(agency)  # names Europe/Moscow
    summary = land(tmp_path, user_id=5000011, customer_id=500001)
    assert landed_ids(summary) == truth_ids(agency, user_id=5000011)
    assert agency.stats.successes["getobj.account"] == 1
    with pytest.raises(ComagicTimezoneMismatchError, match="client user 5000021 is in Asia/Yekaterinburg"):
        land(tmp_path, user_id=5000021, customer_id=500002)
    assert agency.stats.calls[REPORT] == 1  # the first client's one page; none for the second


def test_a_group_stops_before_the_client_in_another_zone(agency, tmp_path, comagic_conn_factory):
    comagic_conn_factory(agency)
    clients = [{"user_id": 5000011, "customer_id": 500001}, {"user_id": 5000021, "customer_id": 500002}]
    with pytest.raises(ComagicTimezoneMismatchError, match="Asia/Yekaterinburg"):
        land(tmp_path, clients=clients)
    assert [p.name for p in (tmp_path / "calls_report").iterdir()] == ["customer_id=500001"]


def test_an_account_that_cannot_tell_its_zone(comagic_emulator_factory, tmp_path, comagic_conn_factory, capsys):
    emu = comagic_emulator_factory(
        calls_per_day=50,
        start_time=NOW,
        frozen_clock=True,
        partner_customers=1,
        disabled_components=frozenset({"data_api_settings"}),
    )
    comagic_conn_factory(emu, timezone=None)
    with pytest.raises(ComagicConnectionConfigError, match="set the extra 'timezone'"):
        land(tmp_path, user_id=5000011, customer_id=500001)
    assert emu.stats.calls[REPORT] == 0
    capsys.readouterr()
    comagic_conn_factory(emu)  # the connection names the zone: trusted, with a warning
    summary = land(tmp_path, user_id=5000011, customer_id=500001)
    assert landed_ids(summary) == truth_ids(emu, user_id=5000011)
    assert "time zone could not be read" in "".join(capsys.readouterr())
