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
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from airflow_provider_comagic.comagic.schemas import TIMESTAMP_UNIT
from airflow_provider_comagic.landing.arrow import SOURCE_FORMAT, SOURCE_TIMEZONE, rows_to_batch
from airflow_provider_comagic.mcn.call_log import row_time, to_int
from airflow_provider_comagic.utils.intervals import localize

__all__ = [
    "COMAGIC_BUSY_REASONS",
    "COMAGIC_FAILED_REASONS",
    "COMAGIC_SOURCE_FIELDS",
    "DIRECTIONS",
    "MCN_DIRECTIONS",
    "MCN_OUTCOMES",
    "OUTCOMES",
    "OUTPUT_SCHEMAS",
    "UNIFIED_REPORT",
    "UNIFIED_SCHEMA",
    "UNIFIED_TIME_FORMAT",
    "VENDORS",
    "comagic_outcome",
    "comagic_pages_to_unified",
    "comagic_to_unified",
    "mcn_direction",
    "mcn_outcome",
    "mcn_pages_to_unified",
    "mcn_to_unified",
    "unified_report_name",
    "unified_table",
]

log = logging.getLogger(__name__)

OUTPUT_SCHEMAS = ("raw", "unified")
"""``output_schema`` values of the operators: the vendor's own rows, or :data:`UNIFIED_SCHEMA` rows."""
UNIFIED_REPORT = "unified_calls"
"""Folder of unified partitions under the output path: ``unified_calls/<vendor>/...``."""
VENDORS = ("comagic", "mcn")
DIRECTIONS = ("in", "out", "internal", "unknown")
OUTCOMES = ("answered", "busy", "no_answer", "lost", "failed", "unknown")
UNIFIED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# -- MCN: the seed's values -> unified ------------------------------------------------------------------------
MCN_DIRECTIONS: dict[str, str] = {"Out": "out", "Inb": "in", "Int": "internal"}
MCN_OUTCOMES: dict[str, str] = {
    "ANSWERED": "answered",
    "BUSY": "busy",
    "LOST": "lost",  # no queue operator answered
    "FAILED": "failed",  # the callee was unreachable
    "NO ANSWER": "no_answer",  # a direct call the callee did not pick up
}

# -- CoMagic: finish_reason groups (values of the catalogue's enum) --------------------------------------------
COMAGIC_BUSY_REASONS = frozenset({"subscriber_busy", "operator_busy", "employee_busy", "operator_channels_busy"})
COMAGIC_FAILED_REASONS = frozenset(
    {
        # the call could not be set up: configuration, account, money, numbers, network
        "numb_not_exists",
        "incorrect_input",
        "numb_is_inactive",
        "sitephone_is_not_configured",
        "app_is_inactive",
        "numa_in_black_list",
        "no_active_scenario",
        "simple_forwarding_is_not_configured",
        "site_not_exists",
        "call_generator_is_not_configured",
        "api_permission_denied",
        "api_ip_now_allowed",
        "component_is_inactive",
        "employee_not_exists",
        "not_enough_money",
        "platform_not_found",
        "internal_error",
        "incorrect_config",
        "communication_unavailable",
        "scenario_not_found",
        "no_resources",
        "subscriber_number_problems",
        "operator_number_problems",
        "locked_numb",
        "call_not_allowed_on_tp",
        "account_not_found",
        "contract_not_found",
        "locked_phone",
        "net_lock",
        "fmc_is_disabled",
        "fmc_is_locked",
        "processing_method_not_found",
        "employee_without_phones",
        "group_without_phones",
        "sip_trunk_is_locked",
        "numa_in_spam_list",
        "limit_exceeded",
        "no_money",
        "in_call_not_allowed",
        "out_call_not_allowed",
        "out_call_not_allowed_by_status",
        "external_call_not_allowed",
        "external_call_not_allowed_by_status",
        "internal_call_not_allowed",
        "internal_call_not_allowed_by_status",
        "auto_out_calls_not_allowed_by_status",
        "phone_protocol_not_allowed_by_status",
        "max_out_call_reached",
        "max_transition_count_exceeded",
    }
)
COMAGIC_SOURCE_FIELDS = (
    "id",
    "start_time",
    "finish_time",
    "direction",
    "contact_phone_number",
    "virtual_phone_number",
    "wait_duration",
    "talk_duration",
    "finish_reason",
    "is_lost",
    "call_records",
    "wav_call_records",
)
"""The ``get.calls_report`` fields the CoMagic mapping reads (what a unified run requests)."""


def unified_report_name(vendor: str, pbx_id: Any = None) -> str:
    """The ``report`` key of a unified partition: ``unified_calls/comagic``, ``unified_calls/mcn/vpbx_id=7``."""
    name = f"{UNIFIED_REPORT}/{vendor}"
    return name if pbx_id is None else f"{name}/vpbx_id={pbx_id}"


def _field(name: str, kind: pa.DataType, description: str, **metadata: bytes) -> pa.Field:
    meta = {b"description": description.encode()}
    meta.update({key.encode(): value for key, value in metadata.items()})
    return pa.field(name, kind, nullable=True, metadata=meta)


def _utc_time(name: str, description: str) -> pa.Field:
    kind = pa.timestamp(TIMESTAMP_UNIT, tz="UTC")
    field = _field(name, kind, description)
    meta = dict(field.metadata)
    meta[SOURCE_FORMAT] = UNIFIED_TIME_FORMAT.encode()
    meta[SOURCE_TIMEZONE] = b"UTC"
    return field.with_metadata(meta)


