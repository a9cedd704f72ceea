"""Retry policy shared by the sync and async hooks.

Two layers: tenacity retries *transient* faults (connection errors, timeouts, HTTP 429/5xx, malformed JSON,
``internal_error``) with exponential backoff and jitter, honouring ``Retry-After``; inside it,
:class:`CallAttempt` handles the API-level recoveries that are not faults: renewing an expired session token
once, and waiting out a spent minute quota.
"""

from __future__ import annotations

import logging
from typing import Any

from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from airflow_provider_comagic.comagic.errors import (
    TRANSIENT_ERRORS,
    ComagicMinuteLimitExceededError,
    ComagicTokenExpiredError,
    ComagicTransportError,
)

RENEW_TOKEN = "renew-token"
MAX_MINUTE_WAITS = 20


class _BackoffOrRetryAfter:
    """Exponential backoff with jitter, but never shorter than the server's ``Retry-After``."""

    def __init__(self, initial: float, maximum: float):
        self._backoff = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)
        self._maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self._backoff(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(error, "retry_after", None) if isinstance(error, ComagicTransportError) else None
        if retry_after:
            wait = max(wait, min(retry_after, self._maximum))
        return wait


def tenacity_kwargs(
    *, max_retries: int, initial_wait: float, max_wait: float, logger: logging.Logger, api: str = "CoMagic"
) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` (plain numbers in, so triggers can
    rebuild the same policy from their JSON kwargs). ``api`` names the service in the retry log line."""

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
        "retry": retry_if_exception_type(TRANSIENT_ERRORS),
        "stop": stop_after_attempt(max_retries + 1),
        "wait": _BackoffOrRetryAfter(initial_wait, max_wait),
        "before_sleep": log_retry,
        "reraise": True,
    }


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
