"""Agency fan-out in groups (more clients than Airflow's max_map_length) against the emulator in agent mode: the
customers operator chunks 1 500 clients, a report task lands a group client by client, skips the client without
access, defers mid-group and resumes where it stood without fetching a page twice."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS, TaskDeferred
from tests.fixtures.airflow_compat import OutletEventAccessors, event_extra, partition_events
from tests.integration.test_report_operators import DAY, NOW, api_range, context

pytestmark = pytest.mark.integration
ZONE_CHECK = 1  # points of getobj.account: the client's zone, read once per client before its first report call

DISABLED = 500003
END = DAY + dt.timedelta(days=1)
LOOKBACK = dt.timedelta(days=1)
PAGE = 40  # 100 calls a client-day: 3 pages per partition


@pytest.fixture
def agency(comagic_emulator_factory, monkeypatch):
    emu = comagic_emulator_factory(
        calls_per_day=100,
        start_time=NOW,
        frozen_clock=True,
        partner_customers=5,
        partner_disabled_customers=frozenset({DISABLED}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    return emu


def group_operator(tmp_path, clients):
    return ComagicCallsReportOperator(
        task_id="calls",
        output_path=str(tmp_path),
        output_format="parquet",
        page_size=PAGE,
        lookback=LOOKBACK,
        skip_on_missing_access=True,
        deferrable=True,
        clients=clients,
    )


def assert_partitions_equal_truth(emu, tmp_path, clients):
    for client in clients:
        folder = tmp_path / "calls_report" / f"customer_id={client['customer_id']}"
        if client["customer_id"] == DISABLED:
            assert not folder.exists()
            continue
        for start in (DAY - LOOKBACK, DAY):
            partition = f"file://{folder}/date={start:%Y-%m-%d}"
            truth = emu.truth("get.calls_report", *api_range(start, start + LOOKBACK), user_id=client["user_id"])
            landed = [row["id"] for row in iter_landed_rows(partition)]
            assert truth and sorted(landed) == sorted(r["id"] for r in truth)  # 0 lost, 0 duplicated
            assert read_manifest(partition)["client"] == client


def test_1500_clients_are_chunked_into_groups_under_max_map_length(comagic_emulator_factory, monkeypatch):
    emu = comagic_emulator_factory(start_time=NOW, frozen_clock=True, partner_customers=1500)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    with pytest.raises(
        ComagicParameterError, match=r"1500 client users exceed \[core\] max_map_length=1024.*group_size=2"
    ):
        ComagicCustomerUsersOperator(task_id="users").execute({})
    groups = ComagicCustomerUsersOperator(task_id="users", group_size=600).execute({})
    assert [len(group["clients"]) for group in groups] == [500, 500, 500]
    ids = [client["customer_id"] for group in groups for client in group["clients"]]
    assert ids == list(range(500001, 501501))  # every client exactly once
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
    with pytest.raises(ComagicParameterError, match=r"3 groups exceed \[core\] max_map_length=2.*group_size=750"):
        ComagicCustomerUsersOperator(task_id="users", group_size=600).execute({})


def test_a_group_lands_each_client_and_skips_the_one_without_access(agency, tmp_path):
    (group,) = ComagicCustomerUsersOperator(task_id="users", group_size=10).execute({})
    clients = group["clients"]
    summary = group_operator(tmp_path, clients).execute(context(DAY, END))
    assert_partitions_equal_truth(agency, tmp_path, clients)
    assert summary["clients"] == 5 and summary["landed"] == 4 and summary["skipped"] == [DISABLED]
    assert summary["partitions"] == 8 and summary["api_calls"] == 8 * 3
    assert summary["rows"] == sum(
        len(agency.truth("get.calls_report", *api_range(DAY - LOOKBACK, END), user_id=c["user_id"]))
        for c in clients
        if c["customer_id"] != DISABLED
    )
    assert len(json.dumps(summary)) <= 2048  # totals, never one entry per client
    assert not agency.stats.repeated_pages()


def test_a_group_defers_mid_client_and_resumes_where_it_stood(agency, tmp_path, monkeypatch):
    (group,) = ComagicCustomerUsersOperator(task_id="users", group_size=10).execute({})
    clients = group["clients"]
    # the day quota runs out on the 2nd page of the 2nd client's first partition (2 listing calls done; each client's
    # zone check, then its pages: 1 + 6 for the first, 1 + 1 for the second)
    agency.quota.set_limits(day_limit=agency.stats.points + ZONE_CHECK + 6 + ZONE_CHECK + 1)
    ctx = context(DAY, END)
    with pytest.raises(TaskDeferred) as deferred:
        group_operator(tmp_path, clients).execute(ctx)
    saved = json.loads(json.dumps(deferred.value.kwargs))  # next_kwargs as the metadata database keeps them
    assert set(saved) == {"group"} and len(json.dumps(saved)) < 16 * 1024
    state = saved["group"]
    assert (state["position"], state["client"], state["deferrals"]) == (1, clients[1]["customer_id"], 1)
    assert state["current"]["current"]["writer"]["rows"] == PAGE  # one page of the client's partition landed
    assert state["totals"]["partitions"] == 2

    agency.clock.advance(agency.quota.limits()["day_reset"] + 1)  # a new day: the quota is back
    agency.quota.set_limits(day_limit=10_000)
    event = {"status": "success", "limit_type": "day"}
    accessors = OutletEventAccessors()
    summary = group_operator(tmp_path, clients).execute_complete(
        {**ctx, "outlet_events": accessors}, event=event, **saved
    )
    assert_partitions_equal_truth(agency, tmp_path, clients)
    # one asset event per partition of every landed client, those committed before the deferral included
    extra = event_extra(accessors, f"file://{tmp_path}/calls_report")
    landed = [c["customer_id"] for c in clients if c["customer_id"] != DISABLED]
    days = [f"{DAY:%Y-%m-%d}", f"{DAY - LOOKBACK:%Y-%m-%d}"]
    assert extra["partition_keys"] == [f"{customer}|{day}" for customer in landed for day in days]
    for key, details in extra["partitions"].items():
        assert details["rows"] == read_manifest(details["manifest"])["rows"] > 0
        assert details["customer_id"] == int(key.split("|")[0])
    if PARTITIONED_ASSETS:
        assert sorted(e["partition_key"] for e in partition_events(accessors)) == sorted(extra["partition_keys"])
    assert summary["landed"] == 4 and summary["skipped"] == [DISABLED] and summary["deferrals"] == 1
    assert summary["api_calls"] == 8 * 3  # the interrupted client's calls before and after the deferral
    assert not agency.stats.repeated_pages()  # no page fetched twice


def test_a_resumed_group_refuses_other_clients(agency, tmp_path):
    (group,) = ComagicCustomerUsersOperator(task_id="users", group_size=10).execute({})
    clients = group["clients"]
    agency.quota.set_limits(day_limit=agency.stats.points + ZONE_CHECK + 6 + ZONE_CHECK + 1)
    with pytest.raises(TaskDeferred) as deferred:
        group_operator(tmp_path, clients).execute(context(DAY, END))
    event = {"status": "success", "limit_type": "day"}
    with pytest.raises(LandingError, match="client 2 of the group was 500002 when it deferred, now 500003"):
        group_operator(tmp_path, [clients[0], *clients[2:], clients[1]]).execute_complete(
            context(DAY, END), event=event, **deferred.value.kwargs
        )
