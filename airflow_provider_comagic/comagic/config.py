"""Reading a ``comagic`` Airflow connection into a validated, secret-safe configuration.

Shared by the sync hook and the async hook used in triggers, so both understand a connection the same way; the
parsing helpers (extras, timeout/retries, zone, host URL) are also those of :mod:`~airflow_provider_comagic.mcn.config`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError
from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE, get_timezone

DEFAULT_HOST = "dataapi.comagic.ru"
KNOWN_HOSTS = ("dataapi.comagic.ru", "dataapi.uiscom.ru")
DEFAULT_API_VERSION = "v2.0"
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_RETRIES = 5


@dataclasses.dataclass(frozen=True)
class ComagicConnectionConfig:
    """Everything the hooks need from a connection. ``repr`` never shows the token or the password."""

    endpoint: str
    access_token: str | None = dataclasses.field(default=None, repr=False)
    login: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    user_id: int | None = None
    timezone: str = DEFAULT_TIMEZONE
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES

    @property
    def uses_login(self) -> bool:
        """True when a session token must be obtained with ``login.user``."""
        return self.access_token is None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or exception texts."""
        return tuple(s for s in (self.access_token, self.password) if s)

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    @classmethod
    def from_connection(cls, conn: Any) -> ComagicConnectionConfig:
        """Build the configuration from an Airflow ``Connection`` (or anything with the same attributes)."""
        extra = _extra_dict(conn)
        api_version = str(extra.get("api_version") or DEFAULT_API_VERSION).strip("/")
        endpoint = build_endpoint(
            getattr(conn, "host", None), getattr(conn, "port", None), getattr(conn, "schema", None), api_version
        )
        login = (getattr(conn, "login", None) or "").strip() or None
        password = getattr(conn, "password", None) or None
        token = extra.get("access_token") or None
        if token is None and login is None:
            token = password  # the password field holds a permanent token when there is no login
            password = None
        if token is None and (login is None or password is None):
            raise ComagicConnectionConfigError(
                f"Connection {getattr(conn, 'conn_id', '?')!r}: give either an access token (password field or "
                "extra 'access_token') or both login and password"
            )
        timezone = timezone_extra(extra)
        return cls(
            endpoint=endpoint,
            access_token=token,
            login=login if token is None else None,
            password=password if token is None else None,
            user_id=_optional_int(extra.get("user_id"), "user_id"),
            timezone=timezone,
            **retry_extras(extra),
        )


def build_endpoint(host: str | None, port: int | None, schema: str | None, api_version: str) -> str:
    """``dataapi.uiscom.ru`` -> ``https://dataapi.uiscom.ru/v2.0``; ``http://127.0.0.1:8765`` is kept as given."""
    given = (host or DEFAULT_HOST).strip()
    url = given if "://" in given else f"{schema if schema in ('http', 'https') else 'https'}://{given}"
    scheme, netloc, path = split_url(url.rstrip("/"), port, shown=given)
    if not path.rsplit("/", 1)[-1].startswith("v"):
        path = f"{path}/{api_version}"
    return f"{scheme}://{netloc}{path}"


def split_url(url: str, port: int | None, *, shown: str | None) -> tuple[str, str, str]:
    """``scheme://host[:port]/path`` -> scheme, host with ``port`` added (unless the URL has one), path without
    a trailing slash; ``shown`` is what the error names when there is no host."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ComagicConnectionConfigError(f"Connection host {shown!r} is not a host name or URL")
    netloc = parts.netloc
    if port and not parts.port:
        netloc = f"{netloc}:{int(port)}"
    return parts.scheme, netloc, parts.path.rstrip("/")


def timezone_extra(extra: Mapping[str, Any]) -> str:
    """The extra ``timezone`` (default Europe/Moscow), checked to be a known zone."""
    timezone = str(extra.get("timezone") or DEFAULT_TIMEZONE)
    try:
        get_timezone(timezone)
    except ValueError as err:
        raise ComagicConnectionConfigError(f"Connection extra 'timezone': {err}") from None
    return timezone


def retry_extras(extra: Mapping[str, Any]) -> dict[str, Any]:
    """The extras ``timeout`` (positive seconds) and ``max_retries`` (0 or more), with their defaults."""
    return {
        "timeout": _positive_float(extra.get("timeout"), "timeout", DEFAULT_TIMEOUT),
        "max_retries": int(_positive_float(extra.get("max_retries"), "max_retries", DEFAULT_MAX_RETRIES, zero=True)),
    }


def _extra_dict(conn: Any) -> dict[str, Any]:
    extra = getattr(conn, "extra_dejson", None)
    if extra is None:
        raw = getattr(conn, "extra", None) or "{}"
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    if not isinstance(extra, Mapping):
        raise ComagicConnectionConfigError("Connection extra must be a JSON object")
    return dict(extra)


def _optional_int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ComagicConnectionConfigError(f"Connection extra {name!r} must be an integer, got {value!r}") from None


def _positive_float(value: Any, name: str, default: float, *, zero: bool = False) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ComagicConnectionConfigError(f"Connection extra {name!r} must be a number, got {value!r}") from None
    if number < 0 or (number == 0 and not zero):
        raise ComagicConnectionConfigError(f"Connection extra {name!r} must be positive, got {value!r}")
    return number
