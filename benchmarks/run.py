"""End-to-end benchmark of ``get.calls_report`` landing: the provider against a plain loop, dlt, the decode
ceiling and the transfer ceiling, each run in its own process against the emulator running in another process.

    .venv/bin/python benchmarks/run.py [--rows 100000 1000000] [--quick] [--fields full narrow] [--runners ...]
        [--response-delay 1.5 --delay-per-row 0.0001]

For every row count N the emulator serves one day (2024-03-01, Europe/Moscow) holding N calls; every run
requests the fields of a row shape (``full``: all 105 documented fields, ~4.2 KB of JSON per row; ``narrow``: 38
fields with the nested tags, employees and scenario operations, ~1.3 KB) and lands the day on local storage.
Runners:

* ``transfer``        the transfer ceiling: the provider's own requests (its ``PagePlan``, planned in an untimed
                      first pass), each response body read as raw bytes in 4 MB reads and written straight to a
                      local file, nothing parsed: what moving the bytes costs.
* ``ceiling``         the decode ceiling: ``orjson.loads`` alone over the provider's own raw pages (fetched first,
                      then decoded in a fresh process holding nothing but the pages: benchmarks/decode_ceiling.py;
                      its MB/s is printed as a sanity figure).
* ``provider-jsonl``  ``ComagicReportOperator.execute`` -> gzip JSON Lines, manifest committed.
* ``provider-parquet`` the same -> Parquet (typed Arrow schema, zstd).
* ``hook-dicts``      ``ComagicHook.iter_pages`` yielding pages of row dicts, counted, nothing written.
* ``plain``           ``requests`` + ``json`` writing JSON Lines: what anyone writes in an afternoon (limit/offset
                      paging; past the 110 000-row offset cap it pages hour windows, as a naive user would).
* ``dlt``             dlt's ``RESTClient`` with its ``OffsetPaginator`` moving ``params.offset`` in the JSON-RPC
                      body, written by a dlt pipeline to its ``filesystem`` destination as JSON Lines.

Each runner reports its wall time, rows, API calls, its CPU seconds (user + system, every thread, from the
baseline on: what the task costs a busy worker), its resident size right before its first request (the
baseline) and its peak over that baseline (the kernel's high-water mark, reset at the baseline); the points spent
are read from the emulator's ``metadata.limits`` before and after the run. With a response delay the emulator
holds every response that long (plus the per-row delay) and each runner's wall time is printed against the
server's time. ``--repeat N`` runs every runner N times, in rounds, and shows each one's median-speed run (all
its figures from that run) with the range of speeds and the largest peak. Figures are printed, never asserted.
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
RUNNERS = ("transfer", "ceiling", "provider-jsonl", "provider-parquet", "hook-dicts", "plain", "dlt")


NARROW_FIELDS = (
    *("id", "start_time", "finish_time", "direction", "is_lost", "communication_number", "communication_id"),
    *("communication_type", "contact_phone_number", "virtual_phone_number", "wait_duration", "total_wait_duration"),
    *("talk_duration", "clean_talk_duration", "total_duration", "postprocess_duration", "is_transfer", "source"),
    *("channel", "site_id", "campaign_id", "campaign_name", "scenario_id", "scenario_name", "visitor_id"),
    *("person_id", "visits_count", "visitor_device", "utm_source", "utm_medium", "last_answered_employee_id"),
    *("cpn_region_id", "source_id", "sale_cost", "contact_id", "tags", "employees", "scenario_operations"),
)
"""The narrow row: 38 fields, nested ``tags``, ``employees`` and ``scenario_operations`` among them (~1.3 KB)."""
SHAPES = ("full", "narrow")
_shape = "full"


def use_shape(shape: str) -> None:
    """Make :func:`all_fields` return the fields of ``shape`` (``full``: all 105; ``narrow``: 38)."""
    global _shape
    if shape not in SHAPES:
        raise ValueError(f"row shape must be one of {SHAPES}, got {shape!r}")
    _shape = shape


def all_fields() -> list[str]:
    """The fields every runner asks for: all documented ones, or the narrow row's."""
    from airflow_provider_comagic.comagic.catalogue import get_method

    if _shape == "narrow":
        return list(NARROW_FIELDS)
    return [f.name for f in get_method(METHOD).fields]


