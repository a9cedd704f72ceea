"""``ComagicHook``: the synchronous client of the CoMagic / UIS Data API (JSON-RPC 2.0 over HTTPS)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

import msgspec
import orjson
import requests
import urllib3
from tenacity import Retrying

from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID, KNOWN_HOSTS, ComagicConnectionConfig
from airflow_provider_comagic.comagic.customers import CUSTOMER_FIELDS, USER_FIELDS, select_client_users
from airflow_provider_comagic.comagic.errors import (
    ComagicApiError,
    ComagicAuthError,
    ComagicDataIntegrityError,
    ComagicError,
    ComagicIpNotWhitelistedError,
    ComagicTransportError,
)
from airflow_provider_comagic.comagic.paging import MAX_LIMIT, PagePlan
from airflow_provider_comagic.comagic.protocol import JSON_HEADERS, build_request, new_request_id
from airflow_provider_comagic.comagic.recordings import media_base_url
from airflow_provider_comagic.comagic.session import (
    ZONE_UNKNOWN_ERRORS,
    HookSettings,
    SessionAuth,
    method_weight,
    read_response,
    zone_call,
)
from airflow_provider_comagic.hooks.media import MediaDownloader, MediaSettings
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.utils.background import AheadTally, CallAhead, prefetched
from airflow_provider_comagic.utils.connection import TEST_CONNECTION_TIMEOUT, for_this_connection, missing_port_note
from airflow_provider_comagic.utils.memory import return_large_buffers_to_os
from airflow_provider_comagic.utils.time import get_timezone
from airflow_provider_comagic.utils.transport import describe_failure
from airflow_provider_comagic.version_compat import BaseHook, mask_secret

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_PREFETCH = 1
"""Pages :meth:`ComagicHook.iter_pages` fetches ahead in a background thread while the caller handles one."""
CALL_AHEAD_AFTER_SECONDS = 0.25
"""When the server took at least this long to start answering a page, :meth:`ComagicHook.iter_pages` sends the
call of the following page as soon as that answer starts (see :meth:`PagePlan.following_request`)."""


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic GC while a page is decoded.

    Decoding a 10 000-row page allocates millions of dicts and lists, which triggers collections that scan every
    live page (over half the decode time in profiles) and can free nothing: decoded JSON has no cycles.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _decoded(rows: list[Any], method: str) -> list[Any]:
    """Rows as dicts: raw rows (``msgspec.Raw``: the API's JSON objects) decoded with orjson (as fast as msgspec
    here, and what whole responses are decoded with); dicts are kept as they are."""
    if not rows or not isinstance(rows[0], msgspec.Raw):
        return rows
    loads = orjson.loads
    try:
        with _gc_paused():
            return [loads(memoryview(row)) for row in rows]
    except orjson.JSONDecodeError as error:  # valid JSON orjson refuses, e.g. a number beyond float range
        raise ComagicDataIntegrityError(f"{method}: a row of the result cannot be decoded: {error}") from None


class ComagicHook(HookSettings, BaseHook):
    """
    Interact with the CoMagic / UIS Data API.

    Authenticates with a permanent access token, or with login and password (a ``login.user`` session token
    that is cached, renewed before it expires and once more on ``access_token_expired``). Retries transient
    faults with exponential backoff, waits out a spent minute quota, fails fast when the day quota is spent,
    and raises a typed :class:`~airflow_provider_comagic.comagic.errors.ComagicApiError` for every JSON-RPC error.

    :param comagic_conn_id: the ``comagic`` connection to use.
    :param timeout: seconds to wait for one HTTP response (default: the connection's ``timeout`` extra, 120).
    :param max_retries: retries of transient faults (default: the connection's ``max_retries`` extra, 5).
    :param retry_initial_wait: first backoff in seconds; doubled per retry, with jitter.
    :param retry_max_wait: longest backoff in seconds.
    :param wait_for_quota: sleep out a spent minute quota (default). ``False`` raises
        :class:`~airflow_provider_comagic.comagic.errors.ComagicMinuteLimitExceededError` instead, before sending or on
        ``limit_exceeded``, so a deferrable operator can free its worker and resume after ``minute_reset``.
    """

    conn_name_attr = "comagic_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "comagic"
    hook_name = "CoMagic"

    def __init__(
        self,
        comagic_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_initial_wait: float = 1.0,
        retry_max_wait: float = 60.0,
        wait_for_quota: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            comagic_conn_id,
            timeout=timeout,
            max_retries=max_retries,
            retry_initial_wait=retry_initial_wait,
            retry_max_wait=retry_max_wait,
            wait_for_quota=wait_for_quota,
            sleep=sleep,
            clock=clock,
            wall_clock=wall_clock,
        )
        self._session: requests.Session | None = None
        self._login_lock = threading.Lock()
        self.call_ahead_after: float | None = CALL_AHEAD_AFTER_SECONDS
        """Seconds the server must take to start answering a page before the following page's call is sent
        while that answer arrives (``None``: never send a call ahead)."""
        self.calls_ahead = AheadTally()
        """What became of the calls :meth:`iter_pages` sent ahead."""

    # -- connection -----------------------------------------------------------------------------------------
    @cached_property
    def config(self) -> ComagicConnectionConfig:
        """The parsed connection (fetched once per hook)."""
        config = ComagicConnectionConfig.from_connection(self.get_connection(self.comagic_conn_id))
        for secret in config.secrets:
            mask_secret(secret)
        return config

    @cached_property
    def _auth(self) -> SessionAuth:
        return SessionAuth(self.config, self._wall_clock)

    def get_conn(self) -> requests.Session:
        """The keep-alive HTTP session reused by every call of this hook."""
        if self._session is None:
            session = requests.Session()
            session.headers.update(JSON_HEADERS)
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session (the hook can be used again afterwards)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- the account's time zone ------------------------------------------------------------------------------
    def account_timezone(self, user_id: int | None = None) -> str | None:
        """The IANA zone of the account (of client user ``user_id``, else of the connection's ``user_id``, else the
        connection's own account), read once per hook with ``get.account`` / ``getobj.account`` (see
        :func:`~airflow_provider_comagic.comagic.session.zone_call`); None when the account does not tell."""
        user = self._zone_user(user_id)
        if user not in self._account_zones:
            method, params = zone_call(user)
            try:
                result, failure = self.call(method, params), None
            except ZONE_UNKNOWN_ERRORS as error:
                result, failure = None, error
            self._remember_zone(user, result, failure)
        return self._account_zones[user]

    def checked_timezone(self, user_id: int | None = None) -> dt.tzinfo:
        """The zone to read and land in for client user ``user_id`` (None: the connection's account): the
        account's own, checked against the connection's extra ``timezone`` (a mismatch raises
        :class:`~airflow_provider_comagic.comagic.errors.ComagicTimezoneMismatchError` unless the connection sets
        ``allow_timezone_mismatch``). Costs one call per hook and client the first time."""
        self.account_timezone(user_id)
        return self._landing_zone(self._zone_user(user_id))

    @property
    def timezone(self) -> dt.tzinfo:
        """The zone the connection names, else the account's (read once with ``get.account``)."""
        if self.config.timezone is not None:
            return get_timezone(self.config.timezone)
        return self.checked_timezone()

    # -- calls ----------------------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
        raw_rows: bool = False,
        on_answer: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """Call a Data API method and return its ``result`` object (``data`` and ``metadata``).

        ``access_token`` and the connection's ``user_id`` are added to ``params``. ``request_id`` sets the
        JSON-RPC ``id`` (kept across retries; ``upload.calls`` records it as the calls' ``ext_request_id``).
        ``raw_rows=True`` leaves the rows of ``data`` undecoded (``msgspec.Raw`` JSON objects). ``on_answer`` is
        called with the server's seconds to the response headers when an answer starts arriving (every attempt).
        """
        retrying = Retrying(sleep=self._sleep, **self._retry_kwargs())
        return retrying(self._call_with_recovery, method, dict(params or {}), request_id, raw_rows, on_answer)

    def _call_with_recovery(
        self,
        method: str,
        params: dict[str, Any],
        request_id: str | None,
        raw_rows: bool = False,
        on_answer: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        steps = self._call_steps(method, self._auth)  # every decision is made there; the I/O is done here
        while True:
            if (wait := steps.wait_before_call()) is not None:
                self._sleep(wait)
                steps.waited()
            if self._auth.needs_login:
                self._login()
            try:
                result = self._post(method, self._auth.call_params(params, method), request_id, raw_rows, on_answer)
            except ComagicApiError as error:
                if (wait := steps.wait_after_error(error)) is not None:  # re-raises what cannot be recovered
                    self._sleep(wait)
                    steps.waited()
                continue
            steps.succeeded()
            return result

    def _post(
        self,
        method: str,
        params: Mapping[str, Any],
        request_id: str | None = None,
        raw_rows: bool = False,
        on_answer: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """One HTTP round trip: send the request, check the status, decode, raise typed errors."""
        config = self.config
        request_id = request_id or new_request_id()
        body = build_request(method, params, request_id)
        self.quota.count_request()
        sent = time.monotonic()
        try:
            response = self.get_conn().post(config.endpoint, data=body, timeout=self.timeout, stream=True)
        except (requests.ConnectionError, requests.Timeout) as error:
            why = describe_failure(error, host=config.host, scheme=config.scheme, timeout=self.timeout)
            raise ComagicTransportError(f"CoMagic {method}: {why}") from None
        if on_answer is not None:
            on_answer(time.monotonic() - sent)
        try:
            # one read of the whole body (decoded if the server compressed it): `response.content` reads 10 KB at
            # a time, and every read hands the GIL over, which starves this thread when another one (the landing)
            # is busy in Python; one read also saves joining chunks (~15 % of a 42 MB page's read)
            content = response.raw.read(decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:  # cut off mid-stream
            raise ComagicTransportError(f"CoMagic {method}: {type(error).__name__} reading the response") from None
        finally:
            response.close()  # back to the pool once fully read (keep-alive), else the connection is dropped
        with _gc_paused():
            return read_response(
                response.status_code,
                response.headers,
                content,
                method=method,
                host=config.host,
                request_id=request_id,
                quota=self.quota,
                secrets=self._auth.secrets,
                raw_rows=raw_rows,
            )

    def _login(self) -> None:
        with self._login_lock:  # a call sent ahead may find the session expired at the same time
            if not self._auth.needs_login:
                return
            token = self._auth.accept_login(self._post("login.user", self._auth.login_params()))
            mask_secret(token)  # derived secrets are not masked automatically
        self.log.info("Logged in to CoMagic as %s; session valid for %.0f s", self.config.login, self.session_ttl)

    @property
    def session_ttl(self) -> float:
        """Seconds the current session token stays valid (0 without a session)."""
        return self._auth.ttl

    def logout(self) -> None:
        """End the ``login.user`` session, if any (permanent tokens are left alone)."""
        token = self._auth.session_token
        if token is not None:
            try:
                self._post("logout.user", {"access_token": token})
            finally:
                self._auth.invalidate()

    # -- paging ---------------------------------------------------------------------------------------------
    def iter_pages(
        self,
        method: str,
        date_from: dt.datetime | None = None,
        date_till: dt.datetime | None = None,
        *,
        filter: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        page_size: int = MAX_LIMIT,
        params: Mapping[str, Any] | None = None,
        plan: PagePlan | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        as_json_lines: bool = False,
    ) -> Iterator[Any]:
        """Yield the rows of ``method`` over ``[date_from, date_till)`` page by page (never the whole report).

        ``date_from``/``date_till`` are aware datetimes of a half-open interval, converted to the account's
        zone; long ranges are split into 3-month windows and large windows continued past the offset cap, so
        every row is yielded exactly once. Pass ``plan`` to read the plan's statistics afterwards.

        ``prefetch`` pages are fetched ahead in a background thread while the caller handles the current one
        (0: fetch only when asked). The hook's state (quota, session) is settled once the iteration ends.

        When the server takes at least :attr:`call_ahead_after` seconds (0.25) to start answering a page, the call
        of the following page is sent as soon as that answer starts arriving, whenever the plan can already name
        it (:meth:`PagePlan.following_request`: not after a query's first page, which gives the total, nor past
        its last page or the offset cap): reading, splitting and landing a page then hide under the server's
        time on the next one. Its answer is used only for exactly the call the plan then asks for; it makes one
        attempt, and what fails is called again normally. An answer not needed after all (the result changed
        while paged, so the query is read again) costs one call: :attr:`calls_ahead` counts them.

        ``as_json_lines=True`` yields each page as :class:`~airflow_provider_comagic.landing.json_lines.JsonLines`:
        the rows as the API sent them, one per line, never decoded to dicts (only their key and time fields are
        read), which is what landing JSON Lines or Parquet needs and several times cheaper than a full decode.
        """
        if plan is None:
            plan = self.plan(
                method,
                date_from,
                date_till,
                filter=filter,
                fields=fields,
                sort=sort,
                page_size=page_size,
                params=params,
            )
        if not as_json_lines:
            # a decoded page is ~3x its body, and glibc's heaps kept freed bodies resident beside it (see the
            # function); JSON Lines pages are a third of that and pay for new mappings in speed: left alone
            return_large_buffers_to_os()
        pages = self._pages(plan)
        if prefetch > 0:
            pages = prefetched(pages, prefetch, name=f"comagic-prefetch-{plan.method}")
        # pages are made here, in the caller's thread: the fetch thread only reads, splits and feeds the plan, so
        # the next request leaves sooner; the page fetched ahead meanwhile stays the response's bytes (a third
        # of the memory of its dicts), and this work overlaps the server's on the next page
        for rows in pages:
            page = JsonLines.from_rows(rows) if as_json_lines else _decoded(rows, plan.method)
            del rows  # the raw rows hold the whole response body
            yield page
            del page

    def _pages(self, plan: PagePlan) -> Iterator[list[Any]]:
        """The rows to emit of each page, undecoded (``msgspec.Raw``; dicts when a response could not be read
        as a page of rows), for ``JsonLines.from_rows`` or :func:`_decoded`."""
        ahead: CallAhead[dict[str, Any]] | None = None
        while (request := plan.next_request()) is not None:
            result, ahead = self._fetch_page(plan, request, ahead)
            with _gc_paused():  # reading keys allocates per row; a collection would scan the caller's page
                rows = plan.feed(result)
            del result
            if rows:
                yield rows
            del rows  # not held while this generator waits for its next turn

    def _fetch_page(
        self, plan: PagePlan, request: dict[str, Any], ahead: CallAhead[dict[str, Any]] | None
    ) -> tuple[dict[str, Any], CallAhead[dict[str, Any]] | None]:
        """The answer to the plan's pending ``request`` (taken from ``ahead`` when that call asked for exactly
        it), and the call of the following page when it was sent ahead while this answer arrived."""
        following: CallAhead[dict[str, Any]] | None = None

        def send_following(server_seconds: float) -> None:  # in this thread: the plan is read by one thread only
            nonlocal following
            if following is None:
                following = self._call_ahead(plan, server_seconds)

        result = None
        if ahead is not None and ahead.key == request:
            send_following(ahead.answering())
            if (result := ahead.result()) is None:
                self.calls_ahead.failed += 1
                self.log.debug("The call sent ahead for %s failed (%r); calling again", plan.method, ahead.error)
            else:
                self.calls_ahead.used += 1
        elif ahead is not None:
            # the page before changed the plan (a re-read after drift): the answer fetched ahead is not used
            self.calls_ahead.dropped += 1
            self.log.info("%s: the result changed while it was paged; the page fetched ahead is dropped", plan.method)
        if result is None:
            result = self.call(plan.method, request, raw_rows=True, on_answer=send_following)
        return result, following

    def _call_ahead(self, plan: PagePlan, server_seconds: float) -> CallAhead[dict[str, Any]] | None:
        """Send the call of the page after the pending one, when the server is slow enough for it to pay and
        the plan can tell it already; ``None`` when not sent. It makes one attempt, without quota waits or
        login: what it cannot do, the caller does when it needs the page."""
        if self.call_ahead_after is None or server_seconds < self.call_ahead_after:
            return None
        method = plan.method
        weight = method_weight(method)
        if self._auth.needs_login or not self.quota.affords(weight) or (params := plan.following_request()) is None:
            return None

        def send(on_answer: Callable[[float], None]) -> dict[str, Any]:
            result = self._post(method, self._auth.call_params(params, method), None, True, on_answer)
            self.quota.charge(weight)
            return result

        self.calls_ahead.sent += 1
        return CallAhead(params, send, name=f"comagic-ahead-{method}")

    def iter_rows(self, method: str, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Like :meth:`iter_pages`, one row at a time."""
        for page in self.iter_pages(method, *args, **kwargs):
            yield from page

    # -- agency (partner) accounts ----------------------------------------------------------------------------
    def list_customer_users(
        self,
        *,
        active_only: bool = True,
        customer_ids: Iterable[int | str] | None = None,
        name_pattern: str | None = None,
        one_per_customer: bool = False,
    ) -> list[dict[str, Any]]:
        """The client users an agent (partner) connection can act as, one small entry per user::

            {"user_id": ..., "customer_id": ..., "customer_name": ..., "user_login": ...}

        Reads ``get.customers`` and ``get.customer_users`` (archived clients are never listed by the API) and
        filters them as :func:`~airflow_provider_comagic.comagic.customers.select_client_users` describes.
        """
        customers = list(self.iter_rows("get.customers", fields=list(CUSTOMER_FIELDS)))
        users = list(self.iter_rows("get.customer_users", fields=list(USER_FIELDS)))
        return select_client_users(
            customers,
            users,
            active_only=active_only,
            customer_ids=customer_ids,
            name_pattern=name_pattern,
            one_per_customer=one_per_customer,
        )

    # -- call recordings ----------------------------------------------------------------------------------------
    def media_base_url(self, media_host: str | None = None) -> str:
        """Where this connection's recordings are served (``https://app.comagic.ru``...): ``media_host``, else the
        connection's extra ``media_host``, else derived from the API host
        (:func:`~airflow_provider_comagic.comagic.recordings.media_base_url`)."""
        return media_base_url(self.config.endpoint, media_host or self.config.media_host)

    def media_downloader(self, settings: MediaSettings | None = None) -> MediaDownloader:
        """A :class:`~airflow_provider_comagic.hooks.media.MediaDownloader` of the media URLs that
        :func:`~airflow_provider_comagic.comagic.recordings.recordings_of` builds (plain GETs: the URL is the
        capability, no token is sent). Default settings take the connection's timeout and retries."""
        settings = settings or MediaSettings(read_timeout=self.timeout, max_retries=self.max_retries)
        return MediaDownloader(
            api_name="CoMagic media",
            request_for=_media_request,
            transport_error=ComagicTransportError,
            settings=settings,
            sleep=self._sleep,
            logger=self.log,
        )

    # -- UI -------------------------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap call (``get.account``) and report the account, its zone and the remaining points.

        Answers within about 10 s whatever happens (the UI's Test button waits for it): one attempt, no retries,
        a short timeout, no quota waits. Messages say "this connection", never the temporary id the UI tests an
        unsaved connection under."""
        conn_id = self.comagic_conn_id
        try:
            self._timeout = min(self.timeout, TEST_CONNECTION_TIMEOUT)
            self._max_retries = 0
            self.wait_for_quota = False
            result = self.call("get.account")
        except ComagicIpNotWhitelistedError as error:
            return False, str(error)
        except ComagicAuthError as error:
            host = self.config.host
            other = [h for h in KNOWN_HOSTS if h != host.split(":")[0]]
            tip = f" If the account is registered on {other[0]}, set that as the host." if len(other) == 1 else ""
            return False, f"{error}{tip}"
        except ComagicTransportError as error:
            return False, f"{error}. The CoMagic hosts are {' and '.join(KNOWN_HOSTS)}."
        except ComagicError as error:
            return False, for_this_connection(str(error), conn_id)
        finally:
            self.close()
        account = (result.get("data") or [{}])[0] if isinstance(result.get("data"), list) else result.get("data") or {}
        limits = self.quota.limits
        message = (
            f"Connected to {self.config.host} as account {account.get('name')!r} (app_id {account.get('app_id')}). "
            f"Points left: {limits.get('day_remaining', '?')} of {limits.get('day_limit', '?')} today, "
            f"{limits.get('minute_remaining', '?')} of {limits.get('minute_limit', '?')} this minute."
        )
        message += self._zone_report(account.get("timezone"))
        message += missing_port_note(self.config.stored_port, self.config.endpoint)
        # `airflow connections test` prints only "Connection success!"; with --verbose also this line (a module
        # logger: a hook's own logger writes to task logs only, and there is no task here)
        log.info("%s", message)
        return True, message

    def _zone_report(self, zone: str | None) -> str:
        """The zone sentence of a connection test: the account's zone, and what the connection's own means."""
        named = self.config.timezone
        if named is None:
            return f" Time zone: {zone}, the account's (the connection names none)."
        if not zone or zone == named:
            return f" Time zone: {named}, the connection's" + (", the account's too." if zone else ".")
        action = (
            "tasks land in the connection's zone (allow_timezone_mismatch is set)"
            if self.config.allow_timezone_mismatch
            else "landing tasks will fail until the extra 'timezone' is removed or set to the account's"
        )
        return f" Warning: the account's time zone is {zone}, the connection says {named}: {action}."

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour for Airflow 2.10-3.1 (3.2+ reads ``ui-field-behaviour`` from get_provider_info: the same
        definition)."""
        from airflow_provider_comagic.get_provider_info import comagic_ui_field_behaviour

        return comagic_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form for Airflow 2.10-3.1, built from the ``conn-fields`` of 3.2+."""
        from airflow_provider_comagic.get_provider_info import comagic_form_widgets

        return comagic_form_widgets()


def _media_request(recording: Any) -> tuple[str, None]:
    """A CoMagic recording is fetched by its URL as it is (built by comagic/recordings.py)."""
    if not isinstance(recording.source, str):
        raise ComagicError(f"{recording.describe()}: not a CoMagic media recording (no URL)")
    return recording.source, None
