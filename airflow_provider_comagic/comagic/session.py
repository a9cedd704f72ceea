"""What the sync and async Data API hooks share, without I/O: settings, session-token state, the per-call
recovery decisions, response reading, query planning.

Both hooks are thin I/O drivers around these pieces (and :mod:`~airflow_provider_comagic.comagic.protocol`,
:mod:`~airflow_provider_comagic.comagic.quota`, :mod:`~airflow_provider_comagic.comagic.paging`, and the
vendor-neutral retry policy of :mod:`~airflow_provider_comagic.utils.http`), so a rule changed here changes for
both. Two layers of recovery: tenacity retries *transient* faults (connection errors, timeouts, HTTP 429/5xx,
malformed JSON, ``internal_error``) with backoff; inside it, :class:`CallAttempt` handles the API-level
recoveries that are not faults: renewing an expired session token once, and waiting out a spent minute quota.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.config import ComagicConnectionConfig
from airflow_provider_comagic.comagic.errors import (
    TRANSIENT_ERRORS,
    ComagicApiError,
    ComagicAuthError,
    ComagicComponentDisabledError,
    ComagicError,
    ComagicMethodNotFoundError,
    ComagicMinuteLimitExceededError,
    ComagicPermissionError,
    ComagicTokenExpiredError,
    ComagicTransportError,
)
from airflow_provider_comagic.comagic.paging import PagePlan
from airflow_provider_comagic.comagic.protocol import parse_response
from airflow_provider_comagic.comagic.quota import QuotaTracker
from airflow_provider_comagic.utils.http import ConnectionSettings, check_http_status
from airflow_provider_comagic.utils.time import get_timezone

TOKEN_RENEW_MARGIN = 120.0
"""Seconds before ``expire_at`` at which a session token is renewed proactively."""

AGENT_METHODS = frozenset({"get.customers", "get.customer_users"})
"""Methods of the agent's own account: they take no ``user_id``, so the connection's is not sent with them."""

API_NAME = "CoMagic"
RENEW_TOKEN = "renew-token"
MAX_MINUTE_WAITS = 20

DEFAULT_SESSION_SECONDS = 3600.0
"""Lifetime assumed for a ``login.user`` session whose response carries no ``expire_at`` (the documented hour)."""


def method_weight(method: str) -> int:
    """API points one successful call of ``method`` costs (from the catalogue; 1 for methods not in it)."""
    try:
        return get_method(method).weight
    except ComagicError:
        return 1


class SessionAuth:
    """The access token to send with each call: a permanent token, or a ``login.user`` session token that is
    renewed shortly before ``expire_at`` and whenever the API rejects it (:meth:`invalidate`)."""

    def __init__(self, config: ComagicConnectionConfig, wall_clock: Callable[[], float] = time.time):
        self.config = config
        self._wall_clock = wall_clock
        self._token: str | None = None
        self._expires_at = 0.0

    @property
    def needs_login(self) -> bool:
        """True when a ``login.user`` call must come before the next call."""
        if not self.config.uses_login:
            return False
        return self._token is None or self._wall_clock() >= self._expires_at - TOKEN_RENEW_MARGIN

    @property
    def session_token(self) -> str | None:
        """The current ``login.user`` session token (None with a permanent token or before logging in)."""
        return self._token

    def login_params(self) -> dict[str, Any]:
        return {"login": self.config.login, "password": self.config.password}

    def accept_login(self, result: Mapping[str, Any]) -> str:
        """Take the ``result`` of ``login.user``; return the new session token (the caller masks it)."""
        data = result.get("data") or {}
        token = data.get("access_token")
        if not token:
            raise ComagicAuthError(
                code=None, mnemonic=None, message="login.user returned no access_token", method="login.user"
            )
        expire_at = data.get("expire_at") or data.get("expire")
        self._token = token
        self._expires_at = float(expire_at) if expire_at else self._wall_clock() + DEFAULT_SESSION_SECONDS
        return token

    def invalidate(self) -> None:
        """Forget the session token (the API rejected it): the next call logs in again."""
        self._token = None

    @property
    def ttl(self) -> float:
        """Seconds the current session token stays valid (0 without a session)."""
        return max(0.0, self._expires_at - self._wall_clock()) if self._token else 0.0

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to redact from error texts: the connection's secrets and the session token."""
        return (*self.config.secrets, *((self._token,) if self._token else ()))

    def call_params(self, params: Mapping[str, Any], method: str | None = None) -> dict[str, Any]:
        """``params`` plus ``access_token`` and the connection's ``user_id`` (unless the caller set one, or
        ``method`` is one of the agent's own :data:`AGENT_METHODS`)."""
        token = self.config.access_token if not self.config.uses_login else self._token
        call_params = {**params, "access_token": token}
        if self.config.user_id is not None and "user_id" not in params and method not in AGENT_METHODS:
            call_params["user_id"] = self.config.user_id
        return call_params


