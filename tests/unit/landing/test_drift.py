"""The drift policy and the tally of one partition (landing/drift.py): options checked naming themselves, counts
per column and kind that arrived with a masked example, the limit rule, log lines, plain JSON for deferrals."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_comagic.exceptions import LandingError, PermanentError, SchemaDriftError
from airflow_provider_comagic.landing.drift import (
    NOT_DOCUMENTED,
    RESCUE_ALLOWANCE,
    DriftPolicy,
    DriftTally,
)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"on_type_mismatch": "ignore"}, "on_type_mismatch must be one of rescue, coerce_only, fail"),
        ({"max_rescued_fraction": 1.5}, "max_rescued_fraction must be a number from 0 to 1"),
        ({"max_rescued_fraction": -0.1}, "max_rescued_fraction"),
        ({"max_rescued_fraction": True}, "max_rescued_fraction"),
        ({"max_rescued_fraction": "5%"}, "max_rescued_fraction"),
        ({"max_rescued_fraction": float("nan")}, "max_rescued_fraction"),
        ({"max_rescued_fraction": {"talk_duration": 2}}, r"max_rescued_fraction\['talk_duration'\]"),
        ({"max_rescued_fraction": {1: 0.5}}, "keys are column names"),
        ({"schema_evolution": "yes"}, "schema_evolution must be True or False"),
    ],
)
def test_bad_options_name_themselves(options, match):
    with pytest.raises(LandingError, match=match):
        DriftPolicy(**options)


def test_limits_per_column():
    assert DriftPolicy().limit_for("x") == 0.05
    assert DriftPolicy(max_rescued_fraction=None).limit_for("x") is None
    policy = DriftPolicy(max_rescued_fraction={"talk_duration": 0.5, "*": 0.01})
    assert policy.limit_for("talk_duration") == 0.5 and policy.limit_for("x") == 0.01
    assert DriftPolicy(max_rescued_fraction={"a": 1}).limit_for("b") == 0.05
    assert json.loads(json.dumps(policy.as_json()))["max_rescued_fraction"] == {"talk_duration": 0.5, "*": 0.01}


def rescue(tally: DriftTally, column: str, n: int, arrived: str = "float", documented: str = "int64") -> None:
    for i in range(n):
        tally.count("rescued", column, documented, arrived, i + 0.5)


@pytest.mark.parametrize(
    ("rescued", "rows", "limit", "fails"),
    [
        (6, 100, 0.05, True),  # 6 % of 100
        (5, 100, 0.01, False),  # within the allowance: too few to tell a change from noise
        (RESCUE_ALLOWANCE + 1, 10_000, 0.05, False),  # well within the share
        (501, 10_000, 0.05, True),
        (500, 10_000, 0.05, False),  # exactly the share: allowed
        (100, 100, None, False),  # no limit
    ],
)
def test_the_limit_rule(rescued, rows, limit, fails):
    tally = DriftTally()
    rescue(tally, "talk_duration", rescued)
    policy = DriftPolicy(max_rescued_fraction=limit)
    if not fails:
        tally.check_limits(rows, policy)
        return
    with pytest.raises(SchemaDriftError) as failed:
        tally.check_limits(rows, policy)
    assert failed.value.column == "talk_duration" and isinstance(failed.value, PermanentError)
    message = str(failed.value)
    assert f"{rescued} of {rows} values of talk_duration (documented int64)" in message
    assert "as float (e.g. 0.5)" in message and f"max_rescued_fraction={limit:g}" in message


def test_the_limit_sums_every_kind_that_arrived_and_ignores_fields_the_docs_do_not_list():
    tally = DriftTally()
    rescue(tally, "talk_duration", 4, "float")
    rescue(tally, "talk_duration", 4, "string")
    rescue(tally, "surprise", 100, "integer", NOT_DOCUMENTED)  # the API added a field: never a failure
    tally.count("coerced", "wait_duration", "int64", "digit string", "5", n=100)  # coercions never count
    with pytest.raises(SchemaDriftError, match="8 of 100 values of talk_duration") as failed:
        tally.check_limits(100, DriftPolicy())
    assert "4 as float" in str(failed.value) and "4 as string" in str(failed.value)
    tally.check_limits(100, DriftPolicy(max_rescued_fraction={"talk_duration": 0.1}))


def test_entries_keep_one_masked_example_and_survive_a_deferral_as_json(caplog):
    tally = DriftTally()
    tally.count("coerced", "contact_phone_number", "string", "integer", 79161234567)
    tally.count("coerced", "contact_phone_number", "string", "integer", 79990000000)
    tally.count("unlisted", "direction", "enum", "unlisted value", "sideways", n=3)
    tally.count("rescued", "talk_duration", "int64", "float", 12.5)
    tally.rescued_rows = 1
    restored = DriftTally.from_json(json.loads(json.dumps(tally.to_json())))
    summary = restored.summary(10, DriftPolicy())
    assert summary["rows"] == 10 and summary["rescued_rows"] == 1
    assert summary["columns"] == [
        {
            "column": "contact_phone_number",
            "documented": "string",
            "arrived": "integer",
            "coerced": 2,
            "example": "#" * 11,
        },
        {
            "column": "direction",
            "documented": "enum",
            "arrived": "unlisted value",
            "unlisted": 3,
            "example": "sideways",
        },
        {"column": "talk_duration", "documented": "int64", "arrived": "float", "rescued": 1, "example": 12.5},
    ]
    assert "79161234567" not in json.dumps(tally.to_json())  # never a raw value, even in a checkpoint
    with caplog.at_level(logging.WARNING):
        restored.log("p")
    assert [r.getMessage() for r in caplog.records] == [
        "p: Schema drift in contact_phone_number (documented string): 2 coerced as integer (e.g. '###########')",
        "p: Schema drift in direction (documented enum): 3 values the docs do not list (e.g. 'sideways')",
        "p: Schema drift in talk_duration (documented int64): 1 rescued as float (e.g. 12.5)",
    ]


def test_one_log_line_per_column_whatever_arrived():
    tally = DriftTally()
    tally.count("coerced", "talk_duration", "int64", "digit string", "515")
    tally.count("rescued", "talk_duration", "int64", "float", 1.5)
    tally.count("rescued", "surprise", NOT_DOCUMENTED, "object", {"a": 1})
    assert tally.log_lines() == [
        "Schema drift in surprise (a field the docs do not list): 1 rescued as object (e.g. {'a': 1})",
        "Schema drift in talk_duration (documented int64): 1 coerced as digit string (e.g. '515'); "
        "1 rescued as float (e.g. 1.5)",
    ]
