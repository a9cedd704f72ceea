"""The error taxonomy of the CoMagic Data API (MCN Telecom has its own, :mod:`~airflow_provider_comagic.mcn.errors`).

Every JSON-RPC error of the Data API becomes an instance of a :class:`ComagicApiError` subclass chosen by its
``mnemonic`` (the API's documented, stable error identifier) and, failing that, by its numeric ``code`` group.
The same table, :data:`API_ERRORS`, is used by the bundled emulator to produce the errors, so the client and
the emulator cannot drift apart.

Secrets never reach an exception text: :func:`error_from_response` removes the values it is given to redact
(access token, password) from every field it copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_comagic.exceptions import (
    ConnectionConfigError,
    DataIntegrityError,
    ParameterError,
    PermanentError,
    ProviderError,
    TransportError,
)

# mnemonic -> (JSON-RPC code, message as documented in index.txt and the method pages)
API_ERRORS: dict[str, tuple[int, str]] = {
    "parse_error": (-32700, "Invalid JSON was received by the server."),
    "invalid_request": (-32600, "Invalid Request The JSON sent is not a valid Request object"),
    "method_not_found": (-32601, "The method does not exist / is not available"),
    "data_type_error": (-32602, "Data supplied is of wrong type"),
    "required_parameter_missed": (-32602, "The required parameter has been missed"),
    "invalid_parameter_value": (-32602, "Invalid parameter value"),
    "unexpected_parameters": (-32602, "Unexpected method parameter(s)"),
    "invalid_parameters_combination": (-32602, "The combination of parameters is not permitted"),
    "sort_prohibited": (-32602, "Sort by parameter is prohibited"),
    "filter_prohibited": (-32602, "Filter by parameter is prohibited"),
    "date_interval_limit_reached": (-32602, "Max value of requested date interval is 3 months"),
    "entity_not_found": (-32602, "Entity not found"),
    "duplicate_entity": (-32602, "Duplicate entity"),
    "invalid_date_time": (-32602, "Invalid date time"),
    "data_limit_exceeded": (-32602, "A new data limit has been exceeded"),
    "tariff_restrictions": (-32602, "Action is not allowed for your tariff plan."),
    "error": (-32602, "{error_message}"),
    "internal_error": (-32603, "Internal error, contact the support service"),
    "auth_error": (-32001, "Login or password is wrong"),
    "access_token_expired": (-32001, "Access token has been expired"),
    "access_token_blocked": (-32001, "Access token has been blocked"),
    "access_token_invalid": (-32001, "Access token is invalid"),
    "forbidden": (-32003, "Permission denied"),
    "ip_not_whitelisted": (-32003, "Your IP {ip} is not whitelisted"),
    "method_component_disabled": (
        -32008,
        "You need at least on of the following components to access this method: {components}",
    ),
    "parameter_component_disabled": (
        -32008,
        "You need at least on of the following components to access this paremeter: {components}",
    ),
    "account_inactive": (-32009, "Your account has been disabled, contact the support service"),
    "limit_exceeded": (
        -32029,
        "Limit per {limit_type} has been exceeded. Value of current limit per {limit_type} is {limit_max_value}",
    ),
    "batch_opreations_not_supported": (-32099, "Batch operations not supported"),
    "notifications_not_supported": (-32099, "Notifications not supported"),
}

# What a user should do about the errors new users meet first.
_HINTS: dict[str, str] = {
    "ip_not_whitelisted": (
        "Add this machine's public IP address to the API whitelist of the account (Администратор -> Аккаунт -> "
        "Правила и настройки безопасности -> API). When acting as an agent, whitelist it in the client account."
    ),
    "auth_error": (
        "Check the login and password of the connection. Credentials of dataapi.comagic.ru are not valid on "
        "dataapi.uiscom.ru and vice versa: make sure the connection host matches where the account lives."
    ),
    "access_token_invalid": (
        "The access token is unknown to this API host. Check the token, and that the connection host "
        "(dataapi.comagic.ru or dataapi.uiscom.ru) is the one the account is registered on."
    ),
    "access_token_blocked": "The access token was blocked in the account: issue a new one.",
    "method_component_disabled": "Enable the required component for the account (Аккаунт -> Тарифы и опции).",
    "forbidden": "The API user lacks the permission for this method; grant it in the account's user settings.",
    "account_inactive": "The account is disabled; contact CoMagic support.",
}


class ComagicError(ProviderError):
    """Base class of every error about the CoMagic Data API and the CoMagic operators."""


class ComagicParameterError(ComagicError, ParameterError):
    """A parameter given by the user is invalid; raised before any API call, naming the parameter."""


class ComagicConnectionConfigError(ComagicParameterError, ConnectionConfigError):
    """The ``comagic`` connection is incomplete or inconsistent."""


class ComagicTimezoneMismatchError(ComagicConnectionConfigError):
    """The connection names a time zone that is not the account's: every interval would be read shifted."""


