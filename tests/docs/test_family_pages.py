"""The pages of the families list every method the catalogue gives them, with its named operator, and say what a
partition holds and what it costs (a method added to the catalogue and not to its page fails here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_comagic.comagic.catalogue import reference_methods, report_builder_methods, report_methods
from airflow_provider_comagic.operators.reference import REFERENCE_OPERATORS
from airflow_provider_comagic.operators.report import CLASSIC_REPORT_OPERATORS
from airflow_provider_comagic.operators.report_builder import REPORT_BUILDER_OPERATORS

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.parametrize(
    ("page", "methods", "operators"),
    [
        ("operators/reference.rst", reference_methods(), REFERENCE_OPERATORS),
        ("operators/report_builder.rst", report_builder_methods(), REPORT_BUILDER_OPERATORS),
        ("operators/report.rst", report_methods(all_classic=True), CLASSIC_REPORT_OPERATORS),
    ],
)
def test_a_family_page_lists_its_methods_and_operators(page, methods, operators):
    text = (DOCS / page).read_text()
    assert [m for m in methods if f"``{m}``" not in text] == []
    assert [cls.__name__ for cls in operators.values() if f"``{cls.__name__}``" not in text] == []
    if page != "operators/report.rst":
        assert "What a partition holds" in text and "Cost in points" in text


def test_the_warehouse_page_shows_the_query_naming_campaign_site_and_employee():
    text = (DOCS / "warehouse.rst").read_text()
    assert "comagic_warehouse_calls.sql" in text and "comagic_warehouse.py" in text
