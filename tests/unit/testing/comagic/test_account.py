"""One consistent account: every landable method served, typed by the catalogue, and joinable to its dimensions."""

from __future__ import annotations

import re

import pytest

from airflow_provider_comagic.comagic.catalogue import (
    get_method,
    landable_methods,
    report_builder_methods,
    report_methods,
)
from airflow_provider_comagic.comagic.schemas import method_schema
from airflow_provider_comagic.landing.arrow import rows_to_batch
from airflow_provider_comagic.testing.comagic.entities import ENTITIES, entity_of
from tests.unit.testing.comagic.helpers import DAY, call_params
from tests.unit.testing.comagic.test_data import _check_value

# served elsewhere (uploads, agent mode) or by the emulator's own account row
SPECIAL = {"get.uploaded_calls", "get.customers", "get.customer_users", "get.account"}
SERVED = [m for m in landable_methods() if m not in SPECIAL]
FACTS = [*report_methods(all_classic=True), *report_builder_methods()]
REFERENCE_OF = {e.name: e.reference for e in ENTITIES if e.reference}
CLOCK = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def _check(field, value):
    """test_data's checks, plus the report builder's times of day, hh:mm:ss durations and nested objects."""
    if value is not None and (field.type == "duration" or field.format == "hh:mm:ss"):
        assert CLOCK.match(value), (field.name, value)
    elif field.type == "object" and field.children and value:
        assert set(value) == {c.name for c in field.children}, field.name
        for child in field.children:
            _check(child, value[child.name])
    elif field.type == "array" and field.children and value:
        for item in value:
            assert set(item) == {c.name for c in field.children}, field.name
            for child in field.children:
                _check(child, item[child.name])
    else:
        _check_value(field, value)


@pytest.mark.parametrize("method", SERVED)
def test_every_landable_method_is_served_typed_by_the_catalogue(emu, method):
    spec = get_method(method)
    rows = emu.truth(method, **call_params(emu, method, fields=spec.field_names))
    assert rows, method
    for row in rows[:30]:
        assert list(row) == list(spec.field_names)
        for field in spec.fields:
            _check(field, row[field.name])
    if spec.key:
        keys = [tuple(row[k] for k in spec.key) for row in rows]
        assert len(set(keys)) == len(keys), method
    batch = rows_to_batch(rows, method_schema(method, spec.field_names))  # the landing converter takes them
    assert batch.num_rows == len(rows)


def _ids(spec, fields, rows, path=""):
    """(entity, id) of every id field of ``rows`` that names an entity with a reference list."""
    for field in fields:
        where = f"{path}{field.name}"
        values = [row.get(field.name) for row in rows if isinstance(row, dict)]
        if field.children:
            items = [item for value in values for item in (value if isinstance(value, list) else [value]) if item]
            yield from _ids(spec, field.children, items, f"{where}.")
            continue
        word = entity_of(field.name, spec.name, where)
        if word in REFERENCE_OF and field.type in ("number", "string", "array"):
            for value in values:
                for item in value if isinstance(value, list) else [value]:
                    if item is not None:
                        yield word, int(item)


@pytest.mark.parametrize("method", FACTS)
def test_ids_in_report_rows_exist_in_the_reference_lists(emu, method):
    spec = get_method(method)
    rows = emu.truth(method, **call_params(emu, method, fields=spec.field_names))
    found: dict[str, set[int]] = {}
    for word, value in _ids(spec, spec.fields, rows):
        found.setdefault(word, set()).add(value)
    for word, values in found.items():
        listed = {row["id"] for row in emu.truth(REFERENCE_OF[word])}
        assert values <= listed, (method, word, sorted(values - listed)[:5])
    if method == "get.calls_report":  # the warehouse join of the issue: campaign, site, employees, tags
        assert {"campaign", "site", "employee", "tag", "scenario"} <= set(found)


def test_names_agree_with_the_reference_lists(emu):
    campaigns = {r["id"]: r["name"] for r in emu.truth("get.campaigns")}
    sites = {r["id"]: r["domain_name"] for r in emu.truth("get.sites")}
    employees = {r["id"]: r["full_name"] for r in emu.truth("get.employees")}
    tags = {r["id"]: r["name"] for r in emu.truth("get.tags")}
    fields = ["campaign_id", "campaign_name", "site_id", "site_domain_name", "employees", "tags"]
    for call in emu.truth("get.calls_report", **DAY, fields=fields):
        if call["campaign_id"] is not None:
            assert call["campaign_name"] == campaigns[call["campaign_id"]]
        if call["site_id"] is not None:
            assert call["site_domain_name"] == sites[call["site_id"]]
        for employee in call["employees"]:
            if employee["employee_id"] is not None:
                assert employee["employee_full_name"] == employees[employee["employee_id"]]
        for tag in call["tags"]:
            if tag["tag_id"] is not None:
                assert tag["tag_name"] == tags[tag["tag_id"]]
    builder = emu.truth("get.deals", **call_params(emu, "get.deals", fields=["campaign_name", "site_name"]))
    assert {r["campaign_name"] for r in builder} - {None} <= set(campaigns.values())


def test_aggregates_total_the_account_entities(emu):
    campaigns_of_site = {r["id"] for r in emu.truth("get.campaigns") if r["site_id"] == 1001}
    by_campaign = emu.truth("get.ct_ac_summary_report", **DAY, site_id=1001)
    assert {r["ac_id"] for r in by_campaign} == campaigns_of_site
    assert {r["site_id"] for r in emu.truth("get.ct_summary_report", **DAY)} == {1001, 1002, 1003}
    stats = emu.truth("get.employee_stat", **DAY)
    assert [r["full_name"] for r in stats] == [r["full_name"] for r in emu.truth("get.employees")]
    assert emu.truth("get.employee_stat", **DAY) == stats  # the same period answers the same


def test_financial_summary_report_is_one_row_a_day_of_the_month(emu, api):
    rows = emu.truth("get.financial_summary_report", year=2024, month=5)
    assert [r["date"] for r in rows] == [f"2024-05-{d:02d}" for d in range(1, 32)]
    june = emu.truth("get.financial_summary_report", year=2024, month=6)
    assert [r["date"] for r in june] == ["2024-06-01"]  # the emulated now is June 1st: no later day yet
    reply = api("get.financial_summary_report", year=2024, month=13)
    assert (
        reply["error"]["data"]["mnemonic"] == "invalid_parameter_value" and reply["error"]["data"]["field"] == "month"
    )
