"""Reading a committed partition through its manifest: only the files it lists, in its order."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from airflow_provider_comagic.landing.formats import get_format
from airflow_provider_comagic.landing.manifest import manifest_schema, partition_of, require_manifest
from airflow_provider_comagic.version_compat import ObjectStoragePath

__all__ = ["iter_landed_batches", "iter_landed_rows"]


def iter_landed_batches(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None, *, batch_size: int = 65_536
) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of a committed partition, in manifest order, with the manifest's schema (any
    format: JSON Lines rows are converted with the recorded schema)."""
    partition = partition_of(path, conn_id)
    manifest = require_manifest(partition)
    fmt = get_format(manifest["format"])
    schema = manifest_schema(manifest)
    for entry in manifest["files"]:
        with (partition / entry["path"]).open("rb") as handle:
            yield from fmt.batches(handle, schema, batch_size)


def iter_landed_rows(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of a committed partition as dicts, reading only the files its manifest lists.

    JSON Lines rows come back exactly as landed; Parquet rows with the schema's Python types (aware
    datetimes, dates, lists, dicts with every struct key).
    """
    partition = partition_of(path, conn_id)
    manifest = require_manifest(partition)
    fmt = get_format(manifest["format"])
    for entry in manifest["files"]:
        with (partition / entry["path"]).open("rb") as handle:
            yield from fmt.rows(handle)
