"""Asset events and OpenLineage facets of the report, MCN and upload tasks against the emulators: the events
Airflow's task runner would send (its own accessors and serializer), and the lineage written through
OpenLineage's file transport."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.mcn.call_log import CALL_LOG_FIELDS
from airflow_provider_comagic.operators.mcn import McnCallLogOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator, ComagicReportOperator
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.version_compat import PARTITIONED_ASSETS, Asset, AssetAlias
from tests.fixtures.airflow_compat import DAG, OutletEventAccessors, alias_events, event_extra, partition_events
from tests.fixtures.uploads import make_call

pytestmark = pytest.mark.integration
needs_partitions = pytest.mark.skipif(not PARTITIONED_ASSETS, reason="run-time partition keys need Airflow 3.3+")
MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 2, tzinfo=MSK)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=250, start_time=NOW, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


def _execute(op: Any, start: dt.datetime = DAY) -> tuple[dict[str, Any], Any]:
    """Run ``op`` for the day from ``start`` with Airflow's own outlet event accessors; return them too."""
    accessors = OutletEventAccessors()
    context = {"data_interval_start": start, "data_interval_end": start + dt.timedelta(days=1), "run_id": "test"}
    return op.execute({**context, "outlet_events": accessors}), accessors


def _run(op: ComagicReportOperator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary, accessors = _execute(op)
    return summary, partition_events(accessors)


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


def _report(tmp_path, **kwargs: Any) -> ComagicReportOperator:
    return ComagicReportOperator(task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}", **kwargs)


def test_the_event_extra_describes_every_landed_partition(emu, tmp_path):
    """Every Airflow version: the event's extra lists each partition key and its details (2.10-3.2 have no
    run-time partition keys, so this is all a consumer gets there)."""
    op = _report(tmp_path, lookback=dt.timedelta(days=1), customer_id=500001)
    assert [o.uri for o in op.outlets] == [f"file://{tmp_path}/calls_report"]  # declared at parse time
    summary, accessors = _execute(op)
    extra = event_extra(accessors, f"file://{tmp_path}/calls_report")
    keys = ["500001|2024-03-02", "500001|2024-03-01"]  # the data interval first, then the re-landed day
    assert extra["partition_keys"] == keys and extra["partition_key"] == keys[0]
    for key, day in zip(keys, (DAY.date(), DAY.date() - dt.timedelta(days=1)), strict=True):
        details = extra["partitions"][key]
        manifest = read_manifest(details["manifest"])
        assert details["rows"] == manifest["rows"] == _truth(emu, day) > 0
        assert details["bytes"] == manifest["bytes"] and details["files"] == len(manifest["files"])
        assert details["customer_id"] == 500001 and details["replaced"] is False
        assert (details["date_from"], details["date_till"]) == (f"{day} 00:00:00", f"{day} 23:59:59")
        assert details["api_calls"] == manifest["api"]["calls"] and details["points"] == manifest["api"]["points"]
    assert {k: extra[k] for k in ("rows", "manifest")} == {
        k: extra["partitions"][keys[0]][k] for k in ("rows", "manifest")
    }
    assert summary["partition_key"] == keys[0]


@needs_partitions
def test_one_event_per_partition_with_its_key(emu, tmp_path):
    _, events = _run(_report(tmp_path, lookback=dt.timedelta(days=1), customer_id=500001))
    keys = ["500001|2024-03-02", "500001|2024-03-01"]
    assert sorted(e["partition_key"] for e in events) == sorted(keys)
    assert {e["dest_asset_key"]["uri"] for e in events} == {f"file://{tmp_path}/calls_report"}
    assert all(e["extra"]["partition_keys"] == keys for e in events)  # Airflow gives them one extra


def test_a_templated_path_declares_an_alias_whose_events_name_the_asset(emu, tmp_path):
    with DAG("lake", schedule=None, start_date=DAY):
        op = ComagicReportOperator(
            task_id="land", method="get.calls_report", output_path="{{ var.value.lake }}", lookback=dt.timedelta(days=1)
        )
    alias = AssetAlias(name="comagic:lake.land")
    assert op.outlets == [alias]  # declared at parse time: Airflow keeps events only for what was declared then
    op.output_path = "s3://aws@bucket/lake/"  # as rendered; the connection id is no part of the asset URI
    assert op.landing_asset().uri == "s3://bucket/lake/calls_report"
    op.output_path = f"file://{tmp_path}"
    summary, accessors = _execute(op)
    events = alias_events(accessors, alias)
    assert [(name, uri) for name, uri, _ in events] == [("comagic:lake.land", f"file://{tmp_path}/calls_report")] * 2
    keys = ["2024-03-02", "2024-03-01"]
    assert [extra["partition_key"] for _, _, extra in events] == keys  # one event per partition, its own extra
    for (_, _, extra), entry in zip(events, summary["intervals"], strict=True):
        assert extra["partition_keys"] == [entry["partition_key"]] and list(extra["partitions"]) == [
            entry["partition_key"]
        ]
        assert extra["rows"] == entry["rows"] == read_manifest(entry["partition"])["rows"]
    assert event_extra(accessors, f"file://{tmp_path}/calls_report") == {}  # nothing on the undeclared asset


def test_an_asset_given_at_parse_time_gets_the_events_whatever_the_path(emu, tmp_path):
    asset = Asset("comagic://lake/calls")
    op = ComagicReportOperator(
        task_id="land", method="get.calls_report", output_path="{{ var.value.lake }}", output_asset=asset
    )
    assert op.outlets == [asset]
    op.output_path = f"file://{tmp_path}"
    _, accessors = _execute(op)
    assert event_extra(accessors, asset.uri)["partition_keys"] == ["2024-03-02"]
    if PARTITIONED_ASSETS:
        assert [e["partition_key"] for e in partition_events(accessors)] == ["2024-03-02"]
    with pytest.raises(ComagicParameterError, match="output_asset must be an Asset"):
        ComagicReportOperator(task_id="bad", method="get.calls_report", output_path="/x", output_asset="s3://b/k")


def test_a_mapped_task_declares_its_outlet_at_parse_time(emu, tmp_path):
    with DAG("fanout", schedule=None, start_date=DAY):
        literal = ComagicReportOperator.partial(
            task_id="literal", method="get.calls_report", output_path=f"file://{tmp_path}"
        ).expand_kwargs([{"user_id": 1}])
        templated = ComagicCallsReportOperator.partial(task_id="templated", output_path="{{ var.value.lake }}").expand(
            user_id=[1, 2]
        )
    assert [o.uri for o in literal.partial_kwargs["outlets"]] == [f"file://{tmp_path}/calls_report"]
    assert templated.partial_kwargs["outlets"] == [AssetAlias(name="comagic:fanout.templated")]


def test_openlineage_facets_field_by_field(emu, tmp_path):
    op = ComagicReportOperator(task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}")
    _execute(op)
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

    _execute(op)  # a rerun replaces the copy
    rerun = _emit(tmp_path / "ol2.json", op.get_openlineage_facets_on_complete(None))
    assert rerun["outputs"][0]["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "OVERWRITE"

    client = ComagicReportOperator(
        task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}", customer_id=500001
    )
    _execute(client)  # an agency's client: the API dataset names it
    agency = _emit(tmp_path / "ol3.json", client.get_openlineage_facets_on_complete(None))
    assert agency["inputs"][0]["name"] == "get.calls_report/customer_id=500001"


def test_a_lineage_error_is_logged_not_raised(emu, tmp_path, capfd):
    op = ComagicReportOperator(task_id="land", method="get.calls_report", output_path=f"file://{tmp_path}")
    _execute(op)
    op._landed = [{"partition": 12345}]  # not a path: building the facets fails
    assert op.get_openlineage_facets_on_complete(None) is None
    out, err = capfd.readouterr()  # Airflow's task logger writes to the console
    assert "Could not build the OpenLineage facets" in out + err


# -- MCN call log ---------------------------------------------------------------------------------------------------
@pytest.fixture
def mcn(mcn_emulator_factory, monkeypatch):
    emulator = mcn_emulator_factory(calls_per_day=40)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emulator))
    return emulator


