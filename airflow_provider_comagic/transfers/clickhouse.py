"""Load a landed partition into ClickHouse, exactly once per partition: a staging table, then one
``ALTER TABLE ... REPLACE PARTITION ... FROM`` (see ``docs/clickhouse.rst``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.exceptions import DataIntegrityError, LandingError, ParameterError
from airflow_provider_comagic.landing.lineage import landed_dataset
from airflow_provider_comagic.landing.manifest import partition_of, read_manifest
from airflow_provider_comagic.landing.progress import Progress, counted_batches
from airflow_provider_comagic.landing.reader import check_landed_files, iter_landed_batches
from airflow_provider_comagic.transfers.clickhouse_client import clickhouse_client, connection_address
from airflow_provider_comagic.transfers.clickhouse_schema import (
    DAY,
    INTERVAL_END,
    INTERVAL_START,
    LANDED_RUN,
    PARTITION,
    PARTITION_BY,
    LandedPartition,
    add_column_sql,
    check_engine,
    clickhouse_type,
    create_table_sql,
    order_key,
    parse_table_name,
    qualified,
    quote_ident,
    sql_string,
    staging_engine,
)
from airflow_provider_comagic.utils.lineage import clickhouse_dataset_id, dataset, lineage_or_none, operator_lineage
from airflow_provider_comagic.utils.templating import is_templated, parse_list
from airflow_provider_comagic.version_compat import BaseOperator

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import Context

__all__ = ["STALE_LOCK", "STALE_STAGING", "ComagicLandedToClickHouseOperator", "arrow_stream_chunks", "partition_lock"]

_BATCH_ROWS = 8_192  # rows per Arrow batch: a full calls_report row is ~3 KB of Arrow, so ~25 MB a batch
_ATTEMPTS = 3  # loads of a partition that a newer commit (or a concurrent column change) keeps overtaking
STALE_STAGING = dt.timedelta(hours=6)
"""A staging table older than this is a dead load's (killed mid-insert): the next load into the table drops it."""
_STAGING = "{table}_staging_{stamp}_{token}"
_STAMP = "%Y%m%dT%H%M%S"
_INCOMPATIBLE_COLUMNS = 122  # REPLACE PARTITION: the target's columns changed after the staging table was made
_TABLE_ALREADY_EXISTS = 57
STALE_LOCK = dt.timedelta(minutes=10)
"""A partition's swap lock older than this is a dead load's (a swap takes milliseconds): the next load takes it."""
_LOCK_WAIT = dt.timedelta(minutes=15)
_INSERT_SETTINGS = {"async_insert": 0, "input_format_null_as_default": 1}
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class _Overtaken(Exception):
    """The load must start again: a newer commit of the partition, or the table's columns changed meanwhile."""


class _Recorder:
    """Remembers what a chunk iterator raised, so the partition's own error (a part replaced in the lake) is
    raised instead of the transport error that aborting the request gives."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except BaseException as error:
            self.error = error
            raise


class _PendingBytes:
    """A write-only file the IPC writer writes to; :meth:`take` hands over what it holds (one batch's bytes)."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(self._parts[-1])

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def arrow_stream_chunks(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, compression: str | None = None
) -> Iterator[bytes]:
    """An Arrow IPC stream (``FORMAT ArrowStream``), one chunk per batch: the schema with the first batch, the
    end-of-stream marker last. Only one batch's bytes are held at a time."""
    import pyarrow as pa

    sink = _PendingBytes()
    writer = pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(compression=compression))
    for batch in batches:
        writer.write_batch(batch)
        yield sink.take()
    writer.close()
    yield sink.take()  # the end-of-stream marker (after the schema, for an empty partition)


