"""``McnTelecomHook``: the MCN Telecom REST API v2 (virtual PBX call log), with the shared retry rules."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests
from tenacity import Retrying

from airflow_provider_comagic.hooks.media import MediaDownloader, MediaSettings
from airflow_provider_comagic.mcn.call_log import (
    DEFAULT_CHUNK_DAYS,
    chunk_params,
    covering_chunks,
    keep_row,
    response_rows,
    row_time,
)
from airflow_provider_comagic.mcn.config import DEFAULT_BASE_URL, DEFAULT_CONN_ID, McnConnectionConfig
from airflow_provider_comagic.mcn.errors import (
    TRANSIENT_ERRORS,
    McnApiError,
    McnAuthError,
    McnError,
    McnNotFoundError,
    McnParameterError,
    McnPermissionError,
    McnTransportError,
)
from airflow_provider_comagic.mcn.recordings import RECORD_PATH, McnRecordLocator
from airflow_provider_comagic.utils.connection import TEST_CONNECTION_TIMEOUT, for_this_connection, missing_port_note
from airflow_provider_comagic.utils.http import ConnectionSettings, check_http_status
from airflow_provider_comagic.utils.time import validate_interval
from airflow_provider_comagic.utils.transport import describe_failure
from airflow_provider_comagic.version_compat import BaseHook, mask_secret

log = logging.getLogger(__name__)

API_NAME = "MCN Telecom"


class McnTelecomHook(ConnectionSettings, BaseHook):
    """
    Interact with the MCN Telecom REST API v2: the account's active vPBXs and their call logs.

    Sends ``Authorization: Bearer <token>`` (the token issued in the personal cabinet's API section) on every
    request; the token is masked in logs and never put in URLs or exception texts. Transient faults (connection
    errors, timeouts, HTTP 429/5xx, malformed or truncated JSON) are retried with the same exponential backoff
    as :class:`~airflow_provider_comagic.hooks.comagic.ComagicHook` (``Retry-After`` honoured); HTTP 401, 403
    and 404 raise :class:`~airflow_provider_comagic.mcn.errors.McnAuthError`, ``McnPermissionError`` and
    ``McnNotFoundError`` naming what to check.

    The base URL is the connection's Host, default ``https://api.mcn.ru/v2/rest`` — an assumption: the API
    documentation this package follows gives the paths, not the host (see
    :data:`~airflow_provider_comagic.mcn.config.DEFAULT_BASE_URL`).

    Response envelope (undocumented): a top-level JSON list of objects, or ``{"data": [...]}``; both are read.

    :param mcn_conn_id: the ``mcn_telecom`` connection to use.
    :param timeout: seconds to wait for one HTTP response (default: the connection's ``timeout`` extra, 120).
    :param max_retries: retries of transient faults (default: the connection's ``max_retries`` extra, 5).
    :param retry_initial_wait: first backoff in seconds; doubled per retry, with jitter.
    :param retry_max_wait: longest backoff in seconds.
    """

    api_name = API_NAME
    transient_errors = TRANSIENT_ERRORS
    conn_name_attr = "mcn_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "mcn_telecom"
    hook_name = "MCN Telecom"

    def __init__(
        self,
        mcn_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_initial_wait: float = 1.0,
        retry_max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        # no connection lookup here: hooks are built at parse time
        self.mcn_conn_id = mcn_conn_id
        self._timeout = timeout
        self._max_retries = max_retries
        self._retry_initial_wait = retry_initial_wait
        self._retry_max_wait = retry_max_wait
        self._sleep = sleep
        self._session: requests.Session | None = None
        self.stats: dict[str, int] = {"requests": 0, "calls": 0, "rows_received": 0, "rows_kept": 0}

    # -- connection -----------------------------------------------------------------------------------------
    @cached_property
    def config(self) -> McnConnectionConfig:
        """The parsed connection (fetched once per hook); the token is registered with the secrets masker."""
        config = McnConnectionConfig.from_connection(self.get_connection(self.mcn_conn_id))
        mask_secret(config.token)
        return config

    def get_conn(self) -> requests.Session:
        """The keep-alive HTTP session (with the Bearer header) reused by every request of this hook."""
        if self._session is None:
            session = requests.Session()
            session.headers.update({"Accept": "application/json", "Authorization": f"Bearer {self.config.token}"})
            self._session = session
        return self._session

    def close(self) -> None:
        """Close the HTTP session (the hook can be used again afterwards)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def account(self, account_id: str | int | None = None) -> str:
        """``account_id`` as given, else the connection's extra ``account_id``."""
        if account_id not in (None, ""):
            return str(account_id)
        if self.config.account_id:
            return self.config.account_id
        raise McnParameterError(
            f"No MCN Telecom account_id: pass account_id or set the extra 'account_id' of connection "
            f"{self.mcn_conn_id!r} (the personal account number, лицевой счёт)"
        )

    # -- requests -------------------------------------------------------------------------------------------
    def get_json(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        what: str,
        account_id: str,
        vpbx_id: str | None = None,
    ) -> Any:
        """GET ``base_url + path`` and return the decoded JSON, retrying transient faults."""
        retrying = Retrying(sleep=self._sleep, **self._retry_kwargs())
        self.stats["calls"] += 1
        return retrying(self._get_once, path, dict(params or {}), what, account_id, vpbx_id)

    def _get_once(self, path: str, params: dict[str, str], what: str, account_id: str, vpbx_id: str | None) -> Any:
        config = self.config
        self.stats["requests"] += 1
        try:
            response = self.get_conn().get(config.base_url + path, params=params, timeout=self.timeout)
            content = response.content
        except (requests.ConnectionError, requests.Timeout) as error:
            scheme = urlsplit(config.base_url).scheme
            why = describe_failure(error, host=config.host, scheme=scheme, timeout=self.timeout)
            raise McnTransportError(f"{API_NAME} {what}: {why}") from None
        except requests.RequestException as error:  # body cut off mid-stream
            raise McnTransportError(f"{API_NAME} {what}: {type(error).__name__} reading the response") from None
        status = response.status_code
        self._raise_for_access(status, what, account_id, vpbx_id)
        if status == 404:
            ids = f"account_id={account_id!r}" + (f", vpbx_id={vpbx_id!r}" if vpbx_id is not None else "")
            raise McnNotFoundError(
                f"{API_NAME} {what}: HTTP 404 from {config.host}: not found ({ids}). Check the ids (list_vpbx() "
                f"lists the account's active vPBXs) and the base URL {config.base_url} (default {DEFAULT_BASE_URL}).",
                status=status,
            )
        check_http_status(
            status,
            response.headers,
            what=f"{API_NAME} {what}",
            host=config.host,
            transport_error=McnTransportError,
            error=McnApiError,
        )
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise McnTransportError(
                f"{API_NAME} {what}: malformed or truncated JSON response ({len(content)} bytes)"
            ) from None

    def _raise_for_access(self, status: int, what: str, account_id: str, vpbx_id: str | None) -> None:
        """HTTP 401 and 403: the connection's token, whatever the request (every later one would fail the same)."""
        host = self.config.host
        if status == 401:
            raise McnAuthError(
                f"{API_NAME} {what}: HTTP 401 from {host}: the API token was rejected (wrong, expired or "
                f"revoked). Issue a token in the personal cabinet (API section) and put it in the Password field "
                f"of connection {self.mcn_conn_id!r}.",
                status=status,
            )
        if status == 403:
            target = f"account {account_id}" + (f", vPBX {vpbx_id}" if vpbx_id is not None else "")
            raise McnPermissionError(
                f"{API_NAME} {what}: HTTP 403 from {host}: the token may not read {target}. Use a token "
                "issued for this account with access to the vPBX methods.",
                status=status,
            )

    # -- API ------------------------------------------------------------------------------------------------
    def list_vpbx(self, account_id: str | int | None = None) -> list[dict[str, Any]]:
        """The account's active vPBXs (``GET /account/{account_id}/vpbx``); each entry carries ``vpbx_id``."""
        account = self.account(account_id)
        payload = self.get_json(f"/account/{_segment(account)}/vpbx", what="vpbx list", account_id=account)
        return response_rows(payload, what="vpbx list")

    def iter_call_log(
        self,
        account_id: str | int | None,
        vpbx_id: str | int,
        start: dt.datetime,
        end: dt.datetime,
        *,
        chunk_days: int = DEFAULT_CHUNK_DAYS,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the calls of one vPBX that started in ``[start, end)``, one list per date chunk (lazily).

        ``start``/``end`` are aware datetimes of a half-open interval. The API takes whole, inclusive dates
        (``date_from``/``date_to``, ``YYYY-MM-DD`` in the account's zone), so the covering dates are requested
        ``chunk_days`` at a time and each row is kept only when its ``date`` lies in ``[start, end)`` and in its
        chunk: adjacent intervals never share a call. Rows are returned exactly as the API sent them.
        """
        validate_interval(start, end, error=McnParameterError)
        account, vpbx = self.account(account_id), str(vpbx_id)
        tz = self.timezone
        path = f"/account/{_segment(account)}/vpbx/{_segment(vpbx)}/call_log"
        for chunk in covering_chunks(start, end, tz, chunk_days):
            payload = self.get_json(path, chunk_params(chunk), what="call_log", account_id=account, vpbx_id=vpbx)
            rows = response_rows(payload, what="call_log")
            kept = [row for row in rows if keep_row(row_time(row, tz), start, end, chunk, tz)]
            self.stats["rows_received"] += len(rows)
            self.stats["rows_kept"] += len(kept)
            self.log.info(
                "MCN Telecom call log of vPBX %s, %s..%s: %d rows, %d in the interval",
                vpbx,
                chunk[0],
                chunk[1],
                len(rows),
                len(kept),
            )
            if kept:
                yield kept

    # -- call recordings (not in the seed this package follows: see mcn/recordings.py) ----------------------------
    def record_downloader(
        self, account_id: str | int | None = None, *, settings: MediaSettings | None = None
    ) -> MediaDownloader:
        """A :class:`~airflow_provider_comagic.hooks.media.MediaDownloader` of the recordings
        :func:`~airflow_provider_comagic.mcn.recordings.call_log_recordings` names:
        ``GET {base_url}/account/{account_id}/vpbx/{vpbx_id}/call_log/record?call_id=...`` with the Bearer token
        (an endpoint our documentation does not cover; its 404 is "absent", 400 "nothing to join"; 401/403 fail
        the task at once). Default settings take the connection's timeout and retries."""
        account = self.account(account_id)
        base_url, token = self.config.base_url, self.config.token

        def request_for(recording: Any) -> tuple[str, dict[str, str]]:
            locator = recording.source
            if not isinstance(locator, McnRecordLocator):
                raise McnError(f"{recording.describe()}: not an MCN Telecom recording (no call-log locator)")
            path = RECORD_PATH.format(account_id=_segment(account), vpbx_id=_segment(locator.vpbx_id))
            return base_url + path, {"call_id": locator.call_id}

        def refuse(status: int, recording: Any) -> None:
            self._raise_for_access(status, "call_log/record", account, recording.source.vpbx_id)

        return MediaDownloader(
            api_name=f"{API_NAME} record",
            request_for=request_for,
            transport_error=McnTransportError,
            headers={"Authorization": f"Bearer {token}"},
            refuse=refuse,
            settings=settings or MediaSettings(read_timeout=self.timeout, max_retries=self.max_retries),
            sleep=self._sleep,
            logger=self.log,
        )

    # -- UI -------------------------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """List the account's active vPBXs (one cheap authenticated request), answering within about 10 s: one
        attempt, a short timeout; messages say "this connection", not the UI's temporary connection id."""
        conn_id = self.mcn_conn_id
        try:
            self._timeout = min(self.timeout, TEST_CONNECTION_TIMEOUT)
            self._max_retries = 0
            vpbxs = self.list_vpbx()
        except McnTransportError as error:
            return False, f"{error}. The base URL is {self.config.base_url}."
        except McnError as error:
            return False, for_this_connection(str(error), conn_id)
        finally:
            self.close()
        ids = ", ".join(str(v.get("vpbx_id", v.get("id"))) for v in vpbxs) or "none"
        message = f"Connected to {self.config.host}: account {self.config.account_id} has active vPBXs: {ids}."
        message += missing_port_note(self.config.stored_port, self.config.base_url)
        # `airflow connections test` prints only "Connection success!"; with --verbose also this line (a module
        # logger: a hook's own logger writes to task logs only, and there is no task here)
        log.info("%s", message)
        return True, message

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form behaviour for Airflow 2.10-3.1 (3.2+ reads ``ui-field-behaviour`` from get_provider_info: the same
        definition)."""
        from airflow_provider_comagic.get_provider_info import mcn_ui_field_behaviour

        return mcn_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra fields of the connection form for Airflow 2.10-3.1, built from the ``conn-fields`` of 3.2+."""
        from airflow_provider_comagic.get_provider_info import mcn_form_widgets

        return mcn_form_widgets()


def _segment(value: str) -> str:
    """One URL path segment: ids are user input, never let them add path parts or a query."""
    return quote(value, safe="")
