"""The agency fan-out example DAG: a clean DagBag import with no API call at parse time."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.dag

DAG_FILE = Path(__file__).resolve().parents[2] / "dags_examples" / "comagic_agency_fanout.py"


def test_fanout_dag_imports_cleanly(comagic_emulator, comagic_conn):
    from tests.fixtures.airflow_compat import dag_bag

    bag = dag_bag(str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["comagic_agency_fanout"]
    assert dag.doc_md and "example" in dag.tags
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    calls = dag.get_task("calls_report")
    assert dag.get_task("client_users").downstream_task_ids == {"calls_report"}
    assert type(calls).__name__ == "MappedOperator"
    assert calls.partial_kwargs["skip_on_missing_access"] is True and calls.partial_kwargs["deferrable"] is True
    assert comagic_emulator.stats.requests == 0  # nothing at parse time
