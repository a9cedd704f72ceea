"""The decode ceiling, measured in a fresh process with nothing else alive: every raw page of the report read
into memory first, then ``orjson.loads`` of each one timed (its result dropped at once), with the cyclic GC on as
a plain loop has it. Prints one JSON line: seconds, CPU seconds (user + system), MB/s decoded (a sanity figure:
orjson decodes some hundreds of MB/s; a ceiling far below that is not one), and the peak RSS over the baseline
taken once the pages are in memory.

    python benchmarks/decode_ceiling.py <pages file> <sizes as a JSON list>

Run by ``benchmarks/run.py``'s ``ceiling`` runner; it imports nothing but the standard library and orjson.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import orjson


def _status_mib(name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{name} not in /proc/self/status")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(pages_file: str, sizes_json: str) -> dict[str, float]:
    sizes = json.loads(sizes_json)
    with open(pages_file, "rb") as spill:
        pages = [spill.read(size) for size in sizes]
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
    baseline = _status_mib("VmRSS")
    cpu, started = _cpu(), time.perf_counter()
    for page in pages:
        orjson.loads(page)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    total = sum(sizes)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "mb_per_s": total / 1e6 / seconds,
        "baseline_mib": baseline,
        "peak_over_baseline_mib": _status_mib("VmHWM") - baseline,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
