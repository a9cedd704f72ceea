"""Configuration of one emulated CoMagic account and its Data API server."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE


@dataclasses.dataclass
class EmulatorConfig:
    """Knobs of the emulator. Every field has a default that suits fast unit tests.

    ``rows_per_day`` overrides the per-method daily row counts otherwise derived from ``calls_per_day``
    (see :data:`airflow_provider_comagic.testing.comagic.volumes.ROW_RATIOS`).
    """

    seed: int = 1
    timezone: str = DEFAULT_TIMEZONE
    calls_per_day: int = 1000
    rows_per_day: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # account
    app_id: int = 100500
    account_name: str = "Emulated account"
    login: str = "emulator"
    password: str = "emulator-password"
    access_token: str | None = None  # permanent token; derived from the seed when None
    session_lifetime: float = 3600.0
    # quota (points)
    minute_limit: int = 1000
    day_limit: int = 100_000
    # clock: None = real time now; frozen stops it (tests move it with emu.clock.advance)
    start_time: float | None = None
    frozen_clock: bool = False
    # rows stamped after the emulated "now" are not visible yet
    hide_future_rows: bool = True
    # upload.calls processing schedule: new -> in_process -> processed/error, seconds per step
    upload_step_seconds: float = 30.0
    upload_error_ext_ids: frozenset[str] = frozenset()
    upload_cancel_ext_ids: frozenset[str] = frozenset()
    upload_error_rate: float = 0.0
    # get.uploaded_calls: the order of rows without a sort, kept among the rows a sort ties (the API documents
    # none): "upload_time", "recently_changed" (the row whose status changed last first) or "random" (a new
    # shuffle for every call, so each page sees another order)
    uploaded_calls_order: str = "upload_time"
    # statuses changing between pages: {n: {ext_id: outcome}} keeps each upload of a listed ext_id in_process
    # until n get.uploaded_calls calls were answered; from then on it has the outcome (changed at that moment)
    uploaded_calls_changes: Mapping[int, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    # get.uploaded_calls answers a filter using the "in" operator ("not available for all methods", index.txt)
    # with invalid_parameter_value, field filter.operator, as for any operator a method does not support
    uploaded_calls_reject_in: bool = False
    # get.uploaded_calls requires report_id (its parameter table marks it required) and this value of it;
    # None: report_id is optional (the request example omits it) and any number is accepted
    uploaded_calls_report_id: int | None = None
    # agent account: N customers (get.customers / get.customer_users); calls then need a user_id
    partner_customers: int = 0
    # agent mode: customer ids whose report methods answer method_component_disabled (-32008)
    partner_disabled_customers: frozenset[int] = frozenset()
    # agent mode: the zone getobj.account reports for a customer (default: ``timezone``); the customer's rows are
    # still generated in ``timezone``, so this only exercises a client's zone check
    partner_timezones: Mapping[int, str] = dataclasses.field(default_factory=dict)
    # components the account lacks (catalogue MethodSpec.components: "va", "call_center", "sales_funnel",
    # "data_api_settings", "call_tracking_3"...): a method that needs one of them answers method_component_disabled
    disabled_components: frozenset[str] = frozenset()
    # permissions ("account_access:select"...) the user lacks: a method that needs one answers forbidden
    denied_permissions: frozenset[str] = frozenset()
    # reference lists the docs cannot sort by their key come back in a new order on every unsorted call
    # (seeded by the seed and the call count); False: always in key order
    unstable_order: bool = True
    # server
    host: str = "127.0.0.1"
    port: int = 0
    # latency: each response is sent no earlier than response_delay + delay_per_row x its rows (real seconds)
    # after its request arrived (the server's own work counts toward it); other requests are served meanwhile
    response_delay: float = 0.0
    delay_per_row: float = 0.0
    cache_bytes: int = 768 * 2**20  # generated days kept in memory (LRU); evicted days regenerate identically
    # recordings (testing/comagic/media.py): served once the call ended this many emulated seconds ago (404 before)
    media_ready_after: float = 120.0
    # seconds of audio per recording; None: the call's talk_duration (a leg's duration), at least 5 s
    recording_seconds: float | None = None
    faults: Sequence[Any] = ()  # Fault objects installed at start

    @property
    def permanent_token(self) -> str:
        """The account's permanent access token (stable for a seed)."""
        if self.access_token:
            return self.access_token
        return "perm-" + hashlib.sha256(f"comagic-emulator:{self.seed}".encode()).hexdigest()[:32]
