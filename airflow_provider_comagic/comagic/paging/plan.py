"""The paging plan: :class:`PagePlan` (see the package docstring)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError, ComagicParameterError
from airflow_provider_comagic.comagic.paging.rows import Page, RowReader, keys_in, keys_out, with_required_fields
from airflow_provider_comagic.comagic.paging.windows import MAX_INTERVAL_MONTHS, split_windows
from airflow_provider_comagic.utils.time import (
    ONE_SECOND,
    ceil_second,
    format_api_time,
    parse_api_time,
    validate_interval,
)

if TYPE_CHECKING:
    from airflow_provider_comagic.comagic.catalogue import MethodSpec

__all__ = ["DEFAULT_MAX_REREADS", "MAX_LIMIT", "MAX_OFFSET", "STATE_VERSION", "PagePlan", "PlanStats"]

MAX_LIMIT = 10_000
MAX_OFFSET = 100_000
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
    :param fields: fields to return; the key, the time field and the ``order`` fields of a tie-checked sort are
        added when missing (the engine reads them).
    :param sort: a user sort; it disables the time continuation (windows are bisected instead).
    :param params: extra method parameters passed through (e.g. ``include_ongoing_calls``).
    :param order: sortable fields that fix each row's position, used as the sort when ``time_field`` is not
        sortable (the catalogue's ``order``).
    :param order_ties: at most how many rows share the values of ``order``; each page after the first then
        re-reads that many rows minus one (at most ``page_size - 1``). ``0``: unknown (a reference list sorted
        by names): each page after the first starts at the first row of the previous page's trailing tie group,
        however long it was, so a tie cut by a page boundary is read whole whatever order the server gives it.
    :param split_months: cut the interval into windows of at most this many calendar months (the method's cap).
    :param split_days: cut it into windows of at most this many days instead (a cap in days: 366, 31).
    :param paged: ``False`` for a method without ``limit``/``offset`` (one call returns every row).
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
        split_days: int | None = None,
        order: Sequence[str] = (),
        order_ties: int = 1,
        paged: bool = True,
    ):
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_LIMIT:
            raise ComagicParameterError(f"page_size must be an integer from 1 to {MAX_LIMIT}, got {page_size!r}")
        if max_offset > MAX_OFFSET or max_offset < 0:
            raise ComagicParameterError(f"max_offset must be within 0..{MAX_OFFSET}")
        if not isinstance(order_ties, int) or isinstance(order_ties, bool) or order_ties < 0:
            raise ComagicParameterError(f"order_ties must be a non-negative integer, got {order_ties!r}")
        self.method = method
        self.tz = tz
        self.time_field = time_field
        self.key = tuple(key)
        self.page_size = page_size
        self.paged = paged
        self.max_rereads = max_rereads
        self.stats = PlanStats()
        self._filter = dict(filter) if filter else None
        self._extra = dict(params or {})
        self._user_sort = [dict(s) for s in sort] if sort else None
        sortable = set(sortable)
        self._continuation = bool(self._user_sort is None and time_field and time_field in sortable and self.key)
        self._sort, ordered = self._choose_sort(sortable, tuple(order))
        # a sort by `order` ties rows the server may give in any order: re-read them across page boundaries
        # (without a key the rows read twice could not be skipped)
        overlap = min(order_ties - 1, page_size - 1) if ordered and self.key and order_ties else 0
        self.overlap = overlap
        """Rows each page after the first re-reads from the end of the previous page."""
        self._tie_fields = tuple(order) if ordered and self.key and not order_ties else ()
        self._step = page_size - overlap
        self.max_offset = max_offset - max_offset % self._step  # offsets stay on the page grid
        # the engine reads the key, the time field and the fields a tie group is judged by from every row
        required = [*self.key, *([time_field] if time_field else []), *self._tie_fields]
        self.fields = with_required_fields(fields, required)
        self._reader = RowReader(self.key, time_field, self._tie_fields)
        # pending windows: (start, end, keys already emitted from that span: non-empty only after a bisection
        # of a query that had emitted rows before it drifted past the offset cap)
        self._windows: deque[tuple[dt.datetime, dt.datetime, set[Hashable]]] = deque()
        self._dated = start is not None or end is not None
        if self._dated:
            if start is None or end is None:
                raise ComagicParameterError(f"{method}: give both date_from and date_till")
            start, end = validate_interval(start, end, error=ComagicParameterError)
            for window in split_windows(ceil_second(start), ceil_second(end), tz, split_months, days=split_days):
                self._windows.append((*window, set()))
        else:
            self._windows.append((dt.datetime.min.replace(tzinfo=dt.timezone.utc),) * 2 + (set(),))
        self.stats.windows = len(self._windows)
        self._query: _Query | None = None

    def _choose_sort(self, sortable: set[str], order: tuple[str, ...]) -> tuple[list[dict[str, Any]] | None, bool]:
        """The sort of every call, and whether it is the ``order`` fallback (the time field is not sortable)."""
        if self._user_sort is not None:
            return self._user_sort, False
        time_field = self.time_field
        if time_field and time_field in sortable:
            sort = [{"field": time_field, "order": "asc"}]
            return sort + [{"field": k, "order": "asc"} for k in self.key if k in sortable and k != time_field], False
        if order:
            unsortable = [name for name in order if name not in sortable]
            if unsortable:
                raise ComagicParameterError(f"{self.method}: cannot order by {unsortable}: not sortable")
            return [{"field": name, "order": "asc"} for name in order], True
        return None, False

    @classmethod
    def for_method(
        cls, spec: MethodSpec, start: dt.datetime | None, end: dt.datetime | None, *, tz: dt.tzinfo, **kwargs: Any
    ) -> PagePlan:
        """Build a plan from the method catalogue (time field, key, sortable fields, paging order, window cap,
        whether it pages).

        Without ``fields`` the plan asks for the method's default fields, plus the key and time field when the
        defaults lack them: the engine cannot skip re-read rows or continue past the offset cap without them.
        Windows follow the method's cap (3 months for the classic reports, 366 days for the report builder, 31
        for ``get.visits``; 3 months where the docs state none).
        """
        if kwargs.get("fields") is None:
            needed = [*spec.key, *([spec.time_field] if spec.time_field else [])]
            if any(name not in spec.default_fields for name in needed):
                kwargs["fields"] = list(spec.default_fields)
        cap = spec.window_cap
        if cap is not None and "split_months" not in kwargs and "split_days" not in kwargs:
            kwargs.update(split_days=cap.days) if cap.days and not cap.months else kwargs.update(
                split_months=cap.months
            )
        kwargs.setdefault("paged", spec.paging.pages)
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
        if query is None or query.total is None or not self.key or self._tie_fields or not self.paged:
            return None  # with tied rows re-read, where the next page starts depends on this one
        following = query.offset + self._step
        if query.offset + self.page_size >= query.total or following > self.max_offset:
            return None
        return self._params(query, following)

    def _params(self, query: _Query, offset: int) -> dict[str, Any]:
        params: dict[str, Any] = dict(self._extra)
        if self._dated:
            params["date_from"] = format_api_time(query.start, self.tz)
            params["date_till"] = format_api_time(query.end - ONE_SECOND, self.tz)
        if self.paged:
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
        page = self._reader.read(rows, self.method)
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
        query.offset += self._next_step(query, page)
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
            "windows": [[start.isoformat(), end.isoformat(), keys_out(seen)] for start, end, seen in self._windows],
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
                "seen": keys_out(query.seen),
                # read is a subset of seen and usually equal to it: store the (mostly empty) difference
                "unread": keys_out(query.seen - query.read),
                "tail_keys": keys_out(query.tail_keys),
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
        self._windows = deque((parse(start), parse(end), keys_in(seen)) for start, end, seen in state["windows"])
        saved = state["query"]
        self._query = None
        if saved is not None:
            seen = keys_in(saved["seen"])
            self._query = _Query(
                parse(saved["start"]),
                parse(saved["end"]),
                offset=saved["offset"],
                total=saved["total"],
                received=saved["received"],
                attempts=saved["attempts"],
                last_time=saved["last_time"],
                seen=seen,
                read=seen - keys_in(saved.get("unread", ())),
                tail_keys=keys_in(saved["tail_keys"]),
            )
        self.stats = PlanStats(**state["stats"])

    # -- internals ----------------------------------------------------------------------------------------
    def _next_step(self, query: _Query, page: Page) -> int:
        """How far the next page starts after this one: a page on, less the rows re-read across its boundary
        (``order_ties - 1``, or this page's trailing tie group when the ties are unknown)."""
        if not self._tie_fields or query.total is None or query.offset + len(page.rows) >= query.total:
            return self._step
        ties = page.trailing_ties()
        if ties >= len(page.rows):
            raise ComagicDataIntegrityError(
                f"{self.method}: a whole page of {len(page.rows)} rows shares the values of {list(self._tie_fields)}; "
                "the list cannot be paged exactly in an order the server keeps (give a larger page_size)"
            )
        return len(page.rows) - ties

    def _drifted(self, query: _Query, total: int | None, page: Page) -> bool:
        rows = page.rows
        if total is None:
            return False  # a method without total_items: the short page ends it (see _advance)
        if total != query.total:
            return True
        expected = min(self.page_size, max(0, total - query.offset)) if self.paged else total
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

    def _emit(self, query: _Query, page: Page) -> list[Any]:
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

    def _track_tail(self, query: _Query, page: Page) -> None:
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
        finished = not self.paged or ((got < self.page_size) if total is None else (query.received >= total))
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
        if not self._dated:
            raise ComagicDataIntegrityError(
                f"{self.method}: the list holds {query.total} rows, more than offset paging reaches "
                f"({self.max_offset + self.page_size}); it cannot be read whole exactly"
            )
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
        if query.attempts >= self.max_rereads and not self._dated:
            raise ComagicDataIntegrityError(
                f"{self.method}: the list came back different on each of {query.attempts + 1} reads (its rows "
                "changed while it was paged, or the server does not keep their order across pages); rerun later"
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
