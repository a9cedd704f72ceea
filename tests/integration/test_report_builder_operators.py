"""Report-builder lists against the emulator over real HTTP on 127.0.0.1: every list, both formats, equal to the
truth of its saved report; the report found by name or id and checked before any report call; windows at the
list's cap; ``{value, value_id}`` enumerations typed in Parquet."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_builder_methods
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report_builder import (
    REPORT_BUILDER_OPERATORS,
    ComagicReportBuilderCallsOperator,
    ComagicReportBuilderOperator,
    ComagicReportBuilderVisitsOperator,
)
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from tests.integration.test_report_operators import (  # noqa: F401
    DAY,
    MSK,
    NOW,
    api_range,
    canonical,
    context,
    emu,
    typed_rows,
)

pytestmark = pytest.mark.integration

END = DAY + dt.timedelta(days=1)
SAVED = 700_000  # the emulator's saved reports: 700001.. one per type of get.reports_list, "Report <type>"


def report_of(method: str) -> str:
    """A saved report's name the list can read: its first report type, any report when the docs match none."""
    types = get_method(method).report_types
    return f"Report {types[0] if types else 'calls'}"


def saved_params(emu, method: str, name: str) -> dict[str, Any]:  # noqa: F811
    report = next(r for r in emu.truth("get.reports_list", fields=["id", "name", "type"]) if r["name"] == name)
    spec = get_method(method)
    params: dict[str, Any] = {"report_id": report["id"]}
    if "report_type" in spec.params:
        params["report_type"] = report["type"]
    if "is_realtime" in spec.params:
        params["is_realtime"] = False
    return params


def land(method: str, start=DAY, end=END, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("report_name", report_of(method))
    op = ComagicReportBuilderOperator(task_id="builder", method=method, **kwargs)
    return op.execute(context(start, end))


def test_one_named_operator_per_list():
    assert sorted(REPORT_BUILDER_OPERATORS) == sorted(report_builder_methods())
    for method, cls in REPORT_BUILDER_OPERATORS.items():
        op = cls(task_id="t", output_path="/tmp/x", report_id=1)
        assert op.method == method and method in (cls.__doc__ or "")


@pytest.mark.parametrize("method", report_builder_methods())
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_list_lands_equal_to_its_truth(emu, tmp_path, method, fmt):  # noqa: F811
    summary = land(method, output_path=str(tmp_path), output_format=fmt, page_size=90)
    manifest = read_manifest(summary["partition"])
    spec = get_method(method)
    fields = manifest["query"]["fields"]
    assert fields[: len(spec.default_fields)] == list(spec.default_fields)  # the docs' columns when none given
    truth = emu.truth(method, *api_range(DAY, END), fields=fields, **saved_params(emu, method, report_of(method)))
    assert truth, f"the emulator should have {method} rows for the day"
    landed = list(iter_landed_rows(summary["partition"]))
    assert summary["rows"] == len(truth) == manifest["plan"]["rows"]
    assert summary["partition"] == f"file://{tmp_path}/{method.removeprefix('get.')}/date=2024-03-01"
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)
    else:
        assert canonical(landed) == canonical(typed_rows(truth, manifest_schema(manifest)))
    assert manifest["saved_report"]["name"] == report_of(method)
    assert summary["api_calls"] >= 2  # get.reports_list, then the list's pages


def test_enumerations_are_typed_structs_in_parquet(emu, tmp_path):  # noqa: F811
    fields = ["communication_id", "communication_date_time", "communication_type", "call_status", "tags"]
    summary = land("get.communications", output_path=str(tmp_path), fields=fields)
    schema = manifest_schema(read_manifest(summary["partition"]))
    for name in ("communication_type", "call_status"):
        assert pa.types.is_struct(schema.field(name).type)
        assert {child.name for child in schema.field(name).type} == {"value", "value_id"}
    rows = list(iter_landed_rows(summary["partition"]))
    kinds = {row["communication_type"]["value_id"] for row in rows}
    assert kinds and all(isinstance(kind, str) for kind in kinds)


def test_a_report_by_id_and_the_visits_window_of_31_days(emu, tmp_path):  # noqa: F811
    start, end = dt.datetime(2024, 2, 1, tzinfo=MSK), dt.datetime(2024, 3, 17, tzinfo=MSK)  # 45 days
    op = ComagicReportBuilderVisitsOperator(
        task_id="v", output_path=str(tmp_path), report_id=SAVED + 1, fields=["visitor_session_id", "visit_date_time"]
    )
    summary = op.execute(context(start, end))
    manifest = read_manifest(summary["partition"])
    assert manifest["plan"]["windows"] == 2
    truth = []
    for a, b in (("2024-02-01 00:00:00", "2024-03-02 23:59:59"), ("2024-03-03 00:00:00", "2024-03-16 23:59:59")):
        truth += emu.truth("get.visits", a, b, fields=["visitor_session_id"], report_id=SAVED + 1, is_realtime=False)
    landed = [row["visitor_session_id"] for row in iter_landed_rows(summary["partition"])]
    assert len(landed) == len(set(landed)) and sorted(landed) == sorted(r["visitor_session_id"] for r in truth)


