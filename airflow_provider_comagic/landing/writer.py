"""Landing pages of rows in object storage: gzip JSON Lines or Parquet parts plus ``_manifest.json``.

Generic (nothing API-specific): give it pages of row dicts (or of JSON Lines bytes,
:class:`~airflow_provider_comagic.landing.json_lines.JsonLines`, landed without a Python object per row), an optional
Arrow schema and a partition path
(anything :class:`ObjectStoragePath` understands: ``file://``, ``s3://`` with a connection id, any fsspec
scheme). Used by the CoMagic report operators and meant for every other loader of this package.

Per partition (one data interval of one report):

1. Parts are written **hidden**, ``_tmp-<token>-00000.jsonl.gz`` (a per-run token; names starting with ``_``
   are skipped by Spark, Hive, Trino/Athena, DuckDB and pyarrow datasets), rolled over at a row or byte
   threshold; memory holds at most one Parquet row group (JSON Lines streams row by row).
2. :meth:`PartitionWriter.commit` commits them with the protocol of
   :mod:`~airflow_provider_comagic.landing.commit`: a compare-and-swap write of ``_manifest.json`` listing the
   hidden parts (the commit point: readers list files from the manifest, never by globbing the folder), the
   replaced copy deleted, the parts copied to their visible names ``part-<token>-00000.jsonl.gz``, a second
   compare-and-swap write listing those, the hidden names deleted.

Two runs of the same partition at once are safe: the later commit wins with all of its parts, the earlier run
ends without error and reports the winner (:attr:`PartitionWriter.superseded_by`). A run that fails or is
killed before the commit point leaves the previous manifest and its parts untouched (its hidden parts are
deleted by the run itself, or by a later run once older than the orphan grace period); a run killed after it is
finished by the next writer of the partition (:func:`~airflow_provider_comagic.landing.commit.repair_partition`).
A run can also *suspend* (finish its open part, keep every part, commit nothing) and be *resumed* later by a
new writer with the same token (a deferred task continuing its partition). See ``docs/landing.rst``.

Typed formats (Parquet) type every page with the partition's
:class:`~airflow_provider_comagic.landing.guard.SchemaGuard` under its drift policy (``drift``): the schema
gains the rescue column ``_rescued``, what drifted is recorded in the manifest's ``drift`` section and logged one
line per column, and a column past its limit fails the commit (nothing committed). See ``docs/drift.rst``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import posixpath
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic import __version__
from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.commit import (
    DEFAULT_ORPHAN_GRACE_PERIOD,
    commit_partition,
    grace_seconds,
    repair_partition,
    staged_name,
)
from airflow_provider_comagic.landing.drift import DriftPolicy, DriftTally
from airflow_provider_comagic.landing.formats import (
    DEFAULT_GZIP_LEVEL,
    DEFAULT_PARQUET_COMPRESSION,
    PART_PREFIX,
    TMP_PREFIX,
    LandingFormat,
    PartOptions,
    check_gzip_level,
    get_format,
)
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.manifest import MANIFEST_VERSION, schema_json
from airflow_provider_comagic.landing.storage import is_local, store_for, to_storage_path
from airflow_provider_comagic.version_compat import ObjectStoragePath

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_comagic.landing.guard import SchemaGuard

__all__ = [
    "DEFAULT_MAX_BYTES_PER_FILE",
    "DEFAULT_MAX_ROWS_PER_FILE",
    "DEFAULT_ROW_GROUP_ROWS",
    "PartitionWriter",
    "land_pages",
]

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

DEFAULT_MAX_ROWS_PER_FILE = 1_000_000
DEFAULT_MAX_BYTES_PER_FILE = 256 * 2**20
DEFAULT_ROW_GROUP_ROWS = 100_000
DEFAULT_ROW_GROUP_BYTES = 8 * 2**20  # flush early: a row group is ~one 10 000-row page of report rows (bounds memory)


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
    :param orphan_grace_period: how old a hidden file of another run must be before this run's cleanup deletes
        it (a :class:`~datetime.timedelta` or seconds; default 2 days). Keep it above the longest run of a task
        including its deferrals: the parts of a run still in progress are younger than that.
    :param drift: the :class:`~airflow_provider_comagic.landing.drift.DriftPolicy` of a typed format (default:
        rescue, 5 % per column, no schema evolution).
    :param drift_state: what a suspended writer's guard had counted (set by :meth:`resume`).

    After :meth:`commit`, :attr:`superseded_by` names the run whose later commit replaced this one (its
    ``run_token``, ``created_at``, ``rows`` and ``airflow`` run), or is None.
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
        orphan_grace_period: dt.timedelta | float = DEFAULT_ORPHAN_GRACE_PERIOD,
        drift: DriftPolicy | None = None,
        drift_state: Mapping[str, Any] | None = None,
    ):
        self.output_format = get_format(fmt)
        if drift is not None and not isinstance(drift, DriftPolicy):
            raise LandingError(f"drift must be a DriftPolicy, got {drift!r}")
        for name, value in (
            ("max_rows_per_file", max_rows_per_file),
            ("max_bytes_per_file", max_bytes_per_file),
            ("row_group_rows", row_group_rows),
            ("row_group_bytes", row_group_bytes),
        ):
            if not isinstance(value, int) or value < 1:
                raise LandingError(f"{name} must be a positive integer, got {value!r}")
        check_gzip_level(gzip_level)
        if token is not None and not _TOKEN.fullmatch(str(token)):
            raise LandingError(f"token must be letters, digits, '.', '_' or '-' (not first), got {token!r}")
        self.grace = grace_seconds(orphan_grace_period)
        self.path = to_storage_path(partition, conn_id)
        self.fs = self.path.fs
        self.directory = self.path.path.rstrip("/")
        self.format = fmt
        self.drift = drift or DriftPolicy()
        self._drift_state = drift_state
        self.guard: SchemaGuard | None = None
        self.schema = schema
        if schema is not None:
            self._guard(schema)
        self.max_rows_per_file = max_rows_per_file
        self.max_bytes_per_file = max_bytes_per_file
        self.row_group_rows = row_group_rows
        self.row_group_bytes = row_group_bytes
        self.gzip_level = gzip_level
        self.parquet_compression = parquet_compression
        self.token = token or f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        self.files: list[dict[str, Any]] = []
        self.rows = 0
        self._part: Any = None
        self._all_parts: list[Any] = []
        self._scratch: set[str] = set()
        self._committed = False
        self._published = False  # past the commit point: this run's parts are listed by the manifest
        self._suspended = False
        self._local = is_local(self.fs)
        self.superseded_by: dict[str, Any] | None = None
        self.store = store_for(self.path)
        self._repair()

    def _repair(self) -> None:
        """Finish a commit a killed run left half done, delete dead files (best effort: the commit retries)."""
        try:
            removed = repair_partition(self.store, self.grace)
        except Exception:
            log.warning("Could not tidy %s before landing; the commit retries", self.path, exc_info=True)
            return
        if removed:
            log.info("Removed %d file(s) of earlier runs from %s", len(removed), self.path)

    # -- writing --------------------------------------------------------------------------------------------
    def write(self, rows: Sequence[Mapping[str, Any]] | JsonLines) -> None:
        """Append one page of rows: dicts, or :class:`~airflow_provider_comagic.landing.json_lines.JsonLines`
        (written as they are to JSON Lines; parsed by Arrow's JSON reader for Parquet). For Parquet the page is
        converted to Arrow right away: far smaller than dicts."""
        if self._committed:
            raise LandingError("this partition is already committed")
        if not rows:
            return
        if self.output_format.needs_schema and self.schema is None:
            dicts = rows.dicts() if isinstance(rows, JsonLines) else list(rows)
            import pyarrow as pa

            self._guard(pa.RecordBatch.from_pylist(dicts).schema)  # Arrow's inference, then kept for every page
        payload = self.output_format.payload(rows, self.guard)
        if self.guard is not None and self.guard.schema is not self.schema:  # schema evolution added a column
            self._close_part()  # a part has one schema: the next one carries the new column
            self.schema = self.guard.schema
        part = self._part or self._open_part()
        part.write(payload)
        self.rows += len(rows)
        if part.rows >= self.max_rows_per_file or part.written() >= self.max_bytes_per_file:
            self._close_part()

    def _guard(self, schema: pa.Schema) -> None:
        """The schema of the parts (the rescue column last) and, for a typed format, the guard typing the pages."""
        from airflow_provider_comagic.landing.guard import SchemaGuard, with_rescued_column

        if not self.output_format.needs_schema:
            self.schema = with_rescued_column(schema)  # what the rows are read with (Arrow: the rescue policy)
            return
        state = self._drift_state or {}
        tally = DriftTally.from_json(state.get("tally"))
        self.guard = SchemaGuard(schema, self.drift, tally, added=state.get("added") or ())
        self.schema = self.guard.schema

    def _ensure_directory(self) -> None:
        """Create the local partition folder when the first file goes in (object stores have no folders), so a
        run that writes nothing (a skipped client, a failure before the first page) leaves nothing behind."""
        if self._local:
            self.fs.makedirs(self.directory, exist_ok=True)

    def _open_part(self) -> Any:
        self._ensure_directory()
        name = f"{PART_PREFIX}{self.token}-{len(self.files):05d}{self.output_format.suffix}"
        options = PartOptions(
            schema=self.schema,
            gzip_level=self.gzip_level,
            parquet_compression=self.parquet_compression,
            row_group_rows=self.row_group_rows,
            row_group_bytes=self.row_group_bytes,
        )
        part = self.output_format.open_part(self.fs, self.directory, name, options)
        self._part = part
        self._all_parts.append(part)
        return part

    def _close_part(self) -> None:
        if self._part is not None:
            self.files.append(self._part.finish())
            self._part = None

    # -- committing -----------------------------------------------------------------------------------------
    def commit(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Finish the parts and commit them (:mod:`~airflow_provider_comagic.landing.commit`); return the manifest.

        When a later run superseded this one, its manifest is returned with a ``superseded_by`` key (as
        :attr:`superseded_by`): the partition holds the other run's complete copy.
        """
        if self._committed:
            raise LandingError("this partition is already committed")
        drift = None
        if self.guard is not None:
            self.guard.tally.log(str(self.path))
            self.guard.tally.check_limits(self.rows, self.drift)  # before any file is published
            drift = self.guard.tally.summary(self.rows, self.drift)
        self._close_part()
        if self.output_format.empty_part and not self.files and self.schema is not None:
            self._open_part()  # an empty interval is an explicit empty file carrying the schema
            self._close_part()

        def build(phase: str, files: list[dict[str, Any]], replaces: dict[str, Any] | None) -> dict[str, Any]:
            return {
                "manifest_version": MANIFEST_VERSION,
                "format": self.format,
                "rows": self.rows,
                "files": files,
                "bytes": sum(f["bytes"] for f in files),
                "schema": schema_json(self.schema),
                "run_token": self.token,
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "producer": {"package": "airflow-provider-comagic", "version": __version__},
                **({"drift": drift} if drift is not None else {}),
                **dict(extra or {}),
                "phase": phase,
                "replaces": replaces,
            }

        result = commit_partition(
            self.store, self.files, build, scratch=self._scratch, grace=self.grace, on_commit=self._mark_published
        )
        self._committed = True
        manifest = result.manifest
        if result.superseded_by is not None:
            self.superseded_by = result.superseded_by
            manifest = {**manifest, "superseded_by": result.superseded_by}
        return manifest

    def _mark_published(self) -> None:
        self._published = True

    def abort(self) -> None:
        """Delete the parts this run wrote (best effort); the previous manifest stays as it was.

        A suspended writer keeps its parts: they belong to the run that resumes it.
        """
        if self._committed or self._published or self._suspended:
            return  # past the commit point the manifest lists this run's parts: they stay
        opened_here = {part.name for part in self._all_parts}
        inherited = [staged_name(f["path"]) for f in self.files if f["path"] not in opened_here]  # before a resume
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
        state = {"format": self.format, "token": self.token, "files": [dict(f) for f in self.files], "rows": self.rows}
        if self.guard is not None:
            state["drift"] = self.guard.state()  # what drifted so far, the columns schema evolution added
        return state

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
        writer = cls(partition, fmt, schema, token=state["token"], drift_state=state.get("drift"), **options)
        present = {entry.name for entry in writer.store.list()}
        missing = [staged_name(f["path"]) for f in state["files"] if staged_name(f["path"]) not in present]
        if missing:
            raise LandingError(
                f"{writer.path}: parts of the suspended run are gone ({', '.join(missing)}); rerun the task"
            )
        writer.files = [dict(f) for f in state["files"]]
        writer.rows = int(state["rows"])
        return writer

    def write_scratch(self, name: str, data: bytes) -> str:
        """Store a private object of this run next to its parts (one PUT) and return its key,
        ``_tmp-<token>-<name>`` (hidden from glob readers); the commit deletes it."""
        key = f"{TMP_PREFIX}{self.token}-{name}"
        self._ensure_directory()
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
