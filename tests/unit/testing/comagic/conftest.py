"""Fixtures of the emulator tests: a frozen-clock emulator with 200 calls a day and a JSON-RPC caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_comagic.testing import ComagicEmulator
from tests.unit.testing.comagic.helpers import NOW, Api, make_api


@pytest.fixture
def emu(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    return comagic_emulator_factory(calls_per_day=200, start_time=NOW, frozen_clock=True)


@pytest.fixture
def api(emu: ComagicEmulator) -> Api:
    return make_api(emu)
