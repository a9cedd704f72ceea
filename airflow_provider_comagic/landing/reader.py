"""Reading a committed partition through its manifest: only the files it lists, in its order.

* :func:`iter_landed_batches` / :func:`iter_landed_rows`: Arrow batches or row dicts, any format;
  :func:`landed_rows_having`: the rows when the partition has the columns a task needs.
* :func:`landed_dataset`: a :mod:`pyarrow.dataset` of exactly the committed files (Parquet: lazy, column
  pruning and filters pushed to the files; JSON Lines: converted with the recorded schema, one scan).
* :func:`landed_relation`: the same as a DuckDB relation (needs ``duckdb``: the ``duckdb`` extra).

A manifest in phase ``publishing`` (a commit between its two manifest writes) lists the hidden names of its
parts; once that commit deletes them, their visible copies hold the same bytes, and the readers fall back to
them. A part gone under both names means a newer commit replaced the partition while it was being read: the
readers raise :class:`~airflow_provider_comagic.exceptions.LandingError` saying so (read again).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.commit import PHASE_PUBLISHING, visible_name
from airflow_provider_comagic.landing.formats import get_format
from airflow_provider_comagic.landing.manifest import manifest_schema, partition_of, read_manifest, require_manifest
from airflow_provider_comagic.landing.storage import store_for
from airflow_provider_comagic.version_compat import ObjectStoragePath

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "check_landed_files",
    "iter_landed_batches",
    "iter_landed_rows",
    "landed_dataset",
    "landed_relation",
    "landed_rows_having",
]


def _candidates(manifest: Mapping[str, Any], entry: Mapping[str, Any]) -> list[str]:
    """The names a listed part can be read under: its own, and in phase publishing also its visible copy."""
    path = entry["path"]
    if manifest.get("phase") == PHASE_PUBLISHING:
        return [path, visible_name(path)]
    return [path]


def _open(partition: ObjectStoragePath, manifest: Mapping[str, Any], entry: Mapping[str, Any]) -> BinaryIO:
    for name in _candidates(manifest, entry):
        path = partition / name
        partition.fs.invalidate_cache(path.path)  # a listing cached before the commit must not hide the part
        try:
            return path.open("rb")
        except FileNotFoundError:
            continue
    raise LandingError(
        f"{partition}: {entry['path']} (listed by the manifest of run {manifest.get('run_token')}) is gone: a newer "
        "commit replaced the partition while it was being read; read it again"
    )


def check_landed_files(partition: ObjectStoragePath, manifest: Mapping[str, Any]) -> list[str]:
    """The name each listed part is readable under, from one listing of the folder; :class:`LandingError`
    naming every part that is missing or of another size than the manifest records."""
    found = {entry.name: entry.size for entry in store_for(partition).list()}
    names, problems = [], []
    for entry in manifest.get("files") or ():
        name = next((n for n in _candidates(manifest, entry) if n in found), None)
        if name is None:
            problems.append(f"{entry['path']} (missing)")
        elif "bytes" in entry and found[name] != entry["bytes"]:
            problems.append(f"{name} ({found[name]} bytes, the manifest says {entry['bytes']})")
        names.append(name)
    if problems:
        raise LandingError(
            f"{partition}: the manifest of run {manifest.get('run_token')} lists parts that are not there: "
            f"{', '.join(problems)}"
        )
    return [name for name in names if name is not None]


def iter_landed_batches(
    path: str | os.PathLike[str] | ObjectStoragePath,
    conn_id: str | None = None,
    *,
    batch_size: int = 65_536,
    manifest: Mapping[str, Any] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Arrow record batches of a committed partition, in manifest order, with the manifest's schema (any
    format: JSON Lines rows are converted with the recorded schema). ``manifest``: read this one (already read
    by the caller) instead of the partition's current one."""
    partition = partition_of(path, conn_id)
    manifest = manifest if manifest is not None else require_manifest(partition)
    fmt = get_format(manifest["format"])
    schema = manifest_schema(manifest)
    for entry in manifest["files"]:
        with _open(partition, manifest, entry) as handle:
            yield from fmt.batches(handle, schema, batch_size)


def iter_landed_rows(
    path: str | os.PathLike[str] | ObjectStoragePath,
    conn_id: str | None = None,
    *,
    manifest: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of a committed partition as dicts, reading only the files its manifest lists.

    JSON Lines rows come back exactly as landed; Parquet rows with the schema's Python types (aware
    datetimes, dates, lists, dicts with every struct key). ``manifest``: read this one (already read by the caller).
    """
    partition = partition_of(path, conn_id)
    manifest = manifest if manifest is not None else require_manifest(partition)
    fmt = get_format(manifest["format"])
    for entry in manifest["files"]:
        with _open(partition, manifest, entry) as handle:
            yield from fmt.rows(handle)


def landed_rows_having(
    path: str | os.PathLike[str] | ObjectStoragePath, fields: Iterable[str], conn_id: str | None = None
) -> Iterator[dict[str, Any]] | None:
    """:func:`iter_landed_rows` of a committed partition whose columns include every one of ``fields``; None when
    the partition is not committed or lacks one of them (the caller then asks the API)."""
    partition = partition_of(path, conn_id)
    manifest = read_manifest(partition)
    if manifest is None:
        return None
    schema = manifest_schema(manifest)
    columns = schema.names if schema is not None else (manifest.get("query") or {}).get("fields") or []
    if not set(fields) <= set(columns):
        return None
    return iter_landed_rows(partition, manifest=manifest)  # the very copy whose columns were checked


def landed_dataset(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None) -> Any:
    """A :mod:`pyarrow.dataset` of the committed copy of a partition: exactly the files its manifest lists.

    Parquet: a file dataset over those files with the manifest's schema (lazy: scanned when read, columns and
    filters pushed down). JSON Lines: the rows converted with the recorded schema, readable once (a dataset over
    a stream); a partition landed without a schema cannot be read this way.
    """
    import pyarrow.dataset as ds

    partition = partition_of(path, conn_id)
    manifest = require_manifest(partition)
    schema = manifest_schema(manifest)
    if manifest["format"] == "parquet":
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        names = check_landed_files(partition, manifest)
        directory = partition.path.rstrip("/")
        return ds.dataset(
            [posixpath.join(directory, name) for name in names],
            schema=schema,
            format="parquet",
            filesystem=PyFileSystem(FSSpecHandler(partition.fs)),
        )
    if schema is None:
        raise LandingError(
            f"{partition}: landed as {manifest['format']} without a schema; read it with iter_landed_rows"
        )
    import pyarrow as pa

    batches = iter_landed_batches(partition, manifest=manifest)
    return ds.dataset(pa.RecordBatchReader.from_batches(schema, batches))


def landed_relation(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None, *, connection: Any = None
) -> Any:
    """A DuckDB relation of the committed copy of a partition (:func:`landed_dataset`, scanned by DuckDB).

    ``connection``: a ``duckdb`` connection (default: a new in-memory one). Needs the ``duckdb`` package
    (``pip install 'airflow-provider-comagic[duckdb]'``).
    """
    try:
        import duckdb
    except ImportError:
        raise LandingError("landed_relation needs duckdb: pip install 'airflow-provider-comagic[duckdb]'") from None
    connection = connection if connection is not None else duckdb.connect()
    return connection.from_arrow(landed_dataset(path, conn_id))
