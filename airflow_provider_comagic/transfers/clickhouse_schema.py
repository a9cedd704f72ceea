"""ClickHouse tables of landed partitions: Arrow -> ClickHouse types, the table's DDL and bookkeeping columns, the
order key, and what a landed partition is in the table (one ClickHouse partition per landed partition).

Types (see ``docs/clickhouse.rst``): integers, floats, ``Bool``, ``Decimal``, ``String`` as themselves,
``Nullable`` where the Arrow field is nullable (every API field is: the API may send null); timestamps
``DateTime64(<unit digits>, '<zone of the landed column>')`` (the account's zone with the default
``timestamps="account"``); dates ``Date32``; lists ``Array``; objects named ``Tuple``; maps ``Map``. ClickHouse has
no ``Nullable(Array)`` or ``Nullable(Tuple)``: a null list loads as ``[]``, a null object as a tuple of nulls.

A landed partition is identified in the table by ``_partition`` (its URI, without a connection id) and ``_day``
(its day); the table is ``PARTITION BY (_day, _partition)``, so ``REPLACE PARTITION`` swaps exactly the rows of
one landed partition: an agency's clients, MCN vPBXs or hourly intervals of the same day never replace each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.exceptions import DataIntegrityError, ParameterError
from airflow_provider_comagic.landing.assets import storage_uri
from airflow_provider_comagic.landing.manifest import manifest_schema

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BOOKKEEPING",
    "PARTITION_BY",
    "LandedPartition",
    "clickhouse_type",
    "create_table_sql",
    "order_key",
    "parse_table_name",
    "quote_ident",
    "sql_string",
    "staging_engine",
]

PARTITION, DAY, INTERVAL_START, INTERVAL_END, LANDED_RUN, LOADED_AT = (
    "_partition",
    "_day",
    "_interval_start",
    "_interval_end",
    "_landed_run",
    "_loaded_at",
)
BOOKKEEPING = (PARTITION, DAY, INTERVAL_START, INTERVAL_END, LANDED_RUN, LOADED_AT)
"""The columns the loader adds to every table (after the landed ones)."""
PARTITION_BY = f"({DAY}, {PARTITION})"
"""The partition key of a loader's table: one ClickHouse partition per landed partition."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENGINE = re.compile(r"(Replicated|Shared)?[A-Za-z]*MergeTree(\s*\(.*\))?", re.S)
_ZOOKEEPER_ARGS = re.compile(r"\s*'(?:[^'\\]|\\.)*'\s*,\s*'(?:[^'\\]|\\.)*'\s*(,\s*)?", re.S)
_DATE_SEGMENT = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})(?:/|$)")
_TIME_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}


def parse_table_name(table: Any, name: str = "table") -> tuple[str | None, str]:
    """``(database or None, table)`` of ``table`` / ``database.table``; :class:`ParameterError` naming ``name``
    unless each part is a plain identifier (letters, digits, ``_``; not starting with a digit)."""
    parts = table.split(".") if isinstance(table, str) else []
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.fullmatch(part) for part in parts):
        raise ParameterError(
            f"{name} must be 'table' or 'database.table' of letters, digits and '_' (not starting with a digit), "
            f"got {table!r}"
        )
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def check_engine(engine: Any) -> str:
    """``engine`` if it is of the MergeTree family (``REPLACE PARTITION`` needs one), else :class:`ParameterError`."""
    if not isinstance(engine, str) or not _ENGINE.fullmatch(engine.strip()):
        raise ParameterError(
            f"engine must be a MergeTree engine such as 'MergeTree' or "
            f"\"ReplicatedMergeTree('/clickhouse/tables/{{shard}}/{{database}}/{{table}}', '{{replica}}')\", got {engine!r}"
        )
    return engine.strip()


def quote_ident(name: str) -> str:
    """A ClickHouse identifier in backquotes (``db.table`` quoted part by part by the caller)."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def sql_string(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def clickhouse_type(arrow_type: pa.DataType, *, nullable: bool = True) -> str:
    """The ClickHouse column type for an Arrow type (module docstring); ``Nullable`` only around scalars."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(arrow_type):
        return clickhouse_type(arrow_type.value_type, nullable=nullable)
    if types.is_list(arrow_type) or types.is_large_list(arrow_type) or types.is_fixed_size_list(arrow_type):
        item = arrow_type.value_field
        return f"Array({clickhouse_type(item.type, nullable=item.nullable)})"
    if types.is_map(arrow_type):
        value = arrow_type.item_field
        return f"Map({clickhouse_type(arrow_type.key_type, nullable=False)}, {clickhouse_type(value.type, nullable=value.nullable)})"
    if types.is_struct(arrow_type):
        fields = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        inner = ", ".join(f"{quote_ident(f.name)} {clickhouse_type(f.type, nullable=f.nullable)}" for f in fields)
        return f"Tuple({inner})"
    scalar = _scalar_type(arrow_type)
    return f"Nullable({scalar})" if nullable else scalar


