"""PagePlan fed rows kept undecoded (``msgspec.Raw``, the landing's path): keys, odd field names, drift re-reads."""

from __future__ import annotations

import msgspec
import orjson
import pendulum
import pytest

from airflow_provider_comagic.comagic.errors import ComagicDataIntegrityError
from airflow_provider_comagic.comagic.paging import PagePlan

MSK = pendulum.timezone("Europe/Moscow")


def test_plan_reads_composite_keys_and_odd_field_names_from_raw_rows():
    plan = PagePlan(
        "get.x", None, None, tz=MSK, time_field="at time", key=("a-id", "b"), sortable=("at time",), page_size=3
    )
    assert plan.next_request() is not None
    rows = [{"a-id": 1, "b": "x", "at time": "2024-03-01 00:00:00"}, {"b": "y", "at time": "2024-03-01 00:00:01"}]
    raw = [msgspec.Raw(orjson.dumps(row)) for row in rows]
    emitted = plan.feed({"data": raw, "metadata": {"total_items": 2}})
    assert emitted == raw and plan.done
    assert plan.state()["query"] is None and plan.stats.rows == 2


def test_plan_rejects_a_raw_row_that_is_not_an_object():
    plan = PagePlan("get.x", None, None, tz=MSK, time_field=None, key=("id",))
    plan.next_request()
    with pytest.raises(ComagicDataIntegrityError, match="not a JSON object"):
        plan.feed({"data": [msgspec.Raw(b"[1, 2]")], "metadata": {"total_items": 1}})


def test_drift_reread_skips_rows_already_emitted_from_raw_rows():
    plan = PagePlan("get.x", None, None, tz=MSK, time_field=None, key=("id",), page_size=2)
    page = lambda ids, total: {  # noqa: E731
        "data": [msgspec.Raw(orjson.dumps({"id": i})) for i in ids],
        "metadata": {"total_items": total},
    }
    plan.next_request()
    assert [bytes(r) for r in plan.feed(page([1, 2], 3))] == [b'{"id":1}', b'{"id":2}']
    plan.next_request()
    assert plan.feed(page([3, 4], 4)) == []  # a row appeared: total changed, the query is read again
    out = []
    while plan.next_request() is not None:
        out += plan.feed(page([1, 2] if plan.state()["query"]["offset"] == 0 else [3, 4], 4))
    assert [orjson.loads(bytes(r))["id"] for r in out] == [3, 4]
    assert plan.stats.skipped_duplicates == 2 and plan.stats.rows == 4
