"""One unified schema for both vendors: the same keys, one Arrow table, the report names."""

from __future__ import annotations

import datetime as dt

import pendulum
import pyarrow as pa

from airflow_provider_comagic.mcn.call_log import STATUSES
from airflow_provider_comagic.unified.comagic import comagic_to_unified
from airflow_provider_comagic.unified.mcn import mcn_to_unified
from airflow_provider_comagic.unified.schema import UNIFIED_SCHEMA, unified_report_name, unified_table
from tests.fixtures.calls import comagic_row, mcn_row

MSK = pendulum.timezone("Europe/Moscow")
UTC = dt.timezone.utc


# -- one schema ------------------------------------------------------------------------------------------------------
def test_both_vendors_give_the_same_keys_and_union_into_one_table():
    comagic = comagic_to_unified([comagic_row(), comagic_row(id=2, direction="out", talk_duration=0)], MSK)
    mcn = mcn_to_unified([mcn_row(status=s, callid=s) for s in STATUSES], MSK, account_id="1", vpbx_id="2")
    assert {tuple(r) for r in comagic + mcn} == {tuple(UNIFIED_SCHEMA.names)}
    left, right = unified_table(comagic), unified_table(mcn)
    assert left.schema.equals(right.schema, check_metadata=True) and left.schema.equals(UNIFIED_SCHEMA)
    both = pa.concat_tables([left, right])
    assert both.num_rows == 7
    assert set(both.column("vendor").to_pylist()) == {"comagic", "mcn"}
    assert both.schema.field("start_time_utc").type == pa.timestamp("us", tz="UTC")
    assert both.column("start_time_utc")[0].as_py() == dt.datetime(2024, 3, 1, 7, tzinfo=UTC)


def test_unified_report_names():
    assert unified_report_name("comagic") == "unified_calls/comagic"
    assert unified_report_name("mcn", "7001") == "unified_calls/mcn/vpbx_id=7001"
