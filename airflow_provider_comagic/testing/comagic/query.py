"""get.* query semantics: parameter validation (index.txt conventions) and evaluation against the rows.

The same :func:`run_query` serves the HTTP server and ``emu.truth()``, so tests compare a client's output with
exactly what the server meant to return. Rows are in (time field, key) order unless sorted; a sort is stable
with ties broken by the key (get.uploaded_calls: kept in the order the upload store serves, see
:data:`~airflow_provider_comagic.testing.comagic.uploads.ROW_ORDERS`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_comagic.testing.comagic.data import DataStore, DayData, day_of_id
from airflow_provider_comagic.testing.comagic.filters import Predicate, compile_filter
from airflow_provider_comagic.testing.comagic.rpc import RpcError
from airflow_provider_comagic.utils.time import API_TIME_FORMAT

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
MAX_OFFSET = 100_000
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_STANDARD_PARAMS = frozenset(
    {"access_token", "user_id", "limit", "offset", "date_from", "date_till", "fields", "sort", "filter"}
)
# parameters the pages mark required that the API does not need (documentation artifacts)
NOT_REQUIRED: dict[str, frozenset[str]] = {"get.uploaded_calls": frozenset({"report_id"})}


@dataclasses.dataclass
class Query:
    """A validated get.* request."""

    method: str
    date_from: str | None = None
    date_till: str | None = None
    filter: Predicate | None = None
    filter_fields: tuple[str, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    fields: tuple[str, ...] | None = None
    offset: int = 0
    limit: int | None = DEFAULT_LIMIT
    extra: tuple[tuple[str, Any], ...] = ()  # method-specific selections (site_id, chat_id, chat_ids)
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The method's other parameters (report_id, report_type, is_realtime, year, month...), as given."""
    signature: bytes = b""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fields_used(tree: Any) -> set[str]:
    if isinstance(tree, Mapping):
        if "filters" in tree and isinstance(tree["filters"], list):
            return set().union(*(_fields_used(child) for child in tree["filters"]))
        if isinstance(tree.get("field"), str):
            return {tree["field"]}
    return set()


def _parse_time(name: str, value: Any, tz: dt.tzinfo) -> dt.datetime:
    if not isinstance(value, str):
        raise RpcError("data_type_error", field=name, value=value)
    if not _TIME_RE.match(value):
        raise RpcError("invalid_parameter_value", field=name, value=value)
    try:
        return dt.datetime.strptime(value, API_TIME_FORMAT).replace(tzinfo=tz)
    except ValueError:
        raise RpcError("invalid_parameter_value", field=name, value=value) from None


