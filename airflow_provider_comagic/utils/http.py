"""HTTP rules every vendor's hook shares, without I/O: status checks, retry policy, timeout/retry settings.

Each vendor passes its own error classes and name, so nothing here defaults to one vendor: a CoMagic hook
raises :class:`~airflow_provider_comagic.comagic.errors.ComagicTransportError`, the MCN hook
:class:`~airflow_provider_comagic.mcn.errors.McnTransportError`, through the same rules.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from airflow_provider_comagic.exceptions import ProviderError, TransportError
from airflow_provider_comagic.utils.time import get_timezone

__all__ = ["TRANSIENT_HTTP_STATUSES", "ConnectionSettings", "check_http_status", "retry_after", "tenacity_kwargs"]

TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def check_http_status(
    status: int,
    headers: Mapping[str, str],
    *,
    what: str,
    host: str,
    transport_error: type[TransportError],
    error: type[ProviderError],
    hint_404: str = "",
) -> None:
    """Raise for a non-200 HTTP status: transient ones (429, 5xx) as ``transport_error`` (retried), any other
    as ``error``. ``what`` names the service and the call in the message (``"CoMagic get.calls_report"``)."""
    if status == 200:
        return
    if status in TRANSIENT_HTTP_STATUSES:
        raise transport_error(f"{what}: HTTP {status} from {host}", status=status, retry_after=retry_after(headers))
    hint = f" {hint_404}" if status == 404 and hint_404 else ""
    raise error(f"{what}: unexpected HTTP {status} from {host}.{hint}")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds (None when absent or not a number)."""
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class _BackoffOrRetryAfter:
    """Exponential backoff with jitter, but never shorter than the server's ``Retry-After``."""

    def __init__(self, initial: float, maximum: float):
        self._backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self._maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._backoff(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        seconds = getattr(error, "retry_after", None) if isinstance(error, TransportError) else None
        if seconds:
            wait = max(wait, min(seconds, self._maximum))
        return wait


def tenacity_kwargs(
    *,
    transient: tuple[type[BaseException], ...],
    max_retries: int,
    initial_wait: float,
    max_wait: float,
    logger: logging.Logger,
    api: str,
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying``: retry the ``transient`` errors with
    backoff (plain numbers in, so triggers can rebuild the same policy from their JSON kwargs). ``api`` names
    the service in the retry log line."""

    def log_retry(retry_state: RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0
        logger.warning(
            "Transient %s API failure (attempt %d of %d), retrying in %.1f s: %s",
            api,
            retry_state.attempt_number,
            max_retries + 1,
            wait,
            error,
        )

    return {
        "retry": retry_if_exception_type(transient),
        "stop": stop_after_attempt(max_retries + 1),
        "wait": _BackoffOrRetryAfter(initial_wait, max_wait),
        "before_sleep": log_retry,
        "reraise": True,
    }


class ConnectionSettings:
    """``timezone``, ``timeout`` and ``max_retries`` of a hook (the constructor's value, else the connection's) and
    its tenacity arguments. The hook sets ``_timeout``, ``_max_retries``, ``_retry_initial_wait`` and
    ``_retry_max_wait``, supplies ``config`` and ``log``, and names its API and transient errors in
    :attr:`api_name` and :attr:`transient_errors`; shared by the Data API hooks and the MCN hook."""

    api_name: str
    transient_errors: tuple[type[BaseException], ...]

    @property
    def timezone(self) -> dt.tzinfo:
        """The connection's time zone: the API's wall-clock times (``date_from`` and the like) are in it."""
        return get_timezone(self.config.timezone)

    @property
    def timeout(self) -> float:
        return self._timeout if self._timeout is not None else self.config.timeout

    @property
    def max_retries(self) -> int:
        return self._max_retries if self._max_retries is not None else self.config.max_retries

    def _retry_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the hook's ``Retrying``/``AsyncRetrying`` (transient faults, backoff)."""
        return tenacity_kwargs(
            transient=self.transient_errors,
            max_retries=self.max_retries,
            initial_wait=self._retry_initial_wait,
            max_wait=self._retry_max_wait,
            logger=self.log,
            api=self.api_name,
        )
