"""``ComagicCustomerUsersOperator``: the client users of an agency connection, for dynamic task mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.config import DEFAULT_CONN_ID
from airflow_provider_comagic.comagic.customers import group_client_users
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.task_errors import explained_failures, naming_task
from airflow_provider_comagic.utils.templating import parse_list
from airflow_provider_comagic.version_compat import BaseOperator, conf

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["ComagicCustomerUsersOperator"]

LOGGED_CLIENTS = 20
"""Clients named one by one in the task log (the rest are counted)."""


class ComagicCustomerUsersOperator(BaseOperator):
    """
    List the client users an agent (partner) connection acts as, one small entry per client user.

    Returns (XCom) a JSON list, ordered by customer id, of
    ``{"user_id", "customer_id", "customer_name", "user_login"}``. Each key is a parameter of the report
    operators, so the list feeds a fan-out directly::

        users = ComagicCustomerUsersOperator(task_id="client_users")
        ComagicCallsReportOperator.partial(task_id="calls", output_path=...).expand_kwargs(users.output)

    Each mapped report task then acts as its client (``user_id`` in every call) and lands under
    ``<output_path>/<report>/customer_id=<id>/date=.../``.

    **More clients than ``[core] max_map_length``** (1 024 by default: Airflow refuses to map more tasks).
    ``group_size=N`` returns groups instead, ``[{"clients": [entry, ...]}, ...]`` of at most N entries each (as
    even as the count allows), and the same ``.expand_kwargs(users.output)`` maps one report task per group; each
    lands its clients one after the other, one partition per client and interval as before. Without
    ``group_size`` a list longer than ``max_map_length`` fails here, naming the group size that would fit.

    :param comagic_conn_id: the agent's ``comagic`` connection.
    :param active_only: list clients whose status is ``active`` only (locked or waiting clients are left out).
    :param customer_ids: list only these clients (ids, or a JSON list once rendered). (templated)
    :param name_pattern: list only clients whose name matches this shell-style pattern, case-insensitively,
        e.g. ``"Acme*"``. (templated)
    :param one_per_customer: keep one user (the lowest id) per client, so no client is landed twice; set
        ``False`` to list every API user.
    :param group_size: return groups of at most this many clients (one mapped task per group) instead of one
        entry per client.
    """

    template_fields: Sequence[str] = ("customer_ids", "name_pattern")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        comagic_conn_id: str = DEFAULT_CONN_ID,
        active_only: bool = True,
        customer_ids: Sequence[int | str] | str | None = None,
        name_pattern: str | None = None,
        one_per_customer: bool = True,
        group_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        with naming_task(self.task_id):
            if group_size is not None and (
                not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 1
            ):
                raise ComagicParameterError(
                    f"group_size must be a positive integer (clients per task), got {group_size!r}"
                )
        self.comagic_conn_id = comagic_conn_id
        self.active_only = active_only
        self.customer_ids = customer_ids
        self.name_pattern = name_pattern
        self.one_per_customer = one_per_customer
        self.group_size = group_size

    @explained_failures
    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_comagic.hooks.comagic import ComagicHook  # requests: not at DAG parse time

        hook = ComagicHook(self.comagic_conn_id)
        try:
            entries = hook.list_customer_users(
                active_only=self.active_only,
                customer_ids=parse_list(self.customer_ids, "customer_ids", item=int, error=ComagicParameterError),
                name_pattern=self.name_pattern or None,
                one_per_customer=self.one_per_customer,
            )
        finally:
            hook.close()
        named = ", ".join(
            f"{e['customer_name']} (customer {e['customer_id']}, user {e['user_id']})" for e in entries[:LOGGED_CLIENTS]
        )
        more = f" and {len(entries) - LOGGED_CLIENTS} more" if len(entries) > LOGGED_CLIENTS else ""
        self.log.info("%d client user(s) to act as: %s%s", len(entries), named, more)
        if not entries:
            self.log.warning("No client matches the selection: the fan-out will have no tasks")
        if self.group_size is None:
            self._check_map_length(len(entries), len(entries))
            return entries
        groups = group_client_users(entries, self.group_size)
        self.log.info("%d group(s) of at most %d client(s): one mapped task per group", len(groups), self.group_size)
        self._check_map_length(len(groups), len(entries))
        return groups

    def _check_map_length(self, tasks: int, clients: int) -> None:
        """Fail with the fix instead of Airflow's refusal to map more than ``[core] max_map_length`` tasks."""
        limit = conf.getint("core", "max_map_length", fallback=1024)
        if tasks > limit:
            what = "groups" if self.group_size is not None else "client users"
            needed = -(-clients // limit)
            raise ComagicParameterError(
                f"{tasks} {what} exceed [core] max_map_length={limit}, the most tasks Airflow maps: pass "
                f"group_size={needed} or more to map one task per group of clients"
            )
