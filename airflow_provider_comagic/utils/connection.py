"""Reading the parts of an Airflow connection every vendor's connection shares: extras, host URLs, the time
zone and the timeout/retry extras. Each vendor's ``config`` module passes its own
:class:`~airflow_provider_comagic.exceptions.ConnectionConfigError` subclass as ``error``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_comagic.exceptions import ConnectionConfigError
from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE, get_timezone

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "TEST_CONNECTION_TIMEOUT",
    "bool_extra",
    "extra_dict",
    "for_this_connection",
    "retry_extras",
    "split_url",
    "timezone_extra",
]

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 5
TEST_CONNECTION_TIMEOUT = 8.0
"""Seconds one request of a connection test may take: the UI's Test button answers within ~10 s, no retries."""
ErrorClass = type[ConnectionConfigError]


def extra_dict(conn: Any, *, error: ErrorClass = ConnectionConfigError) -> dict[str, Any]:
    """The connection's extras as a dict (``extra_dejson``, or the JSON text of ``extra``)."""
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if not isinstance(extra, Mapping):
        raise error("Connection extra must be a JSON object")
    return dict(extra)


def split_url(
    url: str, port: int | None, *, shown: str | None, error: ErrorClass = ConnectionConfigError
) -> tuple[str, str, str]:
    """``scheme://host[:port]/path`` -> scheme, host with ``port`` added (unless the URL has one), path without
    a trailing slash; ``shown`` is what the error names when there is no host."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise error(f"Connection host {shown!r} is not a host name or URL")
    netloc = parts.netloc
    if port and not parts.port:
        netloc = f"{netloc}:{int(port)}"
    return parts.scheme, netloc, parts.path.rstrip("/")


def timezone_extra(
    extra: Mapping[str, Any], *, error: ErrorClass = ConnectionConfigError, default: str | None = DEFAULT_TIMEZONE
) -> str | None:
    """The extra ``timezone`` (``default`` when unset), checked to be a known zone."""
    timezone = str(extra.get("timezone") or "").strip() or default
    if timezone is None:
        return None
    try:
        get_timezone(timezone)
    except ValueError as err:
        raise error(f"Connection extra 'timezone': {err}") from None
    return timezone


def bool_extra(extra: Mapping[str, Any], name: str, *, error: ErrorClass = ConnectionConfigError) -> bool:
    """A yes/no extra: JSON ``true``/``false``, or ``"true"``/``"false"``/``"1"``/``"0"`` as the form stores text."""
    value = extra.get(name)
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise error(f"Connection extra {name!r} must be true or false, got {value!r}")


def retry_extras(extra: Mapping[str, Any], *, error: ErrorClass = ConnectionConfigError) -> dict[str, Any]:
    """The extras ``timeout`` (positive seconds) and ``max_retries`` (0 or more), with their defaults."""
    max_retries = positive_number(extra.get("max_retries"), "max_retries", DEFAULT_MAX_RETRIES, zero=True, error=error)
    return {
        "timeout": positive_number(extra.get("timeout"), "timeout", DEFAULT_TIMEOUT, error=error),
        "max_retries": int(max_retries),
    }


def optional_int(value: Any, name: str, *, error: ErrorClass = ConnectionConfigError) -> int | None:
    """An integer extra, None when unset."""
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise error(f"Connection extra {name!r} must be an integer, got {value!r}") from None


def positive_number(
    value: Any, name: str, default: float, *, zero: bool = False, error: ErrorClass = ConnectionConfigError
) -> float:
    """A positive (or, with ``zero``, non-negative) number extra, ``default`` when unset."""
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise error(f"Connection extra {name!r} must be a number, got {value!r}") from None
    if number < 0 or (number == 0 and not zero):
        raise error(f"Connection extra {name!r} must be positive, got {value!r}")
    return number


def for_this_connection(message: str, conn_id: str) -> str:
    """``message`` with the connection id replaced by "this connection": the UI tests an unsaved connection under
    a random temporary id (e.g. ``'aW23ud1z'``) that would only confuse the user."""
    return message.replace(f"Connection {conn_id!r}", "This connection").replace(
        f"connection {conn_id!r}", "this connection"
    )
