"""McnTelecomHook over HTTP (pytest-httpserver): requests, errors, retries, secrets, test_connection."""

from __future__ import annotations

import datetime as dt
import json
import logging
from unittest import mock

import orjson
import pendulum
import pytest
from werkzeug import Response

from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.mcn.errors import (
    McnApiError,
    McnAuthError,
    McnError,
    McnNotFoundError,
    McnParameterError,
    McnPermissionError,
    McnTransportError,
)

TOKEN = "mcn-SECRET-token-0123456789"
MSK = pendulum.timezone("Europe/Moscow")
CALL_LOG = "/v2/rest/account/100500/vpbx/7001/call_log"


class FakeApi:
    """Records requests; answers from a queue of responders, then with ``rows`` of the asked dates."""

    def __init__(self):
        self.requests: list[dict] = []
        self.queue: list = []
        self.rows: list[dict] = []
        self.envelope = "data"

    def handler(self, request):
        self.requests.append(
            {"path": request.path, "args": dict(request.args), "auth": request.headers.get("Authorization")}
        )
        if self.queue:
            return self.queue.pop(0)
        if request.path.endswith("/vpbx"):
            return self.json([{"vpbx_id": 7001}, {"vpbx_id": 7002}])
        first, last = request.args.get("date_from"), request.args.get("date_to")
        return self.json([r for r in self.rows if first <= r["date"][:10] <= last])

    def json(self, rows):
        payload = rows if self.envelope == "list" else {"data": rows}
        return Response(orjson.dumps(payload), 200, content_type="application/json")


@pytest.fixture
def api(httpserver):
    fake = FakeApi()
    httpserver.expect_request(CALL_LOG).respond_with_handler(fake.handler)
    httpserver.expect_request("/v2/rest/account/100500/vpbx").respond_with_handler(fake.handler)
    httpserver.expect_request("/v2/rest/account/100500/vpbx/9999/call_log").respond_with_data("{}", status=404)
    return fake


def set_conn(monkeypatch, httpserver, **fields):
    extra = {"account_id": "100500", **fields.pop("extra", {})}
    conn = {
        "conn_type": "mcn_telecom",
        "host": httpserver.url_for("/").rstrip("/"),
        "password": TOKEN,
        "extra": extra,
        **fields,
    }
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", json.dumps(conn))


@pytest.fixture
def hook(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver)
    return McnTelecomHook(sleep=lambda s: None, retry_initial_wait=0.01)


def day(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.fromisoformat(start).replace(tzinfo=MSK),
        dt.datetime.fromisoformat(end).replace(tzinfo=MSK),
    )


# -- requests --------------------------------------------------------------------------------------------------------
def test_list_vpbx_sends_the_bearer_token(hook, api):
    assert hook.list_vpbx() == [{"vpbx_id": 7001}, {"vpbx_id": 7002}]
    (request,) = api.requests
    assert request["auth"] == f"Bearer {TOKEN}"
    assert request["path"] == "/v2/rest/account/100500/vpbx"
    assert TOKEN not in json.dumps(request["args"])  # never in the URL


def test_call_log_requests_inclusive_dates_and_filters_half_open(hook, api):
    api.rows = [
        {"callid": "a", "date": "2024-02-29 23:59:59"},
        {"callid": "b", "date": "2024-03-01 00:00:00"},
        {"callid": "c", "date": "2024-03-01 23:59:59"},
        {"callid": "d", "date": "2024-03-02 00:00:00"},
    ]
    pages = list(hook.iter_call_log(None, "7001", *day("2024-03-01", "2024-03-02")))
    assert [[r["callid"] for r in p] for p in pages] == [["b", "c"]]
    assert [r["args"] for r in api.requests] == [{"date_from": "2024-03-01", "date_to": "2024-03-01"}]
    assert hook.stats["rows_received"] == 2 and hook.stats["rows_kept"] == 2


def test_call_log_in_chunks_yields_lazily_and_skips_empty_chunks(hook, api):
    api.rows = [{"callid": str(d), "date": f"2024-03-{d:02d} 12:00:00"} for d in (1, 2, 3, 9, 10)]
    pages = hook.iter_call_log("100500", 7001, *day("2024-03-01", "2024-03-11"), chunk_days=3)
    assert api.requests == []  # nothing requested before iteration
    first = next(pages)
    assert [r["callid"] for r in first] == ["1", "2", "3"] and len(api.requests) == 1
    rest = list(pages)
    assert [[r["callid"] for r in p] for p in rest] == [["9"], ["10"]]
    assert [(r["args"]["date_from"], r["args"]["date_to"]) for r in api.requests] == [
        ("2024-03-01", "2024-03-03"),
        ("2024-03-04", "2024-03-06"),
        ("2024-03-07", "2024-03-09"),
        ("2024-03-10", "2024-03-10"),
    ]


def test_intraday_interval_keeps_only_its_hours(hook, api):
    api.rows = [{"callid": str(h), "date": f"2024-03-01 {h:02d}:00:00"} for h in range(24)]
    (page,) = hook.iter_call_log(None, "7001", *day("2024-03-01 10:00", "2024-03-01 12:00"))
    assert [r["callid"] for r in page] == ["10", "11"]


def test_list_envelope_is_accepted(hook, api):
    api.envelope = "list"
    api.rows = [{"callid": "x", "date": "2024-03-01 08:00:00"}]
    assert list(hook.iter_call_log(None, "7001", *day("2024-03-01", "2024-03-02"))) == [api.rows]


def test_naive_interval_is_rejected_before_any_request(hook, api):
    with pytest.raises(McnParameterError, match="time-zone aware"):
        list(hook.iter_call_log(None, "7001", dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2)))
    assert api.requests == []


