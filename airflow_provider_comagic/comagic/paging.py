"""The paging and window engine, without I/O.

A :class:`PagePlan` reads every row of a ``get.*`` method over a half-open interval ``[start, end)`` exactly
once, with close to the minimum number of calls, within the API's limits:

* ``limit`` <= 10 000 and ``offset`` <= 100 000, so one query reaches at most 110 000 rows;
* ``date_from``/``date_till`` at most 3 calendar months apart.

The interval is cut into windows of at most 3 months. Each window is read by *queries* sorted by the
method's time field (ties broken by the key when it is sortable). When a query holds more rows than the offset
cap lets us reach, the next query starts at the second of the last row read (a time "keyset" continuation);
the rows of that boundary second already emitted are skipped by key. Methods without a sortable time field
and a key fall back to bisecting the window in time.

A method whose time field is not sortable but whose catalogue entry names an ``order`` (sortable fields that
never change for a row, e.g. ``ext_id``, ``ext_request_id`` of ``get.uploaded_calls``) is sorted by it: rows
keep their positions while other fields (a status) change between pages, whatever order the server would use
by default. When up to ``order_ties`` rows can share those values, the server may put them in another order on
every page, so each page after the first starts ``order_ties - 1`` rows early: a tie cut by a page boundary is
read whole on the next page, and the rows read twice are skipped by key.

Drift protection: every page must report the ``total_items`` of its query's first page and hold exactly the
rows that total implies, and a query read to its end must have returned ``total_items`` distinct keys (a row
that moved across a page boundary is read twice and another one never); otherwise the query is re-read
(bounded) and the rows already emitted are skipped by key, so nothing is lost or duplicated. Without a key the
plan fails instead of risking duplicates.

A plan's position is plain JSON (:meth:`PagePlan.state`, :meth:`PagePlan.restore`): a deferred report task
continues where it stopped, without fetching a page twice or emitting a row twice.

Rows are either dicts or, when the driver keeps pages undecoded, ``msgspec.Raw`` JSON objects: the plan then
decodes only the key and time fields of each row (see :meth:`PagePlan.feed`).

Drivers (``ComagicHook.iter_pages``, ``ComagicAsyncHook.iter_pages``) loop::

    while (params := plan.next_request()) is not None:
        rows = plan.feed(call(plan.method, params))
        if rows:
            yield rows
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Callable, Hashable, Mapping, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError, ComagicParameterError
from airflow_provider_comagic.utils.time import (
    ONE_SECOND,
    add_months,
    ceil_second,
    format_api_time,
    parse_api_time,
    validate_interval,
)

if TYPE_CHECKING:
    from airflow_provider_comagic.comagic.catalogue import MethodSpec

MAX_LIMIT = 10_000
MAX_OFFSET = 100_000
MAX_INTERVAL_MONTHS = 3
DEFAULT_MAX_REREADS = 2
STATE_VERSION = 1


@dataclasses.dataclass
class PlanStats:
    """What a plan did: queries sent, pages read, re-reads after drift, window splits, rows emitted."""

    windows: int = 0
    queries: int = 0
    pages: int = 0
    rereads: int = 0
    splits: int = 0
    continuations: int = 0
    rows: int = 0
    skipped_duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class _Query:
    """One query: [start, end) of a window, paged by offset."""

    start: dt.datetime
    end: dt.datetime
    offset: int = 0
    total: int | None = None
    received: int = 0
    attempts: int = 0
    last_time: str | None = None
    seen: set[Hashable] = dataclasses.field(default_factory=set)
    """Keys emitted from this query's span (over every attempt, and seeded by the query it continues)."""
    read: set[Hashable] = dataclasses.field(default_factory=set)
    """Keys read in the current attempt: at its end they must be ``total`` many (always a subset of seen)."""
    tail_keys: set[Hashable] = dataclasses.field(default_factory=set)
    """Keys of the rows of the last second read: the only ones a continuation query can return again."""


