"""Why a request got no answer, told in words a user can act on: real sockets on 127.0.0.1 (a refused port, a
server that never answers, an HTTP server addressed with https://) and a name that does not resolve, through the
CoMagic sync and async hooks and the MCN hook."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from airflow_provider_comagic.comagic.errors import ComagicTransportError
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.comagic_async import ComagicAsyncHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.mcn.errors import McnTransportError
from tests.fixtures.processes import free_port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def use(monkeypatch, host: str, **extra) -> None:
    conn = {"conn_type": "comagic", "host": host, "password": "t", "extra": {"timezone": "UTC", **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps(conn))


def failure(monkeypatch, host: str, **extra) -> str:
    use(monkeypatch, host, **extra)
    with pytest.raises(ComagicTransportError) as raised:
        ComagicHook(max_retries=0, timeout=1).call("get.account")
    return str(raised.value)


def test_a_refused_connection(monkeypatch):
    text = failure(monkeypatch, f"http://127.0.0.1:{free_port()}")
    assert "was refused: is the server running, and are the host and port right?" in text


def test_a_name_that_does_not_resolve(monkeypatch):
    text = failure(monkeypatch, "https://no-such-host.invalid")
    assert "the host name no-such-host.invalid does not resolve: check the host of the connection" in text


def test_https_to_a_plain_http_server_hints_at_http(monkeypatch, comagic_emulator):
    host = comagic_emulator.base_url.removeprefix("http://")
    text = failure(monkeypatch, host)  # no scheme: https, as for dataapi.comagic.ru
    assert f"the TLS (HTTPS) handshake with {host} failed" in text
    assert f"write the host as http://{host}" in text
    assert "[" not in text  # the Airflow CLI drops text in square brackets


def test_a_server_that_never_answers(monkeypatch, silent_server):
    text = failure(monkeypatch, f"http://127.0.0.1:{silent_server}")
    assert f"127.0.0.1:{silent_server} did not answer within 1 s" in text and "extra 'timeout'" in text


def test_the_async_hook_says_the_same(monkeypatch):
    use(monkeypatch, f"http://127.0.0.1:{free_port()}")

    async def call() -> None:
        async with ComagicAsyncHook(max_retries=0) as hook:
            await hook.call("get.account")

    with pytest.raises(ComagicTransportError, match="was refused: is the server running"):
        asyncio.run(call())


def test_the_mcn_hook_says_the_same(monkeypatch):
    conn = {
        "conn_type": "mcn_telecom",
        "host": "https://no-such-host.invalid",
        "password": "t",
        "extra": {"account_id": "1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MCN_TELECOM_DEFAULT", json.dumps(conn))
    with pytest.raises(McnTransportError, match=r"no-such-host\.invalid does not resolve"):
        McnTelecomHook(max_retries=0, timeout=2).list_vpbx()


def test_the_connection_test_reports_it_whole(monkeypatch):
    use(monkeypatch, f"http://127.0.0.1:{free_port()}")
    ok, message = ComagicHook().test_connection()
    assert not ok and "was refused" in message and "dataapi.comagic.ru and dataapi.uiscom.ru" in message
