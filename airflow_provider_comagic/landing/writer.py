"""Landing pages of rows in object storage: gzip JSON Lines or Parquet parts plus ``_manifest.json``.

Generic (nothing API-specific): give it pages of row dicts (or of JSON Lines bytes,
:class:`~airflow_provider_comagic.landing.json_lines.JsonLines`, landed without a Python object per row), an optional
Arrow schema and a partition path
(anything :class:`ObjectStoragePath` understands: ``file://``, ``s3://`` with a connection id, any fsspec
scheme). Used by the CoMagic report operators and meant for every other loader of this package.

Commit protocol, per partition (one data interval of one report):

1. Parts are written with a per-run token in their names, ``part-<token>-00000.jsonl.gz``, and rolled over at
   a row or byte threshold; memory holds at most one Parquet row group (JSON Lines streams row by row).
   On ``file://`` each part is written as ``_tmp-<name>`` and renamed when complete.
2. ``_manifest.json`` is written **last**, as one object (one PUT; temp file + rename on ``file://``). It is
   the commit point: readers must list files from the manifest, never by globbing the folder.
3. Then every ``part-*``/``_tmp-*`` object of the partition that the new manifest does not list is deleted
   (parts of earlier runs, orphans of failed ones).

A run that fails before step 2 deletes what it wrote (best effort) and leaves the previous manifest and its
parts untouched. A run can also *suspend* (finish its open part, keep every part, commit nothing) and be
*resumed* later by a new writer with the same token (a deferred task continuing its partition). A rerun therefore leaves exactly one complete copy. Two runs of the *same* partition at the
same time are not supported (the later commit removes the other run's parts).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import logging
import os
import posixpath
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, BinaryIO, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

try:  # ISA-L's gzip: the same format, 3-4x faster than zlib at levels 1-3
    from isal import igzip
except ImportError:  # pragma: no cover - a dependency; stdlib gzip keeps working without it
    igzip = None

from airflow_provider_comagic import __version__
from airflow_provider_comagic.landing.arrow import json_lines_to_batch, rows_to_batch
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.version_compat import ObjectStoragePath

__all__ = [
    "FORMATS",
    "MANIFEST_NAME",
    "LandingError",
    "LandingFormat",
    "PartitionWriter",
    "check_gzip_level",
    "iter_landed_batches",
    "iter_landed_rows",
    "land_pages",
    "manifest_schema",
    "read_manifest",
    "to_storage_path",
]

log = logging.getLogger(__name__)

LandingFormat = Literal["jsonl", "parquet"]
FORMATS: dict[str, str] = {"jsonl": ".jsonl.gz", "parquet": ".parquet"}
MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 1
PART_PREFIX = "part-"
TMP_PREFIX = "_tmp-"

DEFAULT_MAX_ROWS_PER_FILE = 1_000_000
DEFAULT_MAX_BYTES_PER_FILE = 256 * 2**20
DEFAULT_ROW_GROUP_ROWS = 100_000
DEFAULT_ROW_GROUP_BYTES = 64 * 2**20  # flush a row group early when rows are wide: bounds the memory a flush needs
DEFAULT_GZIP_LEVEL = 1  # level 1 vs 6: ~3x faster, ~10-15% larger on report rows (see docs)
ISAL_GZIP_LEVELS = range(1, 4)
"""gzip levels written with ISA-L (``isal``) when it is installed; 0 (stored) and 4-9 with zlib."""
DEFAULT_PARQUET_COMPRESSION = "zstd"


class LandingError(ValueError):
    """Wrong landing arguments or an unreadable landed partition."""


def check_gzip_level(level: Any) -> None:
    """Raise :class:`LandingError` unless ``level`` is a gzip level (an integer 0-9)."""
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise LandingError(f"gzip_level must be an integer from 0 to 9, got {level!r}")


def to_storage_path(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None) -> ObjectStoragePath:
    """An :class:`ObjectStoragePath` for a URL (``s3://bucket/x``), a local path, or an existing path object."""
    if isinstance(path, ObjectStoragePath):
        return path if conn_id is None else ObjectStoragePath(str(path), conn_id=conn_id)
    text = os.fspath(path)
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    return ObjectStoragePath(text, conn_id=conn_id)


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


class _Part:
    """One part file being written: counts rows and bytes; atomic rename on local storage."""

    def __init__(self, fs: Any, directory: str, name: str):
        self.fs = fs
        self.name = name
        self.final = posixpath.join(directory, name)
        self.local = _is_local(fs)
        self.target = posixpath.join(directory, TMP_PREFIX + name) if self.local else self.final
        self.raw: BinaryIO = fs.open(self.target, "wb")
        self.rows = 0
        self.bytes = 0

    def written(self) -> int:
        return self.raw.tell()

    def finish(self) -> dict[str, Any]:
        self.bytes = self.raw.tell()
        self.raw.close()
        if self.local:
            os.replace(self.target, self.final)  # atomic on POSIX: the final name never shows a partial file
        return {"path": self.name, "rows": self.rows, "bytes": self.bytes}

    def discard(self) -> None:
        try:
            if not self.raw.closed:
                self.raw.close()
        except Exception:  # the failure that got us here matters more
            log.debug("closing %s failed", self.target, exc_info=True)
        for path in {self.target, self.final}:
            try:
                if self.fs.exists(path):
                    self.fs.rm_file(path)
            except Exception:
                log.warning("Could not delete the unfinished part %s; the next run removes it", path)


class _JsonlPart(_Part):
    def __init__(self, fs: Any, directory: str, name: str, level: int):
        super().__init__(fs, directory, name)
        # mtime=0: the same rows always compress to the same bytes
        gzip_file = igzip.IGzipFile if igzip is not None and level in ISAL_GZIP_LEVELS else gzip.GzipFile
        self.gz = gzip_file(filename="", mode="wb", fileobj=self.raw, compresslevel=level, mtime=0)

    def write(self, rows: Sequence[Mapping[str, Any]] | JsonLines) -> None:
        if not rows:
            return
        if isinstance(rows, JsonLines):
            data = rows.data  # the rows as the API sent them: nothing to encode
        else:
            dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
            data = b"".join([dumps(row, option=option) for row in rows])  # the newline comes with each row
        # one write per page: a single long compression call releases the GIL for the fetch of the next page
        self.gz.write(data)
        self.rows += len(rows)

    def finish(self) -> dict[str, Any]:
        self.gz.close()  # writes the gzip trailer; leaves raw open
        return super().finish()


class _ParquetPart(_Part):
    def __init__(
        self, fs: Any, directory: str, name: str, schema: pa.Schema, compression: str, group_rows: int, group_bytes: int
    ):
        super().__init__(fs, directory, name)
        self.writer = pq.ParquetWriter(self.raw, schema, compression=compression)
        self.group_rows = group_rows
        self.group_bytes = group_bytes
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.pending_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows:
            self.pending.append(batch)
            self.pending_rows += batch.num_rows
            self.pending_bytes += batch.nbytes
            self.rows += batch.num_rows
            if self.pending_rows >= self.group_rows or self.pending_bytes >= self.group_bytes:
                self.flush()

    def flush(self) -> None:
        """Write the buffered batches as one row group and forget them."""
        if self.pending:
            table = pa.Table.from_batches(self.pending)
            self.writer.write_table(table, row_group_size=max(1, table.num_rows))
            self.pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def written(self) -> int:
        return super().written() + self.pending_bytes  # buffered rows will land here too (upper bound)

    def finish(self) -> dict[str, Any]:
        self.flush()
        self.writer.close()  # does not close a file object it did not open
        return super().finish()

    def discard(self) -> None:
        self.pending = []
        try:
            self.writer.close()  # before the file goes: a writer left open writes its footer at GC time
        except Exception:
            log.debug("closing the Parquet writer of %s failed", self.target, exc_info=True)
        super().discard()


class PartitionWriter:
    """Writes one partition's parts and commits them with ``_manifest.json`` (see the module docstring).

    Use as a context manager: an exception inside the block discards this run's parts and writes no manifest::

        with PartitionWriter(path, "parquet", schema) as writer:
            for page in pages:
                writer.write(page)
            manifest = writer.commit({"interval": {...}})

    :param partition: the partition folder (``ObjectStoragePath``, URL or local path).
    :param fmt: ``"jsonl"`` (gzip JSON Lines, rows exactly as given) or ``"parquet"``.
    :param schema: Arrow schema of the rows; required for an empty Parquet partition. For Parquet without a
        schema, the schema of the first page (Arrow's inference) is used for every page.
    :param conn_id: connection for the storage when ``partition`` is a URL (e.g. an ``aws`` connection).
    :param max_rows_per_file: start a new part after this many rows (checked per page: a part can exceed it
        by less than one page).
    :param max_bytes_per_file: start a new part once this many bytes are written (checked per page).
    :param row_group_rows: Parquet row-group size; also the most rows buffered in memory.
    :param row_group_bytes: flush a row group earlier when its buffered Arrow data reaches this size.
    :param gzip_level: gzip level of JSON Lines parts, 0-9 (1-3 are compressed with ISA-L: 3-4x faster).
    :param parquet_compression: Parquet codec (``zstd``, ``snappy``, ``gzip``, ``none``...).
    :param token: the run token in the part names (default: UTC time plus random hex).
    """

    def __init__(
        self,
        partition: str | os.PathLike[str] | ObjectStoragePath,
        fmt: LandingFormat,
        schema: pa.Schema | None = None,
        *,
        conn_id: str | None = None,
        max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
        max_bytes_per_file: int = DEFAULT_MAX_BYTES_PER_FILE,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES,
        gzip_level: int = DEFAULT_GZIP_LEVEL,
        parquet_compression: str = DEFAULT_PARQUET_COMPRESSION,
        token: str | None = None,
    ):
        if fmt not in FORMATS:
            raise LandingError(f"output format must be one of {sorted(FORMATS)}, got {fmt!r}")
        for name, value in (
            ("max_rows_per_file", max_rows_per_file),
            ("max_bytes_per_file", max_bytes_per_file),
            ("row_group_rows", row_group_rows),
            ("row_group_bytes", row_group_bytes),
        ):
            if not isinstance(value, int) or value < 1:
                raise LandingError(f"{name} must be a positive integer, got {value!r}")
        check_gzip_level(gzip_level)
        self.path = to_storage_path(partition, conn_id)
        self.fs = self.path.fs
        self.directory = self.path.path.rstrip("/")
        self.format = fmt
        self.schema = schema
        self.max_rows_per_file = max_rows_per_file
        self.max_bytes_per_file = max_bytes_per_file
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.gzip_level = gzip_level
        self.parquet_compression = parquet_compression
        self.token = token or f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        self.files: list[dict[str, Any]] = []
        self.rows = 0
        self._part: _JsonlPart | _ParquetPart | None = None
        self._all_parts: list[_Part] = []
        self._scratch: set[str] = set()
        self._committed = False
        self._suspended = False
        if _is_local(self.fs):
            self.fs.makedirs(self.directory, exist_ok=True)

    # -- writing --------------------------------------------------------------------------------------------
    def write(self, rows: Sequence[Mapping[str, Any]] | JsonLines) -> None:
        """Append one page of rows: dicts, or :class:`~airflow_provider_comagic.landing.json_lines.JsonLines`
        (written as they are to JSON Lines; parsed by Arrow's JSON reader for Parquet). For Parquet the page is
        converted to Arrow right away: far smaller than dicts."""
        if self._committed:
            raise LandingError("this partition is already committed")
        if not rows:
            return
        if self.format == "parquet":
            if self.schema is None:
                dicts = rows.dicts() if isinstance(rows, JsonLines) else list(rows)
                self.schema = pa.RecordBatch.from_pylist(dicts).schema
            if isinstance(rows, JsonLines):
                payload: Any = json_lines_to_batch(rows.data, rows.rows, self.schema)
            else:
                payload = rows_to_batch(rows, self.schema)
        else:
            payload = rows
        part = self._part or self._open_part()
        part.write(payload)
        self.rows += len(rows)
        if part.rows >= self.max_rows_per_file or part.written() >= self.max_bytes_per_file:
            self._close_part()

    def _open_part(self) -> _JsonlPart | _ParquetPart:
        name = f"{PART_PREFIX}{self.token}-{len(self.files):05d}{FORMATS[self.format]}"
        part: _JsonlPart | _ParquetPart
        if self.format == "jsonl":
            part = _JsonlPart(self.fs, self.directory, name, self.gzip_level)
        else:
            assert self.schema is not None
            part = _ParquetPart(
                self.fs,
                self.directory,
                name,
                self.schema,
                self.parquet_compression,
                self.row_group_rows,
                self.row_group_bytes,
            )
        self._part = part
        self._all_parts.append(part)
        return part

    def _close_part(self) -> None:
        if self._part is not None:
            self.files.append(self._part.finish())
            self._part = None

    # -- committing -----------------------------------------------------------------------------------------
    def commit(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Finish the parts, write ``_manifest.json`` (the commit point), delete parts it does not list."""
        if self._committed:
            raise LandingError("this partition is already committed")
        self._close_part()
        if self.format == "parquet" and not self.files and self.schema is not None:
            self._open_part()  # an empty interval is an explicit empty file carrying the schema
            self._close_part()
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "format": self.format,
            "rows": self.rows,
            "files": self.files,
            "bytes": sum(f["bytes"] for f in self.files),
            "schema": _schema_json(self.schema),
            "run_token": self.token,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "producer": {"package": "airflow-provider-comagic", "version": __version__},
            **dict(extra or {}),
        }
        body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        manifest_path = posixpath.join(self.directory, MANIFEST_NAME)
        if _is_local(self.fs):
            tmp = posixpath.join(self.directory, f"{TMP_PREFIX}{self.token}{MANIFEST_NAME}")
            with open(tmp, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, manifest_path)
        else:
            self.fs.pipe_file(manifest_path, body)  # one PUT: visible only once complete
        self._committed = True
        self._remove_unlisted({f["path"] for f in self.files})
        return manifest

    def _remove_unlisted(self, keep: set[str]) -> None:
        try:
            self.fs.invalidate_cache(self.directory)
            entries = self.fs.ls(self.directory, detail=False)
        except FileNotFoundError:
            return
        for entry in entries:
            name = posixpath.basename(str(entry).rstrip("/"))
            if name in keep or not name.startswith((PART_PREFIX, TMP_PREFIX)):
                continue  # never touch files this module did not write
            try:
                self.fs.rm_file(str(entry))
            except Exception:  # committed already: a leftover is harmless to manifest-gated readers
                log.warning("Could not delete the stale part %s; the next run retries", entry, exc_info=True)

    def abort(self) -> None:
        """Delete the parts this run wrote (best effort); the previous manifest stays as it was.

        A suspended writer keeps its parts: they belong to the run that resumes it.
        """
        if self._committed or self._suspended:
            return
        opened_here = {part.name for part in self._all_parts}
        inherited = [f["path"] for f in self.files if f["path"] not in opened_here]  # parts before a resume
        for name in [*inherited, *self._scratch]:
            try:
                self.fs.rm_file(posixpath.join(self.directory, name))
            except Exception:
                log.warning("Could not delete %s of the failed run; the next run removes it", name)
        for part in self._all_parts:
            part.discard()
        self._part = None
        self.files = []

    # -- suspending and resuming (a deferred task continues its partition later) ---------------------------
    def suspend(self) -> dict[str, Any]:
        """Finish the open part and return where the writer stands, as plain JSON: the run token, the finished
        parts and the row count. The parts stay for :meth:`resume`; leaving the ``with`` block no longer
        aborts, and nothing is committed."""
        if self._committed:
            raise LandingError("this partition is already committed")
        self._close_part()
        self._suspended = True
        return {"format": self.format, "token": self.token, "files": [dict(f) for f in self.files], "rows": self.rows}

    @classmethod
    def resume(
        cls,
        state: Mapping[str, Any],
        partition: str | os.PathLike[str] | ObjectStoragePath,
        fmt: LandingFormat,
        schema: pa.Schema | None = None,
        **options: Any,
    ) -> PartitionWriter:
        """A writer that continues a :meth:`suspend`-ed one: the same run token, its finished parts kept
        (each checked to exist), new parts numbered after them; :meth:`commit` lists them all."""
        if state.get("format") != fmt:
            raise LandingError(f"the suspended partition holds {state.get('format')}, not {fmt}")
        writer = cls(partition, fmt, schema, token=state["token"], **options)
        missing = [
            f["path"] for f in state["files"] if not writer.fs.exists(posixpath.join(writer.directory, f["path"]))
        ]
        if missing:
            raise LandingError(
                f"{writer.path}: parts of the suspended run are gone ({', '.join(missing)}); rerun the task"
            )
        writer.files = [dict(f) for f in state["files"]]
        writer.rows = int(state["rows"])
        return writer

    def write_scratch(self, name: str, data: bytes) -> str:
        """Store a private object of this run next to its parts (one PUT) and return its key,
        ``_tmp-<token>-<name>``; the commit deletes it with the other unlisted ``_tmp-*`` objects."""
        key = f"{TMP_PREFIX}{self.token}-{name}"
        self.fs.pipe_file(posixpath.join(self.directory, key), data)
        self._scratch.add(key)
        return key

    def read_scratch(self, key: str) -> bytes:
        """Read back an object stored by :meth:`write_scratch` (of this run token only)."""
        if not key.startswith(f"{TMP_PREFIX}{self.token}-") or "/" in key:
            raise LandingError(f"{key!r} is not a scratch object of run {self.token}")
        self._scratch.add(key)
        return self.fs.cat_file(posixpath.join(self.directory, key))

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()


def land_pages(
    pages: Iterable[Sequence[Mapping[str, Any]] | JsonLines],
    partition: str | os.PathLike[str] | ObjectStoragePath,
    fmt: LandingFormat,
    schema: pa.Schema | None = None,
    *,
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Write every page into ``partition`` and commit; returns the manifest.

    ``extra`` (or a callable returning it, evaluated after the last page: API statistics are known only then)
    is merged into the manifest. ``options`` are :class:`PartitionWriter` keyword arguments.
    """
    with PartitionWriter(partition, fmt, schema, **options) as writer:
        for page in pages:
            writer.write(page)
        return writer.commit(extra() if callable(extra) else extra)


# -- reading ------------------------------------------------------------------------------------------------
def _partition_of(path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None) -> ObjectStoragePath:
    path = to_storage_path(path, conn_id)
    return path.parent if path.name == MANIFEST_NAME else path


def read_manifest(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> dict[str, Any] | None:
    """The committed manifest of a partition (give the folder or the manifest itself); None if uncommitted."""
    manifest = _partition_of(path, conn_id) / MANIFEST_NAME
    try:
        return orjson.loads(manifest.read_bytes())
    except FileNotFoundError:
        return None


def manifest_schema(manifest: Mapping[str, Any]) -> pa.Schema | None:
    """The exact Arrow schema recorded in a manifest (None when the rows were landed without one)."""
    schema = manifest.get("schema") or {}
    encoded = schema.get("arrow_ipc_base64")
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded))) if encoded else None