class ComagicLandedToClickHouseOperator(BaseOperator):
    """
    Load one committed partition (any report, reference snapshot, MCN call log or unified call table, as landed
    by this provider's operators) into a ClickHouse table, exactly once.

    The partition is read through its manifest (only the files it lists, with its Arrow schema), streamed as Arrow
    batches into a fresh staging table, counted there against the manifest, and swapped into the target with one
    ``ALTER TABLE ... REPLACE PARTITION ... FROM`` (atomic for readers): a rerun replaces, never appends; two loads
    of the same partition at once end with one complete copy; a loader killed mid-insert leaves the previous copy
    (its staging table is dropped by a later load once :data:`STALE_STAGING` old). Swaps of one partition take
    turns under a lock table (:func:`partition_lock`). If a newer commit replaces the partition while it loads,
    the new copy is loaded. The staging table is dropped, also after a failure.

    The table is created when missing from the partition's schema (types: ``docs/clickhouse.rst``), with the
    bookkeeping columns ``_partition`` (the partition's URI), ``_day``, ``_interval_start``, ``_interval_end``,
    ``_landed_run`` (the manifest's run token) and ``_loaded_at``, ``PARTITION BY (_day, _partition)``: one
    ClickHouse partition per landed partition. A landed column the table lacks is added with ``ALTER TABLE ADD
    COLUMN`` (or the load fails naming it, with ``add_new_columns=False``); a table column the partition lacks
    gets its default (``NULL``).

    :param partition_path: the partition folder or its ``_manifest.json`` (templated; e.g. the ``manifest`` an
        asset event names).
    :param table: ``table`` (in the connection's database) or ``database.table`` (templated).
    :param clickhouse_conn_id: a ``clickhouse`` connection (HTTP interface: port 8123, 8443 with ``secure``).
    :param storage_conn_id: connection of the object storage holding the partition, if not in the URL.
    :param order_by: ``ORDER BY`` columns of a new table (templated). Default: the method's key from the catalogue
        (``id`` for the reports) when the manifest names a method and its key columns were landed; else
        ``tuple()`` (the MCN call log, unified tables, reports without a key).
    :param engine: engine of a new table, of the MergeTree family, e.g.
        ``"ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"``.
    :param on_cluster: cluster for ``CREATE TABLE`` and ``ADD COLUMN`` (``ON CLUSTER``); the staging table is local
        to the server the connection reaches, whose ``REPLACE PARTITION`` a replicated table replicates.
    :param add_new_columns: add a landed column the table lacks (else fail naming it).
    :return: ``{"table", "rows", "replaced", "partition", "day", "interval_start", "interval_end", "landed_run"}``
        (``replaced``: the rows the table held for the partition before).
    """

    template_fields: Sequence[str] = ("partition_path", "table", "order_by")

    def __init__(
        self,
        *,
        partition_path: str,
        table: str,
        clickhouse_conn_id: str = "clickhouse_default",
        storage_conn_id: str | None = None,
        order_by: Sequence[str] | str | None = None,
        engine: str = "MergeTree",
        on_cluster: str | None = None,
        add_new_columns: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.partition_path = partition_path
        self.table = table
        self.clickhouse_conn_id = clickhouse_conn_id
        self.storage_conn_id = storage_conn_id
        self.order_by = order_by
        self.engine = check_engine(engine)
        if on_cluster is not None and (not isinstance(on_cluster, str) or not on_cluster.strip()):
            raise ParameterError(f"on_cluster must be a cluster name, got {on_cluster!r}")
        self.on_cluster = on_cluster
        self.add_new_columns = add_new_columns
        if not is_templated(table):
            parse_table_name(table)  # at DAG parse time
        if not is_templated(order_by):
            self._order_by()

    def _order_by(self) -> list[str] | None:
        names = parse_list(self.order_by, "order_by", item=str)
        for name in names or ():
            parse_table_name(name, "order_by")  # plain column names
        return names

    def execute(self, context: Context) -> dict[str, Any]:
        database, name = parse_table_name(self.table)
        order_by = self._order_by()
        partition = partition_of(self.partition_path, self.storage_conn_id)
        for attempt in range(1, _ATTEMPTS + 1):
            manifest = read_manifest(partition)
            if manifest is None:
                raise ParameterError(f"partition_path: {partition} has no committed manifest: nothing to load")
            landed = LandedPartition.from_manifest(partition, manifest)
            key = order_key(landed, order_by)
            try:
                check_landed_files(partition, manifest)  # every listed part is there: before the server is touched
            except LandingError as missing:
                raise DataIntegrityError(f"{missing}; nothing was loaded into {self.table}") from None
            try:
                return self._load(partition, landed, database, name, key)
            except (LandingError, _Overtaken) as overtaken:
                current = read_manifest(partition)
                changed = current is not None and current.get("run_token") != manifest.get("run_token")
                if attempt == _ATTEMPTS or not (changed or isinstance(overtaken, _Overtaken)):
                    raise DataIntegrityError(f"{overtaken}; {self.table} was left as it was") from None
                self.log.warning("Loading %s again: %s", partition, overtaken)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _load(
        self, partition: Any, landed: LandedPartition, database: str | None, name: str, key: Sequence[str]
    ) -> dict[str, Any]:
        """Prepare the table, fill a staging table, check it, swap it in; the staging table is always dropped."""
        client = clickhouse_client(self.clickhouse_conn_id)
        try:
            database = database or client.database or "default"
            self._prepare_table(client, database, name, landed, key)
            staging = self._create_staging(client, database, name)
            try:
                self._fill(client, qualified(database, staging), partition, landed)
                replaced = self._swap(client, database, name, staging, partition, landed)
            finally:
                client.command(f"DROP TABLE IF EXISTS {qualified(database, staging)} SYNC")
        finally:
            client.close()
        self.log.info(
            "Loaded %d rows of %s into %s.%s (replaced %d)", landed.rows, landed.uri, database, name, replaced
        )
        self._lineage = {"partition": str(partition), "manifest": landed.manifest, "database": database}
        iso = lambda value: value.isoformat() if value else None  # noqa: E731
        return {
            "table": f"{database}.{name}",
            "rows": landed.rows,
            "replaced": replaced,
            "partition": landed.uri,
            "day": landed.day.isoformat(),
            "interval_start": iso(landed.interval_start),
            "interval_end": iso(landed.interval_end),
            "landed_run": landed.run_token,
        }

    def _prepare_table(
        self, client: Any, database: str, name: str, landed: LandedPartition, key: Sequence[str]
    ) -> None:
        """Create the table when missing; check its partition key; add the landed columns it lacks."""
        ddl = create_table_sql(database, name, landed, key, engine=self.engine, on_cluster=self.on_cluster)
        client.command(ddl)
        found = client.query(
            "SELECT engine, partition_key FROM system.tables WHERE database = {db:String} AND name = {name:String}",
            parameters={"db": database, "name": name},
        ).result_rows
        engine, partition_key = found[0] if found else ("", "")
        if "MergeTree" not in engine or partition_key.replace(" ", "") != PARTITION_BY.replace(" ", ""):
            raise DataIntegrityError(
                f"{database}.{name} is a {engine or 'missing'} table partitioned by {partition_key or 'nothing'}, not "
                f"a MergeTree table partitioned by {PARTITION_BY}: replacing a partition there could replace other "
                "rows; load into a table this operator created"
            )
        have = set(self._columns(client, database, name))
        missing = [field for field in landed.schema if field.name not in have]
        if missing and not self.add_new_columns:
            raise DataIntegrityError(
                f"{landed.uri} has columns {database}.{name} lacks: "
                + ", ".join(f"{f.name} {clickhouse_type(f.type, nullable=f.nullable)}" for f in missing)
                + " (add_new_columns=False; add them with ALTER TABLE ADD COLUMN, or allow it)"
            )
        for field in missing:
            self.log.info("Adding column %s to %s.%s (new in %s)", field.name, database, name, landed.uri)
            client.command(add_column_sql(database, name, field, self.on_cluster))

    @staticmethod
    def _columns(client: Any, database: str, name: str) -> list[str]:
        rows = client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = {name:String} ORDER BY position",
            parameters={"db": database, "name": name},
        ).result_rows
        return [row[0] for row in rows]

    def _create_staging(self, client: Any, database: str, name: str) -> str:
        """Drop dead loads' staging tables of ``name``; create this load's, with the target's columns and keys."""
        now = dt.datetime.now(dt.timezone.utc)
        pattern = re.compile(re.escape(name) + r"_staging_(\d{8}T\d{6})_[0-9a-f]{8}")
        for (other,) in client.query(
            "SELECT name FROM system.tables WHERE database = {db:String} AND startsWith(name, {prefix:String})",
            parameters={"db": database, "prefix": f"{name}_staging_"},
        ).result_rows:
            found = pattern.fullmatch(other)
            stamp = dt.datetime.strptime(found.group(1), _STAMP).replace(tzinfo=dt.timezone.utc) if found else None
            if stamp is not None and now - stamp > STALE_STAGING:
                self.log.warning("Dropping %s.%s, the staging table of a load that died", database, other)
                client.command(f"DROP TABLE IF EXISTS {qualified(database, other)} SYNC")
        staging = _STAGING.format(table=name, stamp=now.strftime(_STAMP), token=uuid.uuid4().hex[:8])
        engine_full = client.query(
            "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {name:String}",
            parameters={"db": database, "name": name},
        ).result_rows[0][0]
        local = staging_engine(engine_full)
        clause = f" ENGINE = {local}" if local else ""
        client.command(f"CREATE TABLE {qualified(database, staging)} AS {qualified(database, name)}{clause}")
        return staging

    def _fill(self, client: Any, staging: str, partition: Any, landed: LandedPartition) -> None:
        """Stream the partition's batches (bookkeeping columns appended) into the staging table in one INSERT."""
        schema = landed.schema
        names = [*schema.names, PARTITION, DAY, INTERVAL_START, INTERVAL_END, LANDED_RUN]
        progress = Progress(
            f"Loading {landed.uri} into {self.table}", self.log, expected=lambda: landed.rows, pages="batch(es)"
        )
        read = iter_landed_batches(partition, batch_size=_BATCH_ROWS, manifest=landed.manifest)
        batches = _with_bookkeeping(counted_batches(read, progress), landed)
        compression = getattr(client, "write_compression", None)
        stream_schema = _stream_schema(landed)
        recorder = _Recorder(
            arrow_stream_chunks(batches, stream_schema, compression if compression in ("lz4", "zstd") else None)
        )
        try:
            client.raw_insert(staging, names, iter(recorder), settings=_INSERT_SETTINGS, fmt="ArrowStream")
        except Exception:
            if recorder.error is not None:
                raise recorder.error from None
            raise
        (count,) = client.query(f"SELECT count() FROM {staging}").result_rows[0]
        if count != landed.rows:
            raise DataIntegrityError(
                f"{landed.uri}: {count} rows reached the staging table but the manifest lists {landed.rows}; the "
                "table was left as it was"
            )

    def _swap(
        self, client: Any, database: str, name: str, staging: str, partition: Any, landed: LandedPartition
    ) -> int:
        """Replace the table's partition with the staging table's (drop it for an empty partition); the rows the
        table held for it before. A newer commit of the partition makes the load start again instead."""
        with partition_lock(client, database, name, landed, self.log):
            current = read_manifest(partition)
            if current is None or current.get("run_token") != landed.run_token:
                raise _Overtaken(f"{landed.uri} was committed again while it loaded")
            before = _partition_rows(client, database, name, landed)
            self._replace(client, database, name, staging, landed)
            after = _partition_rows(client, database, name, landed)
        if after != landed.rows:
            raise DataIntegrityError(
                f"{database}.{name} holds {after} rows of {landed.uri} after the swap, the manifest lists {landed.rows}"
            )
        return before

    @staticmethod
    def _replace(client: Any, database: str, name: str, staging: str, landed: LandedPartition) -> None:
        target = qualified(database, name)
        expression = landed.partition_expression
        if landed.rows:
            statement = f"ALTER TABLE {target} REPLACE PARTITION {expression} FROM {qualified(database, staging)}"
        else:  # REPLACE from an empty source is refused by current servers; dropping is just as atomic
            statement = f"ALTER TABLE {target} DROP PARTITION {expression}"
        try:
            client.command(statement)
        except Exception as error:
            if getattr(error, "code", None) == _INCOMPATIBLE_COLUMNS:
                raise _Overtaken(f"the columns of {database}.{name} changed while {landed.uri} loaded") from None
            raise

    @lineage_or_none
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the landed partition as input, the table as output (``clickhouse://host:port``,
        ``database.table``) with the rows loaded."""
        state = getattr(self, "_lineage", None)
        if state is None:
            return None
        manifest = state["manifest"]
        host, port, _ = connection_address(self.clickhouse_conn_id)
        _, name = parse_table_name(self.table)
        namespace, dataset_name = clickhouse_dataset_id(host, port, state["database"], name)
        landed = LandedPartition.from_manifest(state["partition"], manifest)
        columns = [(f.name, clickhouse_type(f.type, nullable=f.nullable), None) for f in landed.schema]
        table = dataset(namespace, dataset_name, fields=columns, rows=manifest["rows"], output=True)
        return operator_lineage([landed_dataset(state["partition"], manifest, output=False)], [table])


def _partition_rows(client: Any, database: str, name: str, landed: LandedPartition) -> int:
    (count,) = client.query(
        f"SELECT count() FROM {qualified(database, name)} WHERE {quote_ident(DAY)} = "
        f"{sql_string(landed.day.isoformat())} AND {quote_ident(PARTITION)} = {sql_string(landed.uri)}"
    ).result_rows[0]
    return int(count)


@contextlib.contextmanager
def partition_lock(client: Any, database: str, name: str, landed: LandedPartition, log: Any) -> Iterator[None]:
    """Hold the lock of one landed partition's swap: a table ``<table>_lock_<hash>`` that only one ``CREATE
    TABLE`` can make. Concurrent ``REPLACE PARTITION`` statements on one partition of a MergeTree table can leave
    the copies of several (measured on ClickHouse 26.9: 4 of 30 races of 4 loads); taken in turn, each swap
    replaces the last. A lock older than :data:`STALE_LOCK` is a dead load's and is taken over."""
    digest = hashlib.sha256(f"{landed.day}|{landed.uri}".encode()).hexdigest()[:16]
    lock_name = f"{name}_lock_{digest}"
    lock = qualified(database, lock_name)
    deadline = time.monotonic() + _LOCK_WAIT.total_seconds()
    while True:
        try:
            client.command(f"CREATE TABLE {lock} (partition String) ENGINE = Memory COMMENT {sql_string(landed.uri)}")
            break
        except Exception as error:
            if getattr(error, "code", None) != _TABLE_ALREADY_EXISTS:
                raise
        age = client.query(
            "SELECT dateDiff('second', metadata_modification_time, now()) FROM system.tables "
            "WHERE database = {db:String} AND name = {name:String}",
            parameters={"db": database, "name": lock_name},
        ).result_rows
        if age and age[0][0] > STALE_LOCK.total_seconds():
            log.warning("Taking over %s, the lock of a load that died", lock)
            client.command(f"DROP TABLE IF EXISTS {lock} SYNC")
        elif time.monotonic() > deadline:
            raise DataIntegrityError(f"another load of {landed.uri} held {lock} for {_LOCK_WAIT}; nothing was swapped")
        else:
            time.sleep(0.1)
    try:
        yield
    finally:
        client.command(f"DROP TABLE IF EXISTS {lock} SYNC")