UNIFIED_SCHEMA = pa.schema(
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
"""The unified call table (see the module docstring)."""


def _utc_text(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.timezone.utc).strftime(UNIFIED_TIME_FORMAT)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# -- CoMagic ----------------------------------------------------------------------------------------------------
def comagic_outcome(row: Mapping[str, Any]) -> str:
    """The unified outcome of a ``get.calls_report`` row (rules in ``docs/unified_calls.rst``)."""
    if (row.get("talk_duration") or 0) > 0:
        return "answered"  # a conversation took place
    reason = row.get("finish_reason")
    if reason in COMAGIC_FAILED_REASONS:
        return "failed"
    direction = row.get("direction")
    if direction == "in":
        # CoMagic's own verdict on a missed inbound call; one it does not count as lost was served (IVR...)
        return "answered" if row.get("is_lost") is False else "lost"
    if direction == "out":
        return "busy" if reason in COMAGIC_BUSY_REASONS else "no_answer"
    return "unknown"


def _comagic_time(value: Any, tz: dt.tzinfo) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return localize(dt.datetime.fromisoformat(str(value)), tz)


def comagic_to_unified(rows: Iterable[Mapping[str, Any]], tz: dt.tzinfo) -> list[dict[str, Any]]:
    """Map ``get.calls_report`` rows (with :data:`COMAGIC_SOURCE_FIELDS`; times in the account zone ``tz``)."""
    out = []
    for row in rows:
        direction = row.get("direction")
        contact, virtual = _text(row.get("contact_phone_number")), _text(row.get("virtual_phone_number"))
        caller, callee = (virtual, contact) if direction == "out" else (contact, virtual)
        out.append(
            {
                "vendor": "comagic",
                "account_id": None,
                "pbx_id": None,
                "call_id": _text(row.get("id")),
                "direction": direction if direction in ("in", "out") else "unknown",
                "start_time_utc": _utc_text(_comagic_time(row.get("start_time"), tz)),
                "finish_time_utc": _utc_text(_comagic_time(row.get("finish_time"), tz)),
                "caller": caller,
                "callee": callee,
                "did": virtual,
                "wait_seconds": row.get("wait_duration"),
                "talk_seconds": row.get("talk_duration"),
                "outcome": comagic_outcome(row),
                "vendor_status": _text(row.get("finish_reason")),
                "has_recording": bool(row.get("call_records") or row.get("wav_call_records")),
            }
        )
    return out


def comagic_pages_to_unified(
    pages: Iterable[Sequence[Mapping[str, Any]]], tz: dt.tzinfo
) -> Iterator[list[dict[str, Any]]]:
    """Map every page of a ``get.calls_report`` reader lazily (one page in memory)."""
    for page in pages:
        yield comagic_to_unified(page, tz)


# -- MCN ----------------------------------------------------------------------------------------------------------
def mcn_direction(value: Any) -> str:
    """``Out``/``Inb``/``Int`` -> ``out``/``in``/``internal``; any other value -> ``unknown`` (logged)."""
    direction = MCN_DIRECTIONS.get(str(value).strip().capitalize()) if value is not None else None
    if direction is None:
        log.warning("MCN call type %r is not documented; mapped to direction 'unknown'", value)
        return "unknown"
    return direction


def mcn_outcome(value: Any) -> str:
    """``ANSWERED``/``BUSY``/``LOST``/``FAILED``/``NO ANSWER`` -> unified; any other value -> ``unknown``."""
    key = " ".join(str(value).replace("_", " ").upper().split()) if value is not None else ""
    outcome = MCN_OUTCOMES.get(key)
    if outcome is None:
        log.warning("MCN call status %r is not documented; mapped to outcome 'unknown'", value)
        return "unknown"
    return outcome


def mcn_to_unified(
    rows: Iterable[Mapping[str, Any]], tz: dt.tzinfo, *, account_id: Any, vpbx_id: Any
) -> list[dict[str, Any]]:
    """Map MCN call-log rows of one vPBX (``date`` in the account zone ``tz``)."""
    out = []
    for row in rows:
        start = row_time(row, tz)
        wait, talk = to_int(row.get("waittime"), "waittime"), to_int(row.get("talktime"), "talktime")
        # the log has no end time: the call rang for waittime, then talked for talktime
        finish = start + dt.timedelta(seconds=(wait or 0) + (talk or 0))
        out.append(
            {
                "vendor": "mcn",
                "account_id": _text(account_id),
                "pbx_id": _text(vpbx_id),
                "call_id": _text(row.get("callid")),
                "direction": mcn_direction(row.get("type")),
                "start_time_utc": _utc_text(start),
                "finish_time_utc": _utc_text(finish),
                "caller": _text(row.get("src_num")),
                "callee": _text(row.get("dst_num")),
                "did": _text(row.get("did")),
                "wait_seconds": wait,
                "talk_seconds": talk,
                "outcome": mcn_outcome(row.get("status")),
                "vendor_status": _text(row.get("status")),
                "has_recording": bool(to_int(row.get("has_record"), "has_record")),
            }
        )
    return out


def mcn_pages_to_unified(
    pages: Iterable[Sequence[Mapping[str, Any]]], tz: dt.tzinfo, *, account_id: Any, vpbx_id: Any
) -> Iterator[list[dict[str, Any]]]:
    """Map every page of an MCN call-log reader lazily."""
    for page in pages:
        yield mcn_to_unified(page, tz, account_id=account_id, vpbx_id=vpbx_id)


def unified_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Unified rows (of any vendor) as an Arrow table of :data:`UNIFIED_SCHEMA`."""
    return pa.Table.from_batches([rows_to_batch(rows, UNIFIED_SCHEMA)], schema=UNIFIED_SCHEMA)
