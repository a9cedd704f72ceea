"""Ids and lists pulled from an upstream task's XCom into a template, rendered by Airflow itself.

Without native rendering Airflow renders an XCom list to its Python repr (``"['7001', '7002']"``). Every
operator and the sensor read such values through ``utils.templating``: the ids arrive as the strings they were
(before, ``McnCallLogOperator`` asked the API for vPBX ``'7001'``, quotes included, and got a 404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import pytest

from airflow_provider_comagic.landing.manifest import read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.customers import ComagicCustomerUsersOperator
from airflow_provider_comagic.operators.mcn import McnCallLogOperator
from airflow_provider_comagic.operators.report import ComagicCallsReportOperator
from airflow_provider_comagic.operators.upload import ComagicUploadCallsOperator
from airflow_provider_comagic.sensors.uploaded_calls import ComagicUploadedCallsSensor
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json

pytestmark = pytest.mark.integration

MSK = pendulum.timezone("Europe/Moscow")
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
NEXT = DAY + dt.timedelta(days=1)


class _TaskInstance:
    """What a template's ``ti`` offers: ``xcom_pull`` of the upstream tasks' return values."""

    def __init__(self, xcoms: dict[str, Any]):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms[task_ids]


def rendered(op: Any, xcoms: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Render ``op``'s template fields as Airflow does for a run (no native rendering); return the context."""
    context = {"ti": _TaskInstance(xcoms), "run_id": "xcom-test", **context}
    op.render_template_fields(context)
    return context


def test_mcn_vpbx_ids_from_an_xcom_list_of_strings(mcn_emulator_factory, monkeypatch, tmp_path):
    emu = mcn_emulator_factory(calls_per_day=20)
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", mcn_connection_json(emu))
    op = McnCallLogOperator(
        task_id="mcn", output_path=str(tmp_path), output_format="jsonl", vpbx_id="{{ ti.xcom_pull(task_ids='ids') }}"
    )
    context = rendered(op, {"ids": ["7001", "7002"]}, data_interval_start=DAY, data_interval_end=NEXT)
    assert op.vpbx_id == "['7001', '7002']"  # what Airflow hands the operator
    summary = op.execute(context)
    assert [p["vpbx_id"] for p in summary["partitions"]] == ["7001", "7002"]
    for vpbx in ("7001", "7002"):
        partition = f"file://{tmp_path}/mcn_call_log/vpbx_id={vpbx}/date=2024-03-01"
        assert read_manifest(partition)["vpbx_id"] == vpbx
        assert len(list(iter_landed_rows(partition))) == len(emu.calls(vpbx, DAY, NEXT)) > 0


def test_report_fields_and_client_from_xcom(comagic_emulator_factory, monkeypatch, tmp_path):
    emu = comagic_emulator_factory(calls_per_day=50, partner_customers=2)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    users = ComagicCustomerUsersOperator(task_id="users", customer_ids="{{ ti.xcom_pull(task_ids='clients') }}")
    rendered(users, {"clients": ["500002"]})
    assert users.customer_ids == "['500002']"
    (entry,) = users.execute({})
    assert entry["customer_id"] == 500002
    op = ComagicCallsReportOperator(
        task_id="calls",
        output_path=str(tmp_path),
        output_format="jsonl",
        fields="{{ ti.xcom_pull(task_ids='fields') }}",
        user_id="{{ ti.xcom_pull(task_ids='users')['user_id'] }}",
        customer_id="{{ ti.xcom_pull(task_ids='users')['customer_id'] }}",
    )
    context = rendered(
        op,
        {"fields": ["id", "start_time", "talk_duration"], "users": entry},
        data_interval_start=DAY,
        data_interval_end=NEXT,
    )
    summary = op.execute(context)
    assert summary["customer_id"] == 500002 and summary["user_id"] == entry["user_id"]
    rows = list(iter_landed_rows(summary["partition"]))
    assert rows and all(set(row) == {"id", "start_time", "talk_duration"} for row in rows)
    assert "/customer_id=500002/" in summary["partition"]


def test_upload_calls_and_sensor_ids_from_xcom(comagic_emulator_factory, monkeypatch):
    emu = comagic_emulator_factory(calls_per_day=10, frozen_clock=True, upload_step_seconds=30.0)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", connection_json(emu))
    calls = [
        {
            "ext_id": f"x-{i}",
            "direction": "in",
            "calling_phone_number": "79262444397",
            "called_phone_number": "74955140576",
            "start_time": "2024-06-01 12:00:00",
            "finish_time": "2024-06-01 12:00:30",
            "is_lost": False,  # rendered as Python's False: not JSON
            "mp3_records": [{"record_url": f"https://pbx.example/x-{i}.mp3"}],
        }
        for i in range(3)
    ]
    upload = ComagicUploadCallsOperator(task_id="upload", calls="{{ ti.xcom_pull(task_ids='calls') }}")
    rendered(upload, {"calls": calls})
    assert "False" in upload.calls
    result = upload.execute({})
    assert result["ext_ids"] == ["x-0", "x-1", "x-2"]
    emu.clock.advance(120)
    sensor = ComagicUploadedCallsSensor(
        task_id="wait",
        ext_ids="{{ ti.xcom_pull(task_ids='upload')['ext_ids'] }}",
        ext_request_ids="{{ ti.xcom_pull(task_ids='upload')['ext_request_ids'] }}",
    )
    rendered(sensor, {"upload": result})
    assert sensor.ext_ids == "['x-0', 'x-1', 'x-2']"
    summary = sensor.check({})
    assert summary["done"] and summary["calls"] == 3 and summary["missing"] == 0
