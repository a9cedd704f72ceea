"""Pages -> Arrow under the drift policy (landing/guard.py): Arrow's reader stays the whole happy path, only the
offending rows of a page are judged in Python, the page keeps its order, rescued values are exactly the bytes
sent, and the JSON Lines and dict paths agree."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.exceptions import SchemaDriftError
from airflow_provider_comagic.landing import guard as guard_module
from airflow_provider_comagic.landing.arrow import json_lines_to_table
from airflow_provider_comagic.landing.drift import DriftPolicy
from airflow_provider_comagic.landing.guard import SchemaGuard, with_rescued_column
from airflow_provider_comagic.utils.arrow_fields import SOURCE_FORMAT, SOURCE_TIMEZONE

FIELDS = ["id", "start_time", "talk_duration", "is_lost", "tags", "direction", "sale_cost", "contact_phone_number"]
SCHEMA = report_schema("get.calls_report", FIELDS)


def row(i: int, **changes) -> dict:
    base = {
        "id": i,
        "start_time": f"2024-03-01 10:{i % 60:02d}:00",
        "talk_duration": i * 3,
        "is_lost": i % 2 == 0,
        "tags": [{"tag_id": i, "tag_name": "vip"}] if i % 3 else [],
        "direction": "in",
        "sale_cost": 1.5,
        "contact_phone_number": "79161234567",
    }
    return {**base, **changes}


def lines(rows: list[dict | bytes]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows)


def test_a_page_as_documented_is_read_by_arrow_alone(monkeypatch):
    rows = [row(i) for i in range(200)]
    monkeypatch.setattr(SchemaGuard, "_offending", lambda self, lines: pytest.fail("no line is checked"))
    monkeypatch.setattr(SchemaGuard, "_judged", lambda self, rows, lines: pytest.fail("no row is judged"))
    guard = SchemaGuard(SCHEMA)
    table = guard.from_lines(lines(rows), len(rows))
    expected = json_lines_to_table(lines(rows), len(rows), SCHEMA)
    assert table.schema == with_rescued_column(SCHEMA)
    assert table.drop_columns(["_rescued"]).equals(expected) and table.column("_rescued").null_count == 200
    assert guard.tally.entries == {}


def test_only_the_offending_rows_are_judged_and_the_page_keeps_its_order(monkeypatch):
    rows = [row(i) for i in range(400)]
    rows[7]["talk_duration"] = "21"  # coerced
    rows[150]["talk_duration"] = 12.5  # rescued
    rows[399]["surprise"] = {"a": 1}  # unknown: rescued
    judged: list[int] = []
    original = SchemaGuard._judged

    def spy(self, page, raw):
        judged.append(len(page))
        return original(self, page, raw)

    monkeypatch.setattr(SchemaGuard, "_judged", spy)
    guard = SchemaGuard(SCHEMA)
    table = guard.from_lines(lines(rows), len(rows))
    assert judged == [3]  # three rows decoded in Python; the other 397 read by Arrow
    assert table.column("id").to_pylist() == list(range(400))
    out = table.to_pylist()
    assert out[7]["talk_duration"] == 21 and out[7]["_rescued"] is None
    assert out[150]["talk_duration"] is None and out[150]["_rescued"] == '{"talk_duration":12.5}'
    assert out[399]["_rescued"] == '{"surprise":{"a":1}}'
    assert guard.tally.rescued_rows == 2
    dicts = SchemaGuard(SCHEMA).from_dicts(rows)
    assert dicts.equals(table)  # the dict path gives the same table


def test_a_page_mostly_drifted_is_judged_whole(monkeypatch):
    rows = [row(i, talk_duration=str(i * 3)) for i in range(100)]
    judged: list[int] = []
    original = SchemaGuard._judged
    monkeypatch.setattr(SchemaGuard, "_judged", lambda self, p, r: judged.append(len(p)) or original(self, p, r))
    guard = SchemaGuard(SCHEMA)
    table = guard.from_lines(lines(rows), len(rows))
    assert judged == [100]
    assert table.column("talk_duration").to_pylist() == [i * 3 for i in range(100)]
    assert guard.tally.entries[("talk_duration", "digit string")]["coerced"] == 100


def test_rescued_values_are_the_bytes_the_api_sent_in_the_rows_order():
    sent = (
        b'{"id":1,"zeta":"\\u041c\\u043e\\u0441\\u043a\\u0432\\u0430","talk_duration":12.50,'
        b'"sale_cost":"7,5","alpha":1e3}'
    )
    rows = [row(0), sent]
    table = SchemaGuard(SCHEMA).from_lines(lines(rows), 2)
    rescued = table.column("_rescued").to_pylist()[1]
    assert rescued == (
        '{"zeta":"\\u041c\\u043e\\u0441\\u043a\\u0432\\u0430","talk_duration":12.50,"sale_cost":"7,5","alpha":1e3}'
    )
    assert orjson.loads(rescued) == {"zeta": "Москва", "talk_duration": 12.5, "sale_cost": "7,5", "alpha": 1000.0}


def test_a_page_arrow_rejects_although_every_line_looks_right_is_judged_whole():
    rows = [row(i) for i in range(50)]
    rows[10]["sale_cost"] = 2**60  # an integer a float column cannot hold exactly: Arrow may have rounded it
    rows[20]["id"] = 2**63  # past int64 (msgspec would take it)
    guard = SchemaGuard(SCHEMA)
    out = guard.from_lines(lines(rows), 50).to_pylist()
    assert out[10]["sale_cost"] is None and orjson.loads(out[10]["_rescued"]) == {"sale_cost": 2**60}
    assert out[20]["id"] is None and out[20]["_rescued"] == f'{{"id":{2**63}}}'
    assert out[11]["sale_cost"] == 1.5


def test_times_that_do_not_parse_or_never_happened_are_rescued():
    zone = b"Europe/Berlin"
    schema = pa.schema(
        [
            pa.field("id", pa.int64()),
            pa.field(
                "t",
                pa.timestamp("us", tz="Europe/Berlin"),
                metadata={SOURCE_FORMAT: b"%Y-%m-%d %H:%M:%S", SOURCE_TIMEZONE: zone},
            ),
        ]
    )
    rows = [
        {"id": 1, "t": "2024-03-31 01:30:00"},
        {"id": 2, "t": "2024-03-31 02:30:00"},  # skipped by the change to summer time
        {"id": 3, "t": "31.03.2024"},
        {"id": 4, "t": "2024-02-30 10:00:00"},  # no such day (strptime alone would make it March 1st)
    ]
    guard = SchemaGuard(schema)
    out = guard.from_lines(lines(rows), 4).to_pylist()
    assert out[0]["t"] is not None and out[0]["_rescued"] is None
    assert [r["_rescued"] for r in out[1:]] == [
        '{"t":"2024-03-31 02:30:00"}',
        '{"t":"31.03.2024"}',
        '{"t":"2024-02-30 10:00:00"}',
    ]
    assert guard.tally.entries[("t", "string")]["rescued"] == 3


def test_json_text_columns_take_any_value_and_enums_count_unlisted_values():
    schema = report_schema("get.employee_stat", ["status_stats"])
    guard = SchemaGuard(schema)
    out = guard.from_dicts([{"status_stats": {"a": 1}}, {"status_stats": None}])
    assert out.column("status_stats").to_pylist() == ['{"a":1}', None] and guard.tally.entries == {}
    guard = SchemaGuard(SCHEMA)
    rows = [row(i, direction="sideways" if i in (3, 4) else "out") for i in range(10)]
    table = guard.from_lines(lines(rows), 10)
    assert table.column("direction").to_pylist()[3] == "sideways"  # lands as text
    assert guard.tally.entries[("direction", "unlisted value")]["unlisted"] == 2


def test_schema_evolution_adds_columns_and_its_state_continues_a_partition():
    policy = DriftPolicy(schema_evolution=True)
    guard = SchemaGuard(SCHEMA, policy)
    first = guard.from_lines(lines([row(0), row(1)]), 2)
    second = guard.from_lines(lines([row(2, surprise=5), row(3, surprise="x"), row(4)]), 3)
    assert first.schema.names == [*FIELDS, "_rescued"]
    assert second.schema.names == [*FIELDS, "surprise", "_rescued"] and guard.schema == second.schema
    assert second.column("surprise").to_pylist() == ["5", "x", None]  # text: a later value can never clash
    assert second.column("_rescued").null_count == 3
    resumed = SchemaGuard(SCHEMA, policy, added=guard.state()["added"])
    assert resumed.schema == guard.schema
    assert resumed.from_lines(lines([row(5, surprise=[1])]), 1).column("surprise").to_pylist() == ["[1]"]


@pytest.mark.parametrize(
    ("policy", "changes", "match"),
    [
        ("fail", {"talk_duration": "21"}, r"talk_duration \(documented int64\) arrived as string"),
        ("fail", {"tags": {"tag_id": 1}}, r"tags \(documented list<struct>\) arrived as object"),
        ("coerce_only", {"talk_duration": 2.5}, "talk_duration.*arrived as float"),
        ("coerce_only", {"tags": [{"tag_id": "x"}]}, r"arrived as tags\[\]\.tag_id: string"),
        ("coerce_only", {"surprise": 1}, "a field the docs do not list, 'surprise'"),
        ("fail", {"contact_phone_number": 79161234567}, r"e\.g\. '###########'"),  # masked in the error too
    ],
)
def test_strict_policies_fail_naming_the_column(policy, changes, match):
    rows = [row(0), row(1, **changes)]
    with pytest.raises(SchemaDriftError, match=match) as failed:
        SchemaGuard(SCHEMA, DriftPolicy(policy)).from_lines(lines(rows), 2)
    assert "79161234567" not in str(failed.value)
    assert SchemaGuard(SCHEMA, DriftPolicy("coerce_only")).from_dicts([row(0, talk_duration="21")]).num_rows == 1


def test_empty_pages_and_an_existing_rescue_column():
    guard = SchemaGuard(with_rescued_column(SCHEMA))
    assert guard.schema == with_rescued_column(SCHEMA)
    assert guard.from_lines(b"", 0).schema == guard.schema and guard.from_dicts([]).num_rows == 0
    assert guard_module.rescued_field().metadata[b"json_text"] == b"1"


@pytest.mark.parametrize("value", [False, True])
def test_a_boolean_in_a_float_column_after_a_float_is_rescued_not_read_as_a_number(value):
    """Arrow's inference takes [1.5, False] as doubles (False -> 0.0): found by the drift fuzz test."""
    guard = SchemaGuard(SCHEMA)
    table = guard.from_dicts([row(1), row(2, sale_cost=value)])
    landed = table.to_pylist()
    assert landed[0]["sale_cost"] == 1.5 and landed[0]["_rescued"] is None
    assert landed[1]["sale_cost"] is None and orjson.loads(landed[1]["_rescued"]) == {"sale_cost": value}
