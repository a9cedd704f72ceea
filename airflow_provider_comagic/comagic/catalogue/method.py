"""``MethodSpec``: one Data API method, what its page documents and the checks of user input against it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from airflow_provider_comagic.comagic.catalogue._data import operator_order
from airflow_provider_comagic.comagic.catalogue.specs import FieldSpec, Paging, ParamSpec, WindowCap, listing
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

SORT_ORDERS: frozenset[str] = frozenset({"asc", "desc"})
FILTER_CONDITIONS: frozenset[str] = frozenset({"and", "or"})
_SIMPLE_FILTER_KEYS = frozenset({"field", "operator", "value"})
_TREE_FILTER_KEYS = frozenset({"filters", "condition"})

FAMILIES: tuple[str, ...] = (
    "classic_report",
    "report_builder",
    "report_builder_aggregate",
    "reference",
    "change_log",
    "lookup",
    "configuration",
    "action",
)
"""``classic_report``: date-ranged ``get.*_report`` facts (3-month windows); ``report_builder``: the report
builder's row lists (``report_id`` required, rows only for the ``fields`` asked, 366-day windows);
``report_builder_aggregate``: its aggregated tables (``getobj.report_table``...); ``reference``: no-argument
lists of the account's entities and of catalogues; ``change_log``: change-dated lists (``get.deals_history``,
``get.uploaded_calls``); ``lookup``: per-entity reads that need an id; ``configuration``: settings, UI metadata,
calculators; ``action``: the non-read methods the provider calls (``upload.calls``, ``login.user``...)."""

LANDABLE_FAMILIES: frozenset[str] = frozenset({"classic_report", "report_builder", "reference", "change_log"})
ROLES: tuple[str, ...] = ("agent", "client")
"""``agent``: an agent/partner account ("Агент", "Партнёр"); ``client``: a client account ("Клиент")."""
NO_PAGING = Paging(pages=False)
# parameters every get.* takes that a caller's own request never lists as missing
_ALWAYS_PROVIDED = frozenset({"access_token"})


@dataclass(frozen=True)
class MethodSpec:
    """One Data API method: its request parameters, response row fields, row semantics and calling facts.

    The ``validate_*`` helpers check user input before any API call and raise
    :class:`~airflow_provider_comagic.comagic.errors.ComagicParameterError` naming the method, the parameter, the
    offending value and the allowed ones.
    """

    name: str
    title: str
    doc: str
    weight: int
    params: Mapping[str, ParamSpec] = dataclasses.field(hash=False)  # a mapping is not hashable
    fields: tuple[FieldSpec, ...]
    date_range: bool
    time_field: str | None
    key: tuple[str, ...]
    order: tuple[str, ...] = ()
    """Sortable fields fixing each row's position when ``time_field`` is not sortable (the paging order); for
    a reference list its key when the key is sortable."""
    order_ties: int = 1
    """At most how many rows share the values of ``order`` (rows the server may order either way)."""
    family: str = "configuration"
    """One of :data:`FAMILIES`."""
    roles: tuple[str, ...] = ROLES
    """Who may call it (:data:`ROLES`): ``("agent",)`` for partner-only methods, ``("client",)`` for client-only."""
    components: tuple[tuple[str, ...], ...] = ()
    """Components the account needs: every group must have one connected, else ``method_component_disabled``.
    ``data_api_settings`` ("Data API для настройки") and ``call_tracking_3`` (Call tracking 3.0) are this
    catalogue's labels; the others are the docs' mnemonics (``va``, ``call_center``, ``sales_funnel``...)."""
    permissions: tuple[str, ...] = ()
    """User permissions ``unit:action`` (components.txt), e.g. ``account_access:select``."""
    paging: Paging = NO_PAGING
    window_cap: WindowCap | None = None
    """The longest date_from..date_till span; ``None`` when the method takes no dates or the docs state none
    (``window_note`` says which)."""
    window_note: str = ""
    required_alternatives: tuple[tuple[str, ...], ...] = ()
    """Groups of parameters of which one whole group must be given (chat_messages_report: a date range, or
    ``chat_id``, or ``chat_ids``)."""
    report_types: tuple[str, ...] = ()
    """Report builder: the saved-report types (``get.reports_list`` ``type``) whose ``report_id`` it reads;
    ``()`` when the docs match none (any saved report)."""
    notes: tuple[str, ...] = ()
    """What the generator fixed or noticed on the method's page(s)."""
    docs: tuple[str, ...] = ()
    """Every page documenting the method (two for ``get.tags``)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> MethodSpec:
        facts = facts or {}
        extra: dict[str, Any] = {}
        if facts:
            extra = {
                "family": facts["family"],
                "roles": tuple(facts["roles"]),
                "components": tuple(tuple(group) for group in facts["components"]),
                "permissions": tuple(facts["permissions"]),
                "paging": Paging.from_json(facts["paging"]),
                "window_cap": WindowCap.from_json(facts["window"], facts.get("window_note", "")),
                "window_note": facts.get("window_note", ""),
                "required_alternatives": tuple(tuple(g) for g in facts["required_alternatives"]),
                "report_types": tuple(facts["report_types"]),
                "notes": tuple(facts["notes"]),
                "docs": tuple(facts["docs"]),
            }
        return cls(
            name=data["name"],
            title=data["title"],
            doc=data["doc"],
            weight=data["weight"],
            params=MappingProxyType({k: ParamSpec.from_json(v) for k, v in data["params"].items()}),
            fields=tuple(FieldSpec.from_json(f) for f in data["fields"]),
            date_range=data["date_range"],
            time_field=data["time_field"],
            key=tuple(data["key"]),
            order=tuple(data.get("order", ())),
            order_ties=int(data.get("order_ties", 1)),
            **extra,
        )

    # -- what it is ------------------------------------------------------------------------------------
    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def default_fields(self) -> tuple[str, ...]:
        """Fields returned when the request has no ``fields`` (report builder: the docs' default columns, which
        the API returns only when asked for: it answers nothing without ``fields``)."""
        return tuple(f.name for f in self.fields if f.default)

    @property
    def filterable_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.filterable)

    @property
    def sortable_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.sortable)

    @property
    def landable(self) -> bool:
        """Whether an operator lands it whole per data interval (:data:`LANDABLE_FAMILIES`)."""
        return self.family in LANDABLE_FAMILIES

    @property
    def needs_fields(self) -> bool:
        """The API answers no rows unless ``fields`` lists the columns (the report builder's lists)."""
        return self.family == "report_builder"

    @property
    def key_sortable(self) -> bool:
        """Whether the row key can be sorted on, so that offset pages of an unchanging list never overlap.

        Many reference lists cannot sort by ``id`` (``get.campaigns``, ``get.sites``, ``get.employees``...): read
        them in one page, or by another documented sortable key, checking the total and the ids' uniqueness.
        """
        return bool(self.key) and all(self._by_name[name].sortable for name in self.key)

    @property
    def required_params(self) -> tuple[str, ...]:
        """Parameters the page marks required, besides ``access_token``."""
        return tuple(name for name, p in self.params.items() if p.required and name not in _ALWAYS_PROVIDED)

    @property
    def enum_objects(self) -> tuple[str, ...]:
        """Top-level fields that wrap an enum as ``{value, value_id}`` (report builder)."""
        return tuple(f.name for f in self.fields if f.is_enum_object)

    def callable_by(self, role: str) -> bool:
        """Whether an account of ``role`` (``agent`` or ``client``) may call the method."""
        return role in self.roles

    @functools.cached_property
    def _by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    def _error(self, param: str, text: str) -> ComagicParameterError:
        return ComagicParameterError(f"{self.name}: invalid '{param}': {text}")

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; ``"tags.tag_id"`` addresses a child of an array/object field."""
        fields: Sequence[FieldSpec] = self.fields
        spec: FieldSpec | None = None
        for part in name.split("."):
            spec = next((f for f in fields if f.name == part), None)
            if spec is None:
                raise self._error(
                    "fields", f"unknown field {name!r}; allowed fields: {listing(f.name for f in fields)}"
                )
            fields = spec.children
        assert spec is not None  # name.split() yields at least one part
        return spec

    # -- checks of user input --------------------------------------------------------------------------
    def validate_fields(self, names: Iterable[str]) -> tuple[str, ...]:
        """Check a ``fields`` list (top-level row fields); returns it as a tuple."""
        if isinstance(names, str | bytes) or not isinstance(names, Iterable):
            raise self._error("fields", f"expected a list of field names, got {names!r}")
        result = tuple(names)
        known = self._by_name
        for name in result:
            if not isinstance(name, str) or name not in known:
                raise self._error("fields", f"unknown field {name!r}; allowed fields: {listing(self.field_names)}")
        return result

    def validate_filter(self, tree: Mapping[str, Any]) -> None:
        """Check a simple filter ``{field, operator, value}`` or a tree ``{filters: [...], condition}``."""
        self._check_filter(tree, "filter")

    def _check_filter(self, node: Any, path: str) -> None:
        if not isinstance(node, Mapping):
            raise self._error("filter", f"{path} must be an object, got {node!r}")
        keys = set(node)
        if "filters" in keys:
            if keys - _TREE_FILTER_KEYS:
                raise self._error(
                    "filter",
                    f"{path} has unexpected keys {sorted(keys - _TREE_FILTER_KEYS)}; "
                    "a filter tree has 'filters' and 'condition'",
                )
            filters = node["filters"]
            if not isinstance(filters, Sequence) or isinstance(filters, str) or not filters:
                raise self._error("filter", f"{path}.filters must be a non-empty list of filters")
            condition = node.get("condition")
            if condition not in FILTER_CONDITIONS:
                raise self._error(
                    "filter",
                    f"{path}.condition is {condition!r}; allowed conditions: {listing(sorted(FILTER_CONDITIONS))}",
                )
            for i, child in enumerate(filters):
                self._check_filter(child, f"{path}.filters[{i}]")
            return
        if keys - _SIMPLE_FILTER_KEYS or not {"field", "operator"} <= keys:
            raise self._error(
                "filter",
                f"{path} must be {{'field', 'operator', 'value'}} or {{'filters', 'condition'}}, "
                f"got keys {sorted(keys)}",
            )
        self._check_simple_filter(node["field"], node["operator"])

    def _check_simple_filter(self, name: Any, operator: Any) -> None:
        if name not in self._by_name:
            raise self._error("filter", f"unknown field {name!r}; filterable fields: {listing(self.filterable_fields)}")
        if not self._by_name[name].filterable:
            raise self._error(
                "filter",
                f"field {name!r} is not filterable; filterable fields: {listing(self.filterable_fields)}",
            )
        if operator not in operator_order():
            raise self._error(
                "filter",
                f"unknown operator {operator!r} for field {name!r}; operators: {listing(operator_order())}",
            )

    def validate_sort(self, sort_list: Iterable[Mapping[str, Any]]) -> None:
        """Check a ``sort`` list ``[{field, order}]``; ``order`` is ``asc`` (default) or ``desc``.

        A field the docs do not mark sortable fails here (the API would answer ``sort_prohibited``).
        """
        if isinstance(sort_list, Mapping | str | bytes) or not isinstance(sort_list, Iterable):
            raise self._error("sort", f"expected a list of {{'field', 'order'}} objects, got {sort_list!r}")
        for i, item in enumerate(sort_list):
            if not isinstance(item, Mapping) or "field" not in item or set(item) - {"field", "order"}:
                raise self._error("sort", f"sort[{i}] must be {{'field': ..., 'order': 'asc'|'desc'}}")
            name = item["field"]
            if name not in self._by_name or not self._by_name[name].sortable:
                what = "unknown field" if name not in self._by_name else "field is not sortable:"
                raise self._error("sort", f"{what} {name!r}; sortable fields: {listing(self.sortable_fields)}")
            order = item.get("order", "asc")
            if order not in SORT_ORDERS:
                raise self._error("sort", f"order {order!r} of field {name!r}; allowed orders: asc, desc")

    def validate_window(
        self, date_from: dt.datetime | str, date_till: dt.datetime | str, tz: dt.tzinfo | None = None
    ) -> None:
        """Check that ``date_from`` .. ``date_till`` (inclusive, as sent to the API) fits the method's window cap.

        Strings are API wall-clock times (``YYYY-MM-DD hh:mm:ss``); aware datetimes are read in ``tz`` (the
        account's zone) for calendar-month caps. A window over the cap names ``date_till`` and the cap.
        """
        cap = self.window_cap
        if cap is None:
            return
        start, end = (
            self._as_time(name, value) for name, value in (("date_from", date_from), ("date_till", date_till))
        )
        if (start.tzinfo is None) != (end.tzinfo is None):
            raise self._error("date_till", "date_from and date_till must both be naive or both be aware")
        if end < start:
            raise self._error("date_till", f"{date_till} is before date_from {date_from}")
        if not cap.allows(start, end, tz):
            raise self._error(
                "date_till",
                f"the window {date_from} .. {date_till} is longer than the method allows ({cap}, "
                f"date_interval_limit_reached); latest date_till for this date_from: "
                f"{cap.latest_till(start, tz):%Y-%m-%d %H:%M:%S}",
            )

    def _as_time(self, name: str, value: dt.datetime | str) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            return dt.datetime.strptime(str(value), API_TIME_FORMAT)
        except ValueError:
            raise self._error(name, f"expected 'YYYY-MM-DD hh:mm:ss', got {value!r}") from None

    def validate_params(self, params: Mapping[str, Any], *, provided: Iterable[str] = ()) -> None:
        """Check a request's parameters before any call: names the page documents, every required one present
        (except those in ``provided``: what the caller adds itself, e.g. the paging engine's ``date_from``,
        ``date_till``, ``limit``, ``offset``), one group of ``required_alternatives``, ``limit``/``offset`` within
        :attr:`paging`, documented values (``report_type`` among :attr:`report_types`, ``month`` 1..12...),
        ``sort``, ``filter`` and ``fields`` as their own validators do.
        """
        given = set(params) | set(provided) | _ALWAYS_PROVIDED
        for name in params:
            if name not in self.params:
                raise self._error(name, f"not a parameter of the method; parameters: {listing(self.params)}")
        for name in self.required_params:
            if name not in given:
                raise self._error(
                    name, f"required parameter missing ({self.params[name].description or 'see the docs'})"
                )
        if self.required_alternatives and not any(set(group) <= given for group in self.required_alternatives):
            groups = " or ".join("+".join(group) for group in self.required_alternatives)
            raise self._error(self.required_alternatives[0][0], f"give {groups}")
        self._check_values(params)

    def _check_values(self, params: Mapping[str, Any]) -> None:
        paging = self.paging
        for name, maximum, minimum in (("limit", paging.limit_max, 1), ("offset", paging.offset_max, 0)):
            if name in params and maximum is not None:
                value = params[name]
                if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
                    raise self._error(name, f"expected an integer from {minimum} to {maximum}, got {value!r}")
        if "report_type" in params and self.report_types and params["report_type"] not in self.report_types:
            raise self._error(
                "report_type",
                f"{params['report_type']!r} is not a report type {self.name} reads: {listing(self.report_types)}",
            )
        for name, value in params.items():
            allowed = self.params[name].values
            if allowed and self.params[name].type in ("number", "enum", "string") and str(value) not in allowed:
                raise self._error(name, f"{value!r} is not a documented value; allowed values: {listing(allowed)}")
        if params.get("sort") is not None:
            self.validate_sort(params["sort"])
        if params.get("filter") is not None:
            self.validate_filter(params["filter"])
        if params.get("fields") is not None:
            self.validate_fields(params["fields"])

    def validate_role(self, role: str) -> None:
        """Fail when an account of ``role`` may not call the method (partner-only / client-only methods)."""
        if role not in ROLES:
            raise self._error("role", f"{role!r}; roles: {listing(ROLES)}")
        if not self.callable_by(role):
            only = " and ".join(self.roles)
            raise self._error("method", f"available to {only} accounts only (the docs' 'who may call'), not to {role}")
