"""Secrets never leak: every operator and the sensor (poke and deferred through the trigger) run with a
recognizable token, then with a login and a recognizable password; all logs (every logger at DEBUG, and what
Airflow's task logging prints), XCom return values, exception texts and every landed file (raw bytes and decoded
content) are searched for the token, the password and every session token the emulator issued.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from airflow_provider_comagic.comagic.errors import ComagicError
from airflow_provider_comagic.operators.report import REPORT_OPERATORS
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor
from airflow_provider_comagic.testing import ComagicEmulator
from airflow_provider_comagic.triggers.uploaded_calls import ComagicUploadedCallsTrigger
from airflow_provider_comagic.version_compat import TaskDeferred
from tests.fixtures.uploads import make_call

pytestmark = pytest.mark.integration

TZ = "Europe/Moscow"
TOKEN = "tok-SECRETMARK-0f3a9c1d2e4b5a6978"
PASSWORD = "pw-SECRETMARK-7c2e91b04d"
STEP = 30.0
REQUIRED = {"get.campaign_daily_stat": {"site_id": 1001}}


def landed_texts(root: Path) -> list[str]:
    """Every file under ``root``: raw bytes, gunzipped JSON Lines, Parquet decoded to JSON."""
    texts = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        texts.append(raw.decode("utf-8", "replace"))
        if path.name.endswith(".gz"):
            texts.append(gzip.decompress(raw).decode("utf-8", "replace"))
        elif path.name.endswith(".parquet"):
            table = pq.read_table(path)
            texts.append(json.dumps(table.to_pylist(), default=str, ensure_ascii=False))
            texts.append(str(table.schema.metadata))
    return texts


@pytest.mark.parametrize("auth", ["token", "login"])
def test_no_secret_in_logs_xcoms_errors_or_files(
    auth: str,
    comagic_emulator_factory: Callable[..., ComagicEmulator],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    emu = comagic_emulator_factory(
        calls_per_day=20,
        rows_per_day={"get.campaign_daily_stat": 10},
        access_token=TOKEN,
        password=PASSWORD,
        frozen_clock=True,  # at the real now: the sensor's default upload_time window holds the uploads
        upload_step_seconds=STEP,
    )
    conn: dict[str, Any] = {"conn_type": "comagic", "host": emu.base_url, "extra": {"timezone": TZ}}
    if auth == "login":
        conn.update(login=emu.login, password=PASSWORD)
    else:
        conn["password"] = TOKEN
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "landing"
    xcoms: list[Any] = []
    errors: list[str] = []

    # every report operator, JSON Lines; the calls report in Parquet too
    runs = [(cls, "jsonl") for cls in REPORT_OPERATORS.values()] + [(REPORT_OPERATORS["get.calls_report"], "parquet")]
    for cls, fmt in runs:
        operator = cls(
            task_id=f"report_{cls.report_method}_{fmt}",
            output_path=out.as_uri(),
            output_format=fmt,
            date_from="2024-03-01",
            date_till="2024-03-02",
            api_params=REQUIRED.get(cls.report_method),
        )
        xcoms.append(operator.execute({"run_id": "secrets"}))

    # the upload operator, the sensor in poke mode, and deferred through the trigger
    uploaded = ComagicUploadCallsOperator(task_id="upload", calls=[make_call(f"s-{i}") for i in range(3)]).execute({})
    xcoms.append(uploaded)
    poking = ComagicUploadedCallsSensor(
        task_id="poke", ext_request_ids=uploaded["ext_request_ids"], deferrable=False, poke_interval=STEP
    )
    xcoms.append(poking.poke({}))
    emu.clock.advance(3 * STEP)
    done = poking.poke({})
    xcoms.append(getattr(done, "xcom_value", done))
    deferring = ComagicUploadedCallsSensor(
        task_id="defer", ext_request_ids=uploaded["ext_request_ids"], deferrable=True, poke_interval=STEP
    )
    second = ComagicUploadCallsOperator(task_id="upload2", calls=[make_call("t-1")]).execute({})
    deferring.ext_request_ids = second["ext_request_ids"]
    with pytest.raises(TaskDeferred) as deferred:
        deferring.execute({})
    _classpath, kwargs = deferred.value.trigger.serialize()
    xcoms.append(kwargs)  # what the triggerer stores in the database

    async def sleep(self: Any, seconds: float) -> None:
        emu.clock.advance(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(ComagicUploadedCallsTrigger, "_sleep", sleep)

    async def events() -> list[Any]:
        return [event async for event in ComagicUploadedCallsTrigger(**kwargs).run()]

    (event,) = asyncio.run(asyncio.wait_for(events(), 60))
    xcoms.append(event.payload)
    xcoms.append(deferring.execute_complete({}, event=event.payload))

    # error texts: a rejected token, and a report failing mid-way
    # every token (permanent or session) is revoked as it is used: renewal by login fails too
    emu.faults.add("revoke_token", method="get.calls_report")
    emu.faults.add("revoke_token", method="get.uploaded_calls")
    for cls in (REPORT_OPERATORS["get.calls_report"],):
        failing = cls(task_id="fails", output_path=out.as_uri(), date_from="2024-03-01", date_till="2024-03-02")
        with pytest.raises(ComagicError) as failure:
            failing.execute({"run_id": "fails"})
        errors += [str(failure.value), repr(failure.value), "".join(traceback.format_exception(failure.value))]
    trigger_errors = asyncio.run(asyncio.wait_for(events(), 60))
    xcoms += [e.payload for e in trigger_errors]

    secrets = [TOKEN, PASSWORD, *(t.value for t in emu.tokens.sessions())]
    if auth == "login":
        assert len(secrets) > 2, "the login runs must have used session tokens"
    captured = capfd.readouterr()
    haystacks = {
        "logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "task log output": captured.out + captured.err,
        "xcoms": json.dumps(xcoms, default=str),
        "errors": "\n".join(errors),
        "landed files": "\n".join(landed_texts(out)),
    }
    assert haystacks["landed files"] and haystacks["logs"] and haystacks["xcoms"]
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a secret ({secret[:8]}...) appears in the {where}"
