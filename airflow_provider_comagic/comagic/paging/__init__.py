"""The paging and window engine, without I/O.

A :class:`PagePlan` reads every row of a ``get.*`` method over a half-open interval ``[start, end)`` exactly
once, with close to the minimum number of calls, within the API's limits:

* ``limit`` <= 10 000 and ``offset`` <= 100 000, so one query reaches at most 110 000 rows;
* ``date_from``/``date_till`` at most the method's window cap apart (3 calendar months for the classic reports,
  366 days for the report builder's lists, 31 for ``get.visits``: the catalogue's ``window_cap``).

The interval is cut into windows of at most the cap (:func:`split_windows`). Each window is read by *queries* sorted by the
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

A reference list (no date range) is one query. When its ``total_items`` fits in a page it is read in one call,
whatever order the server gives. Longer lists are sorted by their key when the docs let it be sorted, else by
the catalogue's ``order`` for the list (documented sortable fields such as ``login`` or ``name``, which may tie:
``order_ties`` 0). Tied rows may come in another order on every call, so each page after the first starts at
the first row of the previous page's trailing tie group (however long it was): the whole group is on the next
page, and the rows read twice are skipped by key. A list read to its end must have given ``total_items``
distinct keys; one that changed while paged is read again, and the plan fails clearly if it keeps changing.
A method without ``limit``/``offset`` (``paged=False``) is one call.

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

The package: :mod:`.plan` (:class:`PagePlan`), :mod:`.rows` (reading a page's keys, times and sort values),
:mod:`.windows` (cutting a range at the method's window cap).
"""

from __future__ import annotations

from airflow_provider_comagic.comagic.paging.plan import (
    DEFAULT_MAX_REREADS,
    MAX_LIMIT,
    MAX_OFFSET,
    STATE_VERSION,
    PagePlan,
    PlanStats,
)
from airflow_provider_comagic.comagic.paging.windows import MAX_INTERVAL_MONTHS, split_windows

__all__ = [
    "DEFAULT_MAX_REREADS",
    "MAX_INTERVAL_MONTHS",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "STATE_VERSION",
    "PagePlan",
    "PlanStats",
    "split_windows",
]