def parse_query(spec: Any, params: Mapping[str, Any], tz: dt.tzinfo) -> Query:
    """Validate the parameters of a get.* call against the catalogue spec; raise :class:`RpcError`."""
    allowed = spec.params
    for name in params:
        if name not in allowed:
            raise RpcError("unexpected_parameters", field=name)
    skip = NOT_REQUIRED.get(spec.name, frozenset()) | {"access_token"}
    for name, param in allowed.items():
        if param.required and name not in skip and name not in params:
            raise RpcError("required_parameter_missed", field=name)
    query = Query(method=spec.name)

    if "user_id" in params and not _is_int(params["user_id"]):
        raise RpcError("data_type_error", field="user_id", value=params["user_id"])
    paging = spec.paging
    limits = (
        ("limit", paging.limit_max or MAX_LIMIT, paging.limit_default or DEFAULT_LIMIT),
        ("offset", paging.offset_max or MAX_OFFSET, 0),
    )
    for name, maximum, default in limits:
        value = params.get(name, default)
        if not _is_int(value):
            raise RpcError("data_type_error", field=name, value=value)
        if value < (1 if name == "limit" else 0) or value > maximum:
            raise RpcError("invalid_parameter_value", field=name, value=value)
        setattr(query, name, value)

    _parse_dates(spec, params, tz, query)
    by_name = {f.name: f for f in spec.fields}

    if "fields" in params:
        fields = params["fields"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise RpcError("data_type_error", field="fields", value=fields)
        for name in fields:
            if name not in by_name:
                raise RpcError("unexpected_parameters", field="fields", value=name)
        query.fields = tuple(dict.fromkeys(fields)) or None

    if "sort" in params:
        query.sort = _parse_sort(params["sort"], by_name)

    if "filter" in params and params["filter"] is not None:
        query.filter = compile_filter(params["filter"], by_name)
        query.filter_fields = tuple(sorted(_fields_used(params["filter"])))

    extra: list[tuple[str, Any]] = []
    if "site_id" in params:
        if not _is_int(params["site_id"]):
            raise RpcError("data_type_error", field="site_id", value=params["site_id"])
        extra.append(("site_id", params["site_id"]))
    if "chat_id" in params:
        if not _is_int(params["chat_id"]):
            raise RpcError("data_type_error", field="chat_id", value=params["chat_id"])
        extra.append(("chat_id", (params["chat_id"],)))
    if "chat_ids" in params:
        ids = params["chat_ids"]
        if not isinstance(ids, list) or not ids or not all(_is_int(i) for i in ids):
            raise RpcError("data_type_error", field="chat_ids", value=ids)
        extra.append(("chat_id", tuple(ids)))
    query.extra = tuple(extra)
    query.options = {name: value for name, value in params.items() if name not in _STANDARD_PARAMS}
    query.signature = orjson.dumps(
        [spec.name, query.date_from, query.date_till, params.get("filter"), query.sort, [list(e) for e in extra]],
        option=orjson.OPT_SORT_KEYS,
        default=list,
    )
    return query


def _parse_month(params: Mapping[str, Any], query: Query) -> None:
    """get.financial_summary_report: ``year`` and ``month`` select the month's days."""
    year, month = params.get("year"), params.get("month")
    for name, value in (("year", year), ("month", month)):
        if not _is_int(value):
            raise RpcError("data_type_error", field=name, value=value)
    if not 1 <= month <= 12:
        raise RpcError("invalid_parameter_value", field="month", value=month)
    if not 2000 <= year <= 9999:
        raise RpcError("invalid_parameter_value", field="year", value=year)
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    query.date_from, query.date_till = f"{first} 00:00:00", f"{last} 23:59:59"


def _parse_dates(spec: Any, params: Mapping[str, Any], tz: dt.tzinfo, query: Query) -> None:
    if "year" in spec.params and "month" in spec.params:
        _parse_month(params, query)
        return
    has_dates = "date_from" in params or "date_till" in params
    if spec.name == "get.chat_messages_report":
        if not has_dates and "chat_id" not in params and "chat_ids" not in params:
            raise RpcError("required_parameter_missed", field="date_from")
    if not has_dates:
        return
    for name in ("date_from", "date_till"):
        if name not in params:
            raise RpcError("required_parameter_missed", field=name)
    start = _parse_time("date_from", params["date_from"], tz)
    end = _parse_time("date_till", params["date_till"], tz)
    if end < start:
        raise RpcError("invalid_parameter_value", field="date_till", value=params["date_till"])
    cap = spec.window_cap  # the catalogue's: 3 calendar months, 366 / 31 / 30 days, or none documented
    if cap is not None and not cap.allows(start, end, tz):
        raise RpcError("date_interval_limit_reached", field="date_till", value=params["date_till"])
    query.date_from, query.date_till = params["date_from"], params["date_till"]


def _parse_sort(sort: Any, by_name: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    if not isinstance(sort, list):
        raise RpcError("data_type_error", field="sort", value=sort)
    out = []
    for item in sort:
        if not isinstance(item, Mapping):
            raise RpcError("data_type_error", field="sort", value=item)
        extra = set(item) - {"field", "order"}
        if extra:
            raise RpcError("unexpected_parameters", field=f"sort.{sorted(extra)[0]}")
        if "field" not in item:
            raise RpcError("required_parameter_missed", field="sort.field")
        name = item["field"]
        if name not in by_name:
            raise RpcError("unexpected_parameters", field="sort.field", value=name)
        if not by_name[name].sortable:
            raise RpcError("sort_prohibited", field="sort.field", value=name)
        order = item.get("order", "asc")
        if order not in ("asc", "desc"):
            raise RpcError("invalid_parameter_value", field="sort.order", value=order)
        out.append((name, order == "desc"))
    return tuple(out)


@dataclasses.dataclass
class Page:
    """The answer to a query: ``total_items`` and the page's rows, serialized."""

    total: int
    rows: list[bytes]


class ResultCache:
    """The last few filtered/sorted candidate lists, so paging a query does not re-evaluate it per page."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: dict[tuple[Any, ...], list[Any]] = {}

    def get(self, key: tuple[Any, ...]) -> list[Any] | None:
        return self._items.get(key)

    def put(self, key: tuple[Any, ...], value: list[Any]) -> None:
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = value


def _sort_value(value: Any) -> tuple[bool, Any]:
    # nulls last ascending, first descending (PostgreSQL's default)
    return (value is None, 0 if value is None else value)


def _apply_sort(
    items: list[Any],
    sort: Sequence[tuple[str, bool]],
    value: Callable[[Any, str], Any],
    key: Callable[[Any], Any] | None,
) -> None:
    if key is not None:
        items.sort(key=key)  # ties of every sort field are broken by the row key (else kept as they are)
    for name, descending in reversed(sort):
        items.sort(key=lambda item, n=name: _sort_value(value(item, n)), reverse=descending)


def run_report_query(
    store: DataStore, query: Query, *, visible_until: str | None, cache: ResultCache | None = None
) -> Page:
    """Evaluate a report query on the generated data; rows hidden after ``visible_until``."""
    model = store.model(query.method)
    t_from, t_till = query.date_from, query.date_till
    if t_from is None or t_till is None:  # chat_messages by chat id: the chats' days
        ids = [i for name, values in query.extra if name == "chat_id" for i in values]
        days = sorted({day_of_id(i) for i in ids}) or [dt.date(2000, 1, 1)]
        t_from, t_till = f"{days[0]} 00:00:00", f"{days[-1]} 23:59:59"
    if visible_until is not None and model.time_field and t_till > visible_until:
        t_till = visible_until
    slices = store.slices(query.method, t_from, t_till) if t_from <= t_till else []
    default = set(model.default_names)
    plain_sort = not query.sort or query.sort == ((model.time_field, False),)
    out_fields = query.fields if query.fields is not None and set(query.fields) != default else None
    limit = query.limit if query.limit is not None else 1 << 62

    if query.filter is None and not query.extra and plain_sort:
        total = sum(hi - lo for _, lo, hi in slices)
        rows: list[bytes] = []
        skip, want = query.offset, limit
        for data, lo, hi in slices:
            if want <= 0:
                break
            if skip >= hi - lo:
                skip -= hi - lo
                continue
            start, stop = lo + skip, min(hi, lo + skip + want)
            skip = 0
            want -= stop - start
            if out_fields is None:
                rows.extend(store.head(data)[start:stop])
            else:
                rows.extend(store.encoded(data, out_fields)[start:stop])
        return Page(total, rows)

    cache_key = (id(store), query.signature, store.version, t_till)
    candidates = cache.get(cache_key) if cache is not None else None
    if candidates is None:
        candidates = _select(store, query, slices)
        if query.sort and not plain_sort:
            _apply_sort(
                candidates,
                query.sort,
                lambda c, name: store.column(c[0], name)[c[1]],
                lambda c: c[0].keys[c[1]],
            )
        if cache is not None:
            cache.put(cache_key, candidates)
    page = candidates[query.offset : query.offset + limit]
    if out_fields is None:
        rows = [store.head(data)[pos] for data, pos in page]
    else:
        rows = [orjson.dumps({name: store.column(data, name)[pos] for name in out_fields}) for data, pos in page]
    return Page(len(candidates), rows)


def _select(store: DataStore, query: Query, slices: Iterable[tuple[DayData, int, int]]) -> list[Any]:
    needed = sorted(set(query.filter_fields) | {name for name, _ in query.extra})
    out: list[Any] = []
    for data, lo, hi in slices:
        if not needed:
            out.extend((data, pos) for pos in range(lo, hi))
            continue
        rows = store.rows(data, needed, lo, hi)
        for offset, row in enumerate(rows):
            if _extra_ok(row, query.extra) and (query.filter is None or query.filter(row)):
                out.append((data, lo + offset))
    return out


def _extra_ok(row: Mapping[str, Any], extra: Sequence[tuple[str, Any]]) -> bool:
    for name, wanted in extra:
        value = row.get(name)
        if isinstance(wanted, tuple):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def run_rows_query(
    rows: Sequence[Mapping[str, Any]],
    query: Query,
    *,
    time_field: str | None,
    key: Callable[[Mapping[str, Any]], Any],
    default_fields: Sequence[str],
    served_order: bool = False,
) -> Page:
    """Evaluate a query over in-memory rows (get.uploaded_calls): same filter/sort/fields semantics.

    Rows come out in (time field, key) order unless ``served_order``: then in the order given, which a sort
    keeps among the rows it ties (a server's arbitrary order).
    """
    selected = [
        row
        for row in rows
        if (
            query.date_from is None
            or time_field is None
            or query.date_from <= (row.get(time_field) or "") <= query.date_till
        )
        and _extra_ok(row, query.extra)
        and (query.filter is None or query.filter(row))
    ]
    if not served_order:
        selected.sort(key=lambda row: ((row.get(time_field) or "") if time_field else "", key(row)))
    if query.sort:
        _apply_sort(selected, query.sort, lambda row, name: row.get(name), None if served_order else key)
    limit = query.limit if query.limit is not None else len(selected)
    names = list(query.fields or default_fields)
    page = selected[query.offset : query.offset + limit]
    return Page(len(selected), [orjson.dumps({name: row.get(name) for name in names}) for row in page])
