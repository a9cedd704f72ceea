"""The periods of the classic reports that are not rows of an interval (no I/O)."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.comagic.periods import check_period, month_intervals, month_params, totals_a_period

MSK = pendulum.timezone("Europe/Moscow")


def day(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


def test_the_period_totals_are_the_classic_reports_without_a_time_field():
    totals = [name for name in report_methods(all_classic=True) if totals_a_period(get_method(name))]
    assert totals == ["get.ct_summary_report", "get.ct_ac_summary_report", "get.employee_stat", "get.source_costs"]
    assert not totals_a_period(get_method("get.mgf_calls"))  # a report-builder list without a time field: rows


def test_months_touched_by_intervals_once_each_in_order():
    intervals = [
        (day(2024, 3, 1), day(2024, 3, 2)),
        (day(2024, 2, 29), day(2024, 3, 1)),
        (day(2024, 3, 5), day(2024, 3, 6)),
    ]
    assert month_intervals(intervals, MSK) == [(day(2024, 3, 1), day(2024, 4, 1)), (day(2024, 2, 1), day(2024, 3, 1))]
    quarter = month_intervals([(day(2023, 12, 15), day(2024, 2, 2))], MSK)
    assert [start.month for start, _ in quarter] == [12, 1, 2] and quarter[0][1] == day(2024, 1, 1)
    assert month_params(day(2023, 12, 1), MSK) == {"year": 2023, "month": 12}
    utc_midnight = dt.datetime(2024, 2, 29, 21, tzinfo=dt.timezone.utc)  # 2024-03-01 00:00 in Moscow
    assert month_intervals([(utc_midnight, utc_midnight + dt.timedelta(days=1))], MSK)[0][0] == day(2024, 3, 1)


def test_a_period_must_fit_the_cap_and_source_costs_whole_days():
    check_period(get_method("get.ct_summary_report"), day(2024, 1, 1), day(2024, 4, 1), MSK)  # 3 months
    with pytest.raises(ComagicParameterError, match=r"invalid 'date_till'.*cannot be split"):
        check_period(get_method("get.ct_summary_report"), day(2024, 1, 1), day(2024, 4, 2), MSK)
    check_period(get_method("get.employee_stat"), day(2023, 1, 1), day(2024, 4, 2), MSK)  # no documented cap
    check_period(get_method("get.source_costs"), day(2024, 3, 1), day(2024, 3, 8), MSK)
    with pytest.raises(ComagicParameterError, match=r"get.source_costs: invalid 'date_till': 2024-03-01 12:00:00"):
        check_period(get_method("get.source_costs"), day(2024, 3, 1), day(2024, 3, 1, 12), MSK)