def test_mcn_call_log_events_one_partition_per_vpbx_and_day(mcn, tmp_path):
    op = McnCallLogOperator(task_id="mcn", vpbx_id=None, output_path=f"file://{tmp_path}")
    assert [o.uri for o in op.outlets] == [f"file://{tmp_path}/mcn_call_log"]
    _, accessors = _execute(op)
    extra = event_extra(accessors, f"file://{tmp_path}/mcn_call_log")
    assert extra["partition_keys"] == ["7001|2024-03-02", "7002|2024-03-02"]
    for vpbx in ("7001", "7002"):
        details = extra["partitions"][f"{vpbx}|2024-03-02"]
        truth = mcn.calls(vpbx, DAY, DAY + dt.timedelta(days=1))
        assert details["vpbx_id"] == vpbx and details["rows"] == len(truth) > 0
        assert details["manifest"] == f"file://{tmp_path}/mcn_call_log/vpbx_id={vpbx}/date=2024-03-02/_manifest.json"
        assert read_manifest(details["manifest"])["rows"] == details["rows"]
    if PARTITIONED_ASSETS:
        assert sorted(e["partition_key"] for e in partition_events(accessors)) == extra["partition_keys"]


def test_mcn_call_log_lineage(mcn, tmp_path):
    op = McnCallLogOperator(task_id="mcn", vpbx_id=None, output_path=f"file://{tmp_path}")
    _execute(op)
    event = _emit(tmp_path / "ol.json", op.get_openlineage_facets_on_complete(None))
    (source,) = event["inputs"]
    assert source["namespace"] == "mcn://" + mcn.base_url.split("://")[1].split("/")[0]
    assert source["name"] == f"call_log/account_id={mcn.account_id}"
    assert {f["name"] for f in source["facets"]["schema"]["fields"]} >= set(CALL_LOG_FIELDS)
    outputs = {o["name"]: o for o in event["outputs"]}
    assert set(outputs) == {
        str(tmp_path / "mcn_call_log" / f"vpbx_id={v}" / "date=2024-03-02") for v in ("7001", "7002")
    }
    for name, output in outputs.items():
        vpbx = name.split("vpbx_id=")[1].split("/")[0]
        assert output["namespace"] == "file"
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(
            mcn.calls(vpbx, DAY, DAY + dt.timedelta(days=1))
        )


# -- upload ---------------------------------------------------------------------------------------------------------
def test_upload_lineage_reads_the_calls_file_and_writes_the_api(emu, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(make_call(f"f-{i}")) for i in range(7)))
    op = ComagicUploadCallsOperator(task_id="upload", calls_path=f"file://{path}", batch_size=5)
    op.execute({})
    event = _emit(tmp_path / "ol.json", op.get_openlineage_facets_on_complete(None))
    assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [("file", str(path))]
    (api,) = event["outputs"]
    assert (api["namespace"], api["name"]) == ("comagic://" + emu.base_url.split("://")[1], "upload.calls")
    assert api["outputFacets"]["outputStatistics"]["rowCount"] == 7
