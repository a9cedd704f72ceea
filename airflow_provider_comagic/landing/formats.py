"""The output formats of the landing module, in one registry: a format's file suffix, its part writer and
its reader. Adding a format touches this module only (plus its name in the operators' docs).

* ``jsonl``: gzip JSON Lines, the rows exactly as given (pages of :class:`~.json_lines.JsonLines` bytes are
  copied, never re-encoded); gzip levels 1-3 use ISA-L (the same format, 3-4x faster than zlib).
* ``parquet``: typed columns of the partition's Arrow schema, zstd; at most one row group held in memory. Values
  the docs do not describe are coerced or rescued by the partition's
  :class:`~airflow_provider_comagic.landing.guard.SchemaGuard` (its drift policy).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import gzip
import logging
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import orjson

from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.storage import is_local
from airflow_provider_comagic.utils.memory import return_large_buffers_to_os

if TYPE_CHECKING:
    import pyarrow as pa

    from airflow_provider_comagic.landing.guard import SchemaGuard

__all__ = [
    "DEFAULT_GZIP_LEVEL",
    "FORMATS",
    "ISAL_GZIP_LEVELS",
    "LandingFormat",
    "OutputFormat",
    "check_gzip_level",
    "get_format",
]

log = logging.getLogger(__name__)

TMP_PREFIX = "_tmp-"
"""Names of hidden files (parts being written, scratch objects): glob readers skip names starting with ``_``."""
PART_PREFIX = "part-"
"""Names of the visible, committed parts."""
DEFAULT_GZIP_LEVEL = 1  # level 1 vs 6: ~3x faster, ~10-15% larger on report rows (see docs)
ISAL_GZIP_LEVELS = range(1, 4)
"""gzip levels written with ISA-L (``isal``) when it is installed; 0 (stored) and 4-9 with zlib."""
DEFAULT_PARQUET_COMPRESSION = "zstd"

LandingFormat = Literal["jsonl", "parquet"]


def _isal_gzip_file() -> Any:
    """ISA-L's gzip writer (the same format, 3-4x faster than zlib at levels 1-3), imported when first used; the
    standard library's without it."""
    try:
        from isal import igzip
    except ImportError:  # pragma: no cover - a dependency; stdlib gzip keeps working without it
        return gzip.GzipFile
    return igzip.IGzipFile


def check_gzip_level(level: Any) -> None:
    """Raise :class:`LandingError` unless ``level`` is a gzip level (an integer 0-9)."""
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise LandingError(f"gzip_level must be an integer from 0 to 9, got {level!r}")


@dataclasses.dataclass(frozen=True)
class PartOptions:
    """What a part writer needs besides its file: the schema and the tuning of its format."""

    schema: pa.Schema | None
    gzip_level: int = DEFAULT_GZIP_LEVEL
    parquet_compression: str = DEFAULT_PARQUET_COMPRESSION
    row_group_rows: int = 100_000
    row_group_bytes: int = 64 * 2**20


class _Part:
    """One part file being written, always under its hidden name (``_tmp-<token>-NNNNN.<ext>``, which glob
    readers skip); the commit publishes it under ``name``. Counts rows and bytes."""

    def __init__(self, fs: Any, directory: str, name: str):
        self.fs = fs
        self.name = name
        self.local = is_local(fs)
        self.target = posixpath.join(directory, TMP_PREFIX + name.removeprefix(PART_PREFIX))
        self.raw: BinaryIO = fs.open(self.target, "wb")
        self.rows = 0
        self.bytes = 0

    def written(self) -> int:
        return self.raw.tell()

    def finish(self) -> dict[str, Any]:
        self.bytes = self.raw.tell()
        if self.local:  # on disk before the manifest may list it (an S3 object exists only once complete)
            self.raw.flush()
            os.fsync(self.raw.fileno())
        self.raw.close()
        return {"path": self.name, "rows": self.rows, "bytes": self.bytes}

    def discard(self) -> None:
        try:
            if not self.raw.closed and not self.local and callable(getattr(self.raw, "discard", None)):
                self.raw.discard()  # an object store: abort the upload instead of completing a partial object
                self.raw.closed = True
            elif not self.raw.closed:
                self.raw.close()
        except Exception:  # the failure that got us here matters more
            log.debug("closing %s failed", self.target, exc_info=True)
        try:
            self.fs.rm_file(self.target)
        except FileNotFoundError:
            pass  # an S3 upload that never completed leaves nothing
        except Exception:
            log.warning("Could not delete the unfinished part %s; a later run removes it", self.target)


