"""Downloading recordings over HTTP, for every vendor: streamed, validated, retried, and never naming a URL.

:class:`MediaDownloader` fetches one :class:`~airflow_provider_comagic.utils.recordings.Recording` at a time per
thread (the landing runs :attr:`MediaDownloader.concurrency` of them at once) and streams the body chunk by chunk
into a *sink* the caller opens (the landing's object in storage): no file is ever held in memory. Each vendor's
hook builds one (:meth:`~airflow_provider_comagic.hooks.comagic.ComagicHook.media_downloader`,
:meth:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook.record_downloader`) with what is its own: how a
recording becomes a request, the headers (MCN's Bearer token), its transient error class, and which statuses stop
the task (MCN's 401/403).

Outcomes are data (:class:`~airflow_provider_comagic.utils.recordings.Fetched`): 200 with a valid body -> ``ok`` (bytes, SHA-256); 404 -> ``not_found``
(the landing tells "absent" from "not ready yet" by the call's end); 400 -> ``empty`` (nothing to join); a body
that is not the expected audio (wrong content type, wrong magic bytes, empty) or another status -> ``failed`` at
once; connection errors, timeouts, 408/425/429/5xx and bodies cut short are retried with backoff (``Retry-After``
honoured) and become ``failed`` only beyond the retries.

Secrets: the URLs (capabilities) appear in no message of this module; the one place a library would write them,
urllib3's DEBUG line of each request, is redacted while the request is in flight (:class:`_InFlightUrls`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tenacity import Retrying

from airflow_provider_comagic.exceptions import TransportError
from airflow_provider_comagic.utils.audio import AudioCheck, IncompleteBody, InvalidAudio
from airflow_provider_comagic.utils.http import TRANSIENT_HTTP_STATUSES, retry_after, tenacity_kwargs
from airflow_provider_comagic.utils.recordings import (
    FETCH_EMPTY,
    FETCH_FAILED,
    FETCH_NOT_FOUND,
    FETCH_OK,
    PROXY_RULE,
    Fetched,
    Recording,
    RecordingOptions,
    Sink,
    is_proxy_url,
)
from airflow_provider_comagic.version_compat import mask_secret

__all__ = ["DEFAULT_CHUNK_SIZE", "DEFAULT_CONCURRENCY", "MediaDownloader", "MediaSettings", "task_media_settings"]

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4
"""Downloads at once: no rate limit is documented for the media hosts, so a polite few."""
DEFAULT_CHUNK_SIZE = 256 * 2**10
REDACTED = "<media URL redacted>"
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


@dataclasses.dataclass(frozen=True)
class MediaSettings:
    """Tuning of a :class:`MediaDownloader` (plain numbers: an operator passes them through as parameters).

    :param concurrency: downloads at once (default 4).
    :param connect_timeout: seconds to connect; :param read_timeout: seconds a read may wait for bytes.
    :param file_timeout: seconds one attempt at one file may take in all (a body trickling in slower than this
        is retried).
    :param max_retries: retries of transient faults per file; :param retry_initial_wait: first backoff (doubled
        per retry, with jitter); :param retry_max_wait: longest backoff.
    :param proxy: an HTTP(S) proxy URL for every request (credentials in it are masked).
    :param chunk_size: bytes read and written at a time.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    file_timeout: float = 900.0
    max_retries: int = 5
    retry_initial_wait: float = 1.0
    retry_max_wait: float = 60.0
    proxy: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        positive = ("concurrency", "connect_timeout", "read_timeout", "file_timeout", "chunk_size")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        if self.proxy is not None and not is_proxy_url(self.proxy):
            raise ValueError(PROXY_RULE)


def task_media_settings(options: RecordingOptions, *, read_timeout: float, max_retries: int) -> MediaSettings:
    """The settings of a recordings task's downloads: its ``concurrency`` and ``proxy``, the connection's timeout
    and retries."""
    return MediaSettings(
        concurrency=options.concurrency, proxy=options.proxy, read_timeout=read_timeout, max_retries=max_retries
    )