class ComagicTransportError(ComagicError, TransportError):
    """HTTP-level failure: connection error, timeout, HTTP 429/5xx, or a malformed response body (transient)."""


class ComagicDataIntegrityError(ComagicError, DataIntegrityError):
    """The API returned an inconsistent set of rows that re-reading could not repair."""


class ComagicApiError(ComagicError):
    """A JSON-RPC error returned by the Data API (HTTP 200 with an ``error`` member)."""

    def __init__(
        self,
        *,
        code: int | None,
        mnemonic: str | None,
        message: str,
        method: str,
        field: str | None = None,
        value: Any = None,
        params: Mapping[str, Any] | None = None,
        limits: Mapping[str, Any] | None = None,
    ):
        self.code = code
        self.mnemonic = mnemonic
        self.api_message = message
        self.method = method
        self.field = field
        self.value = value
        self.params = dict(params or {})
        self.limits = dict(limits or {})
        super().__init__(self._render())

    def _render(self) -> str:
        # the mnemonic in parentheses, not square brackets: `airflow connections test` prints messages as rich
        # markup, where "[access_token_invalid, code -32001]" is a style tag and vanishes
        text = f"CoMagic {self.method} failed: {self.api_message} ({self.mnemonic or 'unknown'}, code {self.code})"
        if self.field:
            text += f"; field {self.field!r}"
            if self.value is not None:
                text += f" = {_shown(self.value)}"
        hint = _HINTS.get(self.mnemonic or "")
        if hint:
            text += f". {hint}"
        return text

    def __reduce__(self):  # keep exceptions picklable across processes
        return (_rebuild_api_error, (type(self), self.__dict__.copy()))


def _shown(value: Any, limit: int = 120) -> str:
    """A value an error names, cut short: a filter of 10 000 ids would otherwise fill a log line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    count = f", {len(value)} items" if isinstance(value, list | tuple | dict) else ""
    return f"{text[:limit]}... ({len(text)} characters{count})"


def _rebuild_api_error(cls: type[ComagicApiError], state: dict[str, Any]) -> ComagicApiError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._render())
    return error


class ComagicAuthError(ComagicApiError, PermanentError):
    """Authentication failed: wrong login/password or an invalid, expired or blocked token (code -32001)."""


class ComagicTokenExpiredError(ComagicAuthError):
    """The session token expired or became invalid; a login/password connection renews it once."""


class ComagicPermissionError(ComagicApiError, PermanentError):
    """Access denied (code -32003): missing permission or the caller's IP is not whitelisted."""


class ComagicIpNotWhitelistedError(ComagicPermissionError):
    """The caller's IP address is not in the account's API whitelist."""


class ComagicComponentDisabledError(ComagicApiError, PermanentError):
    """A component required by the method or a parameter is not enabled for the account (code -32008)."""


class ComagicAccountInactiveError(ComagicApiError, PermanentError):
    """The account is disabled (code -32009)."""


class ComagicMethodNotFoundError(ComagicApiError, PermanentError):
    """The method does not exist or is not available (code -32601)."""


class ComagicInvalidParamsError(ComagicApiError, PermanentError):
    """The request's parameters were rejected (codes -32600, -32602, -32700)."""


class ComagicInternalError(ComagicApiError):
    """The API reported an internal error (code -32603); transient, retried with backoff."""


