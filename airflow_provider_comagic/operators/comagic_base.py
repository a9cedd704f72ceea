"""What every CoMagic landing operator shares: the connection, the intervals (data interval and lookback), the
agency client or group acted for, quota deferrals and skipped clients, all driven by the landing pipeline
(:mod:`~airflow_provider_comagic.landing.pipeline`).

A family (the classic reports, ...) subclasses :class:`ComagicLandingOperator` and implements
:meth:`~ComagicLandingOperator.land_step`: one partition of one client and interval, from a page source to a
:func:`~airflow_provider_comagic.landing.pipeline.partition_entry`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.clients import CLIENT_KEYS, AgencyClient
from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID
from airflow_provider_comagic.comagic.errors import (
    ComagicDayLimitExceededError,
    ComagicError,
    ComagicParameterError,
    ComagicRateLimitError,
    is_missing_access,
)
from airflow_provider_comagic.landing.pipeline import LandingRun, RunPaused, Step
from airflow_provider_comagic.operators.base import BaseLandingOperator
from airflow_provider_comagic.triggers.quota import ComagicQuotaResetTrigger
from airflow_provider_comagic.utils.task_errors import explained_failures
from airflow_provider_comagic.utils.templating import is_templated, parse_optional_int
from airflow_provider_comagic.utils.time import (
    check_interval_args,
    check_literal_interval,
    lookback_intervals,
    resolve_interval,
)
from airflow_provider_comagic.version_compat import AirflowSkipException, conf

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_comagic.hooks.comagic import ComagicHook

__all__ = ["QUOTA_RESET_MARGIN", "ComagicLandingOperator"]

QUOTA_RESET_MARGIN = 2.0
"""Seconds added to the API's ``minute_reset``/``day_reset`` before a deferred task resumes."""
_ERROR = ComagicParameterError