def test_each_agency_client_reads_its_own_saved_report(comagic_emulator_factory, monkeypatch, tmp_path):
    agent = comagic_emulator_factory(calls_per_day=60, start_time=NOW, frozen_clock=True, partner_customers=2)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(agent))
    users = agent.call("get.customer_users", {})["result"]["data"]
    clients = [{"user_id": u["id"], "customer_id": u["customer_id"]} for u in users]
    summary = land("get.calls", output_path=str(tmp_path), clients=clients)
    assert summary["landed"] == 2
    for client in clients:
        partition = f"file://{tmp_path}/calls/customer_id={client['customer_id']}/date=2024-03-01"
        params = {"report_id": SAVED + 10, "user_id": client["user_id"]}
        truth = agent.truth("get.calls", *api_range(DAY, END), fields=["communication_id"], **params)
        got = sorted(r["communication_id"] for r in iter_landed_rows(partition))
        assert got == sorted(r["communication_id"] for r in truth) and got


# -- bad input: before any report call ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"report_name": "Report chats"}, r"invalid 'report_name': report 700008 'Report chats' is a 'chats' report"),
        ({"report_id": SAVED + 8}, r"invalid 'report_id': report 700008 'Report chats' is a 'chats' report"),
        ({"report_name": "Weekly calls"}, r"invalid 'report_name': no saved report 'Weekly calls'; .*700010"),
        ({"report_id": 123}, r"invalid 'report_id': no saved report 123; reports it can read: 700010 'Report calls'"),
    ],
)
def test_a_missing_or_wrong_report_fails_before_any_report_call(emu, tmp_path, kwargs, match):  # noqa: F811
    emu.stats.reset()
    op = ComagicReportBuilderCallsOperator(task_id="c", output_path=str(tmp_path), **kwargs)
    with pytest.raises(ComagicParameterError, match=match):
        op.execute(context(DAY, END))
    assert "get.calls" not in emu.stats.successes and emu.stats.successes["get.reports_list"] == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "get.call"}, r"unknown report-builder list 'get.call' \(did you mean 'get.calls'\?\)\. The "
         r"report-builder lists: get.communications, get.calls"),
        ({"method": "get.calls_report", "report_id": 1}, r"get.calls_report is not a report-builder list"),
        ({"method": "get.calls"}, r"give report_id or report_name"),
        ({"method": "get.calls", "report_id": 1, "report_name": "x"}, r"give report_id or report_name \(one of them"),
        ({"method": "get.communications", "report_id": 1, "report_type": "calls"}, r"invalid 'report_type' 'calls'"),
        ({"method": "get.calls", "report_id": 1, "is_realtime": True}, r"get.calls takes no is_realtime"),
        ({"method": "get.visits", "report_id": 1, "is_realtime": "yes"}, r"invalid 'is_realtime' 'yes'"),
        ({"method": "get.calls", "report_id": "abc"}, r"report_id"),
        ({"method": "get.calls", "report_id": 1, "sort": [{"field": "tags", "order": "asc"}]},
         r"invalid 'sort': field is not sortable: 'tags'"),
        ({"method": "get.calls", "report_id": 1, "api_params": {"report_id": 2}},
         r"invalid 'api_params' \['report_id'\].*report_id.*own arguments"),
        ({"method": "get.calls", "report_id": 1, "fields": ["communication_id", "nope"]}, r"unknown field 'nope'"),
    ],
)  # fmt: skip
def test_bad_input_fails_at_parse_time(emu, kwargs, match):  # noqa: F811
    with pytest.raises(ComagicParameterError, match=match):
        ComagicReportBuilderOperator(task_id="b", output_path="/tmp/never", **kwargs)
    assert emu.stats.requests == 0


def test_templated_report_arguments_are_checked_once_rendered(emu, tmp_path):  # noqa: F811
    op = ComagicReportBuilderCallsOperator(task_id="c", output_path=str(tmp_path), report_name="{{ params.report }}")
    op.report_name = "Report calls"  # what Airflow renders
    summary = op.execute(context(DAY, END))
    assert summary["rows"] > 0
