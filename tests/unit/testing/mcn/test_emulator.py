"""The MCN Telecom emulator over HTTP: the inclusive date range, auth and errors, faults, CLI."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
import requests

from airflow_provider_comagic.testing.mcn.emulator import McnEmulator
from tests.fixtures.cli import served_cli


@pytest.fixture
def emu(mcn_emulator: McnEmulator) -> McnEmulator:
    return mcn_emulator


def get(emu: McnEmulator, path: str, token: str | None = "default", **params: str) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {emu.token if token == 'default' else token}"}
    return requests.get(emu.url + path, params=params, headers=headers, timeout=10)


def call_log(emu: McnEmulator, vpbx: str = "7001", **params: str) -> requests.Response:
    return get(emu, f"/account/{emu.account_id}/vpbx/{vpbx}/call_log", **params)


# -- HTTP ------------------------------------------------------------------------------------------------------------
def test_vpbx_list(emu):
    reply = get(emu, f"/account/{emu.account_id}/vpbx")
    assert reply.status_code == 200
    assert [v["vpbx_id"] for v in reply.json()["data"]] == [7001, 7002]


def test_date_to_is_inclusive(emu):
    one = call_log(emu, date_from="2024-03-01", date_to="2024-03-01").json()["data"]
    two = call_log(emu, date_from="2024-03-01", date_to="2024-03-02").json()["data"]
    assert one == emu.truth("7001", "2024-03-01", "2024-03-01") and len(one) == 40
    assert {r["date"][:10] for r in two} == {"2024-03-01", "2024-03-02"} and len(two) == 80
    assert emu.stats["call_log"] == 2 and emu.stats["http_200"] == 2


def test_calls_is_the_half_open_truth(emu):
    start = dt.datetime(2024, 3, 1, 12, tzinfo=emu.tz)
    rows = emu.calls("7001", start, start + dt.timedelta(hours=12))
    assert rows and all("2024-03-01 12:00:00" <= r["date"] <= "2024-03-01 23:59:59" for r in rows)


@pytest.mark.parametrize(
    ("token", "account", "vpbx", "params", "status"),
    [
        (None, "100500", "7001", {"date_from": "2024-03-01", "date_to": "2024-03-01"}, 401),
        ("wrong", "100500", "7001", {"date_from": "2024-03-01", "date_to": "2024-03-01"}, 401),
        ("default", "1", "7001", {"date_from": "2024-03-01", "date_to": "2024-03-01"}, 403),
        ("default", "100500", "9", {"date_from": "2024-03-01", "date_to": "2024-03-01"}, 404),
        ("default", "100500", "7001", {"date_from": "2024-03-01"}, 400),
        ("default", "100500", "7001", {"date_from": "01.03.2024", "date_to": "2024-03-01"}, 400),
        ("default", "100500", "7001", {"date_from": "2024-03-02", "date_to": "2024-03-01"}, 400),
        ("default", "100500", "7001", {"date_from": "2024-03-01", "date_to": "2024-04-01"}, 400),  # 32 days
    ],
)
def test_errors(emu, token, account, vpbx, params, status):
    reply = get(emu, f"/account/{account}/vpbx/{vpbx}/call_log", token=token, **params)
    assert reply.status_code == status and "error" in reply.json()


def test_revoked_token(emu):
    emu.revoke_token()
    assert get(emu, f"/account/{emu.account_id}/vpbx").status_code == 401
    emu.restore_token()
    assert get(emu, f"/account/{emu.account_id}/vpbx").status_code == 200


def test_list_envelope(mcn_emulator_factory):
    emu = mcn_emulator_factory(envelope="list", calls_per_day=5)
    assert len(call_log(emu, date_from="2024-03-01", date_to="2024-03-01").json()) == 5


# -- faults ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "status"), [("http_500", 500), ("http_502", 502), ("http_503", 503), ("http_429", 429)]
)
def test_http_faults(emu, kind, status):
    emu.faults.add(kind, calls={1}, method="call_log", retry_after=3)
    first = call_log(emu, date_from="2024-03-01", date_to="2024-03-01")
    assert first.status_code == status
    assert (first.headers.get("Retry-After") == "3") is (status == 429)
    assert call_log(emu, date_from="2024-03-01", date_to="2024-03-01").status_code == 200
    assert emu.stats[f"fault_{kind}"] == 1


def test_faults_match_their_endpoint(emu):
    emu.faults.add("http_503", method="call_log")
    assert get(emu, f"/account/{emu.account_id}/vpbx").status_code == 200


def test_truncated_body(emu):
    emu.faults.add("truncate", calls={1})
    reply = call_log(emu, date_from="2024-03-01", date_to="2024-03-01")
    assert reply.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(reply.content)


def test_dropped_connection(emu):
    emu.faults.add("drop", calls={1})
    with pytest.raises(requests.ConnectionError):
        call_log(emu, date_from="2024-03-01", date_to="2024-03-01")
    assert call_log(emu, date_from="2024-03-01", date_to="2024-03-01").status_code == 200


# -- CLI -------------------------------------------------------------------------------------------------------------
def test_cli_serves_and_stops():
    with served_cli("airflow_provider_comagic.testing.mcn.emulator", "--port", "0", "--vpbx", "55") as lines:
        url = next(line for line in lines if "listening on" in line).strip().rsplit(" ", 1)[-1]
        token = next(line for line in lines if line.startswith("token:")).split()[1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v2/rest")
        reply = requests.get(
            url + "/account/100500/vpbx", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        assert reply == {"data": [{"vpbx_id": 55, "name": "vPBX 55", "status": "active"}]}
