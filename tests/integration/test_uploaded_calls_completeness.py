"""Issue 20: the uploaded-calls sensor judges every call of a large selection, whatever order the server keeps.

Against the emulator serving ``get.uploaded_calls`` rows in the worst orders the documentation allows (most
recently changed first; shuffled anew for every page) while statuses change between the pages of one read,
the poke path (``sensor.check``/``poke``) and the deferred path (the sensor defers, the trigger runs in this
event loop as the triggerer would) must count each of 10 050 calls exactly, selected by ``ext_ids``, by
``ext_request_ids`` (with the upload operator's ``calls_per_request``) or by the data interval. Also: calls of a
request not visible yet keep the sensor waiting; a server that rejects the ``in`` operator; ``report_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Iterator

import pytest

from airflow_provider_comagic.comagic.uploads.rules import batch_calls, batch_request_id
from airflow_provider_comagic.comagic.uploads.status import UploadStatusTally, progress_message
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.testing.pytest_plugin import connection_json
from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger
from airflow_provider_comagic.version_compat import AirflowException, AirflowFailException, TaskDeferred
from tests.fixtures import uploads

pytestmark = pytest.mark.integration

STEP = 30.0
POLL = 20.0
WAIT_LIMIT = 120  # seconds before a stuck trigger fails the test instead of hanging CI
CALLS = 10_050
EXT_IDS = [f"call-{n:05d}" for n in range(CALLS)]
# calls that end in error between the first and the second page of the first read: spread over the first page
# of an ext_id order and its tail, so a stable order reads some before the change and some after
HELD = [f"call-{n:05d}" for n in range(0, 10_000, 400)] + [f"call-{n:05d}" for n in range(10_025, CALLS)]
# calls uploaded 2 or 3 times (earlier attempts failed) under the same ext_request_id: their attempts tie in the
# ext_id, ext_request_id order, and one such tie straddles the first page boundary (rows 9998-10000)
RETRIED = [f"call-{n:05d}" for n in range(9_991, 10_011)]


def make_call(ext_id: str) -> dict:
    return uploads.make_call(ext_id, mp3_records=[{"record_url": f"https://pbx.example/{ext_id}.mp3"}])


def upload(ext_ids, **kwargs) -> dict:
    op = ComagicUploadCallsOperator(task_id="upload", calls=[make_call(e) for e in ext_ids], **kwargs)
    return op.execute({})


EMULATOR = {
    "calls_per_day": 10,
    "frozen_clock": True,  # frozen at the real now, so the sensor's default upload_time window holds it
    "upload_step_seconds": STEP,
    "minute_limit": 100_000,
    "day_limit": 10_000_000,
}


def use(emulator: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> ComagicEmulator:
    """Point the connection at ``emulator``; the trigger's waits move its clock instead of sleeping."""
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emulator))
    monkeypatch.setattr(ComagicUploadedCallsTrigger, "_sleep", _advancing(emulator))
    return emulator


@pytest.fixture
def start_emulator(comagic_emulator_factory, monkeypatch):
    def start(**config):
        return use(comagic_emulator_factory(**{**EMULATOR, **config}), monkeypatch)

    return start


@contextlib.contextmanager
def shared_emulator(**config) -> Iterator[ComagicEmulator]:
    """An emulator for the tests of a module (uploading 10 000 calls takes seconds): each test calls
    :func:`reuse`, which starts ``uploaded_calls_changes`` over and zeroes the counters."""
    emulator = ComagicEmulator(**{**EMULATOR, **config})
    emulator.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            use(emulator, patch)
            yield emulator
    finally:
        emulator.stop()