class _InFlightUrls(logging.Filter):
    """Redacts, in urllib3's log records, every argument that contains a URL (or its path) being fetched."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._urls: dict[str, int] = {}

    @contextlib.contextmanager
    def holding(self, *texts: str) -> Iterator[None]:
        with self._lock:
            for text in texts:
                self._urls[text] = self._urls.get(text, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for text in texts:
                    if self._urls.get(text, 0) <= 1:
                        self._urls.pop(text, None)
                    else:
                        self._urls[text] -= 1

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and self._urls:
            with self._lock:
                urls = list(self._urls)
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                REDACTED if isinstance(arg, str) and any(url in arg for url in urls) else arg for arg in args
            )
        return True


_IN_FLIGHT = _InFlightUrls()
_installed = threading.Lock()


def _install_redaction() -> None:
    with _installed:
        for name in _URLLIB3_LOGGERS:
            logger = logging.getLogger(name)
            if _IN_FLIGHT not in logger.filters:
                logger.addFilter(_IN_FLIGHT)


class _Transient(Exception):
    """Marker mixed into the vendor's transport error of one attempt (module docstring)."""


class _NotFetchable(Exception):
    """A recording whose URL no request can reach (not retried)."""


_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)
_MAX_REDIRECTS = 5


def _shown(url: str, params: Mapping[str, str] | None) -> tuple[str, str]:
    """How urllib3 may write a request's URL in its logs: whole (through a proxy), or its path and query."""
    whole = url + ("?" + urlencode(params) if params else "")
    parts = urlsplit(whole)
    return whole, parts.path + ("?" + parts.query if parts.query else "")


