"""``ComagicAsyncHook``: the asyncio client of the Data API, for triggers running in the triggerer's event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from tenacity import AsyncRetrying

from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID, ComagicConnectionConfig
from airflow_provider_comagic.comagic.errors import ComagicApiError, ComagicError, ComagicTransportError
from airflow_provider_comagic.comagic.paging import MAX_LIMIT, PagePlan
from airflow_provider_comagic.comagic.protocol import JSON_HEADERS, build_request, new_request_id
from airflow_provider_comagic.comagic.session import (
    ZONE_UNKNOWN_ERRORS,
    HookSettings,
    SessionAuth,
    read_response,
    zone_call,
)
from airflow_provider_comagic.utils.time import get_timezone
from airflow_provider_comagic.utils.transport import describe_failure
from airflow_provider_comagic.version_compat import BaseHook


async def aget_connection(conn_id: str) -> Any:
    """Fetch an Airflow connection without blocking the event loop.

    ``BaseHook.aget_connection`` exists on Airflow 3.1+; older versions run the synchronous lookup in a
    worker thread (a synchronous lookup inside a trigger raises or blocks on Airflow 3).
    """
    aget = getattr(BaseHook, "aget_connection", None)
    if aget is not None:
        return await aget(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(BaseHook.get_connection)(conn_id)


class ComagicAsyncHook(HookSettings, BaseHook):
    """
    Asynchronous (aiohttp) client of the CoMagic / UIS Data API, used by the provider's triggers.

    Behaves like :class:`~airflow_provider_comagic.hooks.comagic.ComagicHook` (same connection parsing,
    JSON-RPC framing, retry policy, quota waits, session renewal and paging engine) but never blocks the
    event loop: waits are ``asyncio.sleep``. Use it as an async context manager, which fetches the connection
    once (asynchronously) and opens one HTTP session for everything done inside::

        async with ComagicAsyncHook("comagic_default") as hook:
            async for rows in hook.iter_pages("get.uploaded_calls", start, end, filter=...):
                ...

    Nothing secret is logged; a session token obtained with ``login.user`` is never written anywhere.

    :param comagic_conn_id: the ``comagic`` connection to use.
    :param timeout: seconds to wait for one HTTP response (default: the connection's ``timeout`` extra).
    :param max_retries: retries of transient faults (default: the connection's ``max_retries`` extra).
    :param retry_initial_wait: first backoff in seconds; doubled per retry, with jitter.
    :param retry_max_wait: longest backoff in seconds.
    :param wait_for_quota: wait out a spent minute quota (default); ``False`` raises
        :class:`~airflow_provider_comagic.comagic.errors.ComagicMinuteLimitExceededError` instead, as the sync hook does.
    """

    conn_name_attr = "comagic_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "comagic"
    hook_name = "CoMagic (async)"

    def __init__(
        self,
        comagic_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_initial_wait: float = 1.0,
        retry_max_wait: float = 60.0,
        wait_for_quota: bool = True,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(  # the connection is fetched in the event loop (see __aenter__)
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
        self._config: ComagicConnectionConfig | None = None
        self._auth: SessionAuth | None = None
        self._http: aiohttp.ClientSession | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def __aenter__(self) -> ComagicAsyncHook:
        if self._config is None:
            config = ComagicConnectionConfig.from_connection(await aget_connection(self.comagic_conn_id))
            self._config, self._auth = config, SessionAuth(config, self._wall_clock)
        if self._http is None:
            self._http = aiohttp.ClientSession(headers=JSON_HEADERS, timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (the connection stays cached; ``async with`` reopens the session)."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    @property
    def config(self) -> ComagicConnectionConfig:
        """The parsed connection; available inside ``async with``."""
        if self._config is None:
            raise ComagicError("ComagicAsyncHook: use it inside 'async with' (the connection is not loaded yet)")
        return self._config

    @property
    def session_ttl(self) -> float:
        """Seconds the current ``login.user`` session stays valid (0 without a session)."""
        return self._auth.ttl if self._auth is not None else 0.0

    # -- calls ----------------------------------------------------------------------------------------------
    async def call(
        self, method: str, params: Mapping[str, Any] | None = None, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """Call a Data API method and return its ``result`` object (``data`` and ``metadata``)."""
        retrying = AsyncRetrying(sleep=self._sleep, **self._retry_kwargs())
        return await retrying(self._call_with_recovery, method, dict(params or {}), request_id)

    async def _call_with_recovery(self, method: str, params: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        # the same steps as ComagicHook._call_with_recovery; every decision is made by the shared CallSteps
        auth = self._require_auth()
        steps = self._call_steps(method, auth)
        while True:
            if (wait := steps.wait_before_call()) is not None:
                await self._sleep(wait)
                steps.waited()
            if auth.needs_login:
                await self._login()
            try:
                result = await self._post(method, auth.call_params(params, method), request_id)
            except ComagicApiError as error:
                if (wait := steps.wait_after_error(error)) is not None:  # re-raises what cannot be recovered
                    await self._sleep(wait)
                    steps.waited()
                continue
            steps.succeeded()
            return result

    async def _post(self, method: str, params: Mapping[str, Any], request_id: str | None = None) -> dict[str, Any]:
        """One HTTP round trip: send the request, check the status, decode, raise typed errors."""
        if self._http is None:
            raise ComagicError("ComagicAsyncHook: use it inside 'async with' (no HTTP session is open)")
        config = self.config
        request_id = request_id or new_request_id()
        body = build_request(method, params, request_id)
        self.quota.count_request()
        try:
            async with self._http.post(config.endpoint, data=body) as response:
                content = await response.read()
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            # the token travels in the body, never in a URL: the description names the host only
            why = describe_failure(error, host=config.host, scheme=config.scheme, timeout=self.timeout)
            raise ComagicTransportError(f"CoMagic {method}: {why}") from None
        return read_response(
            status,
            headers,
            content,
            method=method,
            host=config.host,
            request_id=request_id,
            quota=self.quota,
            secrets=self._require_auth().secrets,
        )

    async def _login(self) -> None:
        auth = self._require_auth()
        # the session token is not passed to mask_secret here: that call is synchronous and unsafe in the
        # triggerer's loop; the token is never logged, and error texts are redacted with auth.secrets
        auth.accept_login(await self._post("login.user", auth.login_params()))
        self.log.info("Logged in to CoMagic as %s; session valid for %.0f s", self.config.login, auth.ttl)

    def _require_auth(self) -> SessionAuth:
        if self._auth is None:
            raise ComagicError("ComagicAsyncHook: use it inside 'async with' (the connection is not loaded yet)")
        return self._auth

    # -- the account's time zone ------------------------------------------------------------------------------
    async def account_timezone(self, user_id: int | None = None) -> str | None:
        """The account's IANA zone, read once per hook, as
        :meth:`ComagicHook.account_timezone <airflow_provider_comagic.hooks.comagic.ComagicHook.account_timezone>`."""
        user = self._zone_user(user_id)
        if user not in self._account_zones:
            method, params = zone_call(user)
            try:
                result, failure = await self.call(method, params), None
            except ZONE_UNKNOWN_ERRORS as error:
                result, failure = None, error
            self._remember_zone(user, result, failure)
        return self._account_zones[user]

    async def account_or_named_timezone(self) -> dt.tzinfo:
        """The zone the connection names, else the account's (read once)."""
        if self.config.timezone is not None:
            return get_timezone(self.config.timezone)
        await self.account_timezone()
        return self._landing_zone(self._zone_user(None))

    # -- paging ---------------------------------------------------------------------------------------------
    async def iter_pages(
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
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the rows of ``method`` over ``[date_from, date_till)`` page by page, exactly as
        :meth:`ComagicHook.iter_pages <airflow_provider_comagic.hooks.comagic.ComagicHook.iter_pages>` does."""
        if plan is None:
            plan = self.plan(
                method,
                date_from,
                date_till,
                tz=await self.account_or_named_timezone(),
                filter=filter,
                fields=fields,
                sort=sort,
                page_size=page_size,
                params=params,
            )
        while (request := plan.next_request()) is not None:
            rows = plan.feed(await self.call(plan.method, request))
            if rows:
                yield rows