class _JsonlPart(_Part):
    def __init__(self, fs: Any, directory: str, name: str, level: int):
        super().__init__(fs, directory, name)
        # mtime=0: the same rows always compress to the same bytes
        gzip_file = _isal_gzip_file() if level in ISAL_GZIP_LEVELS else gzip.GzipFile
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
    """A Parquet part: pages buffered up to a row group, each row group encoded and written by a background
    thread (Arrow releases the GIL) while the next pages are parsed; at most one row group in flight."""

    def __init__(
        self, fs: Any, directory: str, name: str, schema: pa.Schema, compression: str, group_rows: int, group_bytes: int
    ):
        super().__init__(fs, directory, name)
        import pyarrow.parquet as pq

        return_large_buffers_to_os()  # Arrow's pages beside the response bodies: freed bodies must leave the heaps
        self.writer = pq.ParquetWriter(self.raw, schema, compression=compression)
        self.group_rows = group_rows
        self.group_bytes = group_bytes
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self._flusher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="parquet-row-groups")
        self._in_flight: concurrent.futures.Future[None] | None = None
        self._in_flight_bytes = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_rows:
            import pyarrow as pa

            self.pending.append(batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch]))
            self.pending_rows += batch.num_rows
            self.pending_bytes += batch.nbytes
            self.rows += batch.num_rows
            if self.pending_rows >= self.group_rows or self.pending_bytes >= self.group_bytes:
                self.flush()

    def flush(self) -> None:
        """Hand the buffered pages to the background thread as one row group (after the previous one is written:
        its error, if any, is raised here) and forget them."""
        if self.pending:
            import pyarrow as pa

            table = pa.concat_tables(self.pending)  # the pages' chunks, not copied
            self._wait()
            self._in_flight_bytes = self.pending_bytes
            self._in_flight = self._flusher.submit(self.writer.write_table, table, max(1, table.num_rows))
            self.pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def _wait(self) -> None:
        """Wait for the row group in flight; raise its error."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()
            self._in_flight_bytes = 0

    def written(self) -> int:
        # buffered and in-flight rows will land here too (an upper bound)
        return super().written() + self._in_flight_bytes + self.pending_bytes

    def finish(self) -> dict[str, Any]:
        try:
            self.flush()
            self._wait()
        finally:
            self._flusher.shutdown()
        self.writer.close()  # does not close a file object it did not open
        return super().finish()

    def discard(self) -> None:
        self.pending = []
        try:
            self._wait()
        except Exception:  # the failure that got us here matters more
            log.debug("writing a row group of %s failed", self.target, exc_info=True)
        self._flusher.shutdown()
        try:
            self.writer.close()  # before the file goes: a writer left open writes its footer at GC time
        except Exception:
            log.debug("closing the Parquet writer of %s failed", self.target, exc_info=True)
        super().discard()


def _jsonl_part(fs: Any, directory: str, name: str, options: PartOptions) -> _JsonlPart:
    return _JsonlPart(fs, directory, name, options.gzip_level)


def _parquet_part(fs: Any, directory: str, name: str, options: PartOptions) -> _ParquetPart:
    if options.schema is None:
        raise LandingError("a Parquet part needs a schema")
    return _ParquetPart(
        fs,
        directory,
        name,
        options.schema,
        options.parquet_compression,
        options.row_group_rows,
        options.row_group_bytes,
    )


def _jsonl_payload(rows: Sequence[Mapping[str, Any]] | JsonLines, guard: SchemaGuard | None) -> Any:
    return rows  # JSON Lines keeps the rows as given


def _parquet_payload(rows: Sequence[Mapping[str, Any]] | JsonLines, guard: SchemaGuard | None) -> pa.Table:
    assert guard is not None  # the writer infers a schema from the first page when none was given
    if isinstance(rows, JsonLines):
        return guard.from_lines(rows.data, rows.rows)
    return guard.from_dicts(rows)


def _jsonl_rows(handle: BinaryIO) -> Iterator[dict[str, Any]]:
    loads = orjson.loads
    with gzip.GzipFile(fileobj=handle, mode="rb") as lines:
        for line in lines:
            if line.strip():
                yield loads(line)


def _parquet_rows(handle: BinaryIO) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(handle).iter_batches():
        yield from batch.to_pylist()


def _jsonl_batches(handle: BinaryIO, schema: pa.Schema | None, batch_size: int) -> Iterator[pa.RecordBatch]:
    """Rows of a JSON Lines part typed with the recorded schema, under the rescue policy without a limit (a read
    never fails on drift: what does not fit goes to the rescue column, when the schema has one)."""
    from airflow_provider_comagic.landing.drift import DriftPolicy
    from airflow_provider_comagic.landing.guard import SchemaGuard

    if schema is None:
        raise LandingError("a JSON Lines partition landed without a schema cannot be read as Arrow batches")
    guard = SchemaGuard(schema, DriftPolicy(max_rescued_fraction=None))
    page: list[dict[str, Any]] = []
    for row in _jsonl_rows(handle):
        page.append(row)
        if len(page) >= batch_size:
            yield from _conformed(guard.from_dicts(page), schema, batch_size)
            page = []
    if page:
        yield from _conformed(guard.from_dicts(page), schema, batch_size)


def _parquet_batches(handle: BinaryIO, schema: pa.Schema | None, batch_size: int) -> Iterator[pa.RecordBatch]:
    """One row group at a time (a landed row group is ~8 MB of Arrow data): ``ParquetFile.iter_batches`` keeps
    memory that grows with the row groups it has read (+35 MiB after 16 more 20 000-row groups, pyarrow 26)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    for index in range(parquet.metadata.num_row_groups):
        yield from _conformed(parquet.read_row_group(index), schema, batch_size)