class PagePlan:
    """Plans the calls that read every row of ``method`` over ``[start, end)`` exactly once.

    :param method: API method name, e.g. ``get.calls_report``.
    :param start: inclusive start (aware datetime); ``None`` for methods without a date range.
    :param end: exclusive end (aware datetime); ``None`` for methods without a date range.
    :param tz: the account's time zone; ``date_from``/``date_till`` are wall-clock times in it.
    :param time_field: the row field ``date_from``/``date_till`` select on (e.g. ``start_time``).
    :param key: the fields identifying a row, used to skip rows already emitted after a re-read.
    :param sortable: fields the method can sort by.
    :param page_size: rows per call, 1..10 000 (always 10 000 unless testing: the default costs 10x).
    :param filter: a filter tree passed through unchanged.
    :param fields: fields to return; the key and time field are added when missing (the engine needs them).
    :param sort: a user sort; it disables the time continuation (windows are bisected instead).
    :param params: extra method parameters passed through (e.g. ``include_ongoing_calls``).
    :param order: sortable fields that fix each row's position, used as the sort when ``time_field`` is not
        sortable (the catalogue's ``order``).
    :param order_ties: at most how many rows share the values of ``order``; each page after the first then
        re-reads that many rows minus one (at most ``page_size - 1``).
    """

    def __init__(
        self,
        method: str,
        start: dt.datetime | None,
        end: dt.datetime | None,
        *,
        tz: dt.tzinfo,
        time_field: str | None,
        key: Sequence[str] = (),
        sortable: Sequence[str] = (),
        page_size: int = MAX_LIMIT,
        filter: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        max_rereads: int = DEFAULT_MAX_REREADS,
        max_offset: int = MAX_OFFSET,
        split_months: int = MAX_INTERVAL_MONTHS,
        order: Sequence[str] = (),
        order_ties: int = 1,
    ):
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_LIMIT:
            raise ComagicParameterError(f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}")
        if max_offset > MAX_OFFSET or max_offset < 0:
            raise ComagicParameterError(f"max_offset must be within 0..{MAX_OFFSET}")
        if not isinstance(order_ties, int) or order_ties < 1:
            raise ComagicParameterError(f"order_ties must be a positive integer, got {order_ties!r}")
        self.method = method
        self.tz = tz
        self.time_field = time_field
        self.key = tuple(key)
        self.page_size = page_size
        self.max_rereads = max_rereads
        self.stats = PlanStats()
        self._filter = dict(filter) if filter else None
        self._extra = dict(params or {})
        self._user_sort = [dict(s) for s in sort] if sort else None
        sortable = set(sortable)
        self._continuation = bool(self._user_sort is None and time_field and time_field in sortable and self.key)
        overlap = 0
        if self._user_sort is not None:
            self._sort = self._user_sort
        elif time_field and time_field in sortable:
            self._sort = [{"field": time_field, "order": "asc"}]
            self._sort += [{"field": k, "order": "asc"} for k in self.key if k in sortable and k != time_field]
        elif order:
            unsortable = [name for name in order if name not in sortable]
            if unsortable:
                raise ComagicParameterError(f"{method}: cannot order by {unsortable}: not sortable")
            self._sort = [{"field": name, "order": "asc"} for name in order]
            if self.key:  # without a key the rows read twice could not be skipped
                overlap = min(order_ties - 1, page_size - 1)
        else:
            self._sort = None
        self.overlap = overlap
        """Rows each page after the first re-reads from the end of the previous page."""
        self._step = page_size - overlap
        self.max_offset = max_offset - max_offset % self._step  # offsets stay on the page grid
        self.fields = _with_required_fields(fields, [*self.key, *([time_field] if time_field else [])])
        self._key_of = _key_getter(self.key)
        self._raw_reader: _RawRowReader | None = None
        # pending windows: (start, end, keys already emitted from that span: non-empty only after a bisection
        # of a query that had emitted rows before it drifted past the offset cap)
        self._windows: deque[tuple[dt.datetime, dt.datetime, set[Hashable]]] = deque()
        self._dated = start is not None or end is not None
        if self._dated:
            if start is None or end is None:
                raise ComagicParameterError(f"{method}: give both date_from and date_till")
            start, end = validate_interval(start, end, error=ComagicParameterError)
            for window in split_windows(ceil_second(start), ceil_second(end), tz, split_months):
                self._windows.append((*window, set()))
        else:
            self._windows.append((dt.datetime.min.replace(tzinfo=dt.timezone.utc),) * 2 + (set(),))
        self.stats.windows = len(self._windows)
        self._query: _Query | None = None

    @classmethod
    def for_method(
        cls, spec: MethodSpec, start: dt.datetime | None, end: dt.datetime | None, *, tz: dt.tzinfo, **kwargs: Any
    ) -> PagePlan:
        """Build a plan from the method catalogue (time field, key, sortable fields).

        Without ``fields`` the plan asks for the method's default fields, plus the key and time field when the
        defaults lack them: the engine cannot skip re-read rows or continue past the offset cap without them.
        """
        if kwargs.get("fields") is None:
            needed = [*spec.key, *([spec.time_field] if spec.time_field else [])]
            if any(name not in spec.default_fields for name in needed):
                kwargs["fields"] = list(spec.default_fields)
        return cls(
            spec.name,
            start,
            end,
            tz=tz,
            time_field=spec.time_field,
            key=spec.key,
            sortable=[f.name for f in spec.fields if f.sortable],
            **{"order": spec.order, "order_ties": spec.order_ties, **kwargs},
        )

    # -- the driver's interface -------------------------------------------------------------------------
    def expected_rows(self) -> int | None:
        """The rows the plan will have emitted when done, once it can tell: the last window's query has given its
        total (a window's total comes with its first page). An estimate for progress logs, not a check."""
        query = self._query
        if self._windows or query is None or query.total is None:
            return None
        return self.stats.rows + max(query.total - query.received, 0)

    def next_request(self) -> dict[str, Any] | None:
        """Parameters of the next call, or ``None`` when every row has been read."""
        if self._query is None:
            if not self._windows:
                return None
            start, end, seen = self._windows.popleft()
            self._query = _Query(start, end, seen=seen)
            self.stats.queries += 1
        return self._params(self._query, self._query.offset)

    def following_request(self) -> dict[str, Any] | None:
        """Parameters of the call that will follow the pending one if its page comes back whole and unchanged,
        or ``None`` when that cannot be known before its page is read (the first page of a query, which gives
        the total; the query's last page; a continuation past the offset cap, which starts at that page's last
        second). A driver may send it early, while the pending page is still arriving, and must use its
        answer only when :meth:`next_request` then asks for exactly these parameters."""
        query = self._query
        if query is None or query.total is None or not self.key:
            return None
        following = query.offset + self._step
        if query.offset + self.page_size >= query.total or following > self.max_offset:
            return None
        return self._params(query, following)

    def _params(self, query: _Query, offset: int) -> dict[str, Any]:
        params: dict[str, Any] = dict(self._extra)
        if self._dated:
            params["date_from"] = format_api_time(query.start, self.tz)
            params["date_till"] = format_api_time(query.end - ONE_SECOND, self.tz)
        params["limit"] = self.page_size
        params["offset"] = offset
        if self._sort:
            params["sort"] = self._sort
        if self._filter:
            params["filter"] = self._filter
        if self.fields is not None:
            params["fields"] = self.fields
        return params

    def feed(self, result: Mapping[str, Any]) -> list[Any]:
        """Take the ``result`` of the call planned by :meth:`next_request`; return the rows to emit.

        ``result["data"]`` holds dicts, or ``msgspec.Raw`` rows (undecoded JSON objects) which are returned as
        they came: only their key and time fields are decoded here.
        """
        query = self._query
        if query is None:
            raise RuntimeError("feed() called without a pending request")
        rows = result.get("data")
        if not isinstance(rows, list):
            raise ComagicDataIntegrityError(f"{self.method}: the result has no data list")
        page = self._read(rows)
        total = (result.get("metadata") or {}).get("total_items")
        if not isinstance(total, int):
            total = None
        self.stats.pages += 1

        if query.offset == 0 and query.total is None:
            query.total = total
            if total is not None and total > self.max_offset + self.page_size and not self._continuation:
                self._bisect(query)  # the first page is thrown away: another split will read it
                return []
        if self._drifted(query, total, page):
            self._reread(query)
            return []

        emitted = self._emit(query, page)
        query.received = query.offset + len(rows)  # rows up to here were read (the overlap counted once)
        query.offset += self._step
        if self._continuation:
            self._track_tail(query, page)
        if self._missed_rows(query, len(rows)):
            self._reread(query)  # the rows emitted so far stay emitted: the re-read skips them by key
            return emitted
        self._advance(query, len(rows))
        return emitted

    @property
    def done(self) -> bool:
        return self._query is None and not self._windows

    # -- resuming -----------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Where the plan stands, as plain JSON: the pending windows, the current query's position and the
        keys it emitted, and the statistics. Take it between calls (after :meth:`feed`, or after a
        :meth:`next_request` whose call failed: that request is sent again after :meth:`restore`).

        Its size is dominated by the current query's emitted keys (at most ``max_offset + page_size``).
        """
        query = self._query
        return {
            "state_version": STATE_VERSION,
            "method": self.method,
            "fields": self.fields,
            "windows": [[start.isoformat(), end.isoformat(), _keys_out(seen)] for start, end, seen in self._windows],
            "query": None
            if query is None
            else {
                "start": query.start.isoformat(),
                "end": query.end.isoformat(),
                "offset": query.offset,
                "total": query.total,
                "received": query.received,
                "attempts": query.attempts,
                "last_time": query.last_time,
                "seen": _keys_out(query.seen),
                # read is a subset of seen and usually equal to it: store the (mostly empty) difference
                "unread": _keys_out(query.seen - query.read),
                "tail_keys": _keys_out(query.tail_keys),
            },
            "stats": self.stats.as_dict(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state` taken by a plan built with the same arguments: the next request is
        the one that was pending, and no row emitted before is emitted again."""
        if state.get("state_version") != STATE_VERSION or state.get("method") != self.method:
            raise ComagicParameterError(f"{self.method}: the saved paging state is of another plan or version")
        if state.get("fields") != self.fields:
            raise ComagicParameterError(
                f"{self.method}: the saved paging state asked for fields {state.get('fields')}, this plan for "
                f"{self.fields}; the query changed between the runs"
            )
        parse = dt.datetime.fromisoformat
        self._windows = deque((parse(start), parse(end), _keys_in(seen)) for start, end, seen in state["windows"])
        saved = state["query"]
        self._query = None
        if saved is not None:
            seen = _keys_in(saved["seen"])
            self._query = _Query(
                parse(saved["start"]),
                parse(saved["end"]),
                offset=saved["offset"],
                total=saved["total"],
                received=saved["received"],
                attempts=saved["attempts"],
                last_time=saved["last_time"],
                seen=seen,
                read=seen - _keys_in(saved.get("unread", ())),
                tail_keys=_keys_in(saved["tail_keys"]),
            )
        self.stats = PlanStats(**state["stats"])

    # -- internals ----------------------------------------------------------------------------------------
    def _read(self, rows: list[Any]) -> _Page:
        """The rows with their keys and times, decoded from raw rows when the page was kept undecoded."""
        if rows and isinstance(rows[0], msgspec.Raw):
            if self._raw_reader is None:
                self._raw_reader = _RawRowReader(self.key, self.time_field)
            return self._raw_reader.read(rows, self.method)
        key_of, time_field = self._key_of, self.time_field
        keys = None if key_of is None else [key_of(row) for row in rows]
        times = None if time_field is None else _LazyTimes(rows, time_field)
        return _Page(rows, keys, times)

    def _drifted(self, query: _Query, total: int | None, page: _Page) -> bool:
        rows = page.rows
        if total is None:
            return False  # a method without total_items: the short page ends it (see _advance)
        if total != query.total:
            return True
        expected = min(self.page_size, max(0, total - query.offset))
        if len(rows) != expected:
            return True
        if self._continuation and rows:
            # the continuation relies on ascending time order; check page edges (cheap, no per-row work)
            assert page.times is not None
            first, last = page.times[0], page.times[-1]
            if first is None or last is None or last < first or (query.last_time and first < query.last_time):
                raise ComagicDataIntegrityError(
                    f"{self.method}: rows are not sorted by {self.time_field} although the query asked for it"
                )
        return False

    def _emit(self, query: _Query, page: _Page) -> list[Any]:
        rows, keys = page.rows, page.keys
        if keys is None:
            self.stats.rows += len(rows)
            return rows
        query.read.update(keys)
        seen = query.seen
        if seen:
            fresh_keys = [key for key in keys if key not in seen]
            fresh = [row for row, key in zip(rows, keys, strict=True) if key not in seen]
            self.stats.skipped_duplicates += len(rows) - len(fresh)
        else:
            fresh, fresh_keys = rows, keys
        seen.update(fresh_keys)
        self.stats.rows += len(fresh)
        return fresh

    def _track_tail(self, query: _Query, page: _Page) -> None:
        rows, keys, times = page.rows, page.keys, page.times
        if not rows:
            return
        assert keys is not None and times is not None  # the continuation needs both
        last = times[-1]
        if last != query.last_time:
            query.last_time, query.tail_keys = last, set()
        for index in range(len(rows) - 1, -1, -1):
            if times[index] != last:
                break
            query.tail_keys.add(keys[index])

    def _missed_rows(self, query: _Query, got: int) -> bool:
        """Whether a query read to its end returned fewer (or more) distinct keys than its ``total_items``:
        rows moved across a page boundary between two pages (one read twice, another never)."""
        total = query.total
        if total is None or not self.key or query.received < total:
            return False
        return len(query.read) != total

    def _advance(self, query: _Query, got: int) -> None:
        total = query.total
        finished = (got < self.page_size) if total is None else (query.received >= total)
        if finished:
            self._query = None
            return
        if query.offset <= self.max_offset:
            return
        # the offset cap is reached with rows left in this query
        if not self._continuation:  # only when total_items was missing; cannot be read exactly
            raise ComagicDataIntegrityError(
                f"{self.method}: more than {self.max_offset + self.page_size} rows and no way to split them"
            )
        self._continue_after(query)

    def _continue_after(self, query: _Query) -> None:
        """Start the next query at the second of the last row read, skipping that second's emitted rows."""
        if query.last_time is None:
            raise ComagicDataIntegrityError(f"{self.method}: rows carry no {self.time_field}")
        boundary = parse_api_time(query.last_time, self.tz)
        if boundary <= query.start:
            raise ComagicDataIntegrityError(
                f"{self.method}: more than {self.max_offset + self.page_size} rows share the second "
                f"{query.last_time}; narrow the query with a filter"
            )
        self.stats.continuations += 1
        self.stats.queries += 1
        # only the rows of the boundary second can come again: memory stays bounded by one query's keys
        self._query = _Query(boundary, query.end, seen=set(query.tail_keys))

    def _bisect(self, query: _Query) -> None:
        span = query.end - query.start
        if span <= ONE_SECOND:
            raise ComagicDataIntegrityError(
                f"{self.method}: {query.total} rows in the one second from "
                f"{format_api_time(query.start, self.tz)} exceed what offset paging can reach; add a filter"
            )
        middle = query.start + dt.timedelta(seconds=span.total_seconds() // 2)
        self.stats.splits += 1
        self._windows.appendleft((middle, query.end, query.seen))
        self._windows.appendleft((query.start, middle, query.seen))
        self._query = None

    def _reread(self, query: _Query) -> None:
        if not self.key:
            raise ComagicDataIntegrityError(
                f"{self.method}: the result changed while it was paged (total_items {query.total} -> other) "
                "and rows have no key to re-read it without duplicates; rerun the task"
            )
        if query.attempts >= self.max_rereads:
            raise ComagicDataIntegrityError(
                f"{self.method}: the result kept changing while it was paged "
                f"({query.attempts + 1} reads of {format_api_time(query.start, self.tz)}.."
                f"{format_api_time(query.end - ONE_SECOND, self.tz)}); rerun the task later"
            )
        query.attempts += 1
        query.offset = 0
        query.total = None
        query.received = 0
        query.last_time = None
        query.tail_keys = set()
        query.read = set()
        self.stats.rereads += 1


def split_windows(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, months: int = MAX_INTERVAL_MONTHS
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Cut ``[start, end)`` into consecutive windows of at most ``months`` calendar months (account zone)."""
    windows = []
    cursor = start
    while cursor < end:
        limit = add_months(cursor, months, tz)
        window_end = min(end, limit)
        windows.append((cursor, window_end))
        cursor = window_end
    return windows


def _with_required_fields(fields: Sequence[str] | None, required: Sequence[str]) -> list[str] | None:
    if fields is None:
        return None
    return list(dict.fromkeys([*fields, *required]))


def _keys_out(keys: set[Hashable]) -> list[Any]:
    """Row keys as JSON values (a composite key's tuple becomes a list)."""
    return [list(key) if isinstance(key, tuple) else key for key in keys]


def _keys_in(values: Sequence[Any]) -> set[Hashable]:
    return {tuple(value) if isinstance(value, list) else value for value in values}


def _key_getter(key: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Hashable] | None:
    if not key:
        return None
    if len(key) == 1:
        name = key[0]
        return lambda row: row.get(name)
    return lambda row: tuple(row.get(k) for k in key)


@dataclasses.dataclass
class _Page:
    """One page as the plan reads it: the rows, their keys (None without a key) and their times."""

    rows: list[Any]
    keys: list[Hashable] | None
    times: Sequence[Any] | None


class _LazyTimes:
    """The time field of dict rows, read only where asked (page edges and the boundary second)."""

    def __init__(self, rows: list[Mapping[str, Any]], time_field: str):
        self._rows = rows
        self._field = time_field

    def __getitem__(self, index: int) -> Any:
        return self._rows[index].get(self._field)


class _RawRowReader:
    """Decodes only the key and time fields of raw JSON rows (``msgspec.Raw``), skipping the rest unparsed
    (a fraction of a full decode). Missing fields read as None, as ``dict.get`` does."""

    def __init__(self, key: tuple[str, ...], time_field: str | None):
        names = list(dict.fromkeys([*key, *([time_field] if time_field else [])]))
        attrs = {name: f"f{index}" for index, name in enumerate(names)}  # any field name, even no identifier
        struct = msgspec.defstruct(
            "RowKeyFields", [(attr, Any, None) for attr in attrs.values()], rename={a: n for n, a in attrs.items()}
        )
        self._decode = msgspec.json.Decoder(struct).decode
        self._key_of = attrgetter(*(attrs[name] for name in key)) if key else None
        self._time_of = attrgetter(attrs[time_field]) if time_field else None

    def read(self, rows: list[msgspec.Raw], method: str) -> _Page:
        decode = self._decode
        try:
            decoded = [decode(row) for row in rows]
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            raise ComagicDataIntegrityError(f"{method}: a row of the result is not a JSON object: {error}") from None
        keys = None if self._key_of is None else list(map(self._key_of, decoded))
        times = None if self._time_of is None else list(map(self._time_of, decoded))
        return _Page(rows, keys, times)
