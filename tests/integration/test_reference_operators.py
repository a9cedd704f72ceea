"""Reference snapshots against the emulator over real HTTP on 127.0.0.1: every list whole, both formats, equal to
the truth, although the lists that cannot sort by their id come back in a new order on every call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, reference_methods
from airflow_provider_comagic.comagic.errors import ComagicComponentDisabledError, ComagicParameterError
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.reference import (
    REFERENCE_OPERATORS,
    ComagicEmployeesSnapshotOperator,
    ComagicReferenceOperator,
    ComagicScenariosSnapshotOperator,
)
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import AirflowSkipException, TaskDeferred
from tests.fixtures.airflow_compat import OutletEventAccessors, event_extra
from tests.fixtures.processes import require_import
from tests.integration.test_report_operators import DAY, NOW, canonical, context, emu, typed_rows  # noqa: F401
from tests.unit.comagic.test_catalogue_api import SNAPSHOTS

pytestmark = pytest.mark.integration

END = DAY + dt.timedelta(days=1)
# the issue's lists: campaigns, sites, site blocks, tags, employees, employee groups, virtual numbers, scenarios,
# segments, events, chat channels, statuses, sources, source groups, source channels, sales funnels, contacts
NAMED = SNAPSHOTS
CLIENT_LISTS = [name for name in reference_methods() if get_method(name).callable_by("client")]
PARTNER_LISTS = [name for name in reference_methods() if not get_method(name).callable_by("client")]


def snapshot(method: str, tmp_path, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("output_path", str(tmp_path))
    op = ComagicReferenceOperator(task_id="snapshot", method=method, **kwargs)
    return op.execute(context(DAY, END))


def expected_fields(method: str) -> list[str]:
    spec = get_method(method)
    return [*spec.default_fields, *(k for k in spec.key if k not in spec.default_fields)]


def check_equal_to_truth(emu, method: str, summary: dict[str, Any], fmt: str, **params: Any) -> None:  # noqa: F811
    manifest = read_manifest(summary["partition"])
    if "fields" in get_method(method).params:
        params["fields"] = manifest["query"]["fields"]
    truth = emu.truth(method, **params)
    assert truth, f"the emulator should list rows of {method}"
    landed = list(iter_landed_rows(summary["partition"]))
    assert summary["rows"] == manifest["rows"] == len(truth)
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)  # the API's rows, values and all
    else:
        assert canonical(landed) == canonical(typed_rows(truth, manifest_schema(manifest)))
    key = get_method(method).key
    ids = [tuple(row[k] for k in key) for row in landed]
    assert len(ids) == len(set(ids))


def test_the_named_lists_are_the_issues_seventeen():
    assert tuple(REFERENCE_OPERATORS) == NAMED
    for method, cls in REFERENCE_OPERATORS.items():
        op = cls(task_id="t", output_path="/tmp/x")
        assert op.method == method and method in (cls.__doc__ or "")
        assert op.outlets[0].uri == f"file:///tmp/x/{method.removeprefix('get.')}"


# -- every list a client calls, both formats, against the truth ------------------------------------------------
@pytest.mark.parametrize("method", CLIENT_LISTS)
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_list_lands_equal_to_its_truth(emu, tmp_path, method, fmt):  # noqa: F811
    summary = snapshot(method, tmp_path, output_format=fmt, page_size=7)  # several pages for most lists
    assert summary["partition"] == f"file://{tmp_path}/{method.removeprefix('get.')}/date=2024-03-01"
    assert summary["partition_key"] == "2024-03-01"
    assert read_manifest(summary["partition"])["query"]["fields"] == expected_fields(method)
    check_equal_to_truth(emu, method, summary, fmt)


@pytest.mark.parametrize("method", PARTNER_LISTS)
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_partner_only_lists_land_for_an_agent(comagic_emulator_factory, monkeypatch, tmp_path, method, fmt):
    agent = comagic_emulator_factory(calls_per_day=20, start_time=NOW, frozen_clock=True, partner_customers=3)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(agent))
    summary = snapshot(method, tmp_path, output_format=fmt, page_size=2)
    check_equal_to_truth(agent, method, summary, fmt)


def test_every_reference_list_is_tested_against_its_truth():
    assert sorted([*CLIENT_LISTS, *PARTNER_LISTS]) == sorted(reference_methods()) and len(reference_methods()) == 50


def test_a_list_without_a_sortable_id_is_exact_although_every_call_shuffles_it(emu, tmp_path):  # noqa: F811
    """get.employees (40 rows) cannot be sorted by id: unsorted, it comes back in a new order on every call. Read in
    pages of 6 sorted by login, then in one page of 10 000: both exact, both in one read."""
    assert not get_method("get.employees").key_sortable and emu.config.unstable_order
    paged = ComagicEmployeesSnapshotOperator(task_id="e", output_path=str(tmp_path / "a"), page_size=6)
    first = paged.execute(context(DAY, END))
    manifest = read_manifest(first["partition"])
    assert manifest["plan"]["rereads"] == 0 and manifest["plan"]["pages"] == first["api_calls"] == 8  # 40/(6-1)
    assert manifest["query"]["page_size"] == 6
    check_equal_to_truth(emu, "get.employees", first, "parquet")
    whole = ComagicEmployeesSnapshotOperator(task_id="e", output_path=str(tmp_path / "b"))
    second = whole.execute(context(DAY, END))
    assert second["api_calls"] == 1 and read_manifest(second["partition"])["plan"]["pages"] == 1
    check_equal_to_truth(emu, "get.employees", second, "parquet")


def test_the_emulator_does_shuffle_unsorted_lists(emu):  # noqa: F811
    """The premise of the test above: offset pages of an unsorted list lose and repeat rows."""
    pages = [emu.call("get.employees", {"limit": 10, "offset": o})["result"]["data"] for o in range(0, 40, 10)]
    ids = [row["id"] for page in pages for row in page]
    assert len(ids) == 40 and len(set(ids)) < 40


def test_manifest_records_the_snapshot(emu, tmp_path):  # noqa: F811
    summary = snapshot("get.tags", tmp_path, output_format="jsonl")
    manifest = read_manifest(summary["partition"])
    assert manifest["method"] == "get.tags" and manifest["snapshot"] is True
    assert manifest["interval"] == {"start": DAY.isoformat(), "end": END.isoformat(), "timezone": "Europe/Moscow"}
    taken = dt.datetime.fromisoformat(manifest["api"]["snapshot_time"])
    assert abs(taken - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    assert "date_from" not in manifest["api"]  # a list has no dates
    assert (summary["date_from"], summary["date_till"]) == ("2024-03-01 00:00:00", "2024-03-01 23:59:59")


def test_openlineage_of_a_snapshot(emu, tmp_path):  # noqa: F811
    require_import("airflow.providers.openlineage", "the OpenLineage provider (the [test] extra has it)")
    op = ComagicReferenceOperator(task_id="s", method="get.tags", output_path=str(tmp_path), fields=["id", "name"])
    summary = op.execute(context(DAY, END))
    lineage = op.get_openlineage_facets_on_complete(None)
    (source,), (landed,) = lineage.inputs, lineage.outputs
    assert source.namespace.startswith("comagic://127.0.0.1:") and source.name == "get.tags"
    assert [f.name for f in source.facets["schema"].fields] == ["id", "name"]
    assert (landed.namespace, landed.name) == ("file", summary["partition"].removeprefix("file://"))


def test_a_rerun_replaces_the_days_snapshot(emu, tmp_path):  # noqa: F811
    first = snapshot("get.sites", tmp_path)
    second = snapshot("get.sites", tmp_path)
    assert second["partition"] == first["partition"] and second["replaced"] is True
    assert second["rows"] == len(list(iter_landed_rows(second["partition"])))


def test_asset_event_of_a_snapshot(emu, tmp_path):  # noqa: F811
    op = ComagicReferenceOperator(task_id="s", method="get.campaigns", output_path=str(tmp_path))
    events = OutletEventAccessors()
    op.execute({**context(DAY, END), "outlet_events": events})
    extra = event_extra(events, f"file://{tmp_path}/campaigns")
    assert extra["partition_keys"] == ["2024-03-01"] and extra["rows"] == 25


def test_a_client_without_the_component_is_skipped(comagic_emulator_factory, monkeypatch, tmp_path):
    account = comagic_emulator_factory(calls_per_day=20, start_time=NOW, frozen_clock=True, disabled_components={"va"})
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(account))
    kwargs = {"task_id": "s", "output_path": str(tmp_path)}
    with pytest.raises(ComagicComponentDisabledError):
        ComagicScenariosSnapshotOperator(**kwargs).execute(context(DAY, END))
    with pytest.raises(AirflowSkipException, match=r"has no access to get\.scenarios"):
        ComagicScenariosSnapshotOperator(skip_on_missing_access=True, **kwargs).execute(context(DAY, END))
    assert not (tmp_path / "scenarios" / "date=2024-03-01" / "_manifest.json").exists()


def test_agency_clients_each_land_their_own_snapshot(comagic_emulator_factory, monkeypatch, tmp_path):
    agent = comagic_emulator_factory(calls_per_day=20, start_time=NOW, frozen_clock=True, partner_customers=3)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(agent))
    users = agent.call("get.customer_users", {})["result"]["data"]
    clients = [{"user_id": u["id"], "customer_id": u["customer_id"]} for u in users]
    op = ComagicReferenceOperator(
        task_id="s", method="get.employees", output_path=str(tmp_path), clients=clients, page_size=9
    )
    summary = op.execute(context(DAY, END))
    assert summary["landed"] == 3 and summary["partitions"] == 3
    for client in clients:
        partition = f"file://{tmp_path}/employees/customer_id={client['customer_id']}/date=2024-03-01"
        truth = agent.truth("get.employees", fields=["id"], user_id=client["user_id"])
        assert sorted(r["id"] for r in iter_landed_rows(partition)) == sorted(r["id"] for r in truth)


def test_a_spent_quota_defers_and_the_snapshot_resumes_exactly(emu, tmp_path):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.contacts", calls={3}, limit_type="minute")
    op = ComagicReferenceOperator(
        task_id="s", method="get.contacts", output_path=str(tmp_path), page_size=5, deferrable=True
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(DAY, END))
    saved = deferred.value.kwargs
    assert saved["run"]["current"]["writer"]["rows"] > 0  # the pages before the wait are kept
    summary = op.execute_complete(context(DAY, END), event={"status": "success", "limit_type": "minute"}, **saved)
    assert summary["deferrals"] == 1
    check_equal_to_truth(emu, "get.contacts", summary, "parquet")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "get.campaign"}, r"unknown reference list 'get.campaign' \(did you mean 'get.campaigns'\?\)"),
        ({"method": "get.calls_report"}, r"get.calls_report is not a reference list.*ComagicReportOperator"),
        ({"method": "get.tags", "filter": {"field": "id", "operator": "=", "value": 1}}, r"filter: a snapshot"),
        ({"method": "get.tags", "lookback": dt.timedelta(days=1)}, r"lookback: a snapshot of get.tags"),
        ({"method": "get.tags", "fields": ["id", "colour"]}, r"unknown field 'colour'"),
        ({"method": "get.tags", "page_size": 10_001}, r"page_size must be an integer from 1 to 10000"),
    ],
)
def test_bad_input_fails_at_parse_time_before_any_call(emu, kwargs, match):  # noqa: F811
    with pytest.raises(ComagicParameterError, match=match):
        ComagicReferenceOperator(task_id="s", output_path="/tmp/never", **kwargs)
    assert emu.stats.requests == 0