class ComagicLandingOperator(BaseLandingOperator):
    """
    Base of the CoMagic operators that land partitions: the connection, the interval, the agency client (or group
    of clients), lookback, deferrable quota waits and skipping clients without access. The output options are
    :class:`~airflow_provider_comagic.operators.base.BaseLandingOperator`'s.

    **Agencies (dynamic task mapping).** ``user_id`` makes every call act as that client user; map it over
    :class:`~airflow_provider_comagic.operators.customers.ComagicCustomerUsersOperator`'s output with
    ``.partial(...).expand_kwargs(users.output)`` to land each client under
    ``<output_path>/<report>/customer_id=<id>/...``. With ``skip_on_missing_access=True`` a client whose
    account lacks the method's component (``method_component_disabled``, -32008) or the permission
    (``forbidden``, -32003) is logged and skipped instead of failing its task.

    **Groups of clients (more clients than ``[core] max_map_length``).** ``clients=[{"user_id", "customer_id",
    ...}, ...]`` makes one task land several clients, one after the other, each into its own
    ``customer_id=<id>`` partitions exactly as a per-client task would. Map it over
    ``ComagicCustomerUsersOperator(group_size=N)``, whose entries are ``{"clients": [...]}``. A client without
    access is skipped (with ``skip_on_missing_access``) and the group goes on; a deferral saves which clients are
    done and where the current one stands. The XCom is a summary of the group (``clients``, ``landed``,
    ``skipped``, ``partitions``, ``rows``, ``files``, ``bytes``, ``api_calls``, ``points``, ``output``), never one
    entry per client: each client's partitions are described by their manifests.

    **Late changes (lookback).** Tags, sales fields, ``is_lost`` and recordings of a call change after the call.
    ``lookback=timedelta(days=7)`` makes each run also re-read the 7 intervals of the same length before its
    own, each as a separate partition committed again (the latest state replaces the earlier copy; no row is
    duplicated). Cost: each run spends (N + 1) times the points of one interval, N = lookback / interval length.

    **Quota waits.** Without ``deferrable`` a spent minute quota is slept out in the worker and a spent day quota
    fails, saying when it resets. With ``deferrable=True`` the task instead finishes its open part file, saves
    its position (the partitions committed, and for the one in progress its parts and the page source's position;
    see :mod:`airflow_provider_comagic.landing.checkpoint`) and defers to
    :class:`~airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger` until the quota resets, then
    continues from that call: no page is fetched twice and no row is landed twice.

    :param comagic_conn_id: the ``comagic`` connection.
    :param date_from: start of the interval (inclusive) instead of the data interval: a datetime, a date or an
        ISO string. Naive values are wall-clock times in the account's zone. (templated)
    :param date_till: end of the interval (exclusive), same forms as ``date_from``. (templated)
    :param partition_template: :meth:`str.format` template of the partition folder, e.g.
        ``"{report}/year={year}/month={month}/day={day}"``; keys are listed in
        :func:`airflow_provider_comagic.landing.partitions.partition_name`. (templated)
    :param user_id: act as this client user of an agent (partner) account: sent in every call instead of the
        connection's ``user_id``. (templated, mappable)
    :param customer_id: the client's customer id: partitions go under ``<report>/customer_id=<id>/`` (without
        it, ``<report>/user_id=<id>/`` when ``user_id`` is given). (templated, mappable)
    :param customer_name: the client's name, for the logs and the manifest. (templated, mappable)
    :param user_login: the client user's login, for the logs and the manifest. (templated, mappable)
    :param clients: land these clients one after the other instead of one: entries with ``user_id`` and
        optionally ``customer_id``, ``customer_name``, ``user_login`` (a list, or its JSON once rendered). Not
        together with ``user_id``/``customer_id``/``customer_name``/``user_login``. (templated, mappable)
    :param skip_on_missing_access: skip the task (logged) instead of failing when the account lacks the
        method's component or permission.
    :param lookback: also re-read and replace the intervals of the same length covering this much time before
        the run's interval, e.g. ``timedelta(days=7)``.
    :param deferrable: wait for a spent point quota in the triggerer instead of a worker slot (default:
        ``[operators] default_deferrable``).
    """

    template_fields: Sequence[str] = (
        *BaseLandingOperator.template_fields,
        "date_from",
        "date_till",
        "partition_template",
        *CLIENT_KEYS,
        "clients",
    )
    template_fields_renderers = {"clients": "json"}
    parameter_error = ComagicParameterError
    method: str
    """The Data API method this task reads (set by each family)."""

    def __init__(
        self,
        *,
        comagic_conn_id: str = DEFAULT_CONN_ID,
        date_from: str | dt.datetime | dt.date | None = None,
        date_till: str | dt.datetime | dt.date | None = None,
        partition_template: str | None = None,
        user_id: int | str | None = None,
        customer_id: int | str | None = None,
        customer_name: str | None = None,
        user_login: str | None = None,
        clients: Sequence[dict[str, Any]] | str | None = None,
        skip_on_missing_access: bool = False,
        lookback: dt.timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.comagic_conn_id = comagic_conn_id
        self.date_from = date_from
        self.date_till = date_till
        self.partition_template = partition_template
        self.user_id = user_id
        self.customer_id = customer_id
        self.customer_name = customer_name
        self.user_login = user_login
        self.clients = clients
        self.skip_on_missing_access = skip_on_missing_access
        self.lookback = lookback
        self.deferrable = deferrable

    def check_landing_options(self, *, rendered: bool) -> None:
        """Check the options of this base (literal values at parse time, templated ones once rendered)."""
        self.check_output_options(rendered=rendered)
        if self.lookback is not None and (
            not isinstance(self.lookback, dt.timedelta) or self.lookback < dt.timedelta(0)
        ):
            raise _ERROR(f"lookback must be a non-negative timedelta, got {self.lookback!r}")
        if self.clients is not None:
            given = [name for name in CLIENT_KEYS if getattr(self, name) not in (None, "")]
            if given:
                raise _ERROR(
                    f"clients lists the clients to land; do not pass {', '.join(given)} with it (each entry has them)"
                )
        if rendered:
            return
        for name in ("user_id", "customer_id"):
            if not is_templated(getattr(self, name)):
                parse_optional_int(getattr(self, name), name, error=_ERROR)
        if self.clients is not None and not is_templated(self.clients):
            AgencyClient.parse_group(self.clients)
        if not (is_templated(self.date_from) or is_templated(self.date_till)):
            check_literal_interval(self.date_from, self.date_till, error=_ERROR)

    # -- what a family implements --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check the rendered arguments and parse what every step needs (called at the start of each execution)."""
        self.check_landing_options(rendered=True)

    def land_step(self, context: Context, hook: ComagicHook, step: Step[AgencyClient]) -> dict[str, Any]:
        """Land one partition (``step``: the client, the interval, a checkpoint to continue from) and return its
        :func:`~airflow_provider_comagic.landing.pipeline.partition_entry`."""
        raise NotImplementedError

    # -- execution ----------------------------------------------------------------------------------------------
    def get_hook(self) -> ComagicHook:
        """The hook talking to the Data API (one per task run: it reuses the HTTP session and the quota).

        A deferrable task's hook raises on a spent minute quota instead of sleeping (the task defers)."""
        from airflow_provider_comagic.hooks.comagic import ComagicHook  # requests: not at DAG parse time

        return ComagicHook(self.comagic_conn_id, wait_for_quota=not self.deferrable)

    def task_clients(self) -> list[AgencyClient]:
        """The clients this task lands: the ``clients`` group, or the one of ``user_id``/``customer_id``/..."""
        group = AgencyClient.parse_group(self.clients)
        if group is not None:
            return group
        return [
            AgencyClient.parse(
                user_id=self.user_id,
                customer_id=self.customer_id,
                customer_name=self.customer_name,
                user_login=self.user_login,
            )
        ]

    @explained_failures
    def execute(self, context: Context) -> dict[str, Any]:
        self.prepare()
        check_interval_args(self.date_from, self.date_till, context, error=_ERROR)  # before the zone is read
        clients = self.task_clients()
        hook = self.get_hook()
        try:
            tz = self._checked_timezone(hook, clients[0])
            intervals = self._intervals(context, tz)
            run = LandingRun.start(
                intervals, clients, grouped=self.clients is not None, key=_client_key, name=AgencyClient.label
            )
            return self._land(context, hook, run)
        finally:
            hook.close()

    def _checked_timezone(self, hook: ComagicHook, client: AgencyClient) -> dt.tzinfo:
        """The zone of the (first) client's account, checked against the connection's, before any report call; a
        spent quota here defers the task to start over once it resets."""
        try:
            return hook.checked_timezone(client.user_id)
        except ComagicRateLimitError as error:
            if not self.deferrable:
                raise
            self._defer_until_reset(RunPaused(error, {"restart": True}, 0))
            raise  # not reached: defer raises

    @explained_failures
    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
        group: dict[str, Any] | None = None,
        restart: bool = False,
    ) -> dict[str, Any]:
        """Resume after :class:`~airflow_provider_comagic.triggers.quota.ComagicQuotaResetTrigger` fired: continue
        from the position the task saved when it deferred (``run`` or ``group``, opaque plain JSON), or start
        (``restart``: it deferred before landing anything)."""
        if not event or event.get("status") != "success":
            raise ComagicError(f"CoMagic quota wait ended without success: {event!r}")
        if restart:
            self.log.info(
                "The CoMagic quota has reset; resuming %s from its start (nothing was landed yet)", self.method
            )
            return self.execute(context)
        saved = {"run": run, "group": group}
        if not LandingRun.can_resume(saved):
            # the triggerer passes next_kwargs back; `airflow dags test` on Airflow 3.3.2 and earlier drops them
            # (apache/airflow#69942). Starting over is exact (the commit replaces), only slower.
            self.log.warning("The saved position did not come back with the trigger event; landing from the start")
            return self.execute(context)
        self.prepare()
        clients = self.task_clients()
        landing = LandingRun.resume(saved, clients, grouped=group is not None, key=_client_key, name=AgencyClient.label)
        self.log.info(
            "The CoMagic %s quota has reset; resuming %s (%d partition(s) committed so far)",
            event.get("limit_type"),
            self.method,
            len(landing.entries),
        )
        hook = self.get_hook()
        try:
            return self._land(context, hook, landing)
        finally:
            hook.close()

    def _intervals(self, context: Context, tz: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
        """The data interval (or the explicit dates, wall clock in the account zone ``tz``), then the lookback
        intervals."""
        start, end = resolve_interval(self.date_from, self.date_till, context, tz, error=_ERROR)
        intervals = [(start, end), *lookback_intervals(start, end, tz, self.lookback, error=_ERROR)]
        if len(intervals) > 1:
            self.log.info(
                "lookback %s: re-landing %d earlier interval(s) too, %s .. %s",
                self.lookback,
                len(intervals) - 1,
                intervals[-1][0].astimezone(tz).isoformat(),  # both ends in the account's zone
                start.astimezone(tz).isoformat(),
            )
        return intervals

    def _land(self, context: Context, hook: ComagicHook, run: LandingRun[AgencyClient]) -> dict[str, Any]:
        """Land every remaining step of ``run``; defer on a spent quota; hand Airflow the asset events."""
        try:
            run.land(
                lambda step: self.land_step(context, hook, step),
                pause_on=(ComagicRateLimitError,) if self.deferrable else (),
                may_skip=self._may_skip,
                on_skip=lambda client, error, committed: self._skip(client, error, committed, grouped=run.grouped),
            )
        except RunPaused as paused:
            self._defer_until_reset(paused)
        self.emit_landed(context, run.entries)  # every partition committed by this task, across deferrals
        if not run.grouped:
            return run.summary()
        summary = {**run.group_summary(), "output": str(self.output_base())}
        self.log.info(
            "Group of %d client(s): %d landed, %d skipped; %d partition(s), %d rows, %d API calls, %d points",
            summary["clients"],
            summary["landed"],
            len(summary["skipped"]),
            summary["partitions"],
            summary["rows"],
            summary["api_calls"],
            summary["points"],
        )
        return summary

    def _may_skip(self, error: BaseException) -> bool:
        return self.skip_on_missing_access and is_missing_access(error)

    def _skip(self, client: AgencyClient, error: BaseException, committed: int, *, grouped: bool) -> None:
        self.log.warning(
            "Skipping %s for %s: %s (%d interval(s) committed before)", self.method, client.label(), error, committed
        )
        if not grouped:
            raise AirflowSkipException(f"{client.label()} has no access to {self.method}: {error}") from None

    def _defer_until_reset(self, paused: RunPaused) -> None:
        """Free the worker until the quota resets; :meth:`execute_complete` gets the saved run back."""
        error = paused.cause
        assert isinstance(error, ComagicRateLimitError)
        limit_type, wait, resume_at = _quota_wait(error)
        self.log.info(
            "CoMagic %s quota spent (%s); deferring %s for %.0f s until %s. Saved: %d partition(s) committed, "
            "%d row(s) of the partition in progress landed",
            limit_type,
            error.api_message,
            self.method,
            wait,
            resume_at.isoformat(),
            paused.committed,
            paused.rows_in_progress,
        )
        self.defer(
            trigger=ComagicQuotaResetTrigger(
                resume_at=resume_at.isoformat(), limit_type=limit_type, method=self.method
            ),
            method_name="execute_complete",
            kwargs=paused.saved,
        )


def _client_key(client: AgencyClient) -> int | None:
    return client.key


def _quota_wait(error: ComagicRateLimitError) -> tuple[str, float, dt.datetime]:
    """The spent quota (``day``/``minute``), the seconds until it resets (with a margin) and that moment."""
    limit_type = "day" if isinstance(error, ComagicDayLimitExceededError) else "minute"
    wait = max(error.reset_seconds, 1.0) + QUOTA_RESET_MARGIN
    return limit_type, wait, dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait)
