"""End-to-end benchmark of ``get.calls_report`` landing: the provider against a plain loop, dlt and the decode
ceiling, each run in its own process against the emulator running in another process (its CLI).

    .venv/bin/python benchmarks/run.py [--rows 100000 1000000] [--quick] [--runners provider-jsonl ...]

For every row count N the emulator serves one day (2024-03-01, Europe/Moscow) holding N calls; every run
requests all documented fields of ``get.calls_report`` (~4.2 KB of JSON per row) and lands the day on local
storage. Runners:

* ``transfer``        the transfer ceiling: the provider's own requests (its ``PagePlan``, planned in an untimed
                      first pass), each response body read as raw bytes in 4 MB reads and written straight to a
                      local file, nothing parsed: what moving the bytes costs; no landing can beat it.
* ``ceiling``         the decode ceiling: ``orjson.loads`` alone over the provider's own raw pages (fetched first,
                      only the decode is timed).
* ``provider-jsonl``  ``ComagicReportOperator.execute`` -> gzip JSON Lines, manifest committed.
* ``provider-parquet`` the same -> Parquet (typed Arrow schema, zstd).
* ``plain``           ``requests`` + ``json`` writing JSON Lines: what anyone writes in an afternoon (limit/offset
                      paging; past the 110 000-row offset cap it pages hour windows, as a naive user would).
* ``dlt``             dlt's ``RESTClient`` with its ``OffsetPaginator`` moving ``params.offset`` in the JSON-RPC
                      body, written by a dlt pipeline to its ``filesystem`` destination as JSON Lines.

Each runner reports its wall time, rows, API calls and its own peak RSS (``ru_maxrss``); the points spent are
read from the emulator's ``metadata.limits`` before and after the run. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
METHOD = "get.calls_report"
TIMEZONE = "Europe/Moscow"
DAY = "2024-03-01"
DATE_FROM, DATE_TILL = f"{DAY} 00:00:00", f"{DAY} 23:59:59"
PAGE = 10_000
OFFSET_CAP = 100_000
READ_CHUNK = 4 * 2**20
RUNNERS = ("transfer", "ceiling", "provider-jsonl", "provider-parquet", "plain", "dlt")


def all_fields() -> list[str]:
    from airflow_provider_comagic.comagic.catalogue import get_method

    return [f.name for f in get_method(METHOD).fields]


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rpc(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    reply = requests.post(url, data=orjson.dumps(body), headers={"Content-Type": "application/json"}, timeout=600)
    reply.raise_for_status()
    decoded = orjson.loads(reply.content)
    if "error" in decoded:
        raise RuntimeError(f"{method}: {decoded['error']}")
    return decoded["result"]


# -- runners (each in its own process: `run.py --child NAME ...`) ---------------------------------------------
def plan_pages(url: str, token: str, spill: Path | None = None) -> tuple[list[bytes], list[int], int]:
    """Read the day once as the provider pages it (its ``PagePlan`` drives the requests): the request bodies,
    the response sizes and the rows; with ``spill`` the response bodies are written there."""
    import pendulum

    from airflow_provider_comagic.comagic.catalogue import get_method
    from airflow_provider_comagic.comagic.paging import PagePlan

    tz = pendulum.timezone(TIMEZONE)
    start = dt.datetime.fromisoformat(DAY).replace(tzinfo=tz)
    plan = PagePlan.for_method(get_method(METHOD), start, start + dt.timedelta(days=1), tz=tz, fields=all_fields())
    session = requests.Session()
    bodies: list[bytes] = []
    sizes: list[int] = []
    rows = 0
    with open(spill or os.devnull, "wb") as sink:
        while (params := plan.next_request()) is not None:
            body = orjson.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": METHOD, "params": {**params, "access_token": token}}
            )
            content = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=600).content
            sink.write(content)
            bodies.append(body)
            sizes.append(len(content))
            rows += len(plan.feed(orjson.loads(content)["result"]))
            del content
    return bodies, sizes, rows


def run_transfer(url: str, token: str, out: Path) -> dict[str, Any]:
    """The transfer ceiling: the provider's requests sent again, each body read raw in 4 MB reads and written
    straight to a local file (no parsing, no joining): what moving the bytes costs on this machine."""
    bodies, sizes, rows = plan_pages(url, token)  # untimed: the plan needs each page to choose the next request
    session = requests.Session()
    written = 0
    started = time.perf_counter()
    with open(out / "pages.bin", "wb", buffering=0) as sink:
        for body in bodies:
            with session.post(
                url, data=body, headers={"Content-Type": "application/json"}, timeout=600, stream=True
            ) as response:
                for chunk in response.iter_content(READ_CHUNK):
                    written += sink.write(chunk)
    seconds = time.perf_counter() - started
    if written != sum(sizes):
        raise RuntimeError(f"the transfer read {written} bytes, the planning pass {sum(sizes)}")
    return {
        "rows": rows,
        "seconds": seconds,
        "calls": len(bodies),
        "untimed_points": len(bodies),
        "out_bytes": written,
        "note": f"{written / 2**20 / seconds:,.0f} MiB/s",
    }


def run_ceiling(url: str, token: str, out: Path) -> dict[str, Any]:
    """``orjson.loads`` alone over the provider's raw pages: fetched once (its PagePlan drives the requests),
    spilled to disk as bytes, then each decoded on its own (nothing else alive, default GC) and timed."""
    import gc

    _, sizes, rows = plan_pages(url, token, out / "pages.bin")
    decode = decode_no_gc = json_decode = 0.0
    with open(out / "pages.bin", "rb") as spill:
        for number, size in enumerate(sizes):
            content = spill.read(size)
            started = time.perf_counter()
            orjson.loads(content)  # the result is dropped at once: only this page is ever alive
            decode += time.perf_counter() - started
            if number < 3:  # reference figures on the first pages: without the cyclic GC, and the stdlib
                gc.disable()
                started = time.perf_counter()
                orjson.loads(content)
                decode_no_gc += time.perf_counter() - started
                gc.enable()
                started = time.perf_counter()
                json.loads(content)
                json_decode += time.perf_counter() - started
    sample = min(len(sizes), 3) * PAGE
    return {
        "rows": rows,
        "seconds": decode,
        "calls": len(sizes),
        "raw_bytes": sum(sizes),
        "note": f"{sum(sizes) / max(rows, 1):,.0f} B/row; first pages: orjson without GC "
        f"{sample / decode_no_gc:,.0f} rows/s, json.loads {sample / json_decode:,.0f} rows/s",
    }


def run_provider(url: str, token: str, out: Path, fmt: str) -> dict[str, Any]:
    """The provider as a DAG task runs it: ``ComagicReportOperator.execute`` with an explicit interval."""
    os.environ["AIRFLOW_CONN_COMAGIC_DEFAULT"] = json.dumps(
        {"conn_type": "comagic", "host": url.rsplit("/v2.0", 1)[0], "password": token, "extra": {"timezone": TIMEZONE}}
    )
    from airflow_provider_comagic.operators.report import ComagicReportOperator

    next_day = (dt.date.fromisoformat(DAY) + dt.timedelta(days=1)).isoformat()
    operator = ComagicReportOperator(
        task_id="bench",
        method=METHOD,
        output_path=out.as_uri(),
        output_format=fmt,
        date_from=DAY,
        date_till=next_day,
        fields=all_fields(),
    )
    started = time.perf_counter()
    summary = operator.execute({"run_id": "bench"})
    seconds = time.perf_counter() - started
    return {"rows": summary["rows"], "seconds": seconds, "calls": summary["api_calls"], "out_bytes": summary["bytes"]}


def run_plain(url: str, token: str, out: Path) -> dict[str, Any]:
    """requests + json, one file of JSON Lines: the afternoon version (kept naive on purpose)."""
    fields = all_fields()
    started = time.perf_counter()
    calls = rows = 0

    def fetch(date_from: str, date_till: str, offset: int) -> dict[str, Any]:
        nonlocal calls
        payload = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": METHOD,
            "params": {
                "access_token": token,
                "date_from": date_from,
                "date_till": date_till,
                "fields": fields,
                "sort": [{"field": "start_time", "order": "asc"}],
                "limit": PAGE,
                "offset": offset,
            },
        }
        response = requests.post(url, json=payload, timeout=600)
        calls += 1
        data = response.json()
        if "error" in data:
            raise RuntimeError(data["error"]["message"])
        return data["result"]

    def windows() -> Iterator[tuple[str, str]]:
        # the whole day when it fits under the offset cap, else hour by hour (what the error message teaches)
        first = fetch(DATE_FROM, DATE_TILL, 0)
        if first["metadata"]["total_items"] <= OFFSET_CAP + PAGE:
            yield DATE_FROM, DATE_TILL
            return
        for hour in range(24):
            yield f"{DAY} {hour:02d}:00:00", f"{DAY} {hour:02d}:59:59"

    with open(out / "calls.jsonl", "w", encoding="utf-8") as handle:
        for date_from, date_till in windows():
            offset = 0
            while True:
                result = fetch(date_from, date_till, offset)
                for row in result["data"]:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows += len(result["data"])
                offset += PAGE
                if offset >= result["metadata"]["total_items"]:
                    break
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "calls": calls, "out_bytes": (out / "calls.jsonl").stat().st_size}


def run_dlt(url: str, token: str, out: Path) -> dict[str, Any]:
    """dlt: RESTClient + OffsetPaginator on the JSON body -> filesystem destination (JSON Lines)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no network beyond 127.0.0.1 here
    os.environ["DLT_DATA_DIR"] = str(out / "dlt-data")
    import dlt
    from dlt.destinations import filesystem
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.paginators import OffsetPaginator

    fields = all_fields()
    calls = 0

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1

    paginator = OffsetPaginator(
        limit=PAGE,
        offset_body_path="params.offset",
        limit_body_path="params.limit",
        total_path="result.metadata.total_items",
    )
    client = RESTClient(base_url=url, paginator=paginator, data_selector="result.data")

    def hours() -> Iterator[tuple[str, str]]:
        # dlt pages by offset too, so it hits the same cap: the same hour windows as the plain loop past it
        total = rpc(url, METHOD, {"access_token": token, "date_from": DATE_FROM, "date_till": DATE_TILL, "limit": 1})
        if total["metadata"]["total_items"] <= OFFSET_CAP + PAGE:
            yield DATE_FROM, DATE_TILL
            return
        for hour in range(24):
            yield f"{DAY} {hour:02d}:00:00", f"{DAY} {hour:02d}:59:59"

    @dlt.resource(name="calls_report", write_disposition="append")
    def calls_report() -> Iterator[list[dict[str, Any]]]:
        for date_from, date_till in hours():
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": METHOD,
                "params": {
                    "access_token": token,
                    "date_from": date_from,
                    "date_till": date_till,
                    "fields": fields,
                    "sort": [{"field": "start_time", "order": "asc"}],
                },
            }
            yield from client.paginate("", method="POST", json=body, hooks={"response": [count]})

    pipeline = dlt.pipeline(
        pipeline_name="comagic_bench",
        destination=filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="comagic",
        pipelines_dir=str(out / "dlt-pipelines"),
    )
    started = time.perf_counter()
    pipeline.run(calls_report(), loader_file_format="jsonl")
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("calls_report", 0)
    lake = out / "lake"
    size = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())
    tables = sorted(t for t in pipeline.last_trace.last_normalize_info.row_counts if not t.startswith("_dlt"))
    return {
        "rows": rows,
        "seconds": seconds,
        "calls": calls + 1,
        "out_bytes": size,
        "note": f"dlt {dlt.__version__}: {len(tables)} tables (nested lists -> child tables)",
    }


