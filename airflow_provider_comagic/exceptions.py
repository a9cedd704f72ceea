"""Errors every vendor of this provider shares: the base classes of :mod:`~airflow_provider_comagic.comagic.errors`
and :mod:`~airflow_provider_comagic.mcn.errors`, and what the vendor-neutral rooms (``utils``, ``landing``) raise.

Catch :class:`ProviderError` for anything this package raises, :class:`ParameterError` for bad input of any
operator (a CoMagic operator raises :class:`~airflow_provider_comagic.comagic.errors.ComagicParameterError`, an
MCN one :class:`~airflow_provider_comagic.mcn.errors.McnParameterError`; both are ``ParameterError``\\s).
"""

from __future__ import annotations

from airflow_provider_comagic.version_compat import AirflowException, AirflowFailException

__all__ = [
    "ConnectionConfigError",
    "DataIntegrityError",
    "LandingError",
    "ParameterError",
    "PermanentError",
    "ProviderError",
    "SchemaDriftError",
    "TransportError",
]


class ProviderError(AirflowException):
    """Base class of every error raised by this provider."""


class PermanentError(ProviderError, AirflowFailException):
    """An error no retry can fix (bad input, a rejected credential, a missing permission, an unknown method): the
    task fails at once, without Airflow's retries, so a fixed connection or DAG is not held behind them.

    It is an ``AirflowFailException``; transient faults (:class:`TransportError`, a spent quota, an internal API
    error) are not, and keep their retries."""


class ParameterError(PermanentError, ValueError):
    """A parameter given by the user is invalid; raised before any API call, naming the parameter."""


class ConnectionConfigError(ParameterError):
    """An Airflow connection of this provider is incomplete or inconsistent."""


class TransportError(ProviderError):
    """HTTP-level failure: connection error, timeout, HTTP 429/5xx or a malformed body; transient, retried.

    :param status: the HTTP status, when there was a response.
    :param retry_after: seconds the server asked to wait (``Retry-After``), if it did.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class DataIntegrityError(ProviderError):
    """Data read back (from an API or the lake) is inconsistent, and re-reading could not repair it."""


class LandingError(ProviderError, ValueError):
    """Wrong landing arguments, an unreadable landed partition, or a partition that cannot be committed."""


class SchemaDriftError(DataIntegrityError, PermanentError):
    """Rows the API sent do not match its documented types beyond what the landing policy allows (a column whose
    rescued values pass ``max_rescued_fraction``, any mismatch under ``on_type_mismatch="fail"``, a value that
    cannot be coerced under ``"coerce_only"``).

    Permanent: a retry would read the same rows again, so the task fails at once, without Airflow's retries; the
    message names the column, its documented type, what arrived (a masked example) and the option to relax.
    Nothing of the partition is committed: it keeps its previous copy.

    :param column: the column (a top-level field, or a new one the docs do not list).
    """

    def __init__(self, message: str, *, column: str | None = None):
        super().__init__(message)
        self.column = column
