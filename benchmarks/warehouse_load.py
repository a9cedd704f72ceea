"""Loading landed partitions into the warehouses: the ClickHouse loader against the PostgreSQL loader, in one run.

    .venv/bin/python benchmarks/warehouse_load.py [--rows 100000 1000000] [--fields full narrow]
        [--runners clickhouse clickhouse-uncompressed postgres]

For every row count N and row shape (``full``: all 105 fields of ``get.calls_report``; ``narrow``: 38, the shapes of
``benchmarks/run.py``) the emulator serves one day of N calls and the provider lands it once as Parquet (the report
operator, as a DAG task does; not timed here). Then each runner loads that same partition in its own process into
a server started here on 127.0.0.1, the tests' own: ClickHouse 26.9 from the pinned ``chdb-core`` wheel
(``tests/fixtures/clickhouse.py``) and PostgreSQL from Debian's binaries (``tests/fixtures/postgres.py``).

* ``clickhouse``               ``ComagicLandedToClickHouseOperator.execute``: Arrow batches streamed into a staging
                               table, counted, ``REPLACE PARTITION``; the connection's default ``compress`` (the
                               Arrow buffers LZ4-compressed).
* ``clickhouse-uncompressed``  the same with the connection extra ``compress: false``.
* ``postgres``                 ``ComagicLandedToPostgresOperator.execute``: ``DELETE`` + ``COPY`` of CSV in one
                               transaction, row count checked.

Each runner reports its wall time (the operator's ``execute``, table creation included: each load goes into a new
table), rows/s, its resident size after its imports (the baseline) and its peak over that baseline (the kernel's
high-water mark, reset at the baseline: no sampling). The servers run on the same 2 cores, so every figure is a
figure for client and server together. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from run import MEMORY, SHAPES, Emulator, child_env, machine, run_provider, use_shape  # noqa: E402

RUNNERS = ("clickhouse", "clickhouse-uncompressed", "postgres")


def child_main(name: str, partition: str, table: str) -> None:
    """Load ``partition`` with runner ``name``; print its figures. What the load sets up once per process (the
    client's and the hook's modules, Airflow's hook-lineage collector, ~1-3 s here, where no bytecode is cached)
    is set up before the baseline, for both loaders alike: the figures are the loaders' own."""
    import pyarrow.parquet  # noqa: F401 - what the load needs, imported before the baseline as a worker has it

    import airflow_provider_comagic.landing.reader  # noqa: F401

    if name.startswith("clickhouse"):
        import clickhouse_connect.driver  # noqa: F401

        from airflow_provider_comagic.transfers.clickhouse import ComagicLandedToClickHouseOperator
        from airflow_provider_comagic.transfers.clickhouse_client import official_hook

        official_hook()  # the hook's module (Airflow's common.sql), as the PostgresHook below

        operator: Any = ComagicLandedToClickHouseOperator(task_id="bench", partition_path=partition, table=table)
    else:
        import psycopg2  # noqa: F401
        from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: F401

        from airflow_provider_comagic.transfers.postgres import ComagicLandedToPostgresOperator

        operator = ComagicLandedToPostgresOperator(task_id="bench", partition_path=partition, table=table)
    try:  # Airflow's hook-lineage collector: set up (providers discovered) by the first ObjectStoragePath open
        from airflow.sdk.lineage import get_hook_lineage_collector
    except ImportError:  # Airflow 2.10
        from airflow.lineage.hook import get_hook_lineage_collector
    get_hook_lineage_collector()
    MEMORY.mark()
    started = time.perf_counter()
    result = operator.execute({})
    seconds = time.perf_counter() - started
    print("RESULT " + json.dumps({"rows": result["rows"], "seconds": seconds, **MEMORY.report()}), flush=True)


def run_child(name: str, partition: str, table: str, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", name, partition, table],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {completed.returncode}"}


def land(rows: int, shape: str, out: Path) -> str:
    """One day of ``rows`` calls of ``shape`` landed as Parquet under ``out``; the partition's URI."""
    use_shape(shape)
    emulator = Emulator(rows)
    try:
        emulator.warm_up()
        summary = run_provider(emulator.url, emulator.token, out, "parquet")
    finally:
        emulator.stop()
    print(
        f"  landed {summary['rows']:,} {shape} rows in {summary['seconds']:.0f} s ({summary['out_bytes'] / 2**20:.0f} MiB)"
    )
    return f"file://{out}/calls_report/date=2024-03-01"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--fields", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(*args.child)
        return 0

    from tests.fixtures.clickhouse import clickhouse_server
    from tests.fixtures.postgres import postgres_connection, postgres_server

    print(f"Machine: {machine()}; load average at start {os.getloadavg()}")
    lines = []
    with clickhouse_server() as clickhouse, postgres_server() as dsn:
        clickhouse.client().command("CREATE DATABASE IF NOT EXISTS bench")
        env = child_env()
        env["AIRFLOW_CONN_CLICKHOUSE_DEFAULT"] = clickhouse.connection_json("bench")
        env["AIRFLOW_CONN_POSTGRES_DEFAULT"] = json.dumps(postgres_connection(dsn))
        uncompressed = {**env, "AIRFLOW_CONN_CLICKHOUSE_DEFAULT": clickhouse.connection_json("bench", compress=False)}
        for rows in args.rows:
            for shape in args.fields:
                out = Path(tempfile.mkdtemp(prefix="comagic-warehouse-bench-"))
                try:
                    partition = land(rows, shape, out)
                    for name in args.runners:
                        table = f"{name.replace('-', '_')}_{shape}_{rows}"
                        table = table if name.startswith("clickhouse") else f"public.{table}"
                        result = run_child(
                            name, partition, table, uncompressed if name.endswith("uncompressed") else env
                        )
                        line = f"{rows:>9,} {shape:<6} {name:<24} " + (
                            result.get("error")
                            or f"{result['rows']:>9,} rows {result['seconds']:7.1f} s {result['rows'] / result['seconds']:>9,.0f} rows/s"
                            f"  RSS {result['baseline_mib']:5.0f} MiB + peak {result['peak_over_baseline_mib']:5.0f} MiB"
                        )
                        print(line, flush=True)
                        lines.append(line)
                finally:
                    shutil.rmtree(out, ignore_errors=True)
    print(f"\nload average at the end {os.getloadavg()}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
