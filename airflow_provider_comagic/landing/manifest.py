"""``_manifest.json``: the commit point of a landed partition, and how to read it back."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.storage import MANIFEST_FILE, store_for, to_storage_path
from airflow_provider_comagic.version_compat import ObjectStoragePath

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "manifest_schema", "read_manifest", "require_manifest", "schema_json"]

MANIFEST_NAME = MANIFEST_FILE
MANIFEST_VERSION = 2
"""2: ``phase`` (``publishing``: ``files`` are the hidden names a commit in progress publishes; ``final``),
``replaces`` (the run whose copy this one replaced). Version 1 manifests read the same (phase ``final``)."""


def partition_of(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """The partition folder of a path that is either the folder or its manifest."""
    path = to_storage_path(path, conn_id)
    return path.parent if path.name == MANIFEST_NAME else path


def read_manifest(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> dict[str, Any] | None:
    """The committed manifest of a partition (give the folder or the manifest itself); None if uncommitted.

    One fresh read of the object (never a cached listing's ETag, which a newer commit may have changed)."""
    body, _ = store_for(partition_of(path, conn_id)).read_manifest()
    return None if body is None else orjson.loads(body)


def require_manifest(partition: ObjectStoragePath) -> dict[str, Any]:
    """The committed manifest of ``partition``; :class:`LandingError` when there is none."""
    manifest = read_manifest(partition)
    if manifest is None:
        raise LandingError(f"{partition} has no {MANIFEST_NAME}: nothing committed there")
    return manifest


def manifest_schema(manifest: Mapping[str, Any]) -> pa.Schema | None:
    """The exact Arrow schema recorded in a manifest (None when the rows were landed without one)."""
    schema = manifest.get("schema") or {}
    encoded = schema.get("arrow_ipc_base64")
    if not encoded:
        return None
    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))


def schema_json(schema: pa.Schema | None) -> dict[str, Any] | None:
    """How a manifest records a schema: readable fields plus the exact Arrow IPC bytes."""
    if schema is None:
        return None
    return {
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "arrow_ipc_base64": base64.b64encode(schema.serialize().to_pybytes()).decode(),
    }
