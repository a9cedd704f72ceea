"""What the provider adds to DAG parsing: the median import cost of each task module over ``import airflow.sdk``
(fresh interpreters, cold module state), and the dag-processor's parse time of each example DAG.

    .venv/bin/python benchmarks/import_cost.py [--runs 7]

Prints one line per module and per example DAG. Figures, not assertions (tests/unit/test_import_cost.py checks
which libraries are imported, never how long it takes).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_provider_comagic.get_provider_info import get_provider_info  # noqa: E402

_IMPORT = (
    "import json, sys, time\n"
    "import airflow.sdk\n"
    "start = time.perf_counter()\n"
    "import {module}\n"
    "print(json.dumps(time.perf_counter() - start))\n"
)
_PARSE = (
    "import json, time\n"
    "from airflow.dag_processing.dagbag import DagBag\n"
    "start = time.perf_counter()\n"
    "bag = DagBag(dag_folder={path!r})\n"
    "print(json.dumps([time.perf_counter() - start, len(bag.dags), len(bag.import_errors)]))\n"
)


def task_modules() -> list[str]:
    info = get_provider_info()
    modules = [
        m for section in ("operators", "sensors", "triggers") for e in info[section] for m in e["python-modules"]
    ]
    return [*modules, *(t["python-module"] for t in info.get("transfers", []))]


def run(code: str) -> object:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    baseline = statistics.median(
        run(
            "import json, time; s = time.perf_counter(); import airflow.sdk; print(json.dumps(time.perf_counter() - s))"
        )
        for _ in range(args.runs)
    )
    print(f"import airflow.sdk: {baseline * 1000:.0f} ms (median of {args.runs})")
    print("module                                             added over airflow.sdk (median, ms)")
    for module in task_modules():
        cost = statistics.median(run(_IMPORT.format(module=module)) for _ in range(args.runs))
        print(f"{module:<50} {cost * 1000:8.1f}")
    print("example DAG                                        dag-processor parse (median, ms)")
    for path in sorted((REPO / "dags_examples").glob("*.py")):
        timings = [run(_PARSE.format(path=str(path))) for _ in range(args.runs)]
        seconds = statistics.median(t[0] for t in timings)
        print(f"{path.name:<50} {seconds * 1000:8.1f}  ({timings[0][1]} DAG, {timings[0][2]} import errors)")


if __name__ == "__main__":
    main()