CHILD: dict[str, Callable[[str, str, Path], dict[str, Any]]] = {
    "transfer": run_transfer,
    "ceiling": run_ceiling,
    "provider-jsonl": lambda url, token, out: run_provider(url, token, out, "jsonl"),
    "provider-parquet": lambda url, token, out: run_provider(url, token, out, "parquet"),
    "plain": run_plain,
    "dlt": run_dlt,
}


def child_main(name: str, url: str, token: str, out: Path) -> None:
    result = CHILD[name](url, token, out)
    result["peak_rss_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator -----------------------------------------------------------------------------------------
class Emulator:
    """The emulator CLI in its own process, one day of ``rows`` calls."""

    def __init__(self, rows: int):
        self.rows = rows
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_comagic.testing.comagic.emulator",
                "--port",
                "0",
                "--seed",
                "1",
                "--calls-per-day",
                str(rows),
                "--timezone",
                TIMEZONE,
                "--day-limit",
                "10000000",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self.token = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "listening on" in line:
                self.url = line.split("listening on", 1)[1].strip()
            elif line.startswith("access_token:"):
                self.token = line.split(":", 1)[1].strip()
                break
        if not self.url or not self.token:
            raise RuntimeError("the emulator did not start")

    def warm_up(self) -> float:
        """Generate and serialize the day once (server-side work no client should be timed for)."""
        started = time.perf_counter()
        rpc(
            self.url,
            METHOD,
            {
                "access_token": self.token,
                "date_from": DATE_FROM,
                "date_till": DATE_TILL,
                "fields": all_fields(),
                "sort": [{"field": "start_time", "order": "asc"}],
                "limit": 1,
            },
        )
        return time.perf_counter() - started

    def day_remaining(self) -> int:
        """Points left today (this probe costs one)."""
        result = rpc(self.url, "get.account", {"access_token": self.token})
        return result["metadata"]["limits"]["day_remaining"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_child(name: str, emulator: Emulator, timeout: float) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix=f"comagic-bench-{name}-"))
    before = emulator.day_remaining()
    try:
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", name, emulator.url, emulator.token, str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # the probe after the run costs one point; a runner's untimed planning pass is not part of its figures
    points = before - emulator.day_remaining() - 1
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["points"] = points - result.pop("untimed_points", 0)
            return result
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {completed.returncode}"}


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {ram:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def rate_of(result: dict[str, Any] | None) -> float | None:
    """rows/s of a successful result, else None."""
    if not result or "error" in result or not result.get("seconds"):
        return None
    return result["rows"] / result["seconds"]


def table(results: dict[int, dict[str, dict[str, Any]]], runners: Sequence[str]) -> str:
    lines = [
        "| rows | runner | rows/s | x decode ceiling | x transfer ceiling | provider x | API calls (min) | points "
        "| peak RSS MiB | output MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows, by_runner in results.items():
        decode_rate = rate_of(by_runner.get("ceiling"))
        transfer_rate = rate_of(by_runner.get("transfer"))
        provider_rate = rate_of(by_runner.get("provider-jsonl"))
        for name in runners:
            result = by_runner.get(name)
            if result is None:
                continue
            if "error" in result:
                lines.append(f"| {rows:,} | {name} | failed: {result['error']} | | | | | | | |")
                continue
            rate = result["rows"] / result["seconds"]
            decode = f"{rate / decode_rate:.2f}" if decode_rate and name != "ceiling" else ""
            transfer = f"{rate / transfer_rate:.2f}" if transfer_rate and name != "transfer" else ""
            # how many times faster the provider (same format family) is than this runner
            versus = f"{provider_rate / rate:.1f}x" if name in ("plain", "dlt") and provider_rate else ""
            minimum = math.ceil(rows / PAGE)
            calls = f"{result['calls']} ({minimum}, {result['calls'] / minimum:.2f}x)"
            out = f"{result['out_bytes'] / 2**20:,.0f}" if result.get("out_bytes") else ""
            lines.append(
                f"| {rows:,} | {name} | {rate:,.0f} | {decode} | {transfer} | {versus} | {calls} | "
                f"{result.get('points', '')} | {result['peak_rss_mib']:,.0f} | {out} |"
            )
            if result["rows"] != rows:
                lines.append(f"| | ^ WRONG ROW COUNT: {result['rows']:,} landed, {rows:,} expected | | | | | | | | |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="100 000 rows only")
    parser.add_argument("--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument("--child", nargs=4, metavar=("RUNNER", "URL", "TOKEN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, url, token, out = args.child
        child_main(name, url, token, Path(out))
        return 0
    sizes = [100_000] if args.quick else args.rows
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; command: {' '.join(sys.argv)}")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for rows in sizes:
        emulator = Emulator(rows)
        try:
            print(f"\n{rows:,} rows: emulator at {emulator.url}; warm-up {emulator.warm_up():.1f} s", flush=True)
            results[rows] = {}
            for name in args.runners:
                result = run_child(name, emulator, args.timeout)
                results[rows][name] = result
                summary = result.get("error") or (
                    f"{result['rows']:,} rows in {result['seconds']:.1f} s = {result['rows'] / result['seconds']:,.0f}"
                    f" rows/s, {result['calls']} calls, {result['points']} points, peak RSS "
                    f"{result['peak_rss_mib']:,.0f} MiB {result.get('note', '')}"
                )
                print(f"  {name:17} {summary}", flush=True)
        finally:
            emulator.stop()
    print()
    print(table(results, args.runners))
    return 0


if __name__ == "__main__":
    sys.exit(main())
