"""Schema drift on the reference-data and report-builder paths, over real HTTP against the emulator: a snapshot
read in shuffled pages and a report-builder list land every row in Parquet, the certain values coerced, the others
null with their value as sent in ``_rescued``; the manifest records what drifted; a tight limit fails the task
naming the column and commits nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from airflow_provider_comagic.exceptions import SchemaDriftError
from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.reference import ComagicEmployeesSnapshotOperator
from airflow_provider_comagic.operators.report_builder import ComagicReportBuilderOperator
from tests.integration.test_report_builder_operators import saved_params
from tests.integration.test_report_operators import DAY, api_range, context, emu  # noqa: F401

pytestmark = pytest.mark.integration

END = DAY + dt.timedelta(days=1)
EMPLOYEE_FIELDS = ["id", "full_name", "status_id", "calls_available", "schedule_id", "groups"]
COMMUNICATION_FIELDS = ["communication_id", "communication_date_time", "total_duration", "communication_number"]


def rescued(row: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(row["_rescued"]) if row["_rescued"] else {}


def test_a_drifting_snapshot_lands_every_row(emu, tmp_path):  # noqa: F811
    for kind, field in [
        ("drift_number_as_string", "schedule_id"),
        ("drift_bool_as_int", "calls_available"),
        ("drift_object_for_array", "groups"),
        ("drift_fractional_int", "status_id"),
    ]:
        emu.faults.add(kind, field=field, fraction=0.4, method="get.employees")
    op = ComagicEmployeesSnapshotOperator(
        task_id="employees",
        output_path=str(tmp_path),
        fields=EMPLOYEE_FIELDS,
        page_size=6,  # several pages of a list the emulator shuffles on every call
        max_rescued_fraction=1.0,
    )
    summary = op.execute(context(DAY, END))
    truth = {row["id"]: row for row in emu.truth("get.employees", fields=EMPLOYEE_FIELDS)}
    landed = {row["id"]: row for row in iter_landed_rows(summary["partition"])}
    assert sorted(landed) == sorted(truth) and summary["rows"] == len(truth)
    kinds = {"schedule_id": 0, "calls_available": 0, "groups": 0, "status_id": 0}
    for key, row in landed.items():
        sent = truth[key]
        if isinstance(sent["schedule_id"], str):
            kinds["schedule_id"] += 1
            assert row["schedule_id"] == int(sent["schedule_id"])
        if type(sent["calls_available"]) is int:
            kinds["calls_available"] += 1
            assert row["calls_available"] is bool(sent["calls_available"])
        if isinstance(sent["groups"], dict):
            kinds["groups"] += 1
            assert [g["group_id"] for g in row["groups"]] == [sent["groups"]["group_id"]]
        if isinstance(sent["status_id"], float):
            kinds["status_id"] += 1
            assert row["status_id"] is None and rescued(row) == {"status_id": sent["status_id"]}
        else:
            assert row["status_id"] == sent["status_id"] and "status_id" not in rescued(row)
    assert all(kinds.values()), kinds  # every kind drifted some row
    records = {(c["column"], c["arrived"]) for c in read_manifest(summary["partition"])["drift"]["columns"]}
    assert {("schedule_id", "digit string"), ("groups", "lone object"), ("status_id", "float")} <= records


def test_a_drifting_report_builder_list_lands_or_fails_whole(emu, tmp_path):  # noqa: F811
    method = "get.communications"
    emu.faults.add("drift_number_as_string", field="communication_number", fraction=0.2, method=method)
    emu.faults.add("drift_fractional_int", field="total_duration", fraction=0.2, method=method)
    report = "Report communications"
    kwargs = {"task_id": "c", "method": method, "report_name": report, "fields": COMMUNICATION_FIELDS, "page_size": 50}
    with pytest.raises(SchemaDriftError, match="total_duration"):  # past the 5 % default limit
        ComagicReportBuilderOperator(output_path=str(tmp_path / "strict"), **kwargs).execute(context(DAY, END))
    assert not list((tmp_path / "strict").rglob("*.parquet"))  # nothing committed

    op = ComagicReportBuilderOperator(output_path=str(tmp_path / "lake"), max_rescued_fraction=0.5, **kwargs)
    summary = op.execute(context(DAY, END))
    params = saved_params(emu, method, report)
    truth = emu.truth(method, *api_range(DAY, END), fields=COMMUNICATION_FIELDS, **params)
    landed = {row["communication_id"]: row for row in iter_landed_rows(summary["partition"])}
    assert len(landed) == len(truth) == summary["rows"]
    coerced = rescued_rows = 0
    for sent in truth:
        row = landed[sent["communication_id"]]
        if isinstance(sent["communication_number"], str):
            coerced += 1
            assert row["communication_number"] == int(sent["communication_number"])
        if isinstance(sent["total_duration"], float):
            rescued_rows += 1
            assert row["total_duration"] is None and rescued(row) == {"total_duration": sent["total_duration"]}
        else:
            assert row["total_duration"] == sent["total_duration"]
    assert coerced and rescued_rows
