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
from airflow_provider_comagic.version_compat import EMPTY_PORT_FAILS_LIST_TEST

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_PORTS",
    "DEFAULT_TIMEOUT",
    "TEST_CONNECTION_TIMEOUT",
    "bool_extra",
    "extra_dict",
    "for_this_connection",
    "missing_port_note",
    "retry_extras",
    "split_url",
    "timezone_extra",
    "url_port",
]

DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 5
TEST_CONNECTION_TIMEOUT = 8.0
"""Seconds one request of a connection test may take: the UI's Test button answers within ~10 s, no retries."""
DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port a URL of each scheme reaches when it names none."""
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
    """``scheme://host[:port]/path`` -> scheme, host with the connection's ``port`` added, path without a trailing
    slash; ``shown`` is what the errors name.

    The connection's Port never moves a call elsewhere than its Host says: the scheme's own port (443 for HTTPS)
    adds nothing, the port a URL already names must be that port, and only another port on a URL without one is
    added (a proxy). Port 0 or empty: none (the Airflow 3 UI sends 0 for an empty Port)."""
    parts = urlsplit(url)
    try:
        url_port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        url_port, parts = None, parts._replace(netloc="")
    if not parts.hostname:
        raise error(f"Connection host {shown!r} is not a host name or URL")
    netloc = parts.netloc
    if port:
        port = int(port)
        if url_port is not None and url_port != port:
            raise error(
                f"Connection port {port} is not the port of the host URL {shown!r} ({url_port}): set Port to "
                f"{url_port}, or leave it empty"
            )
        if url_port is None and port != DEFAULT_PORTS.get(parts.scheme):
            netloc = f"{netloc}:{port}"
    return parts.scheme, netloc, parts.path.rstrip("/")


def url_port(url: str) -> int | None:
    """The port calls to ``url`` go to: the one it names, else its scheme's (None for another scheme)."""
    parts = urlsplit(url)
    return parts.port or DEFAULT_PORTS.get(parts.scheme)


def missing_port_note(port: int | None, url: str) -> str:
    """What a successful connection test adds when the connection's Port is empty (else nothing): Airflow 3.3's
    connections list cannot Test such a connection (see
    :data:`~airflow_provider_comagic.version_compat.EMPTY_PORT_FAILS_LIST_TEST`)."""
    if port or not EMPTY_PORT_FAILS_LIST_TEST:
        return ""
    return (
        f" Note: Port is empty, so Test in Airflow's connections list answers Bad Request: set Port to "
        f"{url_port(url)} (the port calls go to now)."
    )


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