class ComagicRateLimitError(ComagicApiError):
    """A quota of API points is spent (code -32029)."""

    @property
    def reset_seconds(self) -> float:
        key = "day_reset" if isinstance(self, ComagicDayLimitExceededError) else "minute_reset"
        try:
            return float(self.limits.get(key) or 0)
        except (TypeError, ValueError):
            return 0.0


class ComagicMinuteLimitExceededError(ComagicRateLimitError):
    """The per-minute quota is spent; the call is retried after ``minute_reset`` seconds."""


class ComagicDayLimitExceededError(ComagicRateLimitError):
    """The per-day quota is spent; fails fast, the message says when the quota resets."""

    def _render(self) -> str:
        return (
            super()._render()
            + f". The day quota of {self.limits.get('day_limit', '?')} points resets in "
            + f"{int(self.reset_seconds)} s; rerun the task after that or extend the limits in the account."
        )


_BY_MNEMONIC: dict[str, type[ComagicApiError]] = {
    "auth_error": ComagicAuthError,
    "access_token_expired": ComagicTokenExpiredError,
    "access_token_invalid": ComagicTokenExpiredError,
    "access_token_blocked": ComagicAuthError,
    "ip_not_whitelisted": ComagicIpNotWhitelistedError,
    "forbidden": ComagicPermissionError,
    "internal_error": ComagicInternalError,
    "method_not_found": ComagicMethodNotFoundError,
}

_BY_CODE: dict[int, type[ComagicApiError]] = {
    -32700: ComagicInvalidParamsError,
    -32600: ComagicInvalidParamsError,
    -32601: ComagicMethodNotFoundError,
    -32602: ComagicInvalidParamsError,
    -32603: ComagicInternalError,
    -32001: ComagicAuthError,
    -32003: ComagicPermissionError,
    -32008: ComagicComponentDisabledError,
    -32009: ComagicAccountInactiveError,
}


def _redact(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets) for v in value]
    return value


def _limit_type(error: Mapping[str, Any], limits: Mapping[str, Any]) -> str:
    params = (error.get("data") or {}).get("params") or {}
    limit_type = str(params.get("limit_type") or "")
    if limit_type:
        return limit_type
    if limits.get("day_remaining") == 0 and limits.get("minute_remaining") != 0:
        return "day"
    return "minute"


def error_from_response(error: Mapping[str, Any], *, method: str, secrets: Iterable[str] = ()) -> ComagicApiError:
    """Build the typed exception for a JSON-RPC ``error`` object, with secrets removed from every field."""
    secrets = [s for s in secrets if s]
    data = error.get("data") or {}
    mnemonic = data.get("mnemonic")
    code = error.get("code")
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    limits = (data.get("metadata") or {}).get("limits") or {}
    field = data.get("field")
    value = data.get("value")
    if field in {"access_token", "password", "login"}:
        value = None
    kwargs = {
        "code": code,
        "mnemonic": mnemonic,
        "message": _redact(str(error.get("message") or ""), secrets),
        "method": method,
        "field": field,
        "value": _redact(value, secrets),
        "params": _redact(data.get("params") or {}, secrets),
        "limits": limits,
    }
    if mnemonic == "limit_exceeded" or code == -32029:
        if _limit_type(error, limits).startswith("day"):
            return ComagicDayLimitExceededError(**kwargs)
        return ComagicMinuteLimitExceededError(**kwargs)
    cls = _BY_MNEMONIC.get(mnemonic or "") or _BY_CODE.get(code or 0) or ComagicApiError
    return cls(**kwargs)


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ComagicTransportError, ComagicInternalError)
"""Errors retried with exponential backoff (minute-limit waits are handled separately by the quota logic)."""


def is_missing_access(error: BaseException) -> bool:
    """A client-level gap an agency's fan-out may skip: a disabled component or a missing permission, but never
    the machine's IP missing from the whitelist (a setup error)."""
    if isinstance(error, ComagicIpNotWhitelistedError):
        return False
    if isinstance(error, ComagicComponentDisabledError):
        return True
    return isinstance(error, ComagicPermissionError) and error.mnemonic in (None, "forbidden")