def _scalar_type(arrow_type: pa.DataType) -> str:
    import pyarrow as pa

    types = pa.types
    if types.is_boolean(arrow_type):
        return "Bool"
    if types.is_integer(arrow_type):
        return f"{'Int' if types.is_signed_integer(arrow_type) else 'UInt'}{arrow_type.bit_width}"
    if types.is_floating(arrow_type):
        return "Float64" if arrow_type.bit_width == 64 else "Float32"
    if types.is_decimal(arrow_type):
        return f"Decimal({arrow_type.precision}, {arrow_type.scale})"
    if types.is_timestamp(arrow_type):
        return f"DateTime64({_TIME_DIGITS[arrow_type.unit]}, {sql_string(arrow_type.tz or 'UTC')})"
    if types.is_date(arrow_type):
        return "Date32"
    if types.is_null(arrow_type):  # a column that held only nulls when it was landed without a schema
        return "String"
    if (
        types.is_string(arrow_type)
        or types.is_large_string(arrow_type)
        or types.is_binary(arrow_type)
        or types.is_large_binary(arrow_type)
        or types.is_fixed_size_binary(arrow_type)
    ):
        return "String"
    raise DataIntegrityError(f"No ClickHouse type for the Arrow type {arrow_type}")


@dataclasses.dataclass(frozen=True)
class LandedPartition:
    """A committed partition as the loader sees it: its identity in the table, its copy, rows and schema."""

    uri: str
    day: dt.date
    interval_start: dt.datetime | None
    interval_end: dt.datetime | None
    timezone: str
    run_token: str
    rows: int
    schema: pa.Schema
    manifest: Mapping[str, Any]

    @classmethod
    def from_manifest(cls, partition: Any, manifest: Mapping[str, Any]) -> LandedPartition:
        """Read from the manifest: the interval (``interval.start``/``end``/``timezone``; absent for a snapshot)
        and the schema; :class:`DataIntegrityError` when it records no schema."""
        uri = storage_uri(partition)
        schema = manifest_schema(manifest)
        if schema is None:
            raise DataIntegrityError(f"The manifest of {uri} records no schema; cannot load it into ClickHouse")
        clash = [name for name in schema.names if name in BOOKKEEPING]
        if clash:
            raise DataIntegrityError(f"{uri} has columns named like the loader's own: {', '.join(clash)}")
        interval = manifest.get("interval") or {}
        timezone = interval.get("timezone") or "UTC"
        start, end = (
            dt.datetime.fromisoformat(interval[key]) if interval.get(key) else None for key in ("start", "end")
        )
        return cls(
            uri=uri,
            day=_partition_day(uri, start, timezone, manifest),
            interval_start=start,
            interval_end=end,
            timezone=timezone,
            run_token=str(manifest.get("run_token") or ""),
            rows=int(manifest["rows"]),
            schema=schema,
            manifest=manifest,
        )

    @property
    def partition_expression(self) -> str:
        """The table's partition of this landed partition, as ``ALTER TABLE ... PARTITION`` takes it."""
        return f"(toDate({sql_string(self.day.isoformat())}), {sql_string(self.uri)})"


def _partition_day(uri: str, start: dt.datetime | None, timezone: str, manifest: Mapping[str, Any]) -> dt.date:
    """The day of a landed partition: its interval's start in the account's zone; else the ``date=YYYY-MM-DD``
    of its path (a snapshot day); else the UTC day it was landed."""
    if start is not None:
        import pendulum

        return start.astimezone(pendulum.timezone(timezone)).date()
    found = _DATE_SEGMENT.search(uri)
    if found:
        return dt.date.fromisoformat(found.group(1))
    created = manifest.get("created_at")
    if created:
        return dt.datetime.fromisoformat(created).astimezone(dt.timezone.utc).date()
    raise DataIntegrityError(f"{uri}: the manifest records no interval and no creation time; no day to file it under")


