"""The query options of a CoMagic landing task, parsed once and checked against the catalogue before any call.

``fields``, ``filter``, ``sort`` and ``api_params`` arrive as Python values, or as their JSON / Python-literal
text once Airflow rendered a template; :class:`ReportQuery` parses them with the one parser of rendered values
(:mod:`~airflow_provider_comagic.utils.templating`) and validates each against the method's
:class:`~airflow_provider_comagic.comagic.catalogue.MethodSpec`. :func:`check_literal_query` does the same at DAG
parse time for the arguments that are not templates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from airflow_provider_comagic.comagic.catalogue import MethodSpec
from airflow_provider_comagic.comagic.clients import AgencyClient
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.templating import is_templated, parse_list, parse_structure

__all__ = ["RESERVED_PARAMS", "ReportQuery", "check_api_params", "check_literal_query"]

RESERVED_PARAMS = frozenset(
    {"access_token", "user_id", "date_from", "date_till", "limit", "offset", "fields", "filter", "sort"}
)
"""Request parameters the operators or the hook set themselves (not ``api_params``)."""
_ERROR = ComagicParameterError


@dataclasses.dataclass(frozen=True)
class ReportQuery:
    """The query options of a task, parsed once from the (rendered) operator arguments.

    :param fields: the row fields to request (``None``: the method's default fields).
    :param filter: the Data API filter, or None.
    :param sort: the Data API sort list, or None.
    :param api_params: method-specific parameters passed through.
    """

    fields: list[str] | None
    filter: dict[str, Any] | None
    sort: list[dict[str, Any]] | None
    api_params: dict[str, Any]

    @classmethod
    def parse(
        cls,
        spec: MethodSpec,
        *,
        fields: Any,
        filter: Any,
        sort: Any,
        api_params: Any,
        own: Collection[str] = (),
        provided: Collection[str] = (),
    ) -> ReportQuery:
        """Read the query arguments (lists, JSON or Python-literal strings once rendered) and check each against
        the catalogue as it is read (before any call). ``own``: parameters the operator takes as arguments of their
        own (never in ``api_params``); ``provided``: required parameters the operator supplies when
        ``api_params`` lacks them (see :func:`check_api_params`)."""
        parsed_fields = parse_list(fields, "fields", item=str, error=_ERROR)
        if parsed_fields is not None:
            spec.validate_fields(parsed_fields)
        parsed_filter = parse_structure(filter, "filter", error=_ERROR)
        if parsed_filter:
            spec.validate_filter(parsed_filter)
        parsed_sort = parse_structure(sort, "sort", kinds=(list,), error=_ERROR)
        if parsed_sort:
            spec.validate_sort(parsed_sort)
        params = dict(parse_structure(api_params, "api_params", error=_ERROR) or {})
        check_api_params(spec, params, own=own, provided=provided)
        return cls(fields=parsed_fields, filter=parsed_filter, sort=parsed_sort, api_params=params)

    def call_params(self, client: AgencyClient) -> dict[str, Any]:
        """``api_params`` plus the client's ``user_id`` (sent in every call, overriding the connection's)."""
        params = dict(self.api_params)
        if client.user_id is not None:
            params["user_id"] = client.user_id
        return params

    def as_manifest(self, fields: list[str], page_size: int) -> dict[str, Any]:
        """What a manifest records of the query (``fields``: those actually requested)."""
        return {
            "fields": fields,
            "filter": self.filter,
            "sort": self.sort,
            "params": self.api_params,
            "page_size": page_size,
        }


def check_api_params(
    spec: MethodSpec, params: Mapping[str, Any], *, own: Collection[str] = (), provided: Collection[str] = ()
) -> None:
    """Required method parameters present, no unknown or reserved ones.

    ``own``: parameters the operator takes as arguments of their own (``report_id`` of the report builder, the
    ``year``/``month`` of an interval): reserved like the date range. ``provided``: required parameters the
    operator supplies itself when missing (``site_id``: every site in turn)."""
    reserved = RESERVED_PARAMS | frozenset(own)
    required = [p.name for p in spec.params.values() if p.required and p.name not in reserved]
    missing = [name for name in required if name not in params and name not in provided]
    if missing:
        raise _ERROR(f"{spec.name} requires {', '.join(missing)}: pass api_params={{{missing[0]!r}: ...}}")
    unknown = set(params) - (set(spec.params) - reserved)
    if unknown:
        allowed = sorted(set(spec.params) - reserved)
        theirs = ", ".join(["date range, fields, filter, sort", *sorted(own)])
        raise _ERROR(
            f"{spec.name}: invalid 'api_params' {sorted(unknown)}; allowed: {', '.join(allowed) or '(none)'}"
            f" ({theirs} and paging have their own arguments)"
        )


def check_literal_query(
    spec: MethodSpec,
    *,
    fields: Any,
    filter: Any,
    sort: Any,
    api_params: Any,
    own: Collection[str] = (),
    provided: Collection[str] = (),
) -> None:
    """At DAG parse time, check the query arguments that are not templates (templated ones once rendered)."""
    if not is_templated(fields):
        parsed = parse_list(fields, "fields", item=str, error=_ERROR)
        if parsed is not None:
            spec.validate_fields(parsed)
    if filter and not is_templated(filter, skip_keys=frozenset({"value"})):
        spec.validate_filter(parse_structure(filter, "filter", error=_ERROR))
    if sort and not is_templated(sort):
        spec.validate_sort(parse_structure(sort, "sort", kinds=(list,), error=_ERROR))
    if not is_templated(api_params):
        params = parse_structure(api_params, "api_params", error=_ERROR) or {}
        check_api_params(spec, params, own=own, provided=provided)