def reuse(emulator: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> ComagicEmulator:
    emulator.uploads.restart_changes()
    emulator.stats.reset()
    return use(emulator, monkeypatch)


def _advancing(emulator):
    async def sleep(self, seconds):
        emulator.clock.advance(seconds)
        await asyncio.sleep(0)

    return sleep


def data_interval(emu) -> dict:
    now = dt.datetime.fromtimestamp(emu.clock.now(), dt.timezone.utc)
    return {"data_interval_start": now - dt.timedelta(hours=1), "data_interval_end": now + dt.timedelta(hours=1)}


def sensor(**kwargs) -> ComagicUploadedCallsSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", POLL)
    kwargs.setdefault("timeout", 3600)
    return ComagicUploadedCallsSensor(**kwargs)


async def trigger_event(deferred: TaskDeferred) -> dict:
    """Run the trigger the sensor deferred to, rebuilt from its serialized kwargs as the triggerer does."""
    _classpath, kwargs = deferred.trigger.serialize()

    async def first():
        return [event async for event in ComagicUploadedCallsTrigger(**kwargs).run()]

    (event,) = await asyncio.wait_for(first(), WAIT_LIMIT)
    return event.payload


def poll_until_done(waiting: ComagicUploadedCallsSensor, context: dict, emu, polls: int = 5) -> dict:
    """The poke path: read the selection (what ``poke`` does) until it is done, moving the clock between."""
    for _ in range(polls):
        summary = waiting.check(context)
        if summary["done"]:
            return summary
        emu.clock.advance(POLL)
    brief = {key: summary[key] for key in ("calls", "counts", "missing", "pending_ext_ids")}
    raise AssertionError(f"not done after {polls} polls: {brief}")


def assert_every_call_judged(summary: dict) -> None:
    assert summary["done"] and not summary["success"]
    assert summary["calls"] == CALLS and summary["missing"] == 0
    assert summary["counts"] == {
        "new": 0,
        "in_process": 0,
        "processed": CALLS - len(HELD),
        "error": len(HELD),
        "cancelled": 0,
    }
    assert sorted(f["ext_id"] for f in summary["failed"]) == sorted(HELD)
    assert len(summary["call_session_ids"]) == len(set(summary["call_session_ids"])) == CALLS - len(HELD)


# -- the issue's scenario ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def issue_20_uploads():
    with shared_emulator(
        uploaded_calls_order="recently_changed", uploaded_calls_changes={1: dict.fromkeys(HELD, "error")}
    ) as emu:
        result = upload(EXT_IDS)
        emu.clock.advance(3 * STEP)  # every other call is processed
        yield emu, result


@pytest.fixture
def issue_20(issue_20_uploads, monkeypatch):
    """10 050 uploaded calls, newest change first; 50 of them end in error between the sensor's first and second
    page (until then in_process: changed least recently, so on the last page of an unsorted read)."""
    emu, result = issue_20_uploads
    return reuse(emu, monkeypatch), result


def test_issue_20_poke_selecting_by_ext_request_ids_reports_the_50_errors(issue_20):
    emu, result = issue_20
    waiting = sensor(ext_request_ids=result["ext_request_ids"], deferrable=False)
    first = waiting.check({})
    assert not first["success"]  # the fault: success with 10 000 processed
    assert not first["done"] and first["counts"]["in_process"] == 25  # read before the change: still waiting
    summary = poll_until_done(waiting, {}, emu)
    assert_every_call_judged(summary)
    with pytest.raises(AirflowFailException, match=f"{len(HELD)} of {CALLS} uploaded calls ended"):
        waiting.poke({})


async def test_issue_20_deferred_selecting_by_ext_request_ids_reports_the_50_errors(issue_20):
    _emu, result = issue_20
    waiting = sensor(ext_request_ids=result["ext_request_ids"], deferrable=True)
    with pytest.raises(TaskDeferred) as info:
        waiting.execute({})  # the first check sees 25 calls in_process
    payload = await trigger_event(info.value)
    assert payload["status"] == "failed"
    assert_every_call_judged(payload["summary"])
    with pytest.raises(AirflowFailException, match=f"{len(HELD)} of {CALLS} uploaded calls ended"):
        waiting.execute_complete({}, event=payload)


# -- every selection, both paths, both orders, with retried calls ---------------------------------------------
@pytest.fixture(scope="module", params=["recently_changed", "random"])
def large_uploads(request):
    """10 050 calls uploaded by the operator three times (a task rerun twice): the RETRIED calls fail their first
    attempt (half of them also their second), then succeed; HELD end in error between the first two pages."""
    with shared_emulator(
        uploaded_calls_order=request.param,
        uploaded_calls_changes={1: dict.fromkeys(HELD, "error")},
        upload_error_ext_ids=frozenset(RETRIED),
    ) as emu:
        first = upload(EXT_IDS)
        emu.clock.advance(3 * STEP)
        emu.uploads.error_ext_ids.difference_update(RETRIED[::2])
        upload(EXT_IDS)
        emu.clock.advance(3 * STEP)
        emu.uploads.error_ext_ids.clear()
        result = upload(EXT_IDS)
        emu.clock.advance(3 * STEP)
        assert result["ext_request_ids"] == first["ext_request_ids"]  # the attempts share the request ids
        assert len(emu.uploads.rows()) == CALLS + len(RETRIED) + len(RETRIED) // 2
        yield emu, result


@pytest.fixture
def large_upload(large_uploads, monkeypatch):
    emu, result = large_uploads
    return reuse(emu, monkeypatch), result


@pytest.fixture
def polls(monkeypatch) -> list[list[tuple]]:
    """What each poll handed to its status tally: one (ext_id, ext_request_id, upload_time) per row."""
    seen: list[list[tuple]] = []
    add = UploadStatusTally.add

    def spy(self, rows):
        rows = list(rows)
        if not hasattr(self, "spied"):
            self.spied = []
            seen.append(self.spied)
        self.spied.extend((r["ext_id"], r["ext_request_id"], r["upload_time"]) for r in rows)
        add(self, rows)

    monkeypatch.setattr(UploadStatusTally, "add", spy)
    return seen


def assert_each_attempt_read_once_per_poll(emu, polls: list[list[tuple]]) -> None:
    attempts = sorted((r["ext_id"], r["ext_request_id"], r["upload_time"]) for r in emu.uploads.rows())
    assert len(polls) >= 2  # the poll that saw calls in_process, and the one that saw them final
    for poll in polls:
        assert sorted(poll) == attempts


SELECTIONS = {
    "ext_ids": lambda result: {"ext_ids": result["ext_ids"]},
    "ext_request_ids": lambda result: {
        "ext_request_ids": result["ext_request_ids"],
        "expected_calls": result["calls_per_request"],
    },
    "data_interval": lambda result: {},
}


@pytest.mark.parametrize("selection", list(SELECTIONS))
def test_poke_judges_every_call_exactly(large_upload, polls, selection):
    emu, result = large_upload
    context = data_interval(emu) if selection == "data_interval" else {}
    waiting = sensor(deferrable=False, **SELECTIONS[selection](result))
    assert_every_call_judged(poll_until_done(waiting, context, emu))
    assert_each_attempt_read_once_per_poll(emu, polls)
    assert emu.stats.errors == {}


@pytest.mark.parametrize("selection", list(SELECTIONS))
async def test_deferred_path_judges_every_call_exactly(large_upload, polls, selection):
    emu, result = large_upload
    context = data_interval(emu) if selection == "data_interval" else {}
    waiting = sensor(deferrable=True, **SELECTIONS[selection](result))
    with pytest.raises(TaskDeferred) as info:
        waiting.execute(context)
    payload = await trigger_event(info.value)
    assert payload["status"] == "failed"
    assert_every_call_judged(payload["summary"])
    assert_each_attempt_read_once_per_poll(emu, polls)  # the sensor's own check, then the trigger's polls


# -- calls of a request not visible yet -----------------------------------------------------------------------
def test_calls_of_a_request_not_visible_yet_are_pending_never_absent(start_emulator):
    emu = start_emulator()
    ext_ids = [f"v-{i:03d}" for i in range(120)]
    batches = batch_calls([make_call(e) for e in ext_ids])
    request_ids = [batch_request_id(batch) for batch in batches]
    counts = dict(zip(request_ids, map(len, batches), strict=True))
    partial = upload(ext_ids[:100])  # the first two requests of the three; the third is not visible
    assert partial["ext_request_ids"] == request_ids[:2] and partial["calls_per_request"] == dict(
        list(counts.items())[:2]
    )
    emu.clock.advance(3 * STEP)
    waiting = sensor(ext_request_ids=request_ids, expected_calls=counts, deferrable=False)
    summary = waiting.check({})
    assert not summary["done"] and summary["missing"] == 20
    assert summary["incomplete_requests"] == [{"ext_request_id": request_ids[2], "expected": 20, "visible": 0}]
    assert "20 expected calls not visible yet (0 of 20 in " in progress_message(summary)
    assert waiting.poke({}) is False
    by_total = sensor(ext_request_ids=request_ids, expected_calls=str(sum(counts.values())), deferrable=False)
    assert not by_total.check({})["done"]
    full = upload(ext_ids)
    assert full["calls_per_request"] == counts
    emu.clock.advance(3 * STEP)
    summary = waiting.poke({}).xcom_value
    assert summary["success"] and summary["calls"] == 120 and summary["counts"]["processed"] == 120


async def test_deferred_path_waits_for_calls_not_visible_yet(start_emulator):
    emu = start_emulator()
    ext_ids = [f"w-{i:03d}" for i in range(70)]
    counts = {batch_request_id(batch): len(batch) for batch in batch_calls([make_call(e) for e in ext_ids])}
    upload(ext_ids[:50])
    emu.clock.advance(3 * STEP)
    waiting = sensor(ext_request_ids=list(counts), expected_calls=counts, deferrable=True)
    with pytest.raises(TaskDeferred) as info:
        waiting.execute({})
    task = asyncio.ensure_future(trigger_event(info.value))
    for _ in range(50):  # let it poll a few times
        await asyncio.sleep(0)
    assert not task.done()
    upload(ext_ids)
    payload = await task
    assert payload["status"] == "success" and payload["summary"]["calls"] == 70


# -- a server that rejects the "in" operator --------------------------------------------------------------------
REJECTING_CALLS = 1_200  # 24 requests: one query of "=" filters; 1 200 ext_ids: more than 10 such queries


@pytest.fixture
def rejecting_in(start_emulator):
    emu = start_emulator(
        uploaded_calls_reject_in=True,
        uploaded_calls_order="random",
        upload_error_ext_ids=frozenset({"r-0007", "r-1100"}),
    )
    result = upload([f"r-{i:04d}" for i in range(REJECTING_CALLS)])
    emu.stats.reset()
    return emu, result


REJECTING_SELECTIONS = {
    "ext_request_ids by = filters": lambda result: {
        "ext_request_ids": result["ext_request_ids"],
        "expected_calls": result["calls_per_request"],
    },
    "ext_ids by the upload_time window": lambda result: {"ext_ids": result["ext_ids"]},
    "both": lambda result: {"ext_request_ids": result["ext_request_ids"][:3], "ext_ids": result["ext_ids"][:150]},
}


def assert_rejecting_summary(summary: dict, selection: str) -> None:
    calls = 150 if selection == "both" else REJECTING_CALLS
    failed = ["r-0007"] if selection == "both" else ["r-0007", "r-1100"]
    assert summary["done"] and summary["calls"] == calls and summary["missing"] == 0
    assert sorted(f["ext_id"] for f in summary["failed"]) == failed
    assert summary["counts"]["processed"] == calls - len(failed)


@pytest.mark.parametrize("selection", list(REJECTING_SELECTIONS))
def test_poke_falls_back_when_in_is_rejected(rejecting_in, selection):
    emu, result = rejecting_in
    emu.clock.advance(3 * STEP)
    waiting = sensor(deferrable=False, **REJECTING_SELECTIONS[selection](result))
    assert_rejecting_summary(waiting.check({}), selection)
    assert emu.stats.errors == {"invalid_parameter_value": 1}  # "in" once, then remembered
    assert_rejecting_summary(waiting.check({}), selection)
    assert emu.stats.errors == {"invalid_parameter_value": 1}


@pytest.mark.parametrize("selection", list(REJECTING_SELECTIONS))
async def test_deferred_path_falls_back_when_in_is_rejected(rejecting_in, selection):
    emu, result = rejecting_in
    waiting = sensor(deferrable=True, **REJECTING_SELECTIONS[selection](result))
    with pytest.raises(TaskDeferred) as info:
        waiting.execute({})  # the calls are new: the sensor's own check selected after one refusal
    payload = await trigger_event(info.value)
    assert payload["status"] == "failed"
    assert_rejecting_summary(payload["summary"], selection)
    assert emu.stats.errors == {"invalid_parameter_value": 2}  # once in the sensor, once in the trigger


# -- report_id -------------------------------------------------------------------------------------------------
def test_report_id_is_passed_through_when_set(start_emulator):
    emu = start_emulator(uploaded_calls_report_id=42)
    result = upload(["p-1", "p-2"])
    emu.clock.advance(3 * STEP)
    with pytest.raises(AirflowException, match="pass report_id= to the sensor"):
        sensor(ext_ids=result["ext_ids"], deferrable=False).check({})
    summary = sensor(ext_ids=result["ext_ids"], report_id="42", deferrable=False).check({})  # as rendered
    assert summary["success"] and summary["calls"] == 2


async def test_report_id_reaches_the_trigger(start_emulator):
    emu = start_emulator(uploaded_calls_report_id=42)
    result = upload(["t-1"])
    waiting = sensor(ext_request_ids=result["ext_request_ids"], report_id=42, deferrable=True)
    with pytest.raises(TaskDeferred) as info:
        waiting.execute({})
    assert info.value.trigger.serialize()[1]["report_id"] == 42
    payload = await trigger_event(info.value)
    assert payload["status"] == "success" and payload["summary"]["calls"] == 1
    assert emu.stats.errors == {}
    bad = ComagicUploadedCallsTrigger(**{**info.value.trigger.serialize()[1], "report_id": 7})
    (event,) = [event async for event in bad.run()]
    assert event.payload["status"] == "error" and "report_id" in event.payload["message"]
