"""Upload calls and wait for them, against the bundled emulator (statuses move with its clock).

The emulator's clock is frozen; the trigger's waits are replaced by a fake that moves that clock forward, so
statuses progress (new -> in_process -> final every ``STEP`` seconds) without real sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import json
import math

import pytest

from airflow_provider_comagic.comagic.uploads.rules import UploadValidationError
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger
from airflow_provider_comagic.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    PokeReturnValue,
    TaskDeferred,
)
from tests.fixtures.uploads import make_call as sample_call

pytestmark = pytest.mark.integration

STEP = 30.0
POLL = 20.0
WAIT_LIMIT = 60  # seconds before a stuck trigger fails the test instead of hanging CI


def make_call(ext_id: str, **extra):
    return sample_call(ext_id, **{"mp3_records": [{"record_url": f"https://pbx.example/{ext_id}.mp3"}], **extra})


@pytest.fixture
def emu(comagic_emulator_factory, monkeypatch):
    emulator = comagic_emulator_factory(
        calls_per_day=10,
        frozen_clock=True,  # frozen at the real now, so the sensor's default upload_time window holds it
        upload_step_seconds=STEP,
        upload_error_ext_ids=frozenset({"bad-1", "bad-2"}),
        upload_cancel_ext_ids=frozenset({"gone-1"}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    return emulator


@pytest.fixture
def fake_sleep(emu, monkeypatch):
    """Every wait of the trigger (polls, quota waits, backoff) moves the emulator clock instead."""
    waits: list[float] = []

    async def sleep(self, seconds):
        waits.append(seconds)
        emu.clock.advance(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(ComagicUploadedCallsTrigger, "_sleep", sleep)
    return waits


def upload(ext_ids, **kwargs):
    op = ComagicUploadCallsOperator(task_id="upload", calls=[make_call(e) for e in ext_ids], **kwargs)
    return op.execute({})


def trigger_for(result, **kwargs):
    now = dt.datetime.now(dt.timezone.utc)
    params = {
        "date_from": (now - dt.timedelta(days=1)).isoformat(),
        "date_till": (now + dt.timedelta(days=1)).isoformat(),
        "ext_request_ids": result["ext_request_ids"],
        "poll_interval": POLL,
    }
    params.update(kwargs)
    return ComagicUploadedCallsTrigger(**params)


async def all_events(trigger):
    """Run the trigger to its end; return every event it yielded."""

    async def collect():
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(collect(), WAIT_LIMIT)


# -- the operator -------------------------------------------------------------------------------------------
def test_120_calls_go_in_3_requests_and_the_result_is_small(emu):
    ext_ids = [f"call-{i:03d}" for i in range(120)]
    result = upload(ext_ids)
    assert emu.stats.calls["upload.calls"] == 3
    assert result["batches"] == 3 and result["points"] == 15 and result["ext_ids"] == ext_ids
    assert len(result["ext_request_ids"]) == 3 and len(json.dumps(result)) < 5000
    # how many calls each request carried, for the sensor's expected_calls
    assert result["calls_per_request"] == dict(zip(result["ext_request_ids"], [50, 50, 20], strict=True))
    rows = emu.uploads.rows()
    assert sorted(r["ext_id"] for r in rows) == ext_ids
    by_request = {r["ext_request_id"] for r in rows}
    assert by_request == set(result["ext_request_ids"])  # the JSON-RPC ids became the ext_request_ids


def test_running_twice_uploads_nothing_new(emu):
    ext_ids = [f"call-{i}" for i in range(60)]
    first = upload(ext_ids)
    second = upload(ext_ids)
    assert len(emu.uploads.rows()) == 60  # CoMagic ignored the ext_ids it already had
    assert second == first  # same ext_request_ids: the sensor still finds the calls


def test_validation_errors_name_ext_id_and_field_and_nothing_is_sent(emu):
    calls = [make_call("ok-1"), make_call("broken", finish_time="2024-06-01 11:00:00", calling_phone_number="+7 926")]
    op = ComagicUploadCallsOperator(task_id="upload", calls=calls)
    with pytest.raises(UploadValidationError) as info:
        op.execute({})
    text = str(info.value)
    assert "call #1 (ext_id 'broken'): finish_time:" in text
    assert "call #1 (ext_id 'broken'): calling_phone_number:" in text
    assert emu.stats.calls["upload.calls"] == 0


def test_calls_from_a_jsonl_file_in_object_storage(emu, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text("\n".join(json.dumps(make_call(f"f-{i}")) for i in range(7)))
    op = ComagicUploadCallsOperator(task_id="upload", calls_path=f"file://{path}", batch_size=5)
    result = op.execute({})
    assert result["batches"] == 2 and result["ext_ids"] == [f"f-{i}" for i in range(7)]
    assert emu.stats.calls["upload.calls"] == 2


def test_calls_as_a_rendered_json_string(emu):
    result = ComagicUploadCallsOperator(task_id="upload", calls=json.dumps([make_call("s-1")])).execute({})
    assert result["ext_ids"] == ["s-1"]


# -- the trigger --------------------------------------------------------------------------------------------
def test_serialize_round_trip():
    trigger = ComagicUploadedCallsTrigger(
        date_from="2024-06-01T00:00:00+03:00",
        date_till="2024-06-02T00:00:00+03:00",
        ext_ids=["a", "b"],
        success_statuses=["processed", "cancelled"],
        poll_interval=5,
        report_id=17,
    )
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert cls is ComagicUploadedCallsTrigger
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain JSON
    assert cls(**kwargs).serialize() == (classpath, kwargs)
    assert "token" not in json.dumps(kwargs).lower()  # the connection is re-read, never carried


async def test_trigger_fires_once_when_all_are_processed(emu, fake_sleep):
    result = upload([f"p-{i}" for i in range(120)])
    events = await all_events(trigger_for(result, page_size=50))
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    summary = payload["summary"]
    assert summary["counts"]["processed"] == 120 and len(summary["call_session_ids"]) == 120
    assert fake_sleep and all(s > 0 for s in fake_sleep)  # it slept between polls
    assert emu.stats.calls["get.uploaded_calls"] >= 3 * 3  # 120 rows in pages of 50, several polls


async def test_trigger_reports_errors_with_codes(emu, fake_sleep):
    result = upload(["good-1", "bad-1", "bad-2", "gone-1"])
    (event,) = await all_events(trigger_for(result))
    assert event.payload["status"] == "failed"
    failed = {f["ext_id"]: f for f in event.payload["summary"]["failed"]}
    assert set(failed) == {"bad-1", "bad-2", "gone-1"}
    assert failed["bad-1"]["error_code"] and failed["bad-1"]["meaning"] != "undocumented error code"
    assert "bad-1" in event.payload["message"]


async def test_trigger_waits_for_ext_ids_not_visible_yet(emu, fake_sleep):
    upload(["early"])
    trigger = trigger_for({"ext_request_ids": None}, ext_ids=["early", "late"])
    task = asyncio.ensure_future(all_events(trigger))
    for _ in range(50):  # let it poll a few times
        await asyncio.sleep(0)
    assert not task.done()
    upload(["late"])
    (event,) = await task
    assert event.payload["status"] == "success" and event.payload["summary"]["calls"] == 2


async def test_trigger_times_out_via_wait_for(emu):
    result = upload(["slow-1"])  # the clock is frozen and nothing advances it: never final
    trigger = trigger_for(result, poll_interval=0.01)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(trigger.run().__anext__(), 2.0)
    assert emu.stats.calls["get.uploaded_calls"] >= 1  # it polled and, the calls not being final, kept waiting


async def test_trigger_renews_an_expired_session_while_waiting(emu, monkeypatch):
    conn = json.loads(connection_json(emu))
    conn.update(login=emu.login, password=emu.password)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    result = upload(["t-1", "t-2"])

    async def sleep(self, seconds):
        emu.tokens.expire_sessions()  # every session dies while the trigger waits
        emu.clock.advance(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(ComagicUploadedCallsTrigger, "_sleep", sleep)
    emu.stats.reset()
    (event,) = await all_events(trigger_for(result))
    assert event.payload["status"] == "success"
    assert emu.stats.errors["access_token_expired"] >= 2
    assert emu.stats.successes["login.user"] == emu.stats.errors["access_token_expired"] + 1


async def test_trigger_waits_out_limit_exceeded(emu, monkeypatch):
    result = upload(["q-1"])
    waits: list[float] = []
    exhausted = []

    async def sleep(self, seconds):
        waits.append(seconds)
        if not exhausted:  # spend the minute quota once, between two polls
            exhausted.append(True)
            # at the start of a minute window: the poll interval after it must not reach the next window
            now = emu.clock.now()
            emu.clock.advance(math.floor(now / 60) * 60 + 60 - now)
            emu.quota.exhaust("minute")
        emu.clock.advance(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(ComagicUploadedCallsTrigger, "_sleep", sleep)
    emu.stats.reset()
    (event,) = await all_events(trigger_for(result, poll_interval=5))
    assert event.payload["status"] == "success"
    assert emu.stats.errors["limit_exceeded"] >= 1
    assert any(0 < w <= 60 and w != 5 for w in waits)  # a quota wait, not only poll intervals


async def test_trigger_survives_a_poll_lost_to_transient_faults(emu, fake_sleep):
    result = upload(["f-1"])
    # poll 2 fails all its attempts (1 + 5 retries), poll 3 fails once more, then the API recovers
    fault = emu.faults.add("http_503", method="get.uploaded_calls", calls=range(2, 9))
    (event,) = await all_events(trigger_for(result))
    assert event.payload["status"] == "success" and fault.hits == 7


async def test_trigger_gives_up_when_faults_persist(emu, fake_sleep):
    result = upload(["f-2"])
    emu.faults.add("drop", method="get.uploaded_calls")
    (event,) = await all_events(trigger_for(result))
    assert event.payload["status"] == "error" and "ComagicTransportError" in event.payload["message"]


async def test_trigger_reports_a_fatal_error_as_one_event(emu, fake_sleep):
    result = upload(["x-1"])
    emu.tokens.revoke(emu.access_token, "access_token_blocked")
    events = await all_events(trigger_for(result))
    assert len(events) == 1 and events[0].payload["status"] == "error"
    assert "access_token_blocked" in events[0].payload["message"]
    assert emu.access_token not in events[0].payload["message"]


# -- the sensor ---------------------------------------------------------------------------------------------
def sensor(**kwargs):
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", POLL)
    kwargs.setdefault("timeout", 3600)
    return ComagicUploadedCallsSensor(**kwargs)


async def test_deferrable_sensor_defers_then_completes(emu, fake_sleep):
    result = upload([f"d-{i}" for i in range(5)])
    waiting = sensor(ext_request_ids=result["ext_request_ids"], deferrable=True)
    with pytest.raises(TaskDeferred) as info:
        waiting.execute({})
    deferred = info.value
    assert isinstance(deferred.trigger, ComagicUploadedCallsTrigger)
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == dt.timedelta(seconds=3600)
    _classpath, kwargs = deferred.trigger.serialize()
    assert kwargs["ext_request_ids"] == result["ext_request_ids"] and kwargs["poll_interval"] == POLL
    (event,) = await all_events(ComagicUploadedCallsTrigger(**kwargs))  # as the triggerer rebuilds it
    summary = waiting.execute_complete({}, event=event.payload)
    assert summary["success"] and summary["counts"]["processed"] == 5


def test_deferrable_sensor_skips_the_triggerer_when_already_done(emu):
    result = upload(["done-1", "done-2"])
    emu.clock.advance(3 * STEP)
    summary = sensor(ext_ids=result["ext_ids"], deferrable=True).execute({})
    assert summary["success"] and len(summary["call_session_ids"]) == 2


def test_execute_complete_failure_lists_each_failed_call(emu):
    result = upload(["fine-1", "bad-1"])
    emu.clock.advance(3 * STEP)
    summary = sensor(ext_ids=result["ext_ids"]).check({})
    event = {"status": "failed", "summary": summary, "message": "x"}
    with pytest.raises(AirflowFailException) as info:
        sensor(ext_ids=result["ext_ids"]).execute_complete({}, event=event)
    text = str(info.value)
    assert "ext_id 'bad-1': error (error_code " in text and "fine-1" not in text
    with pytest.raises(AirflowSkipException):
        sensor(ext_ids=result["ext_ids"], soft_fail=True).execute_complete({}, event=event)


def test_execute_complete_error_event_and_soft_fail():
    event = {"status": "error", "message": "ComagicAuthError: token blocked", "summary": None}
    with pytest.raises(AirflowException, match="token blocked"):
        sensor(ext_ids=["a"]).execute_complete({}, event=event)
    with pytest.raises(AirflowSkipException):
        sensor(ext_ids=["a"], soft_fail=True).execute_complete({}, event=event)


def test_deferral_timeout_fails_or_skips_with_soft_fail():
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

        timeout = {"error": TriggerFailureReason.TRIGGER_TIMEOUT}
    else:  # Airflow 2.10 resumes a timed-out deferral with next_method "__fail__"
        TRIGGER_FAIL_REPR, timeout = "__fail__", {"error": "Trigger/execution timeout"}
    with pytest.raises(AirflowException):
        sensor(ext_ids=["a"]).resume_execution(TRIGGER_FAIL_REPR, timeout, {})
    with pytest.raises(AirflowSkipException):
        sensor(ext_ids=["a"], soft_fail=True).resume_execution(TRIGGER_FAIL_REPR, timeout, {})


def test_poke_path_moves_with_the_clock(emu):
    result = upload(["k-1", "k-2"])
    waiting = sensor(ext_request_ids=result["ext_request_ids"], deferrable=False)
    assert waiting.poke({}) is False
    emu.clock.advance(STEP)
    assert waiting.poke({}) is False  # in_process
    emu.clock.advance(STEP)
    done = waiting.poke({})
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["counts"]["processed"] == 2


def test_poke_mode_execute_succeeds_or_fails(emu):
    result = upload(["m-1", "bad-2"])
    emu.clock.advance(3 * STEP)
    ok = sensor(ext_ids=["m-1"], deferrable=False).execute({})
    assert ok["success"] and ok["calls"] == 1
    with pytest.raises(AirflowFailException, match="bad-2"):
        sensor(ext_request_ids=result["ext_request_ids"], deferrable=False).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(ext_request_ids=result["ext_request_ids"], deferrable=False, soft_fail=True).execute({})


def test_poke_mode_timeout_with_soft_fail_skips(emu):
    upload(["never-1"])
    with pytest.raises(AirflowSkipException):
        sensor(ext_ids=["never-1"], deferrable=False, timeout=0, poke_interval=0, soft_fail=True).execute({})


def test_data_interval_selection(emu):
    upload(["i-1", "i-2", "bad-1"])
    emu.clock.advance(3 * STEP)
    now = dt.datetime.fromtimestamp(emu.clock.now(), dt.timezone.utc)
    context = {"data_interval_start": now - dt.timedelta(hours=1), "data_interval_end": now + dt.timedelta(hours=1)}
    summary = sensor(success_statuses=["processed", "error"]).check(context)
    assert summary["done"] and summary["success"] and summary["calls"] == 3
    empty = {"data_interval_start": now - dt.timedelta(days=3), "data_interval_end": now - dt.timedelta(days=2)}
    nothing = sensor().check(empty)  # no uploads in that interval: nothing to wait for
    assert nothing["done"] and nothing["success"] and nothing["calls"] == 0
    with pytest.raises(AirflowException, match="data interval"):
        sensor().check({})


def test_rerun_retries_a_failed_call_and_the_latest_attempt_counts(emu):
    first = upload(["ok-9", "bad-1"])
    emu.clock.advance(3 * STEP)
    with pytest.raises(AirflowFailException, match="bad-1"):
        sensor(ext_ids=first["ext_ids"]).execute({})
    emu.uploads.error_ext_ids.discard("bad-1")  # the recording is fixed at the source
    second = upload(["ok-9", "bad-1"])  # the rerun: ok-9 is ignored, bad-1 gets a second attempt
    assert second["ext_request_ids"] == first["ext_request_ids"]
    assert [r["ext_id"] for r in emu.uploads.rows()].count("bad-1") == 2
    waiting = sensor(ext_ids=first["ext_ids"])
    assert waiting.poke({}) is False  # the new attempt is in progress
    emu.clock.advance(3 * STEP)
    summary = waiting.poke({}).xcom_value
    assert summary["success"] and summary["counts"]["processed"] == 2 and summary["calls"] == 2
