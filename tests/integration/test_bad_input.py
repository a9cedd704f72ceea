"""Every bad input a user can give, table-driven: a clear error naming the problem, before any API call where the
problem can be known without one (checked on the emulator's request counter).

Intervals longer than 3 months have no "do not split" switch (neither the operator nor the hook offers one): they
ARE split into 3-month windows, which ``test_long_intervals_are_split_into_3_month_windows`` checks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pendulum
import pytest

from airflow_provider_comagic.comagic.errors import (
    ComagicAuthError,
    ComagicConnectionConfigError,
    ComagicDayLimitExceededError,
    ComagicError,
    ComagicIpNotWhitelistedError,
    ComagicParameterError,
    ComagicTransportError,
)
from airflow_provider_comagic.hooks.comagic import ComagicHook
from airflow_provider_comagic.operators.report import ComagicReportOperator
from airflow_provider_comagic.testing import ComagicEmulator

pytestmark = pytest.mark.integration

TZ = "Europe/Moscow"
MSK = pendulum.timezone(TZ)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc).timestamp()
DAY = dt.datetime(2024, 3, 1, tzinfo=MSK)
METHOD = "get.calls_report"


@pytest.fixture
def emu(comagic_emulator_factory: Callable[..., ComagicEmulator]) -> ComagicEmulator:
    return comagic_emulator_factory(calls_per_day=50, start_time=NOW, frozen_clock=True)


def set_conn(monkeypatch: pytest.MonkeyPatch, emu: ComagicEmulator, **fields: Any) -> None:
    """``comagic_default`` pointing at the emulator with its token, overridden by ``fields`` (None drops one)."""
    conn: dict[str, Any] = {
        "conn_type": "comagic",
        "host": emu.base_url,
        "password": emu.access_token,
        "extra": {"timezone": TZ, "max_retries": 0},  # transport errors are final at once: no backoff to wait out
    }
    conn.update(fields)
    monkeypatch.setenv("AIRFLOW_CONN_COMAGIC_DEFAULT", json.dumps({k: v for k, v in conn.items() if v is not None}))


def run_report(**kwargs: Any) -> Any:
    """Build and execute the report operator for one day (construction errors count as "before any call")."""
    kwargs.setdefault("date_from", "2024-03-01")
    kwargs.setdefault("date_till", "2024-03-02")
    kwargs.setdefault("output_path", "file:///tmp/comagic-bad-input-never-written")
    operator = ComagicReportOperator(task_id="bad", method=kwargs.pop("method", METHOD), **kwargs)
    return operator.execute({"run_id": "bad-input"})


def hook_pages(start: dt.datetime, end: dt.datetime) -> Any:
    return list(ComagicHook().iter_pages(METHOD, start, end, fields=["id", "start_time"]))


@dataclasses.dataclass
class Case:
    name: str
    action: Callable[[], Any]
    error: type[BaseException]
    message: str  # regex the error text must match (names the problem)
    no_call: bool = True  # raised before any API call
    setup: Callable[[ComagicEmulator, pytest.MonkeyPatch], None] | None = None


CASES = [
    Case(
        "dates reversed",
        lambda: run_report(date_from="2024-03-02", date_till="2024-03-01"),
        ComagicParameterError,
        r"date_till .* must be after date_from",
    ),
    Case(
        "empty interval",
        lambda: run_report(date_from="2024-03-01", date_till="2024-03-01"),
        ComagicParameterError,
        r"must be after date_from",
    ),
    Case(
        "naive datetimes (hook)",
        lambda: hook_pages(DAY.replace(tzinfo=None), (DAY + dt.timedelta(days=1)).replace(tzinfo=None)),
        ComagicParameterError,
        r"time-zone aware.*naive",
    ),
    Case(
        "only one of date_from/date_till",
        lambda: run_report(date_from="2024-03-01", date_till=None),
        ComagicParameterError,
        r"both date_from and date_till",
    ),
    Case(
        "unknown method", lambda: run_report(method="get.no_such_report"), ComagicParameterError, r"get.no_such_report"
    ),
    Case(
        "not a report method",
        lambda: run_report(method="get.account"),
        ComagicParameterError,
        r"get.account is not a report method",
    ),
    Case("unknown field", lambda: run_report(fields=["id", "no_such_field"]), ComagicParameterError, r"no_such_field"),
    Case(
        "unknown filter field",
        lambda: run_report(filter={"field": "no_such_field", "operator": "=", "value": 1}),
        ComagicParameterError,
        r"no_such_field",
    ),
    Case(
        "unknown filter operator",
        lambda: run_report(filter={"field": "id", "operator": "~~", "value": 1}),
        ComagicParameterError,
        r"~~",
    ),
    Case(
        "unknown sort field",
        lambda: run_report(sort=[{"field": "no_such_field", "order": "asc"}]),
        ComagicParameterError,
        r"no_such_field",
    ),
    Case(
        "unknown output format",
        lambda: run_report(output_format="csv"),
        ComagicParameterError,
        r"output_format must be one of .*'csv'",
    ),
    Case(
        "page size over the API's 10 000",
        lambda: run_report(page_size=20_000),
        ComagicParameterError,
        r"page_size must be an integer from 1 to 10000",
    ),
    Case(
        "gzip level out of range",
        lambda: run_report(gzip_level=11),
        ComagicParameterError,
        r"gzip_level must be an integer from 0 to 9, got 11",
    ),
    Case(
        "unknown api_params",
        lambda: run_report(api_params={"no_such_param": 1}),
        ComagicParameterError,
        r"no_such_param",
    ),
    Case(
        "missing token",
        lambda: run_report(),
        ComagicConnectionConfigError,
        r"(?i)token|password",
        setup=lambda emu, mp: set_conn(mp, emu, password=None),
    ),
    Case(
        "wrong host: connection refused",
        lambda: run_report(),
        ComagicTransportError,
        r"connection to 127\.0\.0\.1:1 was refused: is the server running, and are the host and port right",
        no_call=False,
        setup=lambda emu, mp: set_conn(mp, emu, host="http://127.0.0.1:1"),
    ),
    Case(
        "wrong host: 404",
        lambda: run_report(),
        ComagicError,
        r"unexpected HTTP 404 .*connection host",
        no_call=False,
        setup=lambda emu, mp: set_conn(mp, emu, extra={"timezone": TZ, "max_retries": 0, "api_version": "v9.9"}),
    ),
    Case(
        "wrong password",
        lambda: run_report(),
        ComagicAuthError,
        r"auth_error|login|password",
        no_call=False,
        setup=lambda emu, mp: set_conn(mp, emu, login=emu.login, password="not-the-password"),
    ),
    Case(
        "IP not whitelisted",
        lambda: run_report(),
        ComagicIpNotWhitelistedError,
        r"(?i)whitelist",
        no_call=False,
        setup=lambda emu, mp: emu.revoke_token(mnemonic="ip_not_whitelisted"),
    ),
    Case(
        "day limit spent",
        lambda: run_report(),
        ComagicDayLimitExceededError,
        r"(?i)day",
        no_call=False,
        setup=lambda emu, mp: emu.quota.exhaust("day"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_clearly(case: Case, emu: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, emu)
    if case.setup is not None:
        case.setup(emu, monkeypatch)
    emu.stats.reset()
    with pytest.raises(case.error) as raised:
        case.action()
    text = str(raised.value)
    assert re.search(case.message, text), f"{case.name}: {text!r} does not name the problem ({case.message})"
    if case.no_call:
        assert emu.stats.requests == 0, f"{case.name}: {emu.stats.snapshot()} API requests before failing"
    assert emu.access_token not in text and "emulator-password" not in text


def test_long_intervals_are_split_into_3_month_windows(emu: ComagicEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """No option disables splitting: a 7-month interval is read as 3 windows, each within the API's 3 months."""
    set_conn(monkeypatch, emu)
    hook = ComagicHook()
    start, end = dt.datetime(2024, 1, 1, tzinfo=MSK), dt.datetime(2024, 8, 1, tzinfo=MSK)
    plan = hook.plan(METHOD, start, end, fields=["id", "start_time"])
    assert plan.stats.windows == 3
    ranges = []
    while (params := plan.next_request()) is not None:
        ranges.append((params["date_from"], params["date_till"]))
        plan.feed({"data": [], "metadata": {"total_items": 0}})
    assert ranges == [
        ("2024-01-01 00:00:00", "2024-03-31 23:59:59"),
        ("2024-04-01 00:00:00", "2024-06-30 23:59:59"),
        ("2024-07-01 00:00:00", "2024-07-31 23:59:59"),
    ]
