"""Fuzz: random documented fields of random rows get random wrong-typed values (and new fields appear), landed as
JSON Lines pages into a partition that already holds a copy, under a random policy and limit. Either every row
lands, each value typed as documented (coerced losslessly) or kept exactly as sent in ``_rescued`` with its column
null, or the task fails with a SchemaDriftError naming a column that the rule indeed condemns, and the partition
still holds its previous copy, byte for byte. Never a partial partition."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.exceptions import SchemaDriftError
from airflow_provider_comagic.landing.drift import NOT_DOCUMENTED, RESCUE_ALLOWANCE, DriftPolicy
from airflow_provider_comagic.landing.json_lines import JsonLines
from airflow_provider_comagic.landing.manifest import MANIFEST_NAME, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.landing.writer import land_pages

FIELDS = [
    *("id", "start_time", "talk_duration", "is_lost", "sale_cost", "direction", "contact_phone_number"),
    *("tags", "attributes", "call_records"),
]
SCHEMA = report_schema("get.calls_report", FIELDS)
MSK = dt.timezone(dt.timedelta(hours=3))
NEW_FIELDS = ("surprise", "zz_added")


def base_row(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "start_time": f"2024-03-01 10:{i % 60:02d}:{i % 7:02d}",
        "talk_duration": i * 7,
        "is_lost": i % 2 == 0,
        "sale_cost": i / 4,
        "direction": "in" if i % 3 else "out",
        "contact_phone_number": f"7916{i:07d}",
        "tags": [{"tag_id": i, "tag_name": "vip", "tag_change_time": "2024-03-01 11:00:00"}] if i % 2 else [],
        "attributes": ["first"] if i % 4 == 0 else [],
        "call_records": [f"{i:032x}"],
    }


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),  # what a JSON encoder of the API may write (orjson's range)
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["true", "false", "0", "1", "n/a", "", "0515", "2024-03-01 10:00:00", "2024-02-30 00:00:00"]),
    st.text(max_size=6),
)
members = st.sampled_from(["tag_id", "tag_name", "tag_type", "tag_change_time", "x"])
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(members, inner, max_size=3)),
    max_leaves=6,
)
drift = st.lists(st.tuples(st.integers(0, 59), st.sampled_from([*FIELDS[1:], *NEW_FIELDS]), json_values), max_size=40)
hot = st.one_of(  # one column drifting in many rows: what the limit rule is about
    st.none(),
    st.tuples(
        st.sampled_from(FIELDS[1:]),
        st.sets(st.integers(0, 59), min_size=3, max_size=45),
        st.one_of(
            json_values, st.sampled_from(["n/a", 12.5, {"x": 1}, [{"tag_id": "x"}], True, "2024-02-30 00:00:00"])
        ),
    ),
)
policies = st.builds(
    DriftPolicy,
    st.sampled_from(["rescue", "rescue", "coerce_only", "fail"]),
    st.sampled_from([None, 0.0, 0.05, 0.2, {"talk_duration": 1.0, "*": 0.02}]),
)


def canonical(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def as_documented(sent: Any, landed: Any, field: pa.Field) -> bool:
    """Whether ``landed`` holds ``sent`` as the docs type it, or one of the lossless coercions (an oracle written
    apart from the rules: it checks a result, it does not produce one)."""
    kind = field.type
    if sent is None:
        return landed is None
    if pa.types.is_integer(kind):
        return type(landed) is int and ((sent == landed and type(sent) is not bool) or sent == str(landed))
    if pa.types.is_floating(kind):
        return type(landed) is float and not isinstance(sent, bool) and (sent == landed or sent == str(int(landed)))
    if pa.types.is_boolean(kind):
        return type(landed) is bool and (sent is landed or sent == int(landed) or sent == str(landed).lower())
    if pa.types.is_string(kind):
        return landed == (sent if isinstance(sent, str) else orjson.dumps(sent).decode())
    if pa.types.is_timestamp(kind):
        return isinstance(sent, str) and landed.astimezone(MSK).strftime("%Y-%m-%d %H:%M:%S") == sent
    if pa.types.is_list(kind):
        items = [sent] if isinstance(sent, dict) else sent
        item = kind.value_field
        return (
            isinstance(items, list)
            and len(items) == len(landed)
            and all(as_documented(s, v, item) for s, v in zip(items, landed, strict=True))
        )
    if pa.types.is_struct(kind):
        children = {kind.field(i).name: kind.field(i) for i in range(kind.num_fields)}
        return (
            isinstance(sent, dict)
            and set(sent) <= set(children)
            and all(as_documented(sent.get(name), landed[name], child) for name, child in children.items())
        )
    raise AssertionError(kind)


def check_landed(rows: list[dict[str, Any]], partition: Path, policy: DriftPolicy) -> None:
    landed = list(iter_landed_rows(partition))
    assert [r["id"] for r in landed] == [r["id"] for r in rows]  # every row, once, in order
    manifest = read_manifest(partition)
    for sent, got in zip(rows, landed, strict=True):
        rescued = orjson.loads(got["_rescued"]) if got["_rescued"] else {}
        for field in SCHEMA:
            if field.name in rescued:
                assert got[field.name] is None and rescued[field.name] == canonical(sent[field.name])
            else:
                assert as_documented(sent.get(field.name), got[field.name], field), (field.name, sent, got)
        for name in NEW_FIELDS:
            assert rescued.get(name) == canonical(sent.get(name))  # a new field: kept as sent (or null)
    columns = manifest["drift"]["columns"]
    if policy.on_type_mismatch != "rescue":
        assert not [c for c in columns if c.get("rescued") or c.get("added")]
    if policy.on_type_mismatch == "fail":
        assert not [c for c in columns if c.get("coerced")]
    for column in {c["column"] for c in columns if c.get("rescued") and c["documented"] != NOT_DOCUMENTED}:
        rescued = sum(c.get("rescued", 0) for c in columns if c["column"] == column)
        limit = policy.limit_for(column)
        assert limit is None or rescued <= RESCUE_ALLOWANCE or rescued <= limit * len(rows)


def check_failure(error: SchemaDriftError, rows: list[dict[str, Any]], policy: DriftPolicy, where: Path) -> None:
    """The named column is condemned by the rule: landed again with the rescue policy and no limit, it drifted."""
    again = land_pages(
        [JsonLines.from_rows([orjson.dumps(r) for r in rows])],
        where,
        "parquet",
        SCHEMA,
        drift=DriftPolicy(max_rescued_fraction=None),
    )
    name = error.column
    entries = [
        c for c in again["drift"]["columns"] if c["column"] == name or c["column"].startswith((f"{name}[", f"{name}."))
    ]
    if policy.on_type_mismatch == "fail":
        assert any(c.get("coerced") or c.get("rescued") for c in entries), (error, entries)
    elif policy.on_type_mismatch == "coerce_only":
        assert any(c.get("rescued") for c in entries), (error, entries)
    else:
        entries = [c for c in entries if c["column"] == name]  # rescues are counted at the top-level column
        rescued = sum(c.get("rescued", 0) for c in entries)
        assert entries[0]["documented"] != NOT_DOCUMENTED
        assert rescued > RESCUE_ALLOWANCE and rescued > policy.limit_for(error.column) * len(rows), (error, entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=drift, column=hot, policy=policies, page_size=st.integers(1, 60))
def test_every_row_lands_typed_or_rescued_or_the_task_fails_naming_the_column(changes, column, policy, page_size):
    rows = [base_row(i) for i in range(60)]
    if column is not None:
        field, positions, value = column
        changes = [*changes, *((i, field, value) for i in sorted(positions))]
    for i, field, value in changes:
        rows[i][field] = value
    with tempfile.TemporaryDirectory() as tmp:
        partition = Path(tmp) / "p"
        land_pages([[base_row(i) for i in range(5)]], partition, "parquet", SCHEMA)  # the previous copy
        before = {name: (partition / name).read_bytes() for name in os.listdir(partition)}
        pages = [
            JsonLines.from_rows([orjson.dumps(r) for r in rows[start : start + page_size]])
            for start in range(0, len(rows), page_size)
        ]
        try:
            land_pages(pages, partition, "parquet", SCHEMA, drift=policy, max_rows_per_file=25)
        except SchemaDriftError as error:
            event(f"failed under {policy.on_type_mismatch}")
            assert {name: (partition / name).read_bytes() for name in os.listdir(partition)} == before
            assert read_manifest(partition / MANIFEST_NAME)["rows"] == 5
            check_failure(error, rows, policy, Path(tmp) / "again")
            return
        event(f"landed under {policy.on_type_mismatch}")
        check_landed(rows, partition, policy)
