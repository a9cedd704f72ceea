"""Test utilities of the provider: the CoMagic Data API and MCN Telecom emulators and their pytest fixtures.

Shared pieces (HTTP server base, fault injection, clock) live here; each vendor's emulator in its own subpackage
(:mod:`~airflow_provider_comagic.testing.comagic`, :mod:`~airflow_provider_comagic.testing.mcn`).

``ComagicEmulator`` is a real local HTTP JSON-RPC server with seeded synthetic data, the API's quota, errors,
token handling and upload processing, plus fault injection and ``truth()`` for exact assertions.
Names are imported lazily so ``python -m airflow_provider_comagic.testing.comagic.emulator`` runs cleanly.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ComagicEmulator": "comagic.emulator",
    "EmulatorClock": "clock",
    "EmulatorConfig": "comagic.config",
    "EmulatorStats": "comagic.stats",
    "FAULT_KINDS": "faults",
    "Fault": "faults",
    "FaultInjector": "faults",
    "REMOVED": "comagic.data",
    "RpcError": "comagic.rpc",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
