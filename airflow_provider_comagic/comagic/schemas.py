"""Arrow schemas of every landable method (classic reports, report-builder lists, reference lists, change
logs), derived from the method catalogue.

Type mapping (catalogue ``FieldSpec.type`` -> Arrow):

=========================  =====================================================================================
``number``                 ``float64`` for money and rates (names with cost, charge, budget, price, amount, sum,
                           rating/raiting; revenue, ratio, fee, services, changes, execution_time: fractional
                           in the API); ``int64`` for everything else (ids, durations, counts, numbers). A
                           fractional value in an ``int64`` column raises, never truncates.
``string``                 ``string`` (a non-string value is kept as its JSON text)
``boolean``                ``bool``
``enum``                   ``string``; the documented values are in the field metadata ``enum_values`` (a
                           value the docs do not list lands and is counted as drift)
``iso8601``                ``YYYY-MM-DD hh:mm:ss`` -> ``timestamp[us]`` in the account's zone (``timestamps=
                           "account"``) or in UTC (``"utc"``); both store the same instant. ``YYYY-MM-DD`` ->
                           ``date32``. ``hh:mm:ss`` (a time of day) -> ``string``.
``array`` of objects       ``list<struct<...>>`` from the field's ``children``
``array`` of scalars       ``list<int64>`` for ``*_ids`` fields (ids; not ``*_ext_ids``, a CRM's text ids),
                           ``list<string>`` otherwise
``object``                 ``struct<...>`` from ``children``: the report builder's ``{value, value_id}`` enum
                           objects are ``struct<value: string, value_id: string|bool>``; an object without
                           documented children (``status_stats``: keys are data) -> its JSON text (``string``,
                           field metadata ``json_text``)
``duration``               ``string`` (the report builder's ``hh:mm:ss``, which may pass 24 hours)
=========================  =====================================================================================

Pages are typed with these schemas by :class:`airflow_provider_comagic.landing.guard.SchemaGuard` (values that do
not match the docs are coerced or rescued by the landing task's drift policy; see ``docs/drift.rst``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import pyarrow as pa

from airflow_provider_comagic.comagic.catalogue import FieldSpec, MethodSpec, get_method
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.arrow_fields import (
    DEFAULT_TIME_FORMAT,
    ENUM_VALUES,
    JSON_TEXT,
    SOURCE_FORMAT,
    SOURCE_TIMEZONE,
    TIMESTAMP_UNIT,
    TimestampMode,
)
from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE

__all__ = [
    "TIMESTAMP_UNIT",
    "TimestampMode",
    "arrow_field",
    "method_schema",
    "number_type",
    "report_fields",
    "report_schema",
]

_FLOAT_NAMES = re.compile(
    r"(cost|charge|budget|price|amount|sum|rating|raiting)"
    # revenue, ratios (dt_ratio), fees and services (financial_summary_report), execution times (api_requests)
    r"|(^|_)(revenue|ratio|fee|services|changes)$|execution_time"
)
# the documentation's two wall-clock formats, as strptime patterns
_TIME_FORMATS = {"": DEFAULT_TIME_FORMAT, "YYYY-MM-DD hh:mm:ss": DEFAULT_TIME_FORMAT, "YYYY-MM-DD": "%Y-%m-%d"}


def number_type(name: str) -> pa.DataType:
    """``float64`` for money/rates, ``int64`` for ids, durations and counts (see the module docstring)."""
    return pa.float64() if _FLOAT_NAMES.search(name) else pa.int64()


def arrow_field(
    spec: FieldSpec, *, timestamps: TimestampMode = "account", timezone: str = DEFAULT_TIMEZONE
) -> pa.Field:
    """The Arrow field for one catalogue field (children included)."""
    return _field(spec, timestamps, timezone)


def _field(spec: FieldSpec, timestamps: TimestampMode, timezone: str) -> pa.Field:
    metadata: dict[bytes, bytes] = {}
    if spec.description:
        metadata[b"description"] = spec.description.encode()
    kind: pa.DataType
    if spec.type == "number":
        kind = number_type(spec.name)
    elif spec.type == "boolean":
        kind = pa.bool_()
    elif spec.type == "iso8601":
        if spec.format.strip() == "hh:mm:ss":  # a time of day (report builder call_start_time): text
            return pa.field(spec.name, pa.string(), nullable=True, metadata=metadata or None)
        fmt = _TIME_FORMATS.get(spec.format.strip())
        if fmt is None:
            raise ComagicParameterError(f"field {spec.name!r}: unsupported time format {spec.format!r}")
        metadata[SOURCE_FORMAT] = fmt.encode()
        if fmt == "%Y-%m-%d":
            kind = pa.date32()
        else:
            metadata[SOURCE_TIMEZONE] = timezone.encode()
            kind = pa.timestamp(TIMESTAMP_UNIT, tz=timezone if timestamps == "account" else "UTC")
    elif spec.type == "array":
        if spec.children:
            kind = pa.list_(pa.struct([_field(c, timestamps, timezone) for c in spec.children]))
        else:
            ids = spec.name.endswith("_ids") and not spec.name.endswith("_ext_ids")
            kind = pa.list_(pa.int64() if ids else pa.string())
    elif spec.type == "object" and spec.children:
        kind = pa.struct([_field(c, timestamps, timezone) for c in spec.children])
    else:  # string, enum, childless object, anything new: text never loses a value
        kind = pa.string()
        if spec.type == "object":
            metadata[JSON_TEXT] = b"1"  # its keys are data: any JSON value is expected, kept as its text
        elif spec.type == "enum" and spec.values:
            metadata[ENUM_VALUES] = json.dumps(list(spec.values), ensure_ascii=False).encode()
    return pa.field(spec.name, kind, nullable=True, metadata=metadata or None)


def report_fields(spec: MethodSpec, fields: Sequence[str] | None) -> tuple[FieldSpec, ...]:
    """The row fields a query returns: ``fields`` in the order given, else the method's default fields."""
    if fields is None:
        return tuple(f for f in spec.fields if f.default)
    spec.validate_fields(fields)
    return tuple(spec.field(name) for name in dict.fromkeys(fields))


def report_schema(
    method: str,
    fields: Sequence[str] | None = None,
    *,
    timestamps: TimestampMode = "account",
    timezone: str = DEFAULT_TIMEZONE,
) -> pa.Schema:
    """The Arrow schema of ``method`` rows with ``fields`` (default: the fields the API returns by default; for
    a report-builder list, which answers nothing without ``fields``, the docs' default columns).

    Any catalogue method works, landable ones (:func:`~airflow_provider_comagic.comagic.catalogue.landable_methods`)
    are tested; :func:`method_schema` is the same function under the name for non-report methods.

    :param timestamps: ``"account"`` for ``timestamp[us, tz=<account zone>]`` columns, ``"utc"`` for
        ``timestamp[us, tz=UTC]``; the instants are the same, only the zone attached to the column differs.
    :param timezone: the account's IANA zone: API wall-clock times are read in it.
    """
    if timestamps not in ("account", "utc"):
        raise ComagicParameterError(f"timestamps must be 'account' or 'utc', got {timestamps!r}")
    spec = get_method(method)
    arrow_fields = [_field(f, timestamps, timezone) for f in report_fields(spec, fields)]
    return pa.schema(arrow_fields, metadata={b"method": method.encode(), b"timestamps": timestamps.encode()})


method_schema = report_schema
"""The Arrow schema of any catalogue method's rows (reference lists, report-builder lists, change logs)."""
