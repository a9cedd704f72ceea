"""The connections list's Test button of Airflow 3.3's UI, pressed in Chromium as a new user would: sign in, make
the connection in the Add Connection form, press Test in the list, read the toast.

Airflow 3.3.2's list sends ``port: 0`` for a connection without a port and its API server answers 400 (shown as
"Bad Request"): both forms of this provider therefore ask for the Port, which never changes where calls go.
With it, Test reports the account (CoMagic: name and zone; MCN: the vPBXs) and a wrong token's error whole."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_comagic.get_provider_info import PORT_LABEL
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.hooks.mcn import McnTelecomHook
from airflow_provider_comagic.testing.pytest_plugin import connection_json, mcn_connection_json
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS
from tests.fixtures.browser import api_server, chromium, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not AIRFLOW_V_3_0_PLUS,
        reason="drives Airflow 3's React UI (its connections list's Test button); Airflow 2.10's Flask-AppBuilder "
        "form is not driven: there the hooks' test_connection and `airflow connections test` are what is tested",
    ),
]

REFUSED = "The host or port to test differs from the stored connection."


@dataclass
class Pressed:
    """What pressing Test showed: the API server's answer and the toast."""

    request: dict[str, Any]
    status: int
    answer: dict[str, Any]
    title: str
    text: str


