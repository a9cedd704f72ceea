"""A ``clickhouse-connect`` client (ClickHouse's own HTTP client) for an Airflow ``clickhouse`` connection.

With Airflow's official ClickHouse provider installed (``apache-airflow-providers-clickhousedb``: Airflow 2.11+ and
Python 3.11+), the client comes from its ``ClickHouseHook``, so the ``clickhouse`` connection type, its form and
its extras are exactly that provider's. Without it (Airflow 2.10), the client is built here from the same
connection fields, read the way that hook reads them: host (``localhost``), port (8123), login (``default``),
password, schema = database (``default``); extras ``secure``, ``verify``, ``connect_timeout``,
``send_receive_timeout``, ``compress``, ``client_name``, ``session_settings`` and ``client_kwargs``.

Every client is made without a session id: a statement never waits for one an aborted insert still holds.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_comagic.exceptions import ConnectionConfigError
from airflow_provider_comagic.version_compat import BaseHook

__all__ = ["clickhouse_client", "client_kwargs", "connection_address", "official_hook"]

_FIXED = {"autogenerate_session_id": False}
_OPTIONAL = ("connect_timeout", "send_receive_timeout", "compress")
_MANAGED = frozenset({"host", "port", "username", "password", "database", "secure", "verify", "settings"})


def official_hook() -> type | None:
    """``ClickHouseHook`` of ``apache-airflow-providers-clickhousedb``, or None when it is not installed."""
    try:
        from airflow.providers.clickhousedb.hooks.clickhouse import ClickHouseHook
    except ImportError:
        return None
    return ClickHouseHook


def _json_extra(extra: dict[str, Any], name: str, conn_id: str) -> dict[str, Any]:
    value = extra.get(name) or {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConnectionConfigError(f"connection {conn_id!r}: extra {name} is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConnectionConfigError(f"connection {conn_id!r}: extra {name} must be an object")
    return value


def client_kwargs(connection: Any) -> dict[str, Any]:
    """``clickhouse_connect.get_client`` arguments of a connection, as the official hook builds them."""
    extra = connection.extra_dejson
    kwargs = {
        key: value
        for key, value in _json_extra(extra, "client_kwargs", connection.conn_id).items()
        if key not in _MANAGED
    }
    kwargs.update(
        host=connection.host or "localhost",
        port=int(connection.port) if connection.port else 8123,
        username=connection.login or "default",
        password=connection.password or "",
        database=connection.schema or "default",
        secure=bool(extra.get("secure", False)),
        verify=bool(extra.get("verify", True)),
    )
    kwargs.update({key: extra[key] for key in _OPTIONAL if extra.get(key) is not None})
    name = "airflow-provider-comagic"
    kwargs["client_name"] = f"{name} ({extra['client_name']})" if extra.get("client_name") else name
    settings = _json_extra(extra, "session_settings", connection.conn_id)
    if settings:
        kwargs["settings"] = settings
    return kwargs


def clickhouse_client(conn_id: str) -> Any:
    """A ``clickhouse_connect`` client of connection ``conn_id`` (module docstring); the caller closes it."""
    hook = official_hook()
    if hook is not None:
        return hook(clickhouse_conn_id=conn_id, client_kwargs=dict(_FIXED)).get_client()
    import clickhouse_connect

    return clickhouse_connect.get_client(**client_kwargs(BaseHook.get_connection(conn_id)), **_FIXED)


def connection_address(conn_id: str) -> tuple[str, int, str]:
    """``(host, port, database)`` of a connection (for lineage; no secret)."""
    connection = BaseHook.get_connection(conn_id)
    return (
        connection.host or "localhost",
        int(connection.port) if connection.port else 8123,
        connection.schema or "default",
    )
