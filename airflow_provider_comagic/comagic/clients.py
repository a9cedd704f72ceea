"""The agency client a CoMagic task acts as, and the ``clients`` of a task that lands a group of them.

An agent (partner) connection acts for a client user with ``user_id``; the client's ``customer_id`` names its
partitions. The entries of :func:`~airflow_provider_comagic.comagic.customers.select_client_users` (or their JSON
once rendered) become :class:`AgencyClient` objects here, checked before any call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.templating import parse_optional_int, parse_structure

__all__ = ["CLIENT_KEYS", "AgencyClient"]

CLIENT_KEYS = ("user_id", "customer_id", "customer_name", "user_login")
"""The keys of one client entry (of ``clients``, or of a per-client fan-out)."""
_ERROR = ComagicParameterError


@dataclasses.dataclass(frozen=True)
class AgencyClient:
    """The agency client a task acts as (all None for the connection's own account)."""

    customer_id: int | None = None
    customer_name: str | None = None
    user_id: int | None = None
    user_login: str | None = None

    @classmethod
    def parse(
        cls, *, user_id: Any = None, customer_id: Any = None, customer_name: Any = None, user_login: Any = None
    ) -> AgencyClient:
        """The client of a task's own ``user_id``/``customer_id``/... arguments (rendered)."""
        return cls(
            parse_optional_int(customer_id, "customer_id", error=_ERROR),
            customer_name or None,
            parse_optional_int(user_id, "user_id", error=_ERROR),
            user_login or None,
        )

    def as_dict(self) -> dict[str, Any]:
        """The set fields, for the manifest."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, "")}

    @classmethod
    def parse_group(cls, value: Any) -> list[AgencyClient] | None:
        """The ``clients`` argument (entries of
        :class:`~airflow_provider_comagic.operators.customers.ComagicCustomerUsersOperator`, or their JSON once
        rendered) as clients; None when not given. Each entry needs ``user_id``; a client listed twice would be
        landed twice, so it is refused."""
        items = parse_structure(value, "clients", kinds=(list,), error=_ERROR)
        if items is None:
            if value is None:
                return None
            raise _ERROR(
                "clients is empty: give at least one {'user_id': ..., 'customer_id': ...} entry or leave it unset"
            )
        clients: list[AgencyClient] = []
        seen: set[tuple[str, int | None]] = set()
        for index, item in enumerate(items):
            client = cls._from_entry(item, f"clients[{index}]")
            key = ("customer_id", client.customer_id) if client.customer_id is not None else ("user_id", client.user_id)
            if key in seen:
                raise _ERROR(f"clients lists {key[0]} {key[1]} twice: its partitions would be landed twice")
            seen.add(key)
            clients.append(client)
        return clients

    @classmethod
    def _from_entry(cls, item: Any, name: str) -> AgencyClient:
        if not isinstance(item, Mapping):
            raise _ERROR(f"{name} must be a mapping with user_id (and customer_id, ...), got {item!r:.100}")
        unknown = set(item) - set(CLIENT_KEYS)
        if unknown:
            raise _ERROR(f"{name} has unknown key(s) {sorted(unknown)}; allowed: {', '.join(CLIENT_KEYS)}")
        user_id = parse_optional_int(item.get("user_id"), f"{name}.user_id", error=_ERROR)
        if user_id is None:
            raise _ERROR(f"{name} has no user_id: every client of a group is acted as through its user")
        return cls(
            parse_optional_int(item.get("customer_id"), f"{name}.customer_id", error=_ERROR),
            str(item["customer_name"]) if item.get("customer_name") not in (None, "") else None,
            user_id,
            str(item["user_login"]) if item.get("user_login") not in (None, "") else None,
        )

    @property
    def key(self) -> int | None:
        """The id a group records the client by and its partition keys name it by: its customer id, else its
        user id (None for the connection's own account)."""
        return self.customer_id if self.customer_id is not None else self.user_id

    def labels(self) -> dict[str, int | None]:
        """The ids a partition's summary carries (None values are left out there)."""
        return {"customer_id": self.customer_id, "user_id": self.user_id}

    def label(self) -> str:
        """How the logs name the client."""
        client = self.as_dict()
        if not client:
            return "the connection's account"
        name = f"{client['customer_name']!r} " if "customer_name" in client else ""
        ids = ", ".join(f"{k} {v}" for k, v in client.items() if k in ("customer_id", "user_id"))
        return f"customer {name}({ids})"
