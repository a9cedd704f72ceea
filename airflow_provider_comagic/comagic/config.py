"""Reading a ``comagic`` Airflow connection into a validated, secret-safe configuration.

Shared by the sync hook and the async hook used in triggers, so both understand a connection the same way; the
parsing helpers (extras, timeout/retries, zone, host URL) are :mod:`~airflow_provider_comagic.utils.connection`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError
from airflow_provider_comagic.utils.connection import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    extra_dict,
    optional_int,
    retry_extras,
    split_url,
    timezone_extra,
)
from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE

DEFAULT_CONN_ID = "comagic_default"
"""The connection hooks, operators and sensors use unless given ``comagic_conn_id``."""
DEFAULT_HOST = "dataapi.comagic.ru"
KNOWN_HOSTS = ("dataapi.comagic.ru", "dataapi.uiscom.ru")
DEFAULT_API_VERSION = "v2.0"


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
    media_host: str | None = None
    """Where call recordings are downloaded from (extra ``media_host``); None: derived from the API host
    (:func:`~airflow_provider_comagic.comagic.recordings.media_base_url`)."""

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
        extra = extra_dict(conn, error=ComagicConnectionConfigError)
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
        timezone = timezone_extra(extra, error=ComagicConnectionConfigError)
        return cls(
            endpoint=endpoint,
            access_token=token,
            login=login if token is None else None,
            password=password if token is None else None,
            user_id=optional_int(extra.get("user_id"), "user_id", error=ComagicConnectionConfigError),
            timezone=timezone,
            media_host=str(extra.get("media_host") or "").strip() or None,
            **retry_extras(extra, error=ComagicConnectionConfigError),
        )


def build_endpoint(host: str | None, port: int | None, schema: str | None, api_version: str) -> str:
    """``dataapi.uiscom.ru`` -> ``https://dataapi.uiscom.ru/v2.0``; ``http://127.0.0.1:8765`` is kept as given."""
    given = (host or DEFAULT_HOST).strip()
    url = given if "://" in given else f"{schema if schema in ('http', 'https') else 'https'}://{given}"
    scheme, netloc, path = split_url(url.rstrip("/"), port, shown=given, error=ComagicConnectionConfigError)
    if not path.rsplit("/", 1)[-1].startswith("v"):
        path = f"{path}/{api_version}"
    return f"{scheme}://{netloc}{path}"
