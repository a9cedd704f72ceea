"""Asset events and OpenLineage facets of a report task against the emulator: the events Airflow's task runner
would send (its own accessors and serializer), and the lineage written through OpenLineage's file transport."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.operators.report import ComagicReportOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not PARTITIONED_ASSETS, reason="run-time partition keys need Airflow 3.3+"),
]
MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 2, tzinfo=MSK)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=250, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def _run(op: ComagicReportOperator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from airflow.sdk.execution_time.task_runner import _serialize_outlet_events

    events = OutletEventAccessors()
    summary = op.execute(
        {"data_interval_start": DAY, "data_interval_end": DAY + dt.timedelta(days=1), "outlet_events": events}
    )
    return summary, list(_serialize_outlet_events(events))


def _emit(path, lineage) -> dict[str, Any]:
    """Write a COMPLETE event of ``lineage`` with OpenLineage's file transport; read it back."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.uuid import generate_new_uuid

    client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))
    client.emit(
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=dt.datetime.now(dt.timezone.utc).isoformat(),
            run=Run(runId=str(generate_new_uuid())),
            job=Job(namespace="test", name="land"),
            producer="tests",
            inputs=lineage.inputs,
            outputs=lineage.outputs,
        )
    )
    return json.loads(path.read_text().splitlines()[-1])


def _truth(emu, day: dt.date) -> int:
    return len(emu.truth("get.calls_report", f"{day} 00:00:00", f"{day} 23:59:59", fields=["id"]))


def test_one_event_per_partition_with_key_and_extra(emu, tmp_path):
    op = ComagicReportOperator(
        task_id="land",
        method="get.calls_report",
        output_path=f"file://{tmp_path}",
        lookback=dt.timedelta(days=1),
        customer_id=500001,
    )
    assert [o.uri for o in op.outlets] == [f"file://{tmp_path}/calls_report"]  # declared at parse time
    summary, events = _run(op)
    keys = ["500001|2024-03-02", "500001|2024-03-01"]
    assert sorted(e["partition_key"] for e in events) == sorted(keys)
    assert {e["dest_asset_key"]["uri"] for e in events} == {f"file://{tmp_path}/calls_report"}
    extra = events[0]["extra"]
    assert extra["partition_keys"] == keys and extra["partition_key"] == keys[0]
    for key, day in zip(keys, (DAY.date(), DAY.date() - dt.timedelta(days=1)), strict=True):
        details = extra["partitions"][key]
        manifest = read_manifest(details["manifest"])
        assert details["rows"] == manifest["rows"] == _truth(emu, day) > 0
        assert details["bytes"] == manifest["bytes"] and details["files"] == len(manifest["files"])
        assert details["customer_id"] == 500001
        assert (details["date_from"], details["date_till"]) == (f"{day} 00:00:00", f"{day} 23:59:59")
        assert details["api_calls"] == manifest["api"]["calls"] and details["points"] == manifest["api"]["points"]
    assert summary["partition_key"] == keys[0]


def test_templated_path_declares_the_asset_once_rendered(emu, tmp_path):
    op = ComagicReportOperator(task_id="land", method="get.calls_report", output_path="{{ var.value.lake }}")
    assert op.outlets == []
    op.output_path = "s3://aws@bucket/lake/"  # as rendered; the connection id is no part of the asset URI
    assert op.output_asset().uri == "s3://bucket/lake/calls_report"
    op.output_path = f"file://{tmp_path}"
    _, events = _run(op)
    assert [o.uri for o in op.outlets] == [f"file://{tmp_path}/calls_report"]
    assert [e["partition_key"] for e in events] == ["2024-03-02"]


def test_openlineage_facets_field_by_field(emu, tmp_path):
    op = ComagicReportOperator(task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}")
    _run(op)
    event = _emit(tmp_path / "ol.json", op.get_openlineage_facets_on_complete(None))
    (source,) = event["inputs"]
    assert source["namespace"] == "comagic://" + emu.base_url.split("://")[1] and source["name"] == "get.calls_report"
    catalogue = {f.name: f.type for f in get_method("get.calls_report").fields}
    fields = source["facets"]["schema"]["fields"]
    assert fields and all(f["type"] == catalogue[f["name"]] for f in fields)
    assert {f["name"] for f in fields} >= set(get_method("get.calls_report").default_fields)
    (landed,) = event["outputs"]
    partition = tmp_path / "calls_report" / "date=2024-03-02"
    assert (landed["namespace"], landed["name"]) == ("file", str(partition))
    manifest = read_manifest(str(partition))
    assert [f["name"] for f in landed["facets"]["schema"]["fields"]] == manifest_schema(manifest).names
    stats = landed["outputFacets"]["outputStatistics"]
    assert stats == {**stats, "rowCount": _truth(emu, DAY.date()), "size": manifest["bytes"], "fileCount": 1}
    assert "lifecycleStateChange" not in landed["facets"]

    _run(op)  # a rerun replaces the copy
    rerun = _emit(tmp_path / "ol2.json", op.get_openlineage_facets_on_complete(None))
    assert rerun["outputs"][0]["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "OVERWRITE"


def test_a_lineage_error_is_logged_not_raised(emu, tmp_path, capfd):
    op = ComagicReportOperator(task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}")
    _run(op)
    op._landed = [{"partition": 12345}]  # not a path: building the facets fails
    assert op.get_openlineage_facets_on_complete(None) is None
    out, err = capfd.readouterr()  # Airflow's task logger writes to the console
    assert "Could not build the OpenLineage facets" in out + err
