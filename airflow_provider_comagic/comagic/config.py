"""Reading a ``comagic`` Airflow connection into a validated, secret-safe configuration.

Shared by the sync hook and the async hook used in triggers, so both understand a connection the same way; the
parsing helpers (extras, timeout/retries, zone, host URL) are :mod:`~airflow_provider_comagic.utils.connection`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_comagic.comagic.errors import ComagicConnectionConfigError, ComagicTimezoneMismatchError
from airflow_provider_comagic.utils.connection import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    bool_extra,
    extra_dict,
    optional_int,
    retry_extras,
    split_url,
    timezone_extra,
)

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
    timezone: str | None = None
    """The zone the connection names (extra ``timezone``), or None: the account's own zone is used."""
    allow_timezone_mismatch: bool = False
    """Land in :attr:`timezone` even where the account's zone differs (extra ``allow_timezone_mismatch``)."""
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    stored_port: int | None = None
    """The connection's Port field (None: empty); :attr:`endpoint` already holds where calls go."""
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

    @property
    def scheme(self) -> str:
        """``https`` unless the connection's host is an ``http://`` URL."""
        return urlsplit(self.endpoint).scheme

    def landing_timezone(self, account_zone: str | None, *, conn_id: str, who: str = "the account") -> str:
        """The zone to read and land in: the account's (``account_zone``, from ``get.account``) unless the
        connection names one; a named zone that is not the account's fails (the windows would be shifted and rows
        land in the wrong partitions, green) unless :attr:`allow_timezone_mismatch`. ``account_zone`` None: the
        account did not say (then the named zone is trusted, and without one this fails, saying what to set)."""
        named = self.timezone
        if named is None:
            if account_zone is None:
                raise ComagicConnectionConfigError(
                    f"Connection {conn_id!r} names no time zone and the zone of {who} could not be read: set the "
                    "extra 'timezone' to the account's IANA zone (as in the account's settings), e.g. Europe/Moscow"
                )
            return account_zone
        if account_zone is not None and account_zone != named and not self.allow_timezone_mismatch:
            raise ComagicTimezoneMismatchError(
                f"Connection {conn_id!r} names the time zone {named}, but {who} is in {account_zone}: every interval "
                f"would be read shifted by the difference and its rows would land in the wrong partitions. Remove "
                f"the extra 'timezone' to follow the account, set it to {account_zone}, or set the extra "
                "'allow_timezone_mismatch' to true if the difference is deliberate"
            )
        return named

    @classmethod
    def from_connection(cls, conn: Any) -> ComagicConnectionConfig:
        """Build the configuration from an Airflow ``Connection`` (or anything with the same attributes)."""
        extra = extra_dict(conn, error=ComagicConnectionConfigError)
        api_version = str(extra.get("api_version") or DEFAULT_API_VERSION).strip("/")
        port = getattr(conn, "port", None) or None
        endpoint = build_endpoint(getattr(conn, "host", None), port, getattr(conn, "schema", None), api_version)
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
        timezone = timezone_extra(extra, error=ComagicConnectionConfigError, default=None)
        return cls(
            endpoint=endpoint,
            access_token=token,
            login=login if token is None else None,
            password=password if token is None else None,
            user_id=optional_int(extra.get("user_id"), "user_id", error=ComagicConnectionConfigError),
            timezone=timezone,
            allow_timezone_mismatch=bool_extra(extra, "allow_timezone_mismatch", error=ComagicConnectionConfigError),
            media_host=str(extra.get("media_host") or "").strip() or None,
            **retry_extras(extra, error=ComagicConnectionConfigError),
            stored_port=port,
        )


def build_endpoint(host: str | None, port: int | None, schema: str | None, api_version: str) -> str:
    """``dataapi.uiscom.ru`` -> ``https://dataapi.uiscom.ru/v2.0``; ``http://127.0.0.1:8765`` is kept as given. The
    form's Port changes nothing where it is the host's own (:func:`~airflow_provider_comagic.utils.connection.split_url`):
    443 with ``dataapi.comagic.ru``, 8765 with ``http://127.0.0.1:8765`` give the endpoint of an empty Port."""
    given = (host or DEFAULT_HOST).strip()
    url = given if "://" in given else f"{schema if schema in ('http', 'https') else 'https'}://{given}"
    scheme, netloc, path = split_url(url.rstrip("/"), port, shown=given, error=ComagicConnectionConfigError)
    if not path.rsplit("/", 1)[-1].startswith("v"):
        path = f"{path}/{api_version}"
    return f"{scheme}://{netloc}{path}"
