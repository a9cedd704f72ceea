"""Reading an ``mcn_telecom`` Airflow connection into a validated, secret-safe configuration.

Fields: Host = API base URL (default :data:`DEFAULT_BASE_URL`), Password = the API token (or extra ``token``);
extras ``account_id`` (лицевой счёт), ``timezone`` of the call log's times (default Europe/Moscow),
``timeout``, ``max_retries``, ``base_url`` (overrides Host).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_comagic.mcn.errors import McnConnectionConfigError
from airflow_provider_comagic.utils.connection import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    extra_dict,
    retry_extras,
    split_url,
    timezone_extra,
)
from airflow_provider_comagic.utils.time import DEFAULT_TIMEZONE

DEFAULT_CONN_ID = "mcn_telecom_default"
"""The connection the MCN hook and operator use unless given ``mcn_conn_id``."""
DEFAULT_BASE_URL = "https://api.mcn.ru/v2/rest"
"""Assumed: the seed documents the paths (``/account/{account_id}/vpbx...``) but not the host. MCN's sister
platform documents ``https://api.mcntele.com/v2/rest/account/...``; set the connection's Host if yours differs."""
DEFAULT_PATH = "/v2/rest"


@dataclasses.dataclass(frozen=True)
class McnConnectionConfig:
    """Everything :class:`~airflow_provider_comagic.hooks.mcn.McnTelecomHook` needs; ``repr`` hides the token."""

    base_url: str
    token: str = dataclasses.field(repr=False)
    account_id: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    stored_port: int | None = None
    """The connection's Port field (None: empty); :attr:`base_url` already holds where calls go."""

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or exception texts."""
        return (self.token,)

    @classmethod
    def from_connection(cls, conn: Any) -> McnConnectionConfig:
        """Build the configuration from an Airflow ``Connection`` (or anything with the same attributes)."""
        extra = extra_dict(conn, error=McnConnectionConfigError)
        conn_id = getattr(conn, "conn_id", "?")
        token = str(extra.get("token") or getattr(conn, "password", None) or "").strip()
        if not token:
            raise McnConnectionConfigError(
                f"Connection {conn_id!r}: no MCN Telecom API token; put the token issued in the personal cabinet "
                "(API section) in the Password field or in the extra 'token'"
            )
        timezone = timezone_extra(extra, error=McnConnectionConfigError) or DEFAULT_TIMEZONE
        account_id = extra.get("account_id")
        port = getattr(conn, "port", None) or None
        return cls(
            base_url=build_base_url(extra.get("base_url") or getattr(conn, "host", None), port),
            token=token,
            account_id=None if account_id in (None, "") else str(account_id).strip(),
            timezone=timezone,
            **retry_extras(extra, error=McnConnectionConfigError),
            stored_port=port,
        )


def build_base_url(host: str | None, port: int | None = None) -> str:
    """``api.mcn.ru`` -> ``https://api.mcn.ru/v2/rest``; a URL with a path (``https://h/x/v2``) is kept as given.
    ``port`` is added to a URL without one unless it is the scheme's (443 for HTTPS); a URL's own port must be it."""
    text = (host or DEFAULT_BASE_URL).strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    scheme, netloc, path = split_url(text, port, shown=host, error=McnConnectionConfigError)
    return f"{scheme}://{netloc}{path or DEFAULT_PATH}"
