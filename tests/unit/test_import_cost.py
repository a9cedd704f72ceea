"""DAG parsing pays for every module a DAG file imports: no operator, sensor, transfer or trigger module may import
pyarrow, requests or aiohttp at import time (they are imported where used). Timings live in
benchmarks/import_cost.py, not here."""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_provider_comagic.get_provider_info import get_provider_info
from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS

HEAVY = ("pyarrow", "requests", "aiohttp", "duckdb", "openlineage")
# what a DAG file imports anyway: the Task SDK on Airflow 3, the models on 2.10
AIRFLOW_BASE = "airflow.sdk" if AIRFLOW_V_3_0_PLUS else "airflow.models.baseoperator"


def task_modules() -> list[str]:
    info = get_provider_info()
    modules = [
        m for section in ("operators", "sensors", "triggers") for e in info[section] for m in e["python-modules"]
    ]
    return [*modules, *(t["python-module"] for t in info.get("transfers", []))]


def test_task_modules_import_no_heavy_library():
    # one fresh interpreter, as the dag-processor has: airflow.sdk first, then each module in turn
    code = (
        f"import importlib, json, sys, {AIRFLOW_BASE}\n"
        f"heavy = set({list(HEAVY)!r}) - {{m.split('.')[0] for m in sys.modules}}  # new to the base only\n"
        "loaded = {}\n"
        f"for module in {task_modules()!r}:\n"
        "    importlib.import_module(module)\n"
        "    loaded[module] = sorted(heavy & {m.split('.')[0] for m in sys.modules})\n"
        "print(json.dumps(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(loaded) >= 8
    assert {module: heavy for module, heavy in loaded.items() if heavy} == {}