def read_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    host: str,
    request_id: str,
    quota: QuotaTracker,
    secrets: tuple[str, ...] = (),
    raw_rows: bool = False,
) -> dict[str, Any]:
    """Check the HTTP status, decode the JSON-RPC response and record ``metadata.limits`` (also from errors);
    return ``result`` or raise the typed error. ``raw_rows``: rows left undecoded, as ``parse_response`` does."""
    check_http_status(
        status,
        headers,
        what=f"{API_NAME} {method}",
        host=host,
        transport_error=ComagicTransportError,
        error=ComagicError,
        hint_404="Check the connection host and the API version (extra 'api_version').",
    )
    try:
        result, limits = parse_response(body, method=method, request_id=request_id, secrets=secrets, raw_rows=raw_rows)
    except ComagicApiError as error:
        quota.observe(error.limits)
        raise
    quota.observe(limits)
    return result


def plan_query(
    method: str,
    date_from: dt.datetime | None,
    date_till: dt.datetime | None,
    *,
    tz: dt.tzinfo,
    **kwargs: Any,
) -> PagePlan:
    """Validate a query against the catalogue (before any call) and build its :class:`PagePlan`."""
    spec = check_query(method, date_from, date_till, **kwargs)
    return PagePlan.for_method(spec, date_from, date_till, tz=tz, **kwargs)


def check_query(method: str, date_from: dt.datetime | None, date_till: dt.datetime | None, **kwargs: Any) -> Any:
    """Check a query's fields, filter, sort and dates against the catalogue; return the method's spec."""
    spec = get_method(method)
    if kwargs.get("fields") is not None:
        spec.validate_fields(kwargs["fields"])
    if kwargs.get("filter"):
        spec.validate_filter(kwargs["filter"])
    if kwargs.get("sort"):
        spec.validate_sort(kwargs["sort"])
    if spec.date_range and (date_from is None or date_till is None):
        raise ComagicError(f"{method} needs date_from and date_till")
    # the method's own parameters: known names, the required ones present (the engine sends dates and paging)
    spec.validate_params(kwargs.get("params") or {}, provided=_PLANNED_PARAMS)
    return spec


_PLANNED_PARAMS = ("date_from", "date_till", "limit", "offset", "fields", "filter", "sort")
"""What a plan sends itself besides a query's ``params``."""


class CallSteps:
    """The decisions of one logical call (quota checks and waits, token renewal, minute-limit waits, charging);
    the hook does the I/O they call for: sleeping, logging in, posting."""

    def __init__(self, method: str, *, quota: QuotaTracker, auth: SessionAuth, wait_for_quota: bool, log: Any):
        self.method = method
        self.weight = method_weight(method)
        self.auth = auth
        self._quota = quota
        self._wait_for_quota = wait_for_quota
        self._log = log
        # max_minute_waits=0: a minute limit_exceeded is re-raised rather than slept out
        self._attempt = CallAttempt(
            can_renew_token=auth.config.uses_login, max_minute_waits=MAX_MINUTE_WAITS if wait_for_quota else 0
        )

    def wait_before_call(self) -> float | None:
        """Raise when the day quota (or, without quota waits, the minute quota) is spent; else the seconds to
        sleep before sending (None: send now)."""
        self._quota.check_day(self.method, self.weight)
        if not self._wait_for_quota:
            self._quota.check_minute(self.method, self.weight)
        wait = self._quota.seconds_before_call(self.weight)
        if wait <= 0:
            return None
        self._log.info("CoMagic minute quota spent; waiting %.1f s before %s", wait, self.method)
        return wait

    def wait_after_error(self, error: ComagicApiError) -> float | None:
        """Re-raise what cannot be recovered; else the seconds to sleep before trying again (None: the session
        token was rejected and forgotten, so the next attempt logs in again)."""
        action = self._attempt.after_error(error)
        if action == RENEW_TOKEN:
            self._log.info("CoMagic session token rejected (%s); logging in again", error.mnemonic)
            self.auth.invalidate()
            return None
        self._log.warning("CoMagic minute quota exceeded; waiting %.1f s before retrying %s", action, self.method)
        return float(action)

    def waited(self) -> None:
        """The minute quota's reset has been slept out."""
        self._quota.minute_waited()

    def succeeded(self) -> None:
        self._quota.charge(self.weight)


