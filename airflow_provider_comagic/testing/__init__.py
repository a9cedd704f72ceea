"""Test utilities of the provider: the CoMagic Data API emulator and its pytest fixtures.

``ComagicEmulator`` is a real local HTTP JSON-RPC server with seeded synthetic data, the API's quota, errors,
token handling and upload processing, plus fault injection and ``truth()`` for exact assertions.
"""

from airflow_provider_comagic.testing.clock import EmulatorClock
from airflow_provider_comagic.testing.config import EmulatorConfig
from airflow_provider_comagic.testing.data import REMOVED
from airflow_provider_comagic.testing.emulator import ComagicEmulator
from airflow_provider_comagic.testing.faults import FAULT_KINDS, Fault, FaultInjector
from airflow_provider_comagic.testing.rpc import RpcError
from airflow_provider_comagic.testing.stats import EmulatorStats

__all__ = [
    "FAULT_KINDS",
    "REMOVED",
    "ComagicEmulator",
    "EmulatorClock",
    "EmulatorConfig",
    "EmulatorStats",
    "Fault",
    "FaultInjector",
    "RpcError",
]