def _stream_schema(landed: LandedPartition) -> pa.Schema:
    """The landed schema plus the bookkeeping columns (``_partition``/``_landed_run`` dictionary-encoded: each
    row carries a 4-byte index, not the URI)."""
    import pyarrow as pa

    interval = pa.timestamp("s", tz=landed.timezone)
    labels = pa.dictionary(pa.int32(), pa.string())
    return pa.schema(
        [
            *landed.schema,
            pa.field(PARTITION, labels, nullable=False),
            pa.field(DAY, pa.date32(), nullable=False),
            pa.field(INTERVAL_START, interval),
            pa.field(INTERVAL_END, interval),
            pa.field(LANDED_RUN, labels, nullable=False),
        ]
    )


def _with_bookkeeping(batches: Iterator[pa.RecordBatch], landed: LandedPartition) -> Iterator[pa.RecordBatch]:
    """Each batch with the bookkeeping columns appended (built once at the batch size, sliced per batch)."""
    import pyarrow as pa

    schema = _stream_schema(landed)
    constants: list[pa.Array] = []
    for batch in batches:
        n = batch.num_rows
        if not constants or len(constants[0]) < n:
            constants = _constant_columns(schema, landed, max(n, _BATCH_ROWS))
        yield pa.RecordBatch.from_arrays([*batch.columns, *(c.slice(0, n) for c in constants)], schema=schema)