def order_key(landed: LandedPartition, order_by: Sequence[str] | None) -> tuple[str, ...]:
    """The ``ORDER BY`` of a new table: ``order_by`` when given; else the catalogue's key of the manifest's
    ``method`` (rows as the API sent them, every key column landed); else ``()`` (``ORDER BY tuple()``)."""
    columns = set(landed.schema.names) | set(BOOKKEEPING)
    if order_by:
        unknown = [name for name in order_by if name not in columns]
        if unknown:
            raise ParameterError(
                f"order_by names columns {landed.uri} does not have: {', '.join(unknown)}; "
                f"columns: {', '.join(landed.schema.names)}"
            )
        return tuple(order_by)
    method = landed.manifest.get("method")
    if not method or landed.manifest.get("output_schema", "raw") != "raw":
        return ()
    try:
        key = get_method(method).key
    except ParameterError:  # a method this version's catalogue does not know
        return ()
    return key if all(name in columns for name in key) else ()


def bookkeeping_columns(timezone: str) -> list[str]:
    """Column definitions of :data:`BOOKKEEPING`."""
    interval = f"Nullable(DateTime({sql_string(timezone)}))"
    return [
        f"{quote_ident(PARTITION)} LowCardinality(String)",
        f"{quote_ident(DAY)} Date",
        f"{quote_ident(INTERVAL_START)} {interval}",
        f"{quote_ident(INTERVAL_END)} {interval}",
        f"{quote_ident(LANDED_RUN)} LowCardinality(String)",
        f"{quote_ident(LOADED_AT)} DateTime64(3, 'UTC') DEFAULT now64(3)",
    ]


def qualified(database: str, table: str) -> str:
    return f"{quote_ident(database)}.{quote_ident(table)}"


def on_cluster_clause(cluster: str | None) -> str:
    return f" ON CLUSTER {sql_string(cluster)}" if cluster else ""


def create_table_sql(
    database: str,
    table: str,
    landed: LandedPartition,
    key: Sequence[str],
    *,
    engine: str = "MergeTree",
    on_cluster: str | None = None,
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with the landed columns and the bookkeeping ones, ``PARTITION BY (_day,
    _partition)``, ``ORDER BY`` ``key`` (``allow_nullable_key`` when a key column is ``Nullable``)."""
    columns = [f"{quote_ident(f.name)} {clickhouse_type(f.type, nullable=f.nullable)}" for f in landed.schema]
    columns += bookkeeping_columns(landed.timezone)
    body = ",\n  ".join(columns)
    order = ", ".join(quote_ident(name) for name in key) or "tuple()"
    order = f"({order})" if len(key) > 1 else order
    nullable_key = any(landed.schema.field(name).nullable for name in key if name in landed.schema.names) or any(
        name in (INTERVAL_START, INTERVAL_END) for name in key
    )
    settings = " SETTINGS allow_nullable_key = 1" if nullable_key else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(database, table)}{on_cluster_clause(on_cluster)} (\n  {body}\n)\n"
        f"ENGINE = {engine}\nPARTITION BY {PARTITION_BY}\nORDER BY {order}{settings}"
    )


def add_column_sql(database: str, table: str, field: pa.Field, on_cluster: str | None = None) -> str:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` for a landed column the table lacks."""
    definition = f"{quote_ident(field.name)} {clickhouse_type(field.type, nullable=field.nullable)}"
    return (
        f"ALTER TABLE {qualified(database, table)}{on_cluster_clause(on_cluster)} ADD COLUMN IF NOT EXISTS {definition}"
    )


def staging_engine(engine_full: str) -> str | None:
    """The engine of a staging table for a target of ``engine_full`` (``system.tables``): None (copy the target's
    own, ``CREATE TABLE s AS t``) unless it is replicated, whose Keeper path the staging table must not share:
    then the same engine without ``Replicated``/``Shared`` and its two Keeper arguments (a local staging table;
    ``REPLACE PARTITION`` replicates the result)."""
    found = re.match(r"(Replicated|Shared)(\w*MergeTree)\s*(\((?P<args>[^)]*)\))?(?P<rest>.*)", engine_full, re.S)
    if not found:
        return None
    args = found.group("args") or ""
    args = _ZOOKEEPER_ARGS.sub("", args, count=1) if args.lstrip().startswith("'") else args
    return f"{found.group(2)}({args.strip()}) {found.group('rest').strip()}".rstrip()
