"""What schema drift costs the Parquet path: one page of ``get.calls_report`` rows (10 000, from the emulator's
generator, as JSON Lines) typed by :class:`~airflow_provider_comagic.landing.guard.SchemaGuard`, in process, with
nothing else timed (no HTTP, no Parquet encoding, no writing).

    .venv/bin/python benchmarks/drift_cost.py [--rows 10000] [--fields full narrow] [--repeat 9]

Cases, per row shape: ``as documented`` (Arrow's C++ reader alone: the happy path), ``1 in 97 coerced``
(``talk_duration`` as a digit string), ``1 in 97 rescued`` (``talk_duration`` fractional), ``every row coerced``
(the whole page judged), and, for comparison, ``decode + rows_to_batch`` (what a rejected page cost before: the
whole page decoded to dicts and converted column by column). Prints the median and the fastest of ``--repeat``
runs in milliseconds per page and rows/s. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout first

from airflow_provider_comagic.comagic.catalogue import get_method
from airflow_provider_comagic.comagic.schemas import report_schema
from airflow_provider_comagic.landing.arrow import rows_to_batch
from airflow_provider_comagic.landing.guard import SchemaGuard
from airflow_provider_comagic.testing import ComagicEmulator, EmulatorConfig
from benchmarks.run import NARROW_FIELDS, machine

DAY = ("2024-03-01 00:00:00", "2024-03-01 23:59:59")


def page_rows(rows: int, fields: Sequence[str]) -> list[dict]:
    emulator = ComagicEmulator(EmulatorConfig(seed=1, calls_per_day=rows, timezone="Europe/Moscow"))
    return emulator.truth("get.calls_report", *DAY, fields=list(fields))[:rows]


def as_lines(rows: list[dict]) -> bytes:
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def drifted(rows: list[dict], every: int, value: Callable[[int], object]) -> list[dict]:
    return [
        {**row, "talk_duration": value(row["talk_duration"])} if i % every == 0 else row for i, row in enumerate(rows)
    ]


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the page")
    parser.add_argument("--fields", nargs="+", choices=("full", "narrow"), default=["full", "narrow"])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; a page of {args.rows:,} rows, median and fastest of {args.repeat} runs")
    print("| fields | case | ms per page (median) | fastest | rows/s (median) |\n| --- | --- | ---: | ---: | ---: |")
    for shape in args.fields:
        fields = [f.name for f in get_method("get.calls_report").fields] if shape == "full" else list(NARROW_FIELDS)
        schema = report_schema("get.calls_report", fields, timezone="Europe/Moscow")
        rows = page_rows(args.rows, fields)
        cases: dict[str, Callable[[], object]] = {}
        for case, page in (
            ("as documented", rows),
            ("1 in 97 coerced", drifted(rows, 97, str)),
            ("1 in 97 rescued", drifted(rows, 97, lambda v: v + 0.5)),
            ("every row coerced", drifted(rows, 1, str)),
        ):
            data = as_lines(page)
            cases[case] = lambda data=data, n=len(page), schema=schema: SchemaGuard(schema).from_lines(data, n)
        data = as_lines(rows)
        cases["decode + rows_to_batch"] = lambda data=data, schema=schema: rows_to_batch(
            [orjson.loads(line) for line in data.split(b"\n")[:-1]], schema
        )
        for case, action in cases.items():
            median, fastest = timed(action, args.repeat)
            print(f"| {shape} | {case} | {median * 1000:.1f} | {fastest * 1000:.1f} | {args.rows / median:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
