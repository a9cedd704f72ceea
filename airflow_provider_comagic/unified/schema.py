"""One call table for every vendor: CoMagic ``get.calls_report`` and MCN Telecom call-log rows mapped alike.

Each source row becomes one row of :data:`UNIFIED_SCHEMA`, so the landed partitions of both vendors union
without any per-vendor SQL (Parquet: the identical Arrow schema; JSON Lines: the identical keys, times as
``YYYY-MM-DDThh:mm:ssZ``). The full field table and the mapping rules are in ``docs/unified_calls.rst``.

=================  =============  =======================================================================
column             type           meaning
=================  =============  =======================================================================
vendor             string         ``comagic`` | ``mcn``
account_id         string         MCN account id; null for CoMagic (its call ids are unique per platform)
pbx_id             string         MCN vpbx_id; null for CoMagic
call_id            string         the vendor's call id (CoMagic ``id``, MCN ``callid``)
direction          string         ``in`` | ``out`` | ``internal`` (``unknown`` for a value the docs lack)
start_time_utc     timestamp UTC  start of the call
finish_time_utc    timestamp UTC  end of the call (MCN: start + waittime + talktime)
caller             string         number of the calling side
callee             string         number of the called side
did                string         the external/virtual number the call went through
wait_seconds       int64          seconds until answered (CoMagic ``wait_duration``, MCN ``waittime``)
talk_seconds       int64          seconds of conversation (CoMagic ``talk_duration``, MCN ``talktime``)
outcome            string         ``answered`` | ``busy`` | ``no_answer`` | ``lost`` | ``failed`` | ``unknown``
vendor_status      string         the vendor's own status (CoMagic ``finish_reason``, MCN ``status``)
has_recording      bool           a recording exists
=================  =============  =======================================================================

The keys of a call across vendors are ``(vendor, account_id, pbx_id, call_id)``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.utils.arrow_fields import SOURCE_FORMAT, SOURCE_TIMEZONE, TIMESTAMP_UNIT

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DIRECTIONS",
    "OUTCOMES",
    "OUTPUT_SCHEMAS",
    "UNIFIED_REPORT",
    "UNIFIED_TIME_FORMAT",
    "VENDORS",
    "text_or_none",
    "unified_report_name",
    "unified_schema",
    "unified_table",
    "utc_text",
]

OUTPUT_SCHEMAS = ("raw", "unified")
"""``output_schema`` values of the operators: the vendor's own rows, or :data:`UNIFIED_SCHEMA` rows."""
UNIFIED_REPORT = "unified_calls"
"""Folder of unified partitions under the output path: ``unified_calls/<vendor>/...``."""
VENDORS = ("comagic", "mcn")
DIRECTIONS = ("in", "out", "internal", "unknown")
OUTCOMES = ("answered", "busy", "no_answer", "lost", "failed", "unknown")
UNIFIED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def unified_report_name(vendor: str, pbx_id: Any = None) -> str:
    """The ``report`` key of a unified partition: ``unified_calls/comagic``, ``unified_calls/mcn/vpbx_id=7``."""
    name = f"{UNIFIED_REPORT}/{vendor}"
    return name if pbx_id is None else f"{name}/vpbx_id={pbx_id}"


def _field(name: str, kind: pa.DataType, description: str, **metadata: bytes) -> pa.Field:
    import pyarrow as pa

    meta = {b"description": description.encode()}
    meta.update({key.encode(): value for key, value in metadata.items()})
    return pa.field(name, kind, nullable=True, metadata=meta)


def _utc_time(name: str, description: str) -> pa.Field:
    import pyarrow as pa

    kind = pa.timestamp(TIMESTAMP_UNIT, tz="UTC")
    field = _field(name, kind, description)
    meta = dict(field.metadata)
    meta[SOURCE_FORMAT] = UNIFIED_TIME_FORMAT.encode()
    meta[SOURCE_TIMEZONE] = b"UTC"
    return field.with_metadata(meta)


@functools.cache
def unified_schema() -> pa.Schema:
    """The unified call table (see the module docstring), built on first use: pyarrow stays out of DAG parsing."""
    import pyarrow as pa

    return pa.schema(
        [
            _field("vendor", pa.string(), "comagic | mcn"),
            _field("account_id", pa.string(), "MCN account id; null for CoMagic"),
            _field("pbx_id", pa.string(), "MCN vpbx_id; null for CoMagic"),
            _field("call_id", pa.string(), "the vendor's call id (CoMagic id, MCN callid)"),
            _field("direction", pa.string(), "in | out | internal | unknown"),
            _utc_time("start_time_utc", "start of the call, UTC"),
            _utc_time("finish_time_utc", "end of the call, UTC (MCN: start + waittime + talktime)"),
            _field("caller", pa.string(), "number of the calling side"),
            _field("callee", pa.string(), "number of the called side"),
            _field("did", pa.string(), "external / virtual number the call went through"),
            _field("wait_seconds", pa.int64(), "seconds until answered"),
            _field("talk_seconds", pa.int64(), "seconds of conversation"),
            _field("outcome", pa.string(), "answered | busy | no_answer | lost | failed | unknown"),
            _field("vendor_status", pa.string(), "the vendor's own status (CoMagic finish_reason, MCN status)"),
            _field("has_recording", pa.bool_(), "a recording of the call exists"),
        ],
        metadata={b"schema": UNIFIED_REPORT.encode(), b"version": b"1"},
    )


def __getattr__(name: str) -> Any:
    # UNIFIED_SCHEMA is a module attribute built on first access (PEP 562)
    if name == "UNIFIED_SCHEMA":
        return unified_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def utc_text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.timezone.utc).strftime(UNIFIED_TIME_FORMAT)


def text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def unified_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Unified rows (of any vendor) as an Arrow table of :data:`UNIFIED_SCHEMA`."""
    import pyarrow as pa

    from airflow_provider_comagic.landing.arrow import rows_to_batch

    schema = unified_schema()
    return pa.Table.from_batches([rows_to_batch(rows, schema)], schema=schema)