def _status_mib(name: str) -> float:
    """A ``/proc/self/status`` figure (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{name} not in /proc/self/status")


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Memory:
    """A runner's peak RSS over its own baseline: the resident size right before its first request (or where
    the runner marks it). At the baseline the kernel's high-water mark is reset (``/proc/self/clear_refs``),
    so the peak read at the end (``VmHWM``, no sampling to miss a spike) is the peak after the baseline."""

    def __init__(self) -> None:
        self.baseline: float | None = None
        self.cpu = 0.0
        self.reset = False

    def mark(self) -> None:
        """Take the baseline (once)."""
        if self.baseline is not None:
            return
        try:
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS to the current RSS
            self.reset = True
        except OSError:
            self.reset = False
        self.baseline = _status_mib("VmRSS")
        self.cpu = _cpu_seconds()

    def report(self) -> dict[str, Any]:
        peak = _status_mib("VmHWM") if self.reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        baseline = self.baseline if self.baseline is not None else 0.0
        return {
            "baseline_mib": baseline,
            "peak_rss_mib": peak,
            "peak_over_baseline_mib": peak - baseline,
            "peak_since_baseline": self.reset,  # False: the peak may predate the baseline (an upper bound)
            "cpu_seconds": _cpu_seconds() - self.cpu,  # every thread of the process, from the baseline on
        }

    def mark_on_first_request(self) -> None:
        """Take the baseline when ``requests`` sends its first request (every runner talks through it)."""
        from requests.adapters import HTTPAdapter

        send = HTTPAdapter.send
        memory = self

        def marking_send(adapter: HTTPAdapter, *args: Any, **kwargs: Any) -> Any:
            memory.mark()
            return send(adapter, *args, **kwargs)

        HTTPAdapter.send = marking_send  # type: ignore[method-assign]


MEMORY = Memory()


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
    MEMORY.mark()
    started = time.perf_counter()
    with open(out / "pages.bin", "wb", buffering=0) as sink:
        for body in bodies:
            with session.post(
                url, data=body, headers={"Content-Type": "application/json"}, timeout=600, stream=True
            ) as response:
                for chunk in response.iter_content(READ_CHUNK):
                    written += sink.write(chunk)
    seconds = time.perf_counter() - started
    if abs(written - sum(sizes)) > 64 * len(bodies):  # only the points left in metadata.limits may differ
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
    """``orjson.loads`` alone over the provider's raw pages: fetched once (its PagePlan drives the requests) and
    spilled to disk, then decoded by ``benchmarks/decode_ceiling.py`` in a fresh process holding nothing but the
    pages (the cyclic GC on, as a plain loop has it; this process's planning objects would slow its GC passes)."""
    _, sizes, rows = plan_pages(url, token, out / "pages.bin")
    decoder = subprocess.run(
        [sys.executable, str(HERE / "decode_ceiling.py"), str(out / "pages.bin"), json.dumps(sizes)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    decoded = json.loads(decoder.stdout.strip().splitlines()[-1])
    return {
        "rows": rows,
        "seconds": decoded["seconds"],
        "cpu_seconds": decoded["cpu_seconds"],
        "calls": len(sizes),
        "raw_bytes": sum(sizes),
        "baseline_mib": decoded["baseline_mib"],
        "peak_rss_mib": decoded["baseline_mib"] + decoded["peak_over_baseline_mib"],
        "peak_over_baseline_mib": decoded["peak_over_baseline_mib"],
        "peak_since_baseline": True,
        "note": f"{sum(sizes) / max(rows, 1):,.0f} B/row; {decoded['mb_per_s']:,.0f} MB/s decoded (orjson alone)",
    }


def use_connection(url: str, token: str) -> None:
    """Point the default ``comagic`` connection at the emulator."""
    os.environ["AIRFLOW_CONN_COMAGIC_DEFAULT"] = json.dumps(
        {"conn_type": "comagic", "host": url.rsplit("/v2.0", 1)[0], "password": token, "extra": {"timezone": TIMEZONE}}
    )


def run_provider(url: str, token: str, out: Path, fmt: str) -> dict[str, Any]:
    """The provider as a DAG task runs it: ``ComagicReportOperator.execute`` with an explicit interval."""
    use_connection(url, token)
    # what the task imports lazily, imported before the baseline (as the decode and the landing will need it),
    # and the connection lookup's module, which a worker's task process has loaded before its task starts
    import airflow.sdk.execution_time.supervisor  # noqa: F401
    import isal.igzip  # noqa: F401
    import pyarrow.json
    import pyarrow.parquet  # noqa: F401

    import airflow_provider_comagic.comagic.schemas
    import airflow_provider_comagic.landing.arrow
    import airflow_provider_comagic.landing.guard  # the drift guard the writer builds for a typed format
    import airflow_provider_comagic.landing.writer  # noqa: F401
    from airflow_provider_comagic.hooks.comagic import ComagicHook  # noqa: F401
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


def run_hook_dicts(url: str, token: str, out: Path) -> dict[str, Any]:
    """What a user of the hook gets: ``ComagicHook.iter_pages`` yielding pages of row dicts, counted, nothing
    written."""
    use_connection(url, token)
    import pendulum

    from airflow_provider_comagic.hooks.comagic import ComagicHook

    tz = pendulum.timezone(TIMEZONE)
    start = dt.datetime.fromisoformat(DAY).replace(tzinfo=tz)
    hook = ComagicHook()
    plan = hook.plan(METHOD, start, start + dt.timedelta(days=1), fields=all_fields())
    rows = 0
    started = time.perf_counter()
    for page in hook.iter_pages(METHOD, plan=plan):
        rows += len(page)
        if page and type(page[0]) is not dict:
            raise RuntimeError(f"iter_pages yielded {type(page[0]).__name__} rows, not dicts")
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "calls": plan.stats.pages}


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
    "hook-dicts": run_hook_dicts,
    "plain": run_plain,
    "dlt": run_dlt,
}
LATENCY_RUNNERS = ["provider-jsonl", "provider-parquet", "hook-dicts", "plain"]
CEILINGS = ("transfer", "ceiling")  # they take their baseline themselves, before their timed part


def child_main(name: str, shape: str, url: str, token: str, out: Path) -> None:
    use_shape(shape)
    if name not in CEILINGS:
        MEMORY.mark_on_first_request()
    result = CHILD[name](url, token, out)
    for key, value in MEMORY.report().items():  # the decode ceiling measures itself, in its own process
        result.setdefault(key, value)
    print("RESULT " + json.dumps(result), flush=True)


# -- the orchestrator -----------------------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    """The environment of the emulator and the runners: this checkout first on the path, so the code measured is
    the code next to this script (not an editable install of another checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # a deployed worker imports from cached bytecode; with PYTHONDONTWRITEBYTECODE every lazy import inside a
    # timed part compiles its module again (seconds of the provider's runs were Python's compiler)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Emulator:
    """The emulator CLI in its own process, one day of ``rows`` calls."""

    def __init__(self, rows: int, response_delay: float = 0.0, delay_per_row: float = 0.0, faults: Sequence[str] = ()):
        self.rows = rows
        delays = ["--response-delay", str(response_delay), "--delay-per-row", str(delay_per_row)]
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
                *(delays if response_delay or delay_per_row else []),
                *(arg for fault in faults for arg in ("--fault", fault)),
            ],
            cwd=ROOT,
            env=child_env(),
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


def run_child(name: str, shape: str, emulator: Emulator, timeout: float) -> dict[str, Any]:
    out = tempfile.mkdtemp(prefix=f"comagic-bench-{name}-")
    before = emulator.day_remaining()
    try:
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", name, shape, emulator.url, emulator.token, out],
            cwd=ROOT,
            env=child_env(),
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


def run_summary(result: dict[str, Any]) -> str:
    return result.get("error") or (
        f"{result['rows']:,} rows in {result['seconds']:.1f} s = "
        f"{result['rows'] / result['seconds']:,.0f} rows/s, {result['calls']} calls, "
        f"{result['points']} points, {result.get('cpu_seconds', 0):.2f} CPU s, RSS {result['baseline_mib']:,.0f} MiB + peak "
        f"{result['peak_over_baseline_mib']:,.0f} MiB {result.get('note', '')}"
    )


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median speed (all its figures from that one run), with the range of the others; a failure
    of any run is the result."""
    if failed := next((run for run in runs if "error" in run), None):
        return failed
    ordered = sorted(runs, key=lambda run: run["rows"] / run["seconds"])
    median = dict(ordered[len(ordered) // 2])
    if len(runs) > 1:
        rates = [run["rows"] / run["seconds"] for run in ordered]
        median["range"] = f"{len(runs)} runs: {rates[0]:,.0f}-{rates[-1]:,.0f}"
        median["peak_over_baseline_max_mib"] = max(run["peak_over_baseline_mib"] for run in runs)
    return median


def mib(value: float | None) -> str:
    return "" if value is None else f"{max(value, 0):,.0f}"  # a high-water mark a hair under the baseline: 0


def table(results: dict[tuple[int, str], dict[str, dict[str, Any]]], runners: Sequence[str]) -> str:
    lines = [
        "| rows | fields | runner | rows/s | x decode ceiling | x transfer ceiling | x plain | CPU s "
        "| CPU x decode ceiling | API calls (min) | points | baseline RSS MiB | peak over baseline MiB | output MiB |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (rows, shape), by_runner in results.items():
        decode_rate = rate_of(by_runner.get("ceiling"))
        decode_cpu = (by_runner.get("ceiling") or {}).get("cpu_seconds")
        transfer_rate = rate_of(by_runner.get("transfer"))
        plain_rate = rate_of(by_runner.get("plain"))
        for name in runners:
            result = by_runner.get(name)
            if result is None:
                continue
            if "error" in result:
                lines.append(f"| {rows:,} | {shape} | {name} | failed: {result['error']} |" + " |" * 10)
                continue
            rate = result["rows"] / result["seconds"]
            decode = f"{rate / decode_rate:.2f}" if decode_rate and name != "ceiling" else ""
            transfer = f"{rate / transfer_rate:.2f}" if transfer_rate and name != "transfer" else ""
            plain = f"{rate / plain_rate:.2f}" if plain_rate and name not in (*CEILINGS, "plain") else ""
            minimum = math.ceil(rows / PAGE)
            calls = f"{result['calls']} ({minimum}, {result['calls'] / minimum:.2f}x)"
            over = mib(result.get("peak_over_baseline_mib")) + ("" if result.get("peak_since_baseline") else " (<=)")
            if "peak_over_baseline_max_mib" in result:
                over += f" (max {mib(result['peak_over_baseline_max_mib'])})"
            shown = f"{rate:,.0f}" + (f" ({result['range']})" if "range" in result else "")
            cpu = result.get("cpu_seconds")
            cpu_shown = "" if cpu is None else f"{cpu:.2f}"
            cpu_ratio = f"{cpu / decode_cpu:.2f}" if cpu is not None and decode_cpu and name != "ceiling" else ""
            lines.append(
                f"| {rows:,} | {shape} | {name} | {shown} | {decode} | {transfer} | {plain} | {cpu_shown} | "
                f"{cpu_ratio} | {calls} | "
                f"{result.get('points', '')} | {mib(result.get('baseline_mib'))} | {over} | "
                f"{mib(result['out_bytes'] / 2**20) if result.get('out_bytes') else ''} |"
            )
            if result["rows"] != rows:
                lines.append(f"| | | ^ WRONG ROW COUNT: {result['rows']:,} landed, {rows:,} expected |" + " |" * 10)
    return "\n".join(lines)


def latency_table(results: dict[tuple[int, str], dict[str, dict[str, Any]]], delay: float, per_row: float) -> str:
    """Wall time against the server's time (calls x the delay + rows x the per-row delay)."""
    lines = [
        f"| rows | fields | runner | wall s | calls x {delay:g} s + rows x {per_row * 1000:g} ms | ratio |",
        "| ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for (rows, shape), by_runner in results.items():
        for name, result in by_runner.items():
            if "error" in result:
                lines.append(f"| {rows:,} | {shape} | {name} | failed: {result['error']} | | |")
                continue
            served = result.get("served_rows", result["rows"])
            server = result["calls"] * delay + served * per_row
            lines.append(
                f"| {rows:,} | {shape} | {name} | {result['seconds']:.1f} | {server:.1f} | "
                f"{result['seconds'] / server:.3f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--quick", action="store_true", help="100 000 rows only")
    parser.add_argument("--fields", nargs="+", choices=SHAPES, default=list(SHAPES), help="row shapes to run")
    parser.add_argument("--runners", nargs="+", choices=RUNNERS, default=None)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of every runner, in rounds; the table shows each runner's median-speed run and the range",
    )
    parser.add_argument(
        "--response-delay", type=float, default=0.0, help="latency mode: the emulator answers each call this late"
    )
    parser.add_argument("--delay-per-row", type=float, default=0.0, help="latency mode: seconds more per row served")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        help="an emulator fault in its CLI syntax (repeat), e.g. the drift of one row in 97: "
        "drift_number_as_string:0.0103@get.calls_report/talk_duration (the emulator's own work on it is timed too)",
    )
    parser.add_argument("--child", nargs=5, metavar=("RUNNER", "FIELDS", "URL", "TOKEN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, shape, url, token, out = args.child
        child_main(name, shape, url, token, Path(out))
        return 0
    latency = bool(args.response_delay or args.delay_per_row)
    runners = args.runners or (LATENCY_RUNNERS if latency else list(RUNNERS))
    sizes = [100_000] if args.quick else args.rows
    print(f"machine: {machine()}")
    print(f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; command: {' '.join(sys.argv)}")
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    results: dict[tuple[int, str], dict[str, dict[str, Any]]] = {}
    for rows in sizes:
        emulator = Emulator(rows, args.response_delay, args.delay_per_row, args.fault)
        try:
            print(f"\n{rows:,} rows: emulator at {emulator.url}", flush=True)
            for shape in args.fields:
                use_shape(shape)
                print(f" {shape} rows ({len(all_fields())} fields): warm-up {emulator.warm_up():.1f} s", flush=True)
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name in runners}
                for _round in range(args.repeat):  # rounds, so a change of the machine's pace touches every runner
                    for name in runners:
                        runs[name].append(result := run_child(name, shape, emulator, args.timeout))
                        print(f"  {name:17} {run_summary(result)}", flush=True)
                results[rows, shape] = {name: median_run(found) for name, found in runs.items()}
        finally:
            emulator.stop()
    print()
    print(table(results, runners))
    if latency:
        print()
        print(latency_table(results, args.response_delay, args.delay_per_row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
