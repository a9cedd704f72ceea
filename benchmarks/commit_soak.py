"""The partition commit protocol under load: overlapping runs, SIGKILLed runs, and what a commit costs.

    .venv/bin/python benchmarks/commit_soak.py [--pairs 500] [--kills 200] [--commits 40] [--stores file,s3]

On ``file://`` (a temporary folder) and ``s3://`` (moto's server on 127.0.0.1, conditional PUTs made atomic as
on AWS: see ``tests/fixtures/lake.py``):

* pairs: two runs of one partition at once, one slowed (``tests/fixtures/landing_races.py``); prints the pairs
  run, broken partitions (must be 0), later runs told they were superseded, runs that failed, violations;
* kills: a landing process SIGKILLed at chosen and random points (``tests/fixtures/landing_crash.py``); prints
  the kills, invariant violations (0), stray files a Hive-convention glob sees after a kill (0), the glob views;
* cost: commits of 4 parts, the store requests and milliseconds of the protocol (the writer's opening repair
  plus its commit) against the one-manifest-write commit it replaced (PUT manifest, LIST, one DELETE per part
  of the replaced copy), both measured on the same store.

Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa

from tests.fixtures.lake import Lake, atomic_conditional_puts
from tests.fixtures.landing_crash import Partition, context, pilot_duration, plans
from tests.fixtures.landing_races import SCENARIOS, run_pair
from tests.fixtures.s3 import S3Server

SCHEMA = pa.schema([("id", pa.int64()), ("run", pa.string())])


def lakes(kinds: list[str], server: S3Server | None) -> dict[str, Lake]:
    result = {}
    if "file" in kinds:
        root = Path(tempfile.mkdtemp(prefix="commit-soak-"))
        result["file"] = Lake("file", f"file://{root}/part", None, local_dir=root / "part")
    if "s3" in kinds and server is not None:
        bucket = f"soak-{uuid.uuid4().hex[:10]}"
        server.client().create_bucket(Bucket=bucket)
        result["s3"] = Lake("s3", f"s3://{bucket}/part", "aws_bench", s3=server, bucket=bucket, prefix="part")
    return result


def pairs(lake: Lake, count: int) -> int:
    rng = random.Random(f"bench-pairs-{lake.kind}")
    tally: collections.Counter[str] = collections.Counter()
    violations = []
    for i in range(count):
        outcome = run_pair(lake.sub(f"pairs{i // 50}").url, lake.conn_id, rng, SCENARIOS[i % len(SCENARIOS)])
        tally[outcome.kind] += 1
        violations += outcome.violations
    print(
        f"{lake.kind:5} pairs {count}: broken partitions {tally['broken']}, later runs superseded (green, told so) "
        f"{tally['superseded']}, plain reruns {tally['sequential']}, runs failed {tally['failed']}, "
        f"violations {len(violations)}"
    )
    for violation in violations[:10]:
        print("   ", violation)
    return len(violations)


def kills(lake: Lake, count: int) -> int:
    ctx = context()
    env = {name: value for name, value in os.environ.items() if name.startswith("AIRFLOW_CONN_")}
    partition = Partition(lake.sub("kills"), env)
    rng = random.Random(f"bench-kills-{lake.kind}")
    duration = pilot_duration(ctx, partition, 5)
    outcomes = [partition.kill_once(ctx, plan, 5) for plan in plans(rng, count, 5, duration)]
    violations = [f"{o.plan}: {v}" for o in outcomes for v in o.violations]
    globs = collections.Counter(o.glob for o in outcomes)
    states = collections.Counter(o.state for o in outcomes)
    print(
        f"{lake.kind:5} kills {sum(o.killed for o in outcomes)}: invariant violations {len(violations)}, stray files "
        f"visible to a glob after a kill {sum(o.stray_visible for o in outcomes)}; committed copy after the kill "
        f"{dict(states)}; glob view {dict(globs)}; reruns leaving the killed run's hidden parts for the grace "
        f"period {sum(bool(o.leftovers_after_rerun) for o in outcomes)}, after it 0 stray files unless reported"
    )
    for violation in violations[:10]:
        print("   ", violation)
    return len(violations)


def cost(lake: Lake, commits: int) -> None:
    from airflow_provider_comagic.landing.storage import store_for, to_storage_path
    from airflow_provider_comagic.landing.writer import PartitionWriter

    target = lake.sub("cost")
    new_ms, new_calls, old_ms = [], collections.Counter(), []
    rows = [{"id": i, "run": "x"} for i in range(100)]
    for n in range(commits):
        started = time.perf_counter()
        writer = PartitionWriter(target.url, "parquet", SCHEMA, conn_id=target.conn_id, max_rows_per_file=100)
        opened = time.perf_counter() - started
        for _ in range(4):
            writer.write(rows)
        started = time.perf_counter()
        writer.commit()
        new_ms.append((opened + time.perf_counter() - started) * 1000)
        if n:  # the first commit replaces nothing
            new_calls.update(writer.store.requests)
        old_ms.append(_old_commit(store_for(to_storage_path(target.url, target.conn_id)), 4) * 1000)
    per_commit = {op: round(count / (commits - 1), 1) for op, count in sorted(new_calls.items())}
    total = sum(per_commit.values())
    print(
        f"{lake.kind:5} cost per commit of 4 parts: protocol {total:.0f} store calls {per_commit}, "
        f"{statistics.median(new_ms):.1f} ms median (p90 {statistics.quantiles(new_ms, n=10)[-1]:.1f}); "
        f"one-write commit it replaced 6 calls (PUT, LIST, 4 DELETE), {statistics.median(old_ms):.1f} ms median"
    )


def _old_commit(store, parts: int) -> float:
    """The replaced protocol's commit on the same store: one manifest write, a listing, a delete per part."""
    fs, directory = store.fs, store.directory
    names = [f"part-old-{i:05d}.parquet" for i in range(parts)]
    for name in names:
        fs.pipe_file(f"{directory}/{name}", b"x" * 1000)
    started = time.perf_counter()
    fs.pipe_file(f"{directory}/_bench_manifest.json", b"{}" * 500)
    fs.invalidate_cache(directory)
    fs.ls(directory, detail=False)
    for name in names:
        fs.rm_file(f"{directory}/{name}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--commits", type=int, default=40)
    parser.add_argument("--stores", default="file,s3")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the tallies are the output (superseded runs log a warning each)
    kinds = args.stores.split(",")
    server = None
    if "s3" in kinds:
        from moto.server import ThreadedMotoServer

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        host, port = moto.get_host_and_port()
        server = S3Server(endpoint_url=f"http://{host}:{port}")
        os.environ["AIRFLOW_CONN_AWS_BENCH"] = server.connection_json()
    failures = 0
    with atomic_conditional_puts():
        for lake in lakes(kinds, server).values():
            failures += pairs(lake, args.pairs) if args.pairs else 0
            failures += kills(lake, args.kills) if args.kills else 0
            if args.commits > 1:
                cost(lake, args.commits)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
