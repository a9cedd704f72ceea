"""The error taxonomy of the MCN Telecom REST API: its own classes on the provider's vendor-neutral bases
(:mod:`~airflow_provider_comagic.exceptions`), never CoMagic ones."""

from __future__ import annotations

from airflow_provider_comagic.exceptions import (
    ConnectionConfigError,
    ParameterError,
    PermanentError,
    ProviderError,
    TransportError,
)

__all__ = [
    "TRANSIENT_ERRORS",
    "McnApiError",
    "McnAuthError",
    "McnConnectionConfigError",
    "McnError",
    "McnNotFoundError",
    "McnParameterError",
    "McnPermissionError",
    "McnTransportError",
]


class McnError(ProviderError):
    """Base class of every error about the MCN Telecom API and the MCN operator."""


class McnParameterError(McnError, ParameterError):
    """A parameter given to the MCN hook or operator is invalid; raised before any API call, naming it."""


class McnConnectionConfigError(McnParameterError, ConnectionConfigError):
    """The ``mcn_telecom`` connection is incomplete or inconsistent."""


class McnTransportError(McnError, TransportError):
    """HTTP-level failure talking to MCN Telecom (connection error, timeout, 429/5xx, malformed JSON); retried."""


class McnApiError(McnError):
    """The MCN Telecom REST API refused a request (a non-transient HTTP status or an error body)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class McnAuthError(McnApiError, PermanentError):
    """HTTP 401 from the MCN Telecom API: the Bearer token is missing, wrong, expired or revoked."""


class McnPermissionError(McnApiError, PermanentError):
    """HTTP 403 from the MCN Telecom API: the token may not read this account or vPBX."""


class McnNotFoundError(McnApiError, PermanentError):
    """HTTP 404 from the MCN Telecom API: unknown account_id or vpbx_id (or a wrong base URL)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (McnTransportError,)
"""Errors of the MCN hook retried with exponential backoff."""
