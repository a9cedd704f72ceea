"""The classic reports beyond the ten against the emulator: the monthly financial summary (one partition per
month), the period totals (one call per interval, within the cap), and the reports that need a site_id (read for
every site of get.sites into one partition). Both formats, equal to the truth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_comagic.comagic.catalogue import get_method, report_methods
from airflow_provider_comagic.comagic.errors import ComagicParameterError
from airflow_provider_comagic.landing.manifest import manifest_schema, read_manifest
from airflow_provider_comagic.landing.reader import iter_landed_rows
from airflow_provider_comagic.operators.report import (
    CLASSIC_REPORT_OPERATORS,
    REPORT_OPERATORS,
    ComagicCampaignDailyStatOperator,
    ComagicFinancialSummaryReportOperator,
    ComagicReportOperator,
)
from airflow_provider_comagic.version_compat import TaskDeferred
from tests.fixtures.airflow_compat import OutletEventAccessors, event_extra
from tests.integration.test_report_operators import (  # noqa: F401
    DAY,
    MSK,
    api_range,
    canonical,
    context,
    emu,
    typed_rows,
)

pytestmark = pytest.mark.integration

END = DAY + dt.timedelta(days=1)
MORE = report_methods(all_classic=True)[len(report_methods()) :]


def sites(emu) -> list[int]:  # noqa: F811
    return sorted(row["id"] for row in emu.truth("get.sites", fields=["id"]))


def truth_of(emu, method: str, start: dt.datetime, end: dt.datetime, fields: list[str]) -> list[dict[str, Any]]:  # noqa: F811
    if method == "get.financial_summary_report":
        return emu.truth(method, fields=fields, year=start.year, month=start.month)
    if "site_id" in get_method(method).required_params:
        return [
            row for site in sites(emu) for row in emu.truth(method, *api_range(start, end), fields=fields, site_id=site)
        ]
    return emu.truth(method, *api_range(start, end), fields=fields)


def test_one_named_operator_per_classic_report():
    assert sorted(CLASSIC_REPORT_OPERATORS) == sorted(report_methods(all_classic=True))
    assert MORE == (
        "get.financial_summary_report",
        "get.ct_summary_report",
        "get.ct_ac_summary_report",
        "get.employee_stat",
        "get.source_costs",
    )
    for method in MORE:
        cls = CLASSIC_REPORT_OPERATORS[method]
        assert method not in REPORT_OPERATORS and cls(task_id="t", output_path="/x").method == method


@pytest.mark.parametrize("method", [*MORE, "get.campaign_daily_stat"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_classic_report_lands_equal_to_its_truth(emu, tmp_path, method, fmt):  # noqa: F811
    op = ComagicReportOperator(task_id="r", method=method, output_path=str(tmp_path), output_format=fmt, page_size=7)
    summary = op.execute(context(DAY, END))
    manifest = read_manifest(summary["partition"])
    start, end = (
        (dt.datetime(2024, 3, 1, tzinfo=MSK), dt.datetime(2024, 4, 1, tzinfo=MSK)) if op.monthly else (DAY, END)
    )
    truth = truth_of(emu, method, start, end, manifest["query"]["fields"])
    assert truth and summary["rows"] == len(truth) == manifest["rows"]
    landed = list(iter_landed_rows(summary["partition"]))
    if fmt == "jsonl":
        assert canonical(landed) == canonical(truth)
    else:
        assert canonical(landed) == canonical(typed_rows(truth, manifest_schema(manifest)))
    folder = method.removeprefix("get.")
    layout = "month=2024-03" if op.monthly else "date=2024-03-01"
    assert summary["partition"] == f"file://{tmp_path}/{folder}/{layout}"
    assert summary["partition_key"] == ("2024-03" if op.monthly else "2024-03-01")


def test_a_report_that_needs_a_site_reads_every_site_into_one_partition(emu, tmp_path):  # noqa: F811
    summary = ComagicCampaignDailyStatOperator(task_id="c", output_path=str(tmp_path)).execute(context(DAY, END))
    manifest = read_manifest(summary["partition"])
    assert manifest["api"]["site_ids"] == sites(emu) and len(sites(emu)) == 3
    assert summary["api_calls"] == 1 + 3  # get.sites, then one page per site
    assert {row["site_id"] for row in iter_landed_rows(summary["partition"])} == set(sites(emu))
    one = ComagicCampaignDailyStatOperator(
        task_id="c", output_path=str(tmp_path / "one"), api_params={"site_id": sites(emu)[0]}
    ).execute(context(DAY, END))
    assert {row["site_id"] for row in iter_landed_rows(one["partition"])} == {sites(emu)[0]}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_account_without_sites_lands_an_empty_partition(emu, tmp_path, monkeypatch, fmt):  # noqa: F811
    op = ComagicReportOperator(
        task_id="r", method="get.ct_ac_summary_report", output_path=str(tmp_path), output_format=fmt
    )
    monkeypatch.setattr(ComagicReportOperator, "_sites_of", lambda self, hook, client: [])
    summary = op.execute(context(DAY, END))
    manifest = read_manifest(summary["partition"])
    assert (
        summary["rows"] == 0 and manifest["api"]["site_ids"] == [] and "get.ct_ac_summary_report" not in emu.stats.calls
    )
    assert (
        manifest["query"]["fields"][:2] == ["ac_id", "ac_name"] and list(iter_landed_rows(summary["partition"])) == []
    )


def test_a_site_fan_out_resumes_after_a_quota_wait(emu, tmp_path):  # noqa: F811
    emu.faults.add("limit_exceeded", method="get.ct_ac_summary_report", calls={2}, limit_type="minute")
    op = ComagicReportOperator(
        task_id="r", method="get.ct_ac_summary_report", output_path=str(tmp_path), deferrable=True, page_size=3
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context(DAY, END))
    summary = op.execute_complete(context(DAY, END), event={"status": "success"}, **deferred.value.kwargs)
    truth = truth_of(emu, "get.ct_ac_summary_report", DAY, END, read_manifest(summary["partition"])["query"]["fields"])
    assert canonical(iter_landed_rows(summary["partition"])) == canonical(
        typed_rows(truth, manifest_schema(read_manifest(summary["partition"])))
    )


def test_the_financial_summary_lands_each_month_the_intervals_touch(emu, tmp_path):  # noqa: F811
    """A run over [Feb 29, Mar 2) with a day of lookback touches two months: two partitions, each the whole month."""
    op = ComagicFinancialSummaryReportOperator(
        task_id="f", output_path=str(tmp_path), lookback=dt.timedelta(days=1), output_format="jsonl"
    )
    events = OutletEventAccessors()
    summary = op.execute({**context(DAY, END), "outlet_events": events})
    keys = [entry["partition_key"] for entry in summary["intervals"]]
    assert keys == ["2024-03", "2024-02"]
    assert event_extra(events, f"file://{tmp_path}/financial_summary_report")["partition_keys"] == keys
    for month, days in ((3, 31), (2, 29)):
        partition = f"file://{tmp_path}/financial_summary_report/month=2024-{month:02d}"
        rows = list(iter_landed_rows(partition))
        assert len(rows) == days and canonical(rows) == canonical(emu.truth(op.method, year=2024, month=month))
        manifest = read_manifest(partition)
        assert manifest["query"]["params"] == {} and manifest["interval"]["start"].startswith(f"2024-{month:02d}-01")


# -- a window over the cap, before any report call ------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "dates", "match"),
    [
        ("get.ct_summary_report", ("2024-01-01", "2024-04-02"), r"invalid 'date_till'.*3 months.*totals the period"),
        ("get.ct_ac_summary_report", ("2024-01-01", "2024-05-01"), r"invalid 'date_till'"),
        ("get.source_costs", ("2024-03-01 06:00:00", "2024-03-02"), r"invalid 'date_from'.*whole days"),
    ],
)
def test_a_period_over_its_cap_fails_at_parse_time(emu, method, dates, match):  # noqa: F811
    with pytest.raises(ComagicParameterError, match=match):
        ComagicReportOperator(
            task_id="r", method=method, output_path="/tmp/never", date_from=dates[0], date_till=dates[1]
        )
    assert emu.stats.requests == 0


def test_a_data_interval_over_the_cap_fails_before_any_report_call(emu, tmp_path):  # noqa: F811
    op = ComagicReportOperator(task_id="r", method="get.ct_summary_report", output_path=str(tmp_path))
    emu.stats.reset()
    start, end = dt.datetime(2024, 1, 1, tzinfo=MSK), dt.datetime(2024, 6, 1, tzinfo=MSK)
    with pytest.raises(ComagicParameterError, match=r"get.ct_summary_report: invalid 'date_till'"):
        op.execute(context(start, end))
    assert set(emu.stats.successes) <= {"get.account"}  # the zone only: no report call