def _constant_columns(schema: pa.Schema, landed: LandedPartition, n: int) -> list[pa.Array]:
    """``n`` copies of each bookkeeping value, built from raw buffers: neither ``pa.array`` of Python values nor
    ``pyarrow.compute``, whose first use imports pandas when it is installed (~1 s of a small load)."""
    import pyarrow as pa

    zeros = pa.py_buffer(bytes(4 * n))
    labels = pa.dictionary(pa.int32(), pa.string())

    def label(value: str) -> pa.Array:
        text = value.encode()
        one = pa.Array.from_buffers(
            pa.string(), 1, [None, pa.py_buffer(struct.pack("<ii", 0, len(text))), pa.py_buffer(text)]
        )
        return pa.DictionaryArray.from_buffers(labels, n, [None, zeros], one)

    def repeated(value: int | None, name: str, fmt: str) -> pa.Array:
        kind = schema.field(name).type
        if value is None:
            return pa.nulls(n, kind)
        return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(struct.pack(fmt, value) * n)])

    def epoch(moment: dt.datetime | None) -> int | None:
        return None if moment is None else int(moment.timestamp())

    return [
        label(landed.uri),
        repeated(landed.day.toordinal() - _EPOCH_ORDINAL, DAY, "<i"),
        repeated(epoch(landed.interval_start), INTERVAL_START, "<q"),
        repeated(epoch(landed.interval_end), INTERVAL_END, "<q"),
        label(landed.run_token),
    ]