class MediaDownloader:
    """Streams recordings into sinks with retries and validation (module docstring); safe to share by threads.
    Close it (or use it as a context manager) to close its keep-alive connections.

    :param api_name: names the service in messages and retry logs (``"CoMagic media"``).
    :param request_for: ``recording -> (url, query parameters or None)``.
    :param transport_error: the vendor's :class:`~airflow_provider_comagic.exceptions.TransportError` subclass.
    :param headers: sent with every request (e.g. ``Authorization``; never logged).
    :param refuse: called with an HTTP status other than 200/400/404/transient before it is recorded as a
        failure; raising stops the landing (e.g. MCN's 401: the token is wrong for every file).
    :param settings: :class:`MediaSettings`.
    """

    def __init__(
        self,
        *,
        api_name: str,
        request_for: Callable[[Recording], tuple[str, Mapping[str, str] | None]],
        transport_error: type[TransportError],
        headers: Mapping[str, str] | None = None,
        refuse: Callable[[int, Recording], None] | None = None,
        settings: MediaSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
    ):
        self.api_name = api_name
        self.settings = settings or MediaSettings()
        self._request_for = request_for
        self._transport_error = transport_error
        self._headers = dict(headers or {})
        self._refuse = refuse
        self._sleep = sleep
        self._log = logger or log
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._transient = type(f"Transient{transport_error.__name__}", (transport_error, _Transient), {})
        proxy_password = urlsplit(self.settings.proxy or "").password
        if proxy_password:
            mask_secret(proxy_password)
        _install_redaction()

    def __enter__(self) -> MediaDownloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def concurrency(self) -> int:
        return int(self.settings.concurrency)

    def _session(self) -> requests.Session:
        """This thread's keep-alive session (one per worker thread: requests' sessions are not thread-safe)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Accept": "audio/*", **self._headers})
            session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=1))
            session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=1))
            if self.settings.proxy:
                session.proxies = {"http": self.settings.proxy, "https": self.settings.proxy}
                session.trust_env = False  # the proxy given wins over the environment's
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every thread's session."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    def fetch(self, recording: Recording, open_sink: Callable[[], Sink]) -> Fetched:
        """Download ``recording`` into a sink from ``open_sink()`` (a fresh one per attempt); never raises for
        an outcome, only when ``refuse`` does or the sink fails (storage errors stop the landing)."""
        settings = self.settings
        attempts = [0]
        retrying = Retrying(
            sleep=self._sleep,
            **tenacity_kwargs(
                transient=(self._transient,),
                max_retries=settings.max_retries,
                initial_wait=settings.retry_initial_wait,
                max_wait=settings.retry_max_wait,
                logger=self._log,
                api=self.api_name,
            ),
        )
        try:
            fetched = retrying(self._attempt, recording, open_sink, attempts)
        except _NotFetchable as error:
            return Fetched(FETCH_FAILED, str(error), attempts=attempts[0])
        except _Transient as error:
            status = getattr(error, "status", None)
            tries = attempts[0]
            return Fetched(
                FETCH_FAILED, f"{_reason(error)} (after {tries} attempts)", attempts=tries, http_status=status
            )
        return dataclasses.replace(fetched, attempts=attempts[0])

    def _attempt(self, recording: Recording, open_sink: Callable[[], Sink], attempts: list[int]) -> Fetched:
        attempts[0] += 1
        url, params = self._request_for(recording)
        response = self._get(recording, url, params)
        try:
            return self._read(recording, response, open_sink)
        finally:
            response.close()

    def _fault(self, recording: Recording, text: str, **details: Any) -> TransportError:
        return self._transient(f"{self.api_name} {recording.describe()}: {text}", **details)

    def _get(self, recording: Recording, url: str, params: Mapping[str, str] | None) -> requests.Response:
        """The response to ``url``, redirects followed here (each new URL is redacted from urllib3's logs while
        it is requested; the vendor's headers are not sent to another host)."""
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        origin, headers = urlsplit(url).netloc, None
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                with _IN_FLIGHT.holding(*_shown(url, params)):
                    response = self._session().get(
                        url, params=params, headers=headers, timeout=timeout, stream=True, allow_redirects=False
                    )
            except _BAD_URL as error:
                raise _NotFetchable(f"{type(error).__name__}: not a URL that can be fetched") from None
            except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
                raise self._fault(recording, f"{type(error).__name__} talking to the media host") from None
            if not response.is_redirect:
                return response
            url, params = urljoin(response.url, response.headers["Location"]), None
            response.close()
            if urlsplit(url).netloc != origin:  # as requests does: credentials stay with their host
                headers = dict.fromkeys(self._headers)
        raise self._fault(recording, f"more than {_MAX_REDIRECTS} redirects")

    def _read(self, recording: Recording, response: requests.Response, open_sink: Callable[[], Sink]) -> Fetched:
        status = response.status_code
        if status == 404:
            return Fetched(FETCH_NOT_FOUND, "HTTP 404", http_status=status)
        if status == 400:
            return Fetched(FETCH_EMPTY, "HTTP 400: nothing to join", http_status=status)
        if status in TRANSIENT_HTTP_STATUSES:
            raise self._fault(recording, f"HTTP {status}", status=status, retry_after=retry_after(response.headers))
        if status != 200:
            if self._refuse is not None:
                self._refuse(status, recording)
            return Fetched(FETCH_FAILED, f"HTTP {status}", http_status=status)
        try:
            check = AudioCheck(
                recording.audio_format,
                content_type=response.headers.get("Content-Type"),
                expected_size=_declared_size(response),
            )
        except InvalidAudio as error:
            return Fetched(FETCH_FAILED, str(error), http_status=status)
        return self._stream(recording, response, check, open_sink)

    def _stream(
        self, recording: Recording, response: requests.Response, check: AudioCheck, open_sink: Callable[[], Sink]
    ) -> Fetched:
        """The body into a fresh sink, validated on the way; the sink is discarded unless the body is complete."""
        deadline = time.monotonic() + self.settings.file_timeout
        sink = open_sink()
        finished = False
        try:
            for chunk in self._chunks(recording, response):
                check.feed(chunk)
                sink.write(chunk)
                if time.monotonic() > deadline:
                    raise self._fault(recording, f"the body took over {self.settings.file_timeout:g} s")
            check.finish()
            sink.finish()
            finished = True
        except IncompleteBody as error:
            raise self._fault(recording, str(error)) from None
        except InvalidAudio as error:
            return Fetched(FETCH_FAILED, str(error), http_status=200)
        finally:
            if not finished:
                sink.discard()
        return Fetched(FETCH_OK, bytes=check.size, sha256=check.sha256, http_status=200)

    def _chunks(self, recording: Recording, response: requests.Response) -> Iterator[bytes]:
        chunks = response.iter_content(self.settings.chunk_size)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                raise self._fault(recording, f"{type(error).__name__} reading the body") from None
            if chunk:
                yield chunk


def _declared_size(response: requests.Response) -> int | None:
    """The body's ``Content-Length`` when it is the size of the bytes read (not for a compressed transfer)."""
    if response.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
        return None
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _reason(error: BaseException) -> str:
    """An attempt's error text without the ``<api> <call>:`` prefix (the manifest names the call itself)."""
    text = str(error)
    return text.split(": ", 1)[1] if ": " in text else text
