"""Agency fan-out against the emulator in agent mode: list the client users, land each client's partition,
skip (and report) the client whose account lacks the component."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_comagic.comagic.errors import ComagicComponentDisabledError, ComagicPermissionError
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AirflowSkipException
from tests.integration.test_report_operators import DAY, NOW, api_range, canonical, context

pytestmark = pytest.mark.integration

DISABLED = 500002


@pytest.fixture
def agency(comagic_emulator_factory, monkeypatch):
    emu = comagic_emulator_factory(
        calls_per_day=300,
        start_time=NOW,
        frozen_clock=True,
        partner_customers=3,
        partner_disabled_customers=frozenset({DISABLED}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    return emu


def test_fan_out_over_three_clients_skips_the_one_without_the_component(agency, tmp_path, capsys):
    users = ComagicCustomerUsersOperator(task_id="client_users").execute({})
    assert [u["customer_id"] for u in users] == [500001, 500002, 500003]
    assert users[0] == {
        "user_id": 5000011,
        "customer_id": 500001,
        "customer_name": "Customer 500001",
        "user_login": "api-user-500001",
    }
    end = DAY + dt.timedelta(days=1)
    landed, skipped = {}, []
    for entry in users:  # what .partial(...).expand_kwargs(users) runs, one mapped task per entry
        op = ComagicCallsReportOperator(
            task_id="calls",
            output_path=str(tmp_path),
            output_format="jsonl",
            page_size=100,
            skip_on_missing_access=True,
            **entry,
        )
        try:
            landed[entry["customer_id"]] = op.execute(context(DAY, end))
        except AirflowSkipException as skip:
            skipped.append((entry["customer_id"], str(skip)))
    assert [c for c, _ in skipped] == [DISABLED] and "method_component_disabled" in skipped[0][1]
    assert (
        "Skipping get.calls_report for customer 'Customer 500002' (customer_id 500002, user_id 5000021)"
        in capsys.readouterr().out  # the task log
    )
    assert sorted(landed) == [500001, 500003]
    for entry in users:
        if entry["customer_id"] == DISABLED:
            assert not (tmp_path / "calls_report" / f"customer_id={DISABLED}").exists()  # nothing left for it
            continue
        summary = landed[entry["customer_id"]]
        assert (
            summary["partition"] == f"file://{tmp_path}/calls_report/customer_id={entry['customer_id']}/date=2024-03-01"
        )
        assert (summary["user_id"], summary["customer_id"]) == (entry["user_id"], entry["customer_id"])
        truth = agency.truth("get.calls_report", *api_range(DAY, end), user_id=entry["user_id"])
        assert truth and canonical(iter_landed_rows(summary["partition"])) == canonical(truth)
        manifest = read_manifest(summary["partition"])
        assert manifest["client"] == {k: entry[k] for k in ("customer_id", "customer_name", "user_id", "user_login")}
    # each client's own data (ids may coincide between accounts; the rows do not)
    first, third = (canonical(iter_landed_rows(landed[c]["partition"])) for c in (500001, 500003))
    assert first != third


def test_without_the_option_a_missing_component_fails(agency, tmp_path):
    op = ComagicCallsReportOperator(task_id="calls", output_path=str(tmp_path), user_id=5000021, customer_id=DISABLED)
    with pytest.raises(ComagicComponentDisabledError, match="Enable the required component"):
        op.execute(context(DAY, DAY + dt.timedelta(days=1)))


def test_forbidden_user_is_skipped_with_the_option(agency, tmp_path):
    kwargs = {"task_id": "calls", "output_path": str(tmp_path), "user_id": "12345"}  # rendered template: a string
    with pytest.raises(AirflowSkipException, match="forbidden"):
        ComagicCallsReportOperator(skip_on_missing_access=True, **kwargs).execute(
            context(DAY, DAY + dt.timedelta(days=1))
        )
    with pytest.raises(ComagicPermissionError):
        ComagicCallsReportOperator(**kwargs).execute(context(DAY, DAY + dt.timedelta(days=1)))


def test_listing_filters(agency):
    by_ids = ComagicCustomerUsersOperator(task_id="u", customer_ids="[500003, 500001]").execute({})
    assert [u["customer_id"] for u in by_ids] == [500001, 500003]
    by_name = ComagicCustomerUsersOperator(task_id="u", name_pattern="*00002").execute({})
    assert [u["user_id"] for u in by_name] == [5000021]
    assert agency.stats.successes["get.customers"] == 2 and agency.stats.successes["get.customer_users"] == 2
