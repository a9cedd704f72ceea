"""The recordings operators over real HTTP against both emulators: the recordings of a day's calls land as the
calls name them, from the landed calls partition (no report call) or from the API; a rerun and a lookback
download nothing twice; failures are committed then named; agency clients, the legs report, asset events, no
media URL anywhere, and bad input at parse time naming the task."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pendulum
import pytest

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.recordings import CALLS_METHOD, LEGS_METHOD, recording_fields, recordings_of
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.recordings import RecordingDownloadError, object_name
from airflow_provider_comagic.mcn.errors import McnParameterError
from airflow_provider_comagic.mcn.recordings import call_log_recordings
from airflow_provider_comagic.operators.mcn import McnCallLogOperator, McnCallRecordingsOperator
from airflow_provider_comagic.operators.recordings import ComagicCallRecordingsOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.testing.pytest_plugin import mcn_connection_json
from airflow_provider_comagic.utils.time import get_timezone
from tests.fixtures.airflow_compat import OutletEventAccessors, event_extra
from tests.fixtures.recordings import LATER, QUICK, TZ, connection_json

pytestmark = pytest.mark.integration

MSK = pendulum.timezone(TZ)
DAY, END = dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 3, 2, tzinfo=MSK)
API_DAY = (DAY, END)


def context(start: dt.datetime = DAY, end: dt.datetime = END, **more: Any) -> dict[str, Any]:
    return {"data_interval_start": start, "data_interval_end": end, "run_id": "rec", **more}


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(calls_per_day=12, start_time=LATER, frozen_clock=True)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator, max_retries=1))
    return emulator


def expected(method: str = CALLS_METHOD, **kwargs: Any) -> set[tuple[str, str, str]]:
    """The keys of the recordings the day's rows name, built straight from the API's rows."""
    hook = ComagicHook()
    rows = hook.iter_rows(method, *API_DAY, fields=recording_fields(method, kwargs.get("kinds")))
    found = recordings_of(method, rows, media_base=hook.media_base_url(), tz=get_timezone(TZ), **kwargs)
    return {r.key for r in found}


def landed_keys(manifest: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(e["call"], e["kind"], e["record"]) for e in manifest["files"]}


def recordings_task(tmp_path, **kwargs: Any) -> ComagicCallRecordingsOperator:
    kwargs.setdefault("output_path", str(tmp_path / "recordings"))
    return ComagicCallRecordingsOperator(task_id="recordings", **kwargs)


def test_the_recordings_of_the_days_calls_land_from_the_api(emu, tmp_path):
    summary = recordings_task(tmp_path).execute(context())
    manifest = read_manifest(summary["partition"])
    assert summary["partition"] == f"file://{tmp_path}/recordings/calls_report_recordings/date=2024-03-01"
    assert landed_keys(manifest) == expected() and summary["rows"] == len(expected()) > 0
    assert emu.stats.calls["get.calls_report"] >= 1
    assert manifest["source"]["method"] == CALLS_METHOD and manifest["interval"]["timezone"] == TZ
    folder = tmp_path / "recordings/calls_report_recordings/date=2024-03-01"
    assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_NAME, *(e["path"] for e in manifest["files"])])
    text = json.dumps(summary) + (folder / MANIFEST_NAME).read_text()
    assert "/system/media/" not in text and emu.base_url not in text  # no media URL in the XCom or manifest


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_from_the_landed_calls_partition_without_a_report_call(emu, tmp_path, fmt):
    lake = str(tmp_path / "lake")
    ComagicCallsReportOperator(task_id="calls", output_path=lake, output_format=fmt).execute(context())
    calls_before = emu.stats.calls["get.calls_report"]
    summary = recordings_task(tmp_path, calls_path=lake, kinds=["mp3", "wav"]).execute(context())
    assert emu.stats.calls["get.calls_report"] == calls_before  # the calls were read from the lake
    assert landed_keys(read_manifest(summary["partition"])) == expected(kinds=["mp3", "wav"])


def test_a_calls_partition_without_the_fields_falls_back_to_the_api(emu, tmp_path):
    lake = str(tmp_path / "lake")
    ComagicCallsReportOperator(task_id="calls", output_path=lake, fields=["id", "start_time"]).execute(context())
    calls_before = emu.stats.calls["get.calls_report"]
    summary = recordings_task(tmp_path, calls_path=lake, kinds="mp3").execute(context())
    assert emu.stats.calls["get.calls_report"] > calls_before
    assert landed_keys(read_manifest(summary["partition"])) == expected(kinds=["mp3"])


def test_the_downloads_log_their_progress(emu, tmp_path, monkeypatch, caplog):
    from airflow_provider_comagic.landing import progress

    monkeypatch.setattr(progress, "PROGRESS_SECONDS", 0.0)  # a line per recording
    caplog.set_level(logging.INFO, logger="airflow_provider_comagic.landing.recordings")
    summary = recordings_task(tmp_path, kinds="mp3").execute(context())
    lines = [
        r.getMessage() for r in caplog.records if ": 1 of ~" in r.getMessage() or " recordings, " in r.getMessage()
    ]
    total = summary["rows"]
    assert lines[0].startswith(f"Recordings of {summary['partition']}: 1 of ~{total} recordings, ")
    assert lines[-1].startswith(f"Recordings of {summary['partition']}: {total} of ~{total} recordings, ")


def test_filters_choose_the_calls(emu, tmp_path):
    summary = recordings_task(tmp_path, kinds=["mp3"], directions=["in"], min_talk_seconds=60).execute(context())
    keys = landed_keys(read_manifest(summary["partition"]))
    assert keys == expected(kinds=["mp3"], filter=_filter(["in"], 60))
    assert keys < expected(kinds=["mp3"])  # some calls were left out


def _filter(directions: list[str], seconds: int) -> Any:
    from airflow_provider_comagic.utils.recordings import RecordingFilter

    return RecordingFilter.build(directions, seconds)


def test_a_rerun_and_a_lookback_download_nothing_twice(emu, tmp_path):
    first = recordings_task(tmp_path).execute(context())
    media = emu.stats.media["requests"]
    again = recordings_task(tmp_path).execute(context())
    assert emu.stats.media["requests"] == media and again["replaced"]
    assert read_manifest(again["partition"])["counts"]["kept"] == first["rows"]
    later = context(END, END + dt.timedelta(days=1))
    summary = recordings_task(tmp_path, lookback=dt.timedelta(days=1)).execute(later)
    assert [entry["partition_key"] for entry in summary["intervals"]] == ["2024-03-02", "2024-03-01"]
    day_two = read_manifest(summary["intervals"][0]["partition"])
    assert emu.stats.media["requests"] == media + day_two["counts"]["downloaded"]  # day one kept whole


def test_failures_are_committed_then_named(emu, tmp_path):
    emu.faults.add("http_503", method="media", calls={1, 2, 3})  # one recording fails beyond 1 retry... twice
    emu.faults.add("http_404", method="media", calls={4})
    op = recordings_task(tmp_path, kinds=["mp3"], concurrency=1)
    with pytest.raises(RecordingDownloadError, match=r"^1 of \d+ recordings could not be downloaded \(1 x HTTP 503"):
        op.execute(context())
    manifest = read_manifest(tmp_path / "recordings/calls_report_recordings/date=2024-03-01")
    statuses = sorted(entry["status"] for entry in manifest["missing"])
    assert statuses == ["absent", "failed"] and manifest["counts"]["landed"] == len(expected(kinds=["mp3"])) - 2
    media = emu.stats.media["requests"]
    summary = recordings_task(tmp_path, kinds=["mp3"]).execute(context())  # the rerun fetches the two missing
    assert emu.stats.media["requests"] == media + 2 and read_manifest(summary["partition"])["missing"] == []


def test_the_legs_report_and_the_asset_event(emu, tmp_path):
    events = OutletEventAccessors()
    op = recordings_task(tmp_path, method=LEGS_METHOD)
    summary = op.execute(context(outlet_events=events))
    assert landed_keys(read_manifest(summary["partition"])) == expected(LEGS_METHOD)
    extra = event_extra(events, f"file://{tmp_path}/recordings/call_legs_report_recordings")
    assert extra["partition_keys"] == ["2024-03-01"] and extra["rows"] == summary["rows"]


def test_an_agency_client_lands_in_its_folder(comagic_emulator_factory, monkeypatch, tmp_path):
    emulator = comagic_emulator_factory(calls_per_day=12, start_time=LATER, frozen_clock=True, partner_customers=2)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    (client, *_) = ComagicHook().list_customer_users()
    op = recordings_task(tmp_path, kinds="mp3", user_id=client["user_id"], customer_id=client["customer_id"])
    summary = op.execute(context())
    assert f"calls_report_recordings/customer_id={client['customer_id']}/date=2024-03-01" in summary["partition"]
    assert summary["rows"] > 0 and summary["customer_id"] == client["customer_id"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "get.chats_report"}, r"method must be get.calls_report or get.call_legs_report"),
        ({"method": LEGS_METHOD, "kinds": ["voice_mail"]}, r"kinds: voice_mail not allowed; choose from mp3, wav"),
        ({"directions": ["sideways"]}, r"directions: sideways not allowed"),
        ({"min_talk_seconds": -1}, r"min_talk_seconds must be an integer >= 0"),
        ({"path_id": "id"}, r"path_id must be one of communication_id, call_session_id"),
        ({"concurrency": 0}, r"concurrency must be an integer from 1 to 64"),
        ({"ready_within": 5}, r"ready_within must be a non-negative timedelta"),
    ],
)
def test_bad_input_fails_at_parse_time_naming_the_task(kwargs, match):
    with pytest.raises(ComagicParameterError, match=rf"^Task 'recordings': {match}"):
        ComagicCallRecordingsOperator(task_id="recordings", output_path="/tmp/never", **kwargs)


# -- MCN Telecom ------------------------------------------------------------------------------------------------
@pytest.fixture
def mcn(mcn_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(mcn_emulator))
    return mcn_emulator


def mcn_expected(mcn_emulator, vpbx: str, **kwargs: Any) -> set[tuple[str, str, str]]:
    rows = mcn_emulator.truth(vpbx, DAY.date(), DAY.date())
    return {r.key for r in call_log_recordings(rows, vpbx_id=vpbx, tz=get_timezone(TZ), **kwargs)}


def test_mcn_recordings_of_every_vpbx_from_the_landed_call_log(mcn, tmp_path):
    lake = str(tmp_path / "lake")
    McnCallLogOperator(task_id="log", output_path=lake, output_format="parquet").execute(context())
    requests_before = mcn.stats["call_log"]
    events = OutletEventAccessors()
    op = McnCallRecordingsOperator(task_id="rec", output_path=str(tmp_path / "rec"), calls_path=lake)
    summary = op.execute(context(outlet_events=events))
    assert mcn.stats["call_log"] == requests_before  # read from the lake
    for partition in summary["partitions"]:
        manifest = read_manifest(partition["partition"])
        assert partition["partition"].endswith(f"mcn_call_recordings/vpbx_id={partition['vpbx_id']}/date=2024-03-01")
        assert landed_keys(manifest) == mcn_expected(mcn, partition["vpbx_id"]) and manifest["files"]
        assert all(entry["path"].endswith(".mp3") for entry in manifest["files"])
    extra = event_extra(events, f"file://{tmp_path}/rec/mcn_call_recordings")
    assert sorted(extra["partition_keys"]) == ["7001|2024-03-01", "7002|2024-03-01"]


def test_mcn_recordings_from_the_api_with_a_filter(mcn, tmp_path):
    op = McnCallRecordingsOperator(task_id="rec", output_path=str(tmp_path), vpbx_id="7001", directions=["out"])
    summary = op.execute(context())
    assert mcn.stats["call_log"] >= 1
    manifest = read_manifest(summary["partition"])
    keys = landed_keys(manifest)
    assert keys == mcn_expected(mcn, "7001", filter=_filter(["out"], 0)) and keys
    assert keys < mcn_expected(mcn, "7001")  # the inbound and internal calls were left out
    token = json.loads(mcn_connection_json(mcn))["password"]
    assert (
        token
        not in json.dumps(summary)
        + (tmp_path / "mcn_call_recordings").joinpath("vpbx_id=7001", "date=2024-03-01", MANIFEST_NAME).read_text()
    )


def test_mcn_bad_input_fails_at_parse_time():
    with pytest.raises(McnParameterError, match=r"^Task 'rec': directions: up not allowed"):
        McnCallRecordingsOperator(task_id="rec", output_path="/tmp/never", directions="up")
    with pytest.raises(McnParameterError, match=r"^Task 'rec': concurrency must be an integer from 1 to 64"):
        McnCallRecordingsOperator(task_id="rec", output_path="/tmp/never", concurrency=100)


def test_object_names_are_stable(emu, tmp_path):
    summary = recordings_task(tmp_path, kinds="mp3").execute(context())
    hook = ComagicHook()
    rows = hook.iter_rows(CALLS_METHOD, *API_DAY, fields=recording_fields(CALLS_METHOD, ["mp3"]))
    names = {object_name(r) for r in recordings_of(CALLS_METHOD, rows, media_base="", tz=MSK, kinds=["mp3"])}
    assert {e["path"] for e in read_manifest(summary["partition"])["files"]} == names
    _ = QUICK  # the fixture's quick retries are the connection's max_retries=1 here