class CallAttempt:
    """Decides, for one logical call, what follows an API error: renew the token, wait, or give up."""

    def __init__(self, *, can_renew_token: bool, max_minute_waits: int = MAX_MINUTE_WAITS):
        self._can_renew = can_renew_token
        self._renewed = False
        self._minute_waits = 0
        self._max_minute_waits = max_minute_waits

    def after_error(self, error: Exception) -> str | float:
        """Return :data:`RENEW_TOKEN`, or seconds to sleep before trying again; re-raise ``error`` otherwise."""
        if isinstance(error, ComagicTokenExpiredError) and self._can_renew and not self._renewed:
            self._renewed = True
            return RENEW_TOKEN
        if isinstance(error, ComagicMinuteLimitExceededError) and self._minute_waits < self._max_minute_waits:
            self._minute_waits += 1
            return max(error.reset_seconds, 1.0)
        raise error


class HookSettings(ConnectionSettings):
    """Constructor arguments and connection-derived settings of both Data API hooks, no I/O.

    The hook class supplies ``config`` (sync: fetched on first use; async: loaded by ``async with``) and ``log``.
    """

    api_name = API_NAME
    transient_errors = TRANSIENT_ERRORS

    def __init__(
        self,
        comagic_conn_id: str,
        *,
        timeout: float | None,
        max_retries: int | None,
        retry_initial_wait: float,
        retry_max_wait: float,
        wait_for_quota: bool,
        sleep: Callable[[float], Any],
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
    ) -> None:
        super().__init__()
        # no connection lookup here: hooks are built at parse time and inside triggers' event loops
        self.comagic_conn_id = comagic_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._retry_initial_wait = retry_initial_wait
        self._retry_max_wait = retry_max_wait
        self.wait_for_quota = wait_for_quota
        self._sleep = sleep
        self._wall_clock = wall_clock
        self.quota = QuotaTracker(clock)
        self._account_zones: dict[int | None, str | None] = {}
        """The zone each account told (key: the client user acted as, None for the connection's own account)."""

    # -- the account's time zone ------------------------------------------------------------------------------
    def _zone_user(self, user_id: int | None) -> int | None:
        return user_id if user_id is not None else self.config.user_id

    def _remember_zone(self, user: int | None, result: Mapping[str, Any] | None, failure: Exception | None) -> None:
        if failure is not None:
            self.log.warning("The account's time zone could not be read (%s)", failure)
        self._account_zones[user] = zone_of(result) if result is not None else None

    @property
    def timezone(self) -> dt.tzinfo:
        """The zone the connection names, else the account's once it has been read (the sync hook reads it here;
        the async hook in ``account_or_named_timezone``)."""
        if self.config.timezone is not None:
            return get_timezone(self.config.timezone)
        user = self._zone_user(None)
        if user not in self._account_zones:
            raise ComagicError("The account's time zone has not been read yet (the connection names none)")
        return self._landing_zone(user)

    def _landing_zone(self, user: int | None) -> dt.tzinfo:
        who = "the account" if user is None else f"the account of client user {user}"
        name = self.config.landing_timezone(self._account_zones.get(user), conn_id=self.comagic_conn_id, who=who)
        return get_timezone(name)

    def _call_steps(self, method: str, auth: SessionAuth) -> CallSteps:
        return CallSteps(method, quota=self.quota, auth=auth, wait_for_quota=self.wait_for_quota, log=self.log)

    def plan(
        self,
        method: str,
        date_from: dt.datetime | None = None,
        date_till: dt.datetime | None = None,
        *,
        tz: dt.tzinfo | None = None,
        **kwargs: Any,
    ) -> PagePlan:
        """Validate a query against the catalogue (before any call) and build its :class:`PagePlan`; ``tz`` is the
        account zone its wall-clock times are in (default: :attr:`timezone`)."""
        check_query(method, date_from, date_till, **kwargs)  # bad input fails before the zone is read
        return plan_query(method, date_from, date_till, tz=tz or self.timezone, **kwargs)


ZONE_UNKNOWN_ERRORS: tuple[type[ComagicApiError], ...] = (
    ComagicComponentDisabledError,
    ComagicPermissionError,
    ComagicMethodNotFoundError,
)
"""Errors of the zone call that mean "the account does not say" rather than a failure."""


def zone_call(user: int | None) -> tuple[str, dict[str, Any]]:
    """The call that tells an account's IANA zone: ``get.account`` for the connection's own (client) account;
    ``getobj.account`` for an agent's client user (``get.account`` serves clients only; ``getobj.account`` needs
    the account's "Data API для настройки" component)."""
    if user is None:
        return "get.account", {}
    return "getobj.account", {"user_id": user}


def zone_of(result: Mapping[str, Any]) -> str | None:
    """The ``timezone`` of a ``get.account`` (a list of one row) or ``getobj.account`` (an object) result."""
    data = result.get("data")
    row = data[0] if isinstance(data, list) and data else data
    zone = row.get("timezone") if isinstance(row, Mapping) else None
    return str(zone) if zone else None
