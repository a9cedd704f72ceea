"""MCN call-log rules without I/O: date chunks, half-open filtering, row times, envelopes, Parquet rows."""

from __future__ import annotations

import datetime as dt
import itertools

import orjson
import pendulum
import pyarrow as pa
import pytest

from airflow_provider_comagic.landing.guard import SchemaGuard
from airflow_provider_comagic.mcn.call_log import (
    CALL_LOG_FIELDS,
    STATUSES,
    call_log_schema,
    chunk_params,
    covering_chunks,
    keep_row,
    normalize_row,
    response_rows,
    row_time,
    to_int,
    vpbx_ids,
)
from airflow_provider_comagic.mcn.errors import McnApiError
from tests.fixtures.calls import mcn_row

MSK = pendulum.timezone("Europe/Moscow")
UTC = dt.timezone.utc
D = dt.date


def msk(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


# -- covering dates -----------------------------------------------------------------------------------------------
def test_one_local_day_is_one_request_with_equal_inclusive_dates():
    # the reading of the seed: date_from and date_to are both inclusive, so a day is date_from == date_to
    chunks = covering_chunks(msk(2024, 3, 1), msk(2024, 3, 2), MSK)
    assert chunks == [(D(2024, 3, 1), D(2024, 3, 1))]
    assert chunk_params(chunks[0]) == {"date_from": "2024-03-01", "date_to": "2024-03-01"}


def test_exclusive_end_at_midnight_does_not_request_the_next_day():
    assert covering_chunks(msk(2024, 3, 1), msk(2024, 3, 3), MSK) == [(D(2024, 3, 1), D(2024, 3, 2))]


def test_end_one_microsecond_after_midnight_needs_the_next_day():
    end = msk(2024, 3, 3) + dt.timedelta(microseconds=1)
    assert covering_chunks(msk(2024, 3, 1), end, MSK, 31) == [(D(2024, 3, 1), D(2024, 3, 3))]


def test_hourly_interval_inside_one_day():
    assert covering_chunks(msk(2024, 3, 1, 10), msk(2024, 3, 1, 11), MSK) == [(D(2024, 3, 1), D(2024, 3, 1))]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (7, [("2024-01-30", "2024-02-05"), ("2024-02-06", "2024-02-12"), ("2024-02-13", "2024-02-15")]),
        (31, [("2024-01-30", "2024-02-15")]),
        (1, [(f"2024-{m:02d}-{d:02d}",) * 2 for m, d in [(1, 30), (1, 31)] + [(2, x) for x in range(1, 16)]]),
        (10, [("2024-01-30", "2024-02-08"), ("2024-02-09", "2024-02-15")]),
    ],
)
def test_chunks_tile_the_dates_without_gaps_or_overlaps(days, expected):
    chunks = covering_chunks(msk(2024, 1, 30), msk(2024, 2, 16), MSK, days)
    assert [(a.isoformat(), b.isoformat()) for a, b in chunks] == [tuple(e) for e in expected]
    for (_, last), (first, _) in itertools.pairwise(chunks):
        assert first == last + dt.timedelta(days=1)
    assert all((b - a).days + 1 <= days for a, b in chunks)


def test_dates_are_taken_in_the_account_zone_not_utc():
    # [2024-03-01 00:00 UTC, 2024-03-02 00:00 UTC) is 03:00 Mar 1 .. 03:00 Mar 2 in Moscow: two local dates
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)
    assert covering_chunks(start, start + dt.timedelta(days=1), MSK) == [(D(2024, 3, 1), D(2024, 3, 2))]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "7"])
def test_chunk_days_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="chunk_days"):
        covering_chunks(msk(2024, 3, 1), msk(2024, 3, 2), MSK, bad)


def test_empty_interval_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        covering_chunks(msk(2024, 3, 1), msk(2024, 3, 1), MSK)


# -- half-open filtering ------------------------------------------------------------------------------------------
DAY = (D(2024, 3, 1), D(2024, 3, 1))


@pytest.mark.parametrize(
    ("moment", "kept"),
    [
        (msk(2024, 3, 1, 0, 0, 0), True),  # start is inclusive
        (msk(2024, 3, 1, 23, 59, 59), True),
        (msk(2024, 3, 2, 0, 0, 0), False),  # end is exclusive: the next interval's first call
        (msk(2024, 2, 29, 23, 59, 59), False),
    ],
)
def test_keep_row_is_half_open(moment, kept):
    assert keep_row(moment, msk(2024, 3, 1), msk(2024, 3, 2), DAY, MSK) is kept


def test_keep_row_also_requires_the_chunk_dates():
    # a server that returned a row of another date in this chunk must not make it appear twice
    start, end = msk(2024, 3, 1), msk(2024, 3, 3)
    first, second = (D(2024, 3, 1), D(2024, 3, 1)), (D(2024, 3, 2), D(2024, 3, 2))
    moment = msk(2024, 3, 2, 12)
    assert [keep_row(moment, start, end, chunk, MSK) for chunk in (first, second)] == [False, True]


