"""Where landed files live: any :class:`ObjectStoragePath` (``file://``, ``s3://`` with a connection, ``gs://``...)."""

from __future__ import annotations

import os
from typing import Any

from airflow_provider_comagic.version_compat import ObjectStoragePath

__all__ = ["is_local", "to_storage_path"]


def to_storage_path(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """An :class:`ObjectStoragePath` for a URL (``s3://bucket/x``), a local path, or an existing path object."""
    if isinstance(path, ObjectStoragePath):
        return path if conn_id is None else ObjectStoragePath(str(path), conn_id=conn_id)
    text = os.fspath(path)
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    # no conn_id=None: on Airflow 2.10 an explicit None overrides the connection named in the URL (s3://conn@bucket)
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def is_local(fs: Any) -> bool:
    """Whether an fsspec file system is the local disk (atomic rename available)."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)
