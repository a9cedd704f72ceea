"""Airflow 2.10+/3.x import shims, kept in one place so no other module branches on the version."""

from __future__ import annotations

from airflow import __version__ as _airflow_version
from airflow.triggers.base import BaseTrigger, TriggerEvent  # the same module on Airflow 2 and 3
from packaging.version import Version

_AIRFLOW_VERSION = Version(Version(_airflow_version).base_version)
AIRFLOW_V_3_0_PLUS = _AIRFLOW_VERSION >= Version("3.0.0")
PARTITIONED_ASSETS = _AIRFLOW_VERSION >= Version("3.3.0")
"""Airflow 3.3+: an outlet event carries run-time partition keys (``outlet_events[asset].add_partitions()``) and
a DAG can be scheduled once per partition (``PartitionedAssetTimetable``)."""
EMPTY_PORT_FAILS_LIST_TEST = _AIRFLOW_VERSION >= Version("3.3.0")
"""Airflow 3.3's connections list sends ``port: 0`` (``Number(null)``) when Test is pressed on a connection without
a port, and its API server refuses that with HTTP 400: ``_same_endpoint`` in
``api_fastapi/core_api/routes/public/connections.py`` (apache/airflow#69957, in 3.3.2) reads 0 as another port than
the stored NULL. apache/airflow#73298 normalises 0; until a release has it, a connection needs a stored Port."""

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import (
        Asset,
        AssetAlias,
        BaseHook,
        BaseOperator,
        BaseSensorOperator,
        ObjectStoragePath,
        PokeReturnValue,
        conf,
    )
    from airflow.sdk.definitions._internal.contextmanager import DagContext
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSkipException,
        TaskDeferralTimeout,
        TaskDeferred,
    )
else:  # pragma: no cover - exercised only on Airflow 2.10/2.11
    from airflow.configuration import conf
    from airflow.datasets import Dataset as Asset
    from airflow.datasets import DatasetAlias as AssetAlias
    from airflow.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.exceptions import TaskDeferralError as TaskDeferralTimeout  # 2.10 fails a timed-out deferral so
    from airflow.hooks.base import BaseHook
    from airflow.io.path import ObjectStoragePath
    from airflow.models import BaseOperator
    from airflow.models.dag import DagContext
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue

TRIGGERING_ASSET_EVENTS = "triggering_asset_events" if AIRFLOW_V_3_0_PLUS else "triggering_dataset_events"
"""The context key of the asset (2.10: dataset) events that triggered a run."""

if PARTITIONED_ASSETS:
    from airflow.sdk import PartitionedAssetTimetable
else:  # pragma: no cover - Airflow before 3.3
    PartitionedAssetTimetable = None

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # pragma: no cover
    try:
        from airflow.sdk.execution_time.secrets_masker import mask_secret
    except ImportError:
        from airflow.utils.log.secrets_masker import mask_secret


def attach_store(protocol: str, **kwargs: object) -> object:
    """Airflow's ``attach`` (the object-store registry behind ``ObjectStoragePath``), imported when first used."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.io import attach
    else:
        from airflow.io.store import attach
    return attach(protocol, **kwargs)  # noqa: AIR311 - the 2.10 name on Airflow 2.10 only


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "PARTITIONED_ASSETS",
    "TRIGGERING_ASSET_EVENTS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "DagContext",
    "ObjectStoragePath",
    "PartitionedAssetTimetable",
    "PokeReturnValue",
    "TaskDeferralTimeout",
    "TaskDeferred",
    "TriggerEvent",
    "attach_store",
    "conf",
    "mask_secret",
]