@dataclass
class ConnectionsPage:
    page: Any
    url: str

    def open(self) -> None:
        self.page.goto(f"{self.url}/connections")  # a fresh list: no toast of an earlier Test left
        self.page.get_by_role("button", name="Add Connection").wait_for()

    def add(self, conn_id: str, type_name: str, fields: dict[str, str], extras: dict[str, str] | None = None) -> None:
        """Fill the Add Connection form: ``fields`` by their labels, ``extras`` (Extra Fields) by their names."""
        self.open()
        self.page.get_by_role("button", name="Add Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_label("Connection ID").fill(conn_id)
        dialog.get_by_role("combobox").fill(type_name)
        self.page.get_by_role("option", name=type_name, exact=True).click()
        for label, value in fields.items():
            dialog.get_by_label(label, exact=True).fill(value)
        if extras:
            dialog.get_by_role("button", name="Extra Fields", exact=True).click()
            for name, value in extras.items():
                dialog.locator(f"[name=element_{name}]").fill(value)
        with self.page.expect_response(lambda r: r.url.endswith("/api/v2/connections")) as saved:
            dialog.get_by_role("button", name="Save").click()
        assert saved.value.status == 201, saved.value.text()

    def set_port(self, conn_id: str, port: int) -> None:
        """What the docs tell a user who met "Bad Request": Edit, fill Port, Save."""
        self.open()
        self._row(conn_id).get_by_role("button", name="Edit Connection").click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_label(PORT_LABEL, exact=True).fill(str(port))
        with self.page.expect_response(lambda r: f"/api/v2/connections/{conn_id}" in r.url) as saved:
            dialog.get_by_role("button", name="Save").click()
        assert saved.value.status == 200, saved.value.text()

    def test(self, conn_id: str) -> Pressed:
        """Press Test in the list row of ``conn_id``; the answer and the toast it raised."""
        self.open()
        with self.page.expect_response(lambda r: r.url.endswith("/api/v2/connections/test")) as answered:
            self._row(conn_id).get_by_role("button", name="Test Connection").click()
        response = answered.value
        toast = self.page.locator("[data-scope=toast][data-part=root]").first
        toast.wait_for()
        return Pressed(
            request=json.loads(response.request.post_data),
            status=response.status,
            answer=response.json(),
            title=toast.locator("[data-part=title]").inner_text(),
            text=toast.locator("[data-part=description]").inner_text(),
        )

    def _row(self, conn_id: str) -> Any:
        return self.page.get_by_role("row").filter(has=self.page.get_by_text(conn_id, exact=True))


@pytest.fixture(scope="module")
def connections(tmp_path_factory) -> ConnectionsPage:
    root = tmp_path_factory.mktemp("ui")
    with chromium(root / "profile") as browser, api_server(root / "airflow") as url:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        log_in(page, url)
        yield ConnectionsPage(page, url)


def comagic_fields(emulator, password: str, port: int | None) -> dict[str, str]:
    fields = {"API host or URL": emulator.base_url, "Password or access token": password}
    return {**fields, PORT_LABEL: str(port)} if port else fields


def expected_message(monkeypatch, hook_class, conn: dict) -> str:
    """The hook's own message for ``conn``, computed here: what the toast must show, whole."""
    monkeypatch.setenv("AIRFLOW_CONN_EXPECTED", json.dumps(conn))
    ok, message = hook_class("expected").test_connection()
    assert not ok
    return message


def test_without_a_port_the_list_answers_bad_request_until_port_is_set(connections, comagic_emulator):
    connections.add("comagic_no_port", "CoMagic", comagic_fields(comagic_emulator, comagic_emulator.access_token, None))
    refused = connections.test("comagic_no_port")
    assert refused.request["port"] == 0  # Number(null): the list's Test sends 0 for an empty Port
    assert refused.status == 400 and refused.answer["detail"].startswith(REFUSED), (
        "Airflow's list no longer refuses a connection without a port: update docs/connections/*.rst, the README "
        "and version_compat.EMPTY_PORT_FAILS_LIST_TEST"
    )
    assert (refused.title, refused.text) == ("Test Connection Failed", "Bad Request")
    connections.set_port("comagic_no_port", comagic_emulator.port)
    tested = connections.test("comagic_no_port")
    assert tested.status == 200 and tested.title == "Test Connection Successful", tested


def test_comagic_connection_made_in_the_form_tests_green(connections, comagic_emulator):
    fields = comagic_fields(comagic_emulator, comagic_emulator.access_token, comagic_emulator.port)
    connections.add("comagic_default", "CoMagic", fields)
    tested = connections.test("comagic_default")
    assert tested.request["port"] == comagic_emulator.port
    assert tested.status == 200 and tested.answer["status"] is True, tested
    assert tested.title == "Test Connection Successful"
    assert tested.text == tested.answer["message"]
    assert tested.text.startswith(f"Connected to 127.0.0.1:{comagic_emulator.port} as account 'Emulated account'")
    assert f"Time zone: {comagic_emulator.config.timezone}, the account's (the connection names none)." in tested.text
    assert "Port is empty" not in tested.text


def test_comagic_wrong_token_shows_the_error_whole(connections, comagic_emulator, monkeypatch):
    connections.add("comagic_wrong", "CoMagic", comagic_fields(comagic_emulator, "wrong-token", comagic_emulator.port))
    tested = connections.test("comagic_wrong")
    assert tested.status == 200 and tested.answer["status"] is False
    conn = {**json.loads(connection_json(comagic_emulator, timezone=None)), "password": "wrong-token"}
    expected = expected_message(monkeypatch, ComagicHook, {**conn, "port": comagic_emulator.port})
    assert expected.startswith(
        "CoMagic get.account failed: Access token is invalid (access_token_invalid, code -32001)"
    )
    assert (tested.title, tested.text) == ("Test Connection Failed", expected)


def test_mcn_connection_made_in_the_form(connections, mcn_emulator, monkeypatch):
    port = str(mcn_emulator.port)
    fields = {"API base URL": mcn_emulator.base_url, PORT_LABEL: port, "API token": mcn_emulator.token}
    connections.add("mcn_telecom_default", "MCN Telecom", fields, {"account_id": mcn_emulator.account_id})
    tested = connections.test("mcn_telecom_default")
    assert tested.title == "Test Connection Successful", tested
    assert (
        tested.text == f"Connected to 127.0.0.1:{port}: account {mcn_emulator.account_id} has active vPBXs: 7001, 7002."
    )

    connections.add("mcn_wrong", "MCN Telecom", {**fields, "API token": "wrong-token"}, {"account_id": "100500"})
    tested = connections.test("mcn_wrong")
    conn = {**json.loads(mcn_connection_json(mcn_emulator)), "password": "wrong-token", "port": mcn_emulator.port}
    expected = expected_message(monkeypatch, McnTelecomHook, conn)
    assert "HTTP 401" in expected
    assert (tested.title, tested.text) == ("Test Connection Failed", expected)
