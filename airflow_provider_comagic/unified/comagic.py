"""CoMagic ``get.calls_report`` rows -> rows of the unified call table (:mod:`~airflow_provider_comagic.unified.schema`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_comagic.unified.schema import text_or_none as _text
from airflow_provider_comagic.unified.schema import utc_text as _utc_text
from airflow_provider_comagic.utils.time import localize

__all__ = [
    "COMAGIC_BUSY_REASONS",
    "COMAGIC_FAILED_REASONS",
    "COMAGIC_SOURCE_FIELDS",
    "comagic_outcome",
    "comagic_pages_to_unified",
    "comagic_to_unified",
]

# finish_reason groups (values of the catalogue's enum)
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


def _seconds(value: Any) -> float | None:
    """A duration as a number: a JSON number, or digits sent as text (drift); anything else None (the landing
    rescues the value itself)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def comagic_outcome(row: Mapping[str, Any]) -> str:
    """The unified outcome of a ``get.calls_report`` row (rules in ``docs/unified_calls.rst``)."""
    if (_seconds(row.get("talk_duration")) or 0) > 0:
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
