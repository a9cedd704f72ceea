"""Reference lists' order, window caps, components, permissions and roles of the emulated account."""

from __future__ import annotations

from airflow_provider_comagic.testing import ComagicEmulator
from tests.fixtures.cli import served_cli
from tests.unit.testing.comagic.helpers import DAY, NOW, call_params, make_api, mnemonic
from tests.unit.testing.comagic.test_emulator import rpc


def _ids(reply):
    return [row["id"] for row in reply["result"]["data"]]


def test_a_list_that_cannot_sort_by_id_comes_in_a_new_order_on_every_call(api, emu):
    listed = [row["id"] for row in emu.truth("get.campaigns")]
    assert listed == sorted(listed)  # truth: key order
    first, second = _ids(api("get.campaigns")), _ids(api("get.campaigns"))
    assert sorted(first) == sorted(second) == listed
    assert first != second
    assert emu.dispatcher.store.references.calls("get.campaigns") == 2


def test_the_unstable_order_is_reproducible_per_seed_and_call_count(api, comagic_emulator_factory):
    other = make_api(comagic_emulator_factory(calls_per_day=200, start_time=NOW, frozen_clock=True))
    assert [_ids(api("get.sites")) for _ in range(3)] == [_ids(other("get.sites")) for _ in range(3)]


def test_offset_pages_of_an_unstable_list_lose_and_repeat_rows(api):
    pages = [_ids(api("get.employees", limit=10, offset=offset)) for offset in range(0, 40, 10)]
    read = [row_id for page in pages for row_id in page]
    assert len(read) == 40 and len(set(read)) < 40  # API_MAP trap 4: read in one page, or by a sortable key


def test_sorted_and_key_sortable_lists_are_ordered(api):
    names = [row["name"] for row in api("get.campaigns", sort=[{"field": "name", "order": "desc"}])["result"]["data"]]
    assert names == sorted(names, reverse=True)
    assert _ids(api("get.scenarios")) == _ids(api("get.scenarios")) == sorted(_ids(api("get.scenarios")))
    assert mnemonic(api("get.campaigns", sort=[{"field": "id"}])) == "sort_prohibited"


def test_stable_order_option(comagic_emulator_factory):
    api = make_api(comagic_emulator_factory(calls_per_day=20, start_time=NOW, unstable_order=False))
    assert _ids(api("get.campaigns")) == _ids(api("get.campaigns")) == sorted(_ids(api("get.campaigns")))


def test_window_caps_follow_the_catalogue(api, emu):
    visits = call_params(emu, "get.visits")
    ok = api("get.visits", **{**visits, "date_from": "2024-04-01 00:00:00", "date_till": "2024-05-02 00:00:00"})
    assert "result" in ok
    too_long = api("get.visits", **{**visits, "date_from": "2024-04-01 00:00:00", "date_till": "2024-05-02 00:00:01"})
    assert mnemonic(too_long) == "date_interval_limit_reached" and too_long["error"]["data"]["field"] == "date_till"
    calls = call_params(emu, "get.calls", fields=["communication_id"])
    year = {"date_from": "2023-05-01 00:00:00", "date_till": "2024-05-01 00:00:00", "limit": 1}
    assert "result" in api("get.calls", **{**calls, **year})  # 366 days, not the classic 3 months
    assert mnemonic(api("get.calls", **{**calls, **year, "date_till": "2024-05-01 00:00:01"})) == (
        "date_interval_limit_reached"
    )
    assert "result" in api("get.employee_stat", date_from="2023-01-01 00:00:00", date_till=DAY["date_till"])


def test_disabled_components(comagic_emulator_factory):
    emu = comagic_emulator_factory(
        calls_per_day=20, start_time=NOW, disabled_components=frozenset({"va", "data_api_settings"})
    )
    api = make_api(emu)
    reply = api("get.scenarios")
    assert mnemonic(reply) == "method_component_disabled" and reply["error"]["data"]["params"] == {"components": "va"}
    assert mnemonic(api("get.communications", **call_params(emu, "get.communications"))) == "method_component_disabled"
    assert "result" in api("get.tags")  # the classic get.tags page needs no component
    assert "result" in api("get.calls_report", **DAY, limit=1)


def test_a_component_group_needs_one_of_its_members(comagic_emulator_factory):
    some = comagic_emulator_factory(calls_per_day=20, start_time=NOW, disabled_components=frozenset({"consultant"}))
    assert "result" in make_api(some)("get.sites")  # call_tracking, lead, sitephone still connected
    none = comagic_emulator_factory(
        calls_per_day=20,
        start_time=NOW,
        disabled_components=frozenset({"call_tracking", "consultant", "lead", "sitephone"}),
    )
    assert mnemonic(make_api(none)("get.sites")) == "method_component_disabled"


def test_denied_permission_is_forbidden(comagic_emulator_factory):
    emu = comagic_emulator_factory(
        calls_per_day=20, start_time=NOW, denied_permissions=frozenset({"account_access:select"})
    )
    api = make_api(emu)
    assert mnemonic(api("get.financial_call_legs_report", **DAY)) == "forbidden"
    assert "result" in api("get.calls_report", **DAY, limit=1)


def test_partner_only_methods_are_forbidden_to_a_client(api):
    for method in ("get.tariff_plans", "get.customers", "get.customer_users"):
        assert mnemonic(api(method)) == "forbidden", method


def test_client_only_methods_are_forbidden_to_an_agent(comagic_emulator_factory):
    emu = comagic_emulator_factory(calls_per_day=20, start_time=NOW, partner_customers=2)
    api = make_api(emu)
    user_id = api("get.customer_users")["result"]["data"][0]["id"]
    assert mnemonic(api("get.crm_accounts", user_id=user_id)) == "forbidden"
    assert "result" in api("get.tariff_plans")
    assert "result" in api("get.account")  # kept: the agent's own account (the provider's connection test)


def test_each_agency_client_has_its_own_consistent_account():
    emu = ComagicEmulator(calls_per_day=20, start_time=NOW, partner_customers=2)
    first, second = 5000011, 5000021
    sites = {user: {r["id"] for r in emu.truth("get.sites", user_id=user)} for user in (first, second)}
    assert sites[first] == sites[second] == {1001, 1002, 1003}  # the pools are the same ids
    campaigns = {user: emu.truth("get.campaigns", user_id=user) for user in (first, second)}
    assert campaigns[first] != campaigns[second]  # each client's own rows
    calls = emu.truth("get.calls_report", **DAY, user_id=first, fields=["campaign_id"])
    assert {c["campaign_id"] for c in calls} - {None} <= {c["id"] for c in campaigns[first]}


def test_cli_disables_components_and_keeps_order():
    args = ("--port", "0", "--calls-per-day", "20", "--disable-component", "va", "--stable-order")
    with served_cli("airflow_provider_comagic.testing.comagic.emulator", *args) as lines:
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("access_token:")).strip().rsplit(" ", 1)[-1]
        assert "components disabled: va" in next(line for line in lines if "components disabled" in line)
        assert rpc(url, "get.scenarios", access_token=token)["error"]["data"]["mnemonic"] == "method_component_disabled"
        orders = [[r["id"] for r in rpc(url, "get.sites", access_token=token)["result"]["data"]] for _ in range(2)]
        assert orders == [[1001, 1002, 1003]] * 2