def iter_landed_batches(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None, *, batch_size: int = 65_536
) -> Iterator[pa.RecordBatch]:
    """Record batches of a committed Parquet partition, in manifest order."""
    partition = _partition_of(path, conn_id)
    manifest = _require_manifest(partition)
    if manifest["format"] != "parquet":
        raise LandingError(f"{partition} holds {manifest['format']}, not parquet")
    for entry in manifest["files"]:
        with (partition / entry["path"]).open("rb") as handle:
            yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_size)


def iter_landed_rows(
    path: str | os.PathLike[str] | ObjectStoragePath, conn_id: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows of a committed partition as dicts, reading only the files its manifest lists.

    JSON Lines rows come back exactly as landed; Parquet rows with the schema's Python types (aware
    datetimes, dates, lists, dicts with every struct key).
    """
    partition = _partition_of(path, conn_id)
    manifest = _require_manifest(partition)
    if manifest["format"] == "parquet":
        for batch in iter_landed_batches(partition):
            yield from batch.to_pylist()
        return
    loads = orjson.loads
    for entry in manifest["files"]:
        with (partition / entry["path"]).open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as lines:
            for line in lines:
                if line.strip():
                    yield loads(line)


def _require_manifest(partition: ObjectStoragePath) -> dict[str, Any]:
    manifest = read_manifest(partition)
    if manifest is None:
        raise LandingError(f"{partition} has no {MANIFEST_NAME}: nothing committed there")
    return manifest


def _schema_json(schema: pa.Schema | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    return {
        "fields": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "arrow_ipc_base64": base64.b64encode(schema.serialize().to_pybytes()).decode(),
    }
