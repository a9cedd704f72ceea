"""Agent (partner) mode: customers, their users, and user_id on every customer call."""

from __future__ import annotations

import pytest

from tests.unit.testing.comagic.helpers import DAY, NOW, make_api, mnemonic


@pytest.fixture
def agent(comagic_emulator_factory):
    emu = comagic_emulator_factory(calls_per_day=30, start_time=NOW, partner_customers=3)
    return emu, make_api(emu)


def test_customers_and_users(agent):
    _emu, api = agent
    customers = api("get.customers")["result"]
    assert customers["metadata"]["total_items"] == 3
    users = api("get.customer_users")["result"]["data"]
    assert {u["customer_id"] for u in users} == {c["id"] for c in customers["data"]}


def test_user_id_required_and_checked(agent):
    _emu, api = agent
    assert mnemonic(api("get.calls_report", **DAY)) == "required_parameter_missed"
    assert mnemonic(api("get.calls_report", **DAY, user_id=1)) == "forbidden"


def test_each_customer_has_its_own_data(agent):
    emu, api = agent
    user_ids = [u["id"] for u in api("get.customer_users")["result"]["data"]]
    first = api("get.calls_report", **DAY, user_id=user_ids[0], limit=5)["result"]["data"]
    second = api("get.calls_report", **DAY, user_id=user_ids[1], limit=5)["result"]["data"]
    assert first != second
    assert first == emu.truth("get.calls_report", **DAY, user_id=user_ids[0])[:5]
    assert "result" in api("get.account")  # the agent's own account: no user_id


def test_a_customer_without_the_component(comagic_emulator_factory):
    emu = comagic_emulator_factory(
        calls_per_day=30, start_time=NOW, partner_customers=3, partner_disabled_customers=frozenset({500002})
    )
    api = make_api(emu)
    customers = api("get.customers", fields=["id", "status"])["result"]["data"]
    assert {c["status"] for c in customers} == {"active"}
    assert mnemonic(api("get.calls_report", **DAY, user_id=5000021)) == "method_component_disabled"
    assert "result" in api("get.calls_report", **DAY, user_id=5000011)
    assert "result" in api("get.customer_users")  # the agent's own methods are not affected
