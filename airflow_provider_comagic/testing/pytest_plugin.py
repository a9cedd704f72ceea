"""pytest fixtures for code that talks to the CoMagic Data API, served by the bundled emulator.

Enabled automatically through the ``pytest11`` entry point (or ``pytest_plugins = [...]`` in a conftest):

* ``comagic_emulator`` — a started :class:`ComagicEmulator` with default settings, fresh for each test;
* ``comagic_emulator_factory`` — ``factory(config=None, **overrides)`` starts emulators with custom settings;
* ``comagic_conn`` — points ``AIRFLOW_CONN_COMAGIC_DEFAULT`` at ``comagic_emulator``; returns the conn id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_comagic.testing.config import EmulatorConfig
from airflow_provider_comagic.testing.emulator import ComagicEmulator

CONN_ID = "comagic_default"


def connection_json(emulator: ComagicEmulator) -> str:
    """The Airflow connection (JSON form) that reaches ``emulator`` with its permanent token."""
    return json.dumps(
        {
            "conn_type": "comagic",
            "host": emulator.base_url,
            "password": emulator.access_token,
            "extra": {"timezone": emulator.config.timezone},
        }
    )


@pytest.fixture
def comagic_emulator_factory() -> Iterator[Callable[..., ComagicEmulator]]:
    """Start emulators with custom settings; all are stopped after the test."""
    started: list[ComagicEmulator] = []

    def factory(config: EmulatorConfig | None = None, **overrides: Any) -> ComagicEmulator:
        emulator = ComagicEmulator(config, **overrides).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture
def comagic_emulator(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    """A fresh emulator (seed 1, Europe/Moscow, 1000 calls per day) on a free 127.0.0.1 port."""
    return comagic_emulator_factory()


@pytest.fixture
def comagic_conn(comagic_emulator: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Set ``AIRFLOW_CONN_COMAGIC_DEFAULT`` to the emulator (host, permanent token, time zone)."""
    monkeypatch.setenv("AIRFLOW_CONN_" + CONN_ID.upper(), connection_json(comagic_emulator))
    return CONN_ID