def test_ids_are_quoted_as_one_path_segment(hook, api, httpserver):
    with pytest.raises(McnError):
        list(hook.iter_call_log(None, "../../x?y=1", *day("2024-03-01", "2024-03-02")))
    environ = httpserver.log[-1][0].environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    assert raw.startswith("/v2/rest/account/100500/vpbx/..%2F..%2Fx%3Fy%3D1/call_log?")


def test_account_id_is_required(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, extra={"account_id": None})
    with pytest.raises(McnParameterError, match="account_id"):
        McnTelecomHook().list_vpbx()
    assert McnTelecomHook().account("42") == "42"


# -- errors ----------------------------------------------------------------------------------------------------------
def test_401_is_a_clear_auth_error_without_retries(hook, api):
    api.queue.append(Response('{"error": "Unauthorized"}', 401))
    with pytest.raises(McnAuthError, match="token was rejected") as info:
        hook.list_vpbx()
    assert info.value.status == 401 and len(api.requests) == 1


def test_403_names_the_account_and_vpbx(hook, api):
    api.queue.append(Response("{}", 403))
    with pytest.raises(McnPermissionError, match="account 100500, vPBX 7001"):
        list(hook.iter_call_log(None, "7001", *day("2024-03-01", "2024-03-02")))
    assert len(api.requests) == 1


def test_404_names_the_ids_and_the_base_url(hook, api):
    with pytest.raises(McnNotFoundError, match=r"account_id='100500', vpbx_id='9999'.*list_vpbx\(\)"):
        list(hook.iter_call_log(None, "9999", *day("2024-03-01", "2024-03-02")))


def test_other_4xx_fail_fast(hook, api):
    api.queue.append(Response("bad", 400))
    with pytest.raises(McnApiError, match="MCN Telecom vpbx list: unexpected HTTP 400"):
        hook.list_vpbx()
    assert len(api.requests) == 1


def test_unexpected_shape_is_not_retried(hook, api):
    api.queue.append(Response('{"result": "ok"}', 200))
    with pytest.raises(McnApiError, match="expected a JSON list"):
        hook.list_vpbx()
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Response("busy", 503),
        Response("bad gateway", 502),
        Response("oops", 500),
        Response("slow down", 429, headers={"Retry-After": "0"}),
        Response('{"data": [{"callid"', 200),  # truncated JSON
        Response("<html>proxy</html>", 200),
    ],
    ids=["503", "502", "500", "429", "truncated", "html"],
)
def test_transient_faults_are_retried(hook, api, fault, capfd):
    api.queue.append(fault)
    assert hook.list_vpbx() == [{"vpbx_id": 7001}, {"vpbx_id": 7002}]
    assert len(api.requests) == 2 and hook.stats == {**hook.stats, "requests": 2, "calls": 1}
    assert "Transient MCN Telecom API failure (attempt 1 of 6)" in "".join(capfd.readouterr())


def test_retries_are_bounded(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver, extra={"max_retries": 2})
    api.queue.extend([Response("busy", 503)] * 5)
    hook = McnTelecomHook(sleep=lambda s: None)
    with pytest.raises(McnTransportError, match="HTTP 503"):
        hook.list_vpbx()
    assert len(api.requests) == 3


def test_retry_after_is_honoured(api, httpserver, monkeypatch):
    set_conn(monkeypatch, httpserver)
    waits: list[float] = []
    api.queue.append(Response("slow down", 429, headers={"Retry-After": "7"}))
    McnTelecomHook(sleep=waits.append, retry_initial_wait=0.01).list_vpbx()
    assert waits and waits[0] >= 7


def test_connection_refused_is_transient_and_bounded(monkeypatch):
    conn = {"conn_type": "mcn_telecom", "host": "http://127.0.0.1:9", "password": TOKEN, "extra": {"account_id": "1"}}
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", json.dumps(conn))
    hook = McnTelecomHook(sleep=lambda s: None, max_retries=1, timeout=2)
    with pytest.raises(McnTransportError, match=r"connection to 127\.0\.0\.1:9 was refused"):
        hook.list_vpbx()
    assert hook.stats["requests"] == 2


# -- secrets ---------------------------------------------------------------------------------------------------------
def test_token_is_masked_and_never_in_logs_or_errors(api, httpserver, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    set_conn(monkeypatch, httpserver, extra={"max_retries": 1})
    with mock.patch("airflow_provider_comagic.hooks.mcn.mask_secret") as mask:
        hook = McnTelecomHook(sleep=lambda s: None)
        texts = [repr(hook.config)]
    mask.assert_called_once_with(TOKEN)
    api.queue.extend([Response("x", 503), Response("x", 503), Response("{}", 401), Response("{}", 403)])
    for call in (hook.list_vpbx, hook.list_vpbx, hook.list_vpbx):
        try:
            call()
        except Exception as error:
            texts += [str(error), repr(error)]
    texts += [caplog.text, *capfd.readouterr()]
    blob = "\n".join(texts)
    assert "Transient MCN Telecom API failure" in blob  # the log was captured
    assert "HTTP 503" in blob and "HTTP 401" in blob and "HTTP 403" in blob
    assert TOKEN not in blob
    assert all(TOKEN not in str(entry[0].url) for entry in httpserver.log)


# -- test_connection -------------------------------------------------------------------------------------------------
def test_test_connection(hook, api):
    ok, message = hook.test_connection()
    assert ok and "7001, 7002" in message
    api.queue.append(Response("{}", 401))
    ok, message = McnTelecomHook().test_connection()
    assert not ok and "HTTP 401" in message