def _conformed(data: pa.RecordBatch | pa.Table, schema: pa.Schema | None, batch_size: int) -> Iterator[pa.RecordBatch]:
    """``data`` as batches of exactly ``schema``'s columns: a part written before ``schema_evolution`` added a
    column gets it as nulls."""
    import pyarrow as pa

    if schema is not None and data.schema.names != schema.names:
        present = set(data.schema.names)
        columns = [data.column(f.name) if f.name in present else pa.nulls(data.num_rows, f.type) for f in schema]
        data = (
            pa.Table.from_arrays(columns, schema=schema)
            if isinstance(data, pa.Table)
            else (pa.RecordBatch.from_arrays(columns, schema=schema))
        )
    yield from (data.to_batches(max_chunksize=batch_size) if isinstance(data, pa.Table) else [data])


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    """One output format: how its parts are named, written and read back.

    :param name: the ``output_format`` value users give.
    :param suffix: the part file suffix.
    :param needs_schema: whether a part cannot be written without an Arrow schema (its rows are typed, under the
        partition's drift policy).
    :param open_part: ``(fs, directory, name, PartOptions) -> part`` (``write``, ``written``, ``finish``, ``discard``).
    :param payload: ``(page, guard) -> what the part's write() takes`` (``guard``: the partition's
        :class:`~airflow_provider_comagic.landing.guard.SchemaGuard`, None for a format that keeps rows as given).
    :param rows: ``(binary file) -> row dicts``.
    :param batches: ``(binary file, schema, batch size) -> Arrow record batches``.
    :param empty_part: whether an empty partition still gets one (empty) part carrying the schema.
    """

    name: str
    suffix: str
    needs_schema: bool
    open_part: Any
    payload: Any
    rows: Any
    batches: Any
    empty_part: bool


FORMATS: dict[str, OutputFormat] = {
    fmt.name: fmt
    for fmt in (
        OutputFormat("jsonl", ".jsonl.gz", False, _jsonl_part, _jsonl_payload, _jsonl_rows, _jsonl_batches, False),
        OutputFormat(
            "parquet", ".parquet", True, _parquet_part, _parquet_payload, _parquet_rows, _parquet_batches, True
        ),
    )
}
"""Output format name -> :class:`OutputFormat` (the one list of formats)."""


def get_format(name: Any) -> OutputFormat:
    """The registered format called ``name``; :class:`LandingError` listing the formats otherwise."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise LandingError(f"output format must be one of {', '.join(sorted(FORMATS))}, got {name!r}") from None