def test_adjacent_intervals_partition_every_second():
    moments = [msk(2024, 3, 1) + dt.timedelta(seconds=s) for s in range(0, 2 * 86400, 997)]
    moments += [msk(2024, 3, 2), msk(2024, 3, 2) - dt.timedelta(seconds=1)]
    cuts = [msk(2024, 3, 1), msk(2024, 3, 1, 13, 30), msk(2024, 3, 2), msk(2024, 3, 3)]
    for moment in moments:
        owners = [
            (a, b)
            for a, b in itertools.pairwise(cuts)
            for chunk in covering_chunks(a, b, MSK, 1)
            if keep_row(moment, a, b, chunk, MSK)
        ]
        assert len(owners) == 1, moment


# -- row times -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01 10:00:00", dt.datetime(2024, 3, 1, 7, tzinfo=UTC)),  # wall clock in the account zone
        ("2024-03-01T10:00:00", dt.datetime(2024, 3, 1, 7, tzinfo=UTC)),
        ("2024-03-01T10:00:00+00:00", dt.datetime(2024, 3, 1, 10, tzinfo=UTC)),  # an explicit offset wins
        ("2024-03-01T10:00:00Z", dt.datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (" 2024-03-01 10:00:00 ", dt.datetime(2024, 3, 1, 7, tzinfo=UTC)),
    ],
)
def test_row_time_formats(text, expected):
    assert row_time({"date": text}, MSK) == expected


@pytest.mark.parametrize("bad", [None, "", "yesterday", 1709280000, "01.03.2024 10:00"])
def test_unreadable_date_names_the_call(bad):
    with pytest.raises(McnApiError, match=r"row 'c-1' has no readable 'date'"):
        row_time({"callid": "c-1", "date": bad}, MSK)


# -- envelope, ints, vPBX ids ---------------------------------------------------------------------------------------
def test_response_rows_accepts_a_list_or_a_data_object():
    rows = [{"callid": "1"}, {"callid": "2"}]
    assert response_rows(rows, what="call_log") == rows
    assert response_rows({"data": rows, "total": 2}, what="call_log") == rows
    assert response_rows({"data": []}, what="call_log") == []


@pytest.mark.parametrize("payload", [{"items": []}, {"data": {"a": 1}}, "text", [1, 2], {"error": "x"}, None])
def test_response_rows_rejects_other_shapes(payload):
    with pytest.raises(McnApiError, match="expected a JSON list of objects"):
        response_rows(payload, what="call_log")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5), ("5", 5), (" 7 ", 7), (3.0, 3), ("4.0", 4), (True, 1), (False, 0), (None, None), ("", None)],
)
def test_to_int(value, expected):
    assert to_int(value, "talktime") == expected


@pytest.mark.parametrize("bad", [2.5, "abc", [1], {"a": 1}])
def test_to_int_rejects_fractions_and_text(bad):
    with pytest.raises(McnApiError, match="talktime"):
        to_int(bad, "talktime")


def test_vpbx_ids_as_text():
    assert vpbx_ids([{"vpbx_id": 7001}, {"vpbx_id": "x-2"}, {"id": 3}]) == ["7001", "x-2", "3"]
    with pytest.raises(McnApiError, match="no vpbx_id"):
        vpbx_ids([{"name": "PBX"}])


# -- Parquet rows ----------------------------------------------------------------------------------------------------
ROW = mcn_row(waittime="12", has_record=True)  # a number as text and a boolean: the landing's drift rules judge them


def test_normalize_row_converts_the_date_and_keeps_every_other_value_as_sent():
    row = normalize_row({**ROW, "record_url": "https://x/1.mp3", "line": 2}, MSK)
    assert row["date"] == "2024-03-01 07:00:00"  # UTC wall clock: never ambiguous
    assert row["waittime"] == "12" and row["has_record"] is True
    assert row["record_url"] == "https://x/1.mp3" and row["line"] == 2


@pytest.mark.parametrize("timestamps", ["account", "utc"])
def test_call_log_schema_types_normalized_rows_under_the_drift_rules(timestamps):
    schema = call_log_schema("Europe/Moscow", timestamps)
    assert schema.names == list(CALL_LOG_FIELDS)
    assert schema.field("date").type == pa.timestamp("us", tz="Europe/Moscow" if timestamps == "account" else "UTC")
    assert schema.field("src_num").metadata[b"sensitive"] == b"1"
    assert orjson.loads(schema.field("status").metadata[b"enum_values"]) == list(STATUSES)
    guard = SchemaGuard(schema)
    (row,) = guard.from_dicts([normalize_row({**ROW, "line": 2}, MSK)]).to_pylist()
    assert row["date"] == dt.datetime(2024, 3, 1, 7, tzinfo=UTC)
    assert row["talktime"] == 30 and row["status"] == "ANSWERED"
    assert row["waittime"] == 12  # a digit string: coerced, counted
    assert row["has_record"] is None and orjson.loads(row["_rescued"]) == {"has_record": True, "line": 2}
    counts = {(e["column"], e["arrived"]): (e["coerced"], e["rescued"]) for e in guard.tally.entries.values()}
    assert counts == {
        ("waittime", "digit string"): (1, 0),
        ("has_record", "boolean"): (0, 1),
        ("line", "integer"): (0, 1),
    }


def test_call_log_schema_rejects_unknown_timestamps():
    with pytest.raises(ValueError, match="timestamps"):
        call_log_schema("Europe/Moscow", "local")  # type: ignore[arg-type]
