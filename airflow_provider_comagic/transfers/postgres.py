"""Load a landed partition into PostgreSQL, idempotently per partition (reading it through the manifest)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError, ComagicParameterError
from airflow_provider_comagic.exceptions import LandingError
from airflow_provider_comagic.landing.assets import storage_uri
from airflow_provider_comagic.landing.drift import RESCUED_COLUMN
from airflow_provider_comagic.landing.lineage import landed_dataset
from airflow_provider_comagic.landing.manifest import manifest_schema, partition_of, read_manifest
from airflow_provider_comagic.landing.progress import Progress, counted_batches
from airflow_provider_comagic.landing.reader import check_landed_files, iter_landed_batches
from airflow_provider_comagic.utils.lineage import dataset, lineage_or_none, operator_lineage, postgres_dataset_id
from airflow_provider_comagic.utils.task_errors import explained_failures
from airflow_provider_comagic.version_compat import BaseOperator

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

INTERVAL_START, INTERVAL_END, LOADED_AT = "_interval_start", "_interval_end", "_loaded_at"
PARTITION = "_partition"
"""The column naming each row's partition (its folder's URI): what a reload replaces."""
BOOKKEEPING = (INTERVAL_START, INTERVAL_END, LOADED_AT, PARTITION)
_BATCH_ROWS = 50_000
_ATTEMPTS = 3  # loads of a partition that a newer commit keeps replacing mid-load


def postgres_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type (nested values become ``jsonb``)."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer" if arrow_type.bit_width <= 32 else "bigint"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_nested(arrow_type):
        return "jsonb"
    raise ComagicParameterError(f"No PostgreSQL type for the Arrow type {arrow_type}")


def column_type(field: pa.Field) -> str:
    """The PostgreSQL type of a column: :func:`postgres_type`, except the rescue column ``_rescued`` (a JSON
    object per row, null when every value fit), which is ``jsonb`` to be queried as such."""
    return "jsonb" if field.name == RESCUED_COLUMN else postgres_type(field.type)


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (``schema.table`` is quoted part by part)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def create_table_sql(table: str, schema: pa.Schema) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` plus ``ADD COLUMN IF NOT EXISTS`` for columns added to the report later (and
    ``_partition`` to a table loaded before it existed)."""
    columns = [(f.name, column_type(f)) for f in schema]
    columns += [(INTERVAL_START, "timestamptz"), (INTERVAL_END, "timestamptz"), (LOADED_AT, "timestamptz")]
    columns += [(PARTITION, "text")]
    body = ",\n  ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in columns)
    statements = [f"CREATE TABLE IF NOT EXISTS {quote_ident(table)} (\n  {body}\n)"]
    statements += [
        f"ALTER TABLE {quote_ident(table)} ADD COLUMN IF NOT EXISTS {quote_ident(name)} {sql_type}"
        for name, sql_type in columns
    ]
    for suffix, names in (("interval", (INTERVAL_START, INTERVAL_END)), ("partition", (PARTITION,))):
        index = quote_ident(f"{table.replace('.', '_')}_{suffix}_idx").split(".")[-1]
        on = ", ".join(quote_ident(name) for name in names)
        statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {quote_ident(table)} ({on})")
    return statements


def partition_rows_sql(table: str) -> str:
    """The ``WHERE`` clause of one partition's rows (parameters: the partition, the interval's start and end).

    A partition is its folder: two clients, two vPBXs or two lists landed for the same interval are two
    partitions, and a reload replaces only its own. Rows loaded before ``_partition`` existed have it null and
    only their interval to go by: they are replaced by the first reload of their interval."""
    partition, start, end = (quote_ident(name) for name in (PARTITION, INTERVAL_START, INTERVAL_END))
    return f"{partition} = %s OR ({partition} IS NULL AND {start} = %s AND {end} = %s)"


