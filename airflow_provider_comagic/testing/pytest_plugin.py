"""pytest fixtures for code that talks to the CoMagic Data API, served by the bundled emulator.

Enabled automatically through the ``pytest11`` entry point (or ``pytest_plugins = [...]`` in a conftest):

* ``comagic_emulator`` — a started :class:`ComagicEmulator` with default settings, fresh for each test;
* ``comagic_emulator_factory`` — ``factory(config=None, **overrides)`` starts emulators with custom settings;
* ``comagic_conn`` — points ``AIRFLOW_CONN_COMAGIC_DEFAULT`` at ``comagic_emulator``; returns the conn id.
* ``comagic_conn_factory`` — ``factory(emulator, conn_id=..., timezone=..., **extra)`` makes a connection to any
  emulator, e.g. one whose zone differs from the account's (``timezone="UTC"``) or names none (``None``).
* ``mcn_emulator``, ``mcn_emulator_factory``, ``mcn_conn`` — the same for the MCN Telecom REST API emulator
  (``AIRFLOW_CONN_MCN_TELECOM_DEFAULT``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_comagic.testing.comagic.emulator import ComagicEmulator
from airflow_provider_comagic.testing.mcn.emulator import McnEmulator

CONN_ID = "comagic_default"


_ACCOUNT_ZONE = "account"


def connection_json(emulator: ComagicEmulator, timezone: str | None = _ACCOUNT_ZONE, **extra: Any) -> str:
    """The Airflow connection (JSON form) that reaches ``emulator`` with its permanent token.

    ``timezone``: the extra ``timezone`` it names, by default the emulated account's; another zone makes a
    connection whose zone differs from the account's (landing tasks then fail, or land shifted with
    ``allow_timezone_mismatch=True``); None names none (the account's zone is read). ``extra``: more extras."""
    zone = emulator.config.timezone if timezone == _ACCOUNT_ZONE else timezone
    extras = {**({"timezone": zone} if zone is not None else {}), **extra}
    return json.dumps(
        {"conn_type": "comagic", "host": emulator.base_url, "password": emulator.access_token, "extra": extras}
    )


def _started_emulators(emulator_class: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A factory that starts ``emulator_class(config, **overrides)`` and stops every one it started afterwards."""
    started: list[Any] = []

    def factory(config: Any = None, **overrides: Any) -> Any:
        emulator = emulator_class(config, **overrides).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def comagic_emulator_factory() -> Iterator[Callable[..., ComagicEmulator]]:
    """Start emulators with custom settings (``EmulatorConfig`` or its fields); all are stopped after the test."""
    yield from _started_emulators(ComagicEmulator)


@pytest.fixture
def comagic_emulator(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    """A fresh emulator (seed 1, Europe/Moscow, 1000 calls per day) on a free 127.0.0.1 port."""
    return comagic_emulator_factory()


@pytest.fixture
def comagic_conn(comagic_emulator: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set ``AIRFLOW_CONN_COMAGIC_DEFAULT`` to the emulator (host, permanent token, time zone)."""
    monkeypatch.setenv("AIRFLOW_CONN_" + CONN_ID.upper(), connection_json(comagic_emulator))
    return CONN_ID


@pytest.fixture
def comagic_conn_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``factory(emulator, conn_id="comagic_default", timezone=..., **extra)`` sets the connection ``conn_id`` to
    ``emulator`` (see :func:`connection_json`: e.g. ``timezone="UTC"`` on a Moscow account, or ``None`` to follow
    the account's zone) and returns the conn id."""

    def factory(emulator: ComagicEmulator, conn_id: str = CONN_ID, **options: Any) -> str:
        monkeypatch.setenv("AIRFLOW_CONN_" + conn_id.upper(), connection_json(emulator, **options))
        return conn_id

    return factory


# -- MCN Telecom ------------------------------------------------------------------------------------------------
# mcn_emulator_factory / mcn_emulator / mcn_conn: the same pattern for the MCN Telecom REST API emulator.
MCN_CONN_ID = "mcn_telecom_default"


def mcn_connection_json(emulator: McnEmulator) -> str:
    """The ``mcn_telecom`` Airflow connection (JSON form) that reaches ``emulator``: token, account, zone."""
    return json.dumps(
        {
            "conn_type": "mcn_telecom",
            "host": emulator.base_url,
            "password": emulator.token,
            "extra": {"account_id": emulator.account_id, "timezone": emulator.config.timezone},
        }
    )


@pytest.fixture
def mcn_emulator_factory() -> Iterator[Callable[..., McnEmulator]]:
    """Start MCN emulators with custom settings (``McnEmulatorConfig`` fields); all are stopped after the test."""
    yield from _started_emulators(McnEmulator)


@pytest.fixture
def mcn_emulator(mcn_emulator_factory: Callable[..., McnEmulator]) -> McnEmulator:
    """A fresh MCN emulator (seed 1, account 100500, vPBXs 7001 and 7002, Europe/Moscow, 40 calls a day)."""
    return mcn_emulator_factory()


@pytest.fixture
def mcn_conn(mcn_emulator: McnEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set ``AIRFLOW_CONN_MCN_TELECOM_DEFAULT`` to ``mcn_emulator``; returns the conn id."""
    monkeypatch.setenv("AIRFLOW_CONN_" + MCN_CONN_ID.upper(), mcn_connection_json(mcn_emulator))
    return MCN_CONN_ID
