"""OpenLineage dataset names (utils/lineage.py) and the rule that lineage never fails a task."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_comagic.utils.lineage import lineage_or_none, postgres_dataset_id, storage_dataset_id


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///data/comagic/calls_report/date=2026-11-30", ("file", "/data/comagic/calls_report/date=2026-11-30")),
        ("s3://aws@bucket/lake/calls_report/", ("s3://bucket", "lake/calls_report")),
        ("gs://bucket/x/y", ("gs://bucket", "x/y")),
    ],
)
def test_storage_dataset_names_follow_the_naming_spec(uri, expected):
    assert storage_dataset_id(uri) == expected


def test_postgres_dataset_names():
    assert postgres_dataset_id("db.local", None, "dwh", "comagic.calls") == (
        "postgres://db.local:5432",
        "dwh.comagic.calls",
    )
    assert postgres_dataset_id("h", 6543, "dwh", "calls") == ("postgres://h:6543", "dwh.public.calls")


def test_a_lineage_error_is_logged_and_none_returned(caplog):
    class Task:
        log = logging.getLogger("task")

        @lineage_or_none
        def get_openlineage_facets_on_complete(self, ti):
            raise KeyError("manifest")

    with caplog.at_level(logging.WARNING, logger="task"):
        assert Task().get_openlineage_facets_on_complete(None) is None
    assert "Could not build the OpenLineage facets" in caplog.text