def _jsonify_nested(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Replace list/struct columns by JSON text, which COPY loads into ``jsonb``."""
    import pyarrow as pa

    columns = []
    for column, field in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_nested(field.type):
            dumps = orjson.dumps
            column = pa.array(
                [None if value is None else dumps(value).decode() for value in column.to_pylist()], pa.string()
            )
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def csv_chunks(batches: Iterator[pa.RecordBatch]) -> Iterator[bytes]:
    """CSV bytes for ``COPY ... (FORMAT csv)``: nulls unquoted-empty, empty strings quoted."""
    import pyarrow.csv as pa_csv

    options = pa_csv.WriteOptions(include_header=False)
    for batch in batches:
        buffer = io.BytesIO()
        pa_csv.write_csv(_jsonify_nested(batch), buffer, options)
        yield buffer.getvalue()


class _ChunkReader(io.RawIOBase):
    """A file-like view of a byte-chunk iterator, so COPY streams without holding the whole partition."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buffer = b""
        self.error: Exception | None = None  # what the chunks raised (psycopg2 reports it as QueryCanceled)

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
            except Exception as error:
                self.error = error
                raise
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _copy(cursor: Any, sql: str, chunks: Iterator[bytes]) -> None:
    """Stream ``chunks`` into ``COPY ... FROM STDIN`` with psycopg 3 or psycopg2, whichever the hook gave."""
    if hasattr(cursor, "copy_expert"):  # psycopg2
        reader = _ChunkReader(chunks)
        try:
            cursor.copy_expert(sql, reader, size=1 << 20)
        except Exception:
            if reader.error is not None:  # the partition's failure, not the server's
                raise reader.error from None
            raise
        return
    with cursor.copy(sql) as copy:  # psycopg 3
        for chunk in chunks:
            copy.write(chunk)


class ComagicLandedToPostgresOperator(BaseOperator):
    """
    Load one committed partition (as landed by a landing operator) into a PostgreSQL table.

    The table is created from the partition's Arrow schema when missing (nested values and the rescue column
    ``_rescued`` as ``jsonb``; a column a later partition adds, e.g. by ``schema_evolution``, is added), with four
    bookkeeping columns: ``_interval_start``, ``_interval_end`` (the data interval of the manifest),
    ``_loaded_at`` and ``_partition`` (the partition folder's URI, e.g. ``s3://bucket/comagic/calls_report/
    customer_id=5/date=2024-03-01``). In one transaction the operator deletes the partition's rows and bulk-loads
    it with ``COPY``, so a rerun or a backfill replaces that partition, never appends, and leaves the other
    partitions of the same interval (other agency clients, vPBXs, lists) as they are. Only files listed in the manifest
    are read, from the one manifest read at the start; before the transaction starts, every listed part is
    checked to exist with its recorded size, and the task fails naming the missing ones (no row changed). A
    partition without a committed manifest fails the task. If a newer commit replaces the partition during the
    load (its parts are deleted under the reader), the transaction rolls back and the new copy is loaded.

    :param partition_path: the partition folder or its ``_manifest.json`` (templated; e.g. the ``partition``
        of the report operator's XCom).
    :param table: target table, optionally schema-qualified (templated).
    :param postgres_conn_id: the Postgres connection.
    :param storage_conn_id: connection of the object storage holding the partition, if not in the URL.
    :param check_row_count: after loading, count the interval's rows in the table and fail unless the count
        equals the manifest's ``rows``.
    :return: ``{"table", "rows", "deleted", "interval_start", "interval_end", "partition"}``.
    """

    template_fields: Sequence[str] = ("partition_path", "table")

    def __init__(
        self,
        *,
        partition_path: str,
        table: str,
        postgres_conn_id: str = "postgres_default",
        storage_conn_id: str | None = None,
        check_row_count: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.partition_path = partition_path
        self.table = table
        self.postgres_conn_id = postgres_conn_id
        self.storage_conn_id = storage_conn_id
        self.check_row_count = check_row_count

    @explained_failures
    def execute(self, context: Context) -> dict[str, Any]:
        partition = partition_of(self.partition_path, self.storage_conn_id)  # the folder, also when given the manifest
        for attempt in range(1, _ATTEMPTS + 1):
            manifest = read_manifest(partition)
            if manifest is None:
                raise ComagicDataIntegrityError(f"{partition} has no committed manifest: nothing to load")
            try:
                check_landed_files(partition, manifest)  # every listed part is there: before any row changes
            except LandingError as missing:
                raise ComagicDataIntegrityError(f"{missing}; nothing was loaded into {self.table}") from None
            try:
                return self._load(partition, manifest)
            except LandingError as replaced:  # a part vanished mid-load: the transaction was rolled back
                current = read_manifest(partition)
                if attempt == _ATTEMPTS or current is None or current.get("run_token") == manifest.get("run_token"):
                    raise ComagicDataIntegrityError(f"{replaced}; {self.table} was left as it was") from None
                self.log.warning("%s was replaced during the load (%s); loading the new copy", partition, replaced)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _load(self, partition: Any, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the interval's rows with the partition's, in one transaction."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        schema = manifest_schema(manifest)
        if schema is None:
            raise ComagicDataIntegrityError(
                f"The manifest of {partition} records no schema; cannot create {self.table}"
            )
        interval = manifest.get("interval") or {}
        start, end = interval.get("start"), interval.get("end")
        if not start or not end:
            raise ComagicDataIntegrityError(f"The manifest of {partition} records no data interval")

        table = quote_ident(self.table)
        identity = storage_uri(partition)
        its_rows = (identity, start, end)
        columns = ", ".join(quote_ident(name) for name in [*schema.names, *BOOKKEEPING])
        copy_sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
        hook = PostgresHook(postgres_conn_id=self.postgres_conn_id)
        connection = hook.get_conn()
        try:
            with connection, connection.cursor() as cursor:  # one transaction: commit on success, else rollback
                # loads of other partitions into the same table may run at once (one DAG run per partition):
                # CREATE TABLE IF NOT EXISTS is not safe against a concurrent create, so they take turns
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
                for statement in create_table_sql(self.table, schema):
                    cursor.execute(statement)
                cursor.execute(f"DELETE FROM {table} WHERE {partition_rows_sql(self.table)}", its_rows)
                deleted = cursor.rowcount
                cursor.execute("SELECT now()")
                loaded_at = cursor.fetchone()[0].isoformat()
                batches = self._batches(partition, manifest, (start, end, loaded_at, identity))
                progress = Progress(
                    f"Loading {identity} into {self.table}",
                    self.log,
                    expected=lambda: manifest["rows"],
                    pages="batch(es)",
                )
                _copy(cursor, copy_sql, csv_chunks(counted_batches(batches, progress)))
                cursor.execute(f"SELECT count(*) FROM {table} WHERE {partition_rows_sql(self.table)}", its_rows)
                loaded = cursor.fetchone()[0]
                if self.check_row_count and loaded != manifest["rows"]:
                    raise ComagicDataIntegrityError(
                        f"{self.table} holds {loaded} rows of {identity} but the manifest lists {manifest['rows']}"
                    )
        finally:
            connection.close()
        self.log.info(
            "Loaded %d rows of %s into %s for [%s, %s) (replaced %d)", loaded, identity, self.table, start, end, deleted
        )
        conn = hook.get_connection(self.postgres_conn_id)
        self._lineage = {
            "partition": str(partition),
            "manifest": manifest,
            "rows": loaded,
            "connection": {"host": conn.host, "port": conn.port, "database": conn.schema},
        }
        return {
            "table": self.table,
            "rows": loaded,
            "deleted": deleted,
            "interval_start": start,
            "interval_end": end,
            "partition": identity,
        }

    @lineage_or_none
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the landed partition as input, the table as output (``postgres://host:port``,
        ``database.schema.table``) with the rows loaded."""
        state = getattr(self, "_lineage", None)
        if state is None:
            return None
        manifest = state["manifest"]
        connection = state["connection"]
        namespace, name = postgres_dataset_id(
            connection["host"], connection["port"], connection["database"], self.table
        )
        columns = [(f.name, column_type(f), None) for f in manifest_schema(manifest) or []]
        table = dataset(namespace, name, fields=columns, rows=state["rows"], output=True)
        return operator_lineage([landed_dataset(state["partition"], manifest, output=False)], [table])

    @staticmethod
    def _batches(
        partition: Any, manifest: Mapping[str, Any], bookkeeping: tuple[str, str, str, str]
    ) -> Iterator[pa.RecordBatch]:
        """The partition's batches (any format, read through the manifest) with the :data:`BOOKKEEPING` columns
        (``bookkeeping``: their values) appended."""
        import pyarrow as pa

        for batch in iter_landed_batches(partition, batch_size=_BATCH_ROWS, manifest=manifest):
            extra = [pa.array([value] * batch.num_rows, pa.string()) for value in bookkeeping]
            yield pa.RecordBatch.from_arrays([*batch.columns, *extra], names=[*batch.schema.names, *BOOKKEEPING])
