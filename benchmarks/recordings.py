"""Landing call recordings: files/s, MB/s and peak memory as the recordings grow.

    .venv/bin/python benchmarks/recordings.py                       # 100 calls, recordings of 1, 10 and 60 minutes
    .venv/bin/python benchmarks/recordings.py --calls 300 --seconds 60 600 --concurrency 1 4 8
    .venv/bin/python benchmarks/recordings.py --stores file s3      # s3: moto's server in its own process

The CoMagic emulator CLI runs in its own process with one day (2024-03-01, Europe/Moscow) of ``--calls`` calls
whose recordings all last ``--seconds`` (MP3 at 32 kbit/s: 4 000 bytes a second; ``--kinds mp3 wav`` adds the
two WAV tracks, 16 000 bytes a second each). Each case runs in a fresh process (this checkout first on the path):
it reads the day's calls through ``ComagicHook`` (just the fields the rules read), builds the recordings with
``comagic.recordings.recordings_of``, marks its memory baseline, then times ``land_recordings`` with the hook's
``media_downloader`` into a temporary folder (or a bucket), commit included.

Columns: *files*, *MB* landed; *files/s* and *MB/s* over the landing's wall time; *peak over baseline*: the
kernel's high-water mark (``VmHWM``) reset at the baseline (``/proc/self/clear_refs``), minus the baseline: what
landing the files added at its peak, no sampling. Flat memory means this column does not grow with the file size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.run import MEMORY, child_env, machine  # noqa: E402

TIMEZONE = "Europe/Moscow"


def emulator(calls: int, seconds: float) -> tuple[subprocess.Popen[str], str, str]:
    """The emulator CLI in its own process; returns it, its base URL and its token."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_comagic.testing.comagic.emulator",
            "--port",
            "0",
            "--calls-per-day",
            str(calls),
            "--timezone",
            TIMEZONE,
            "--recording-seconds",
            str(seconds),
        ],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = token = ""
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on" in line:
            url = line.split("listening on", 1)[1].strip().removesuffix("/v2.0")
        elif line.startswith("access_token:"):
            token = line.split(":", 1)[1].strip()
            break
    if not url or not token:
        raise RuntimeError("the emulator did not start")
    return process, url, token


def moto_server() -> tuple[subprocess.Popen[str], str]:
    """moto's S3 server in its own process (its memory is not the landing's)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(100):
        try:
            requests.get(endpoint, timeout=1)
            return process, endpoint
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("moto's server did not start")


def child(case: dict[str, Any]) -> dict[str, Any]:
    """One landing, in this (fresh) process; prints its figures as JSON."""
    import datetime as dt

    from airflow_provider_comagic.comagic.recordings import CALLS_METHOD, recording_fields, recordings_of
    from airflow_provider_comagic.hooks.comagic import ComagicHook
    from airflow_provider_comagic.hooks.media import MediaSettings
    from airflow_provider_comagic.landing.recordings import land_recordings
    from airflow_provider_comagic.utils.time import get_timezone

    tz = get_timezone(TIMEZONE)
    hook = ComagicHook()
    start = dt.datetime(2024, 3, 1, tzinfo=tz)
    fields = recording_fields(CALLS_METHOD, case["kinds"])
    rows = list(hook.iter_rows(CALLS_METHOD, start, start + dt.timedelta(days=1), fields=fields))
    recordings = list(recordings_of(CALLS_METHOD, rows, media_base=hook.media_base_url(), tz=tz, kinds=case["kinds"]))
    downloader = hook.media_downloader(MediaSettings(concurrency=case["concurrency"]))
    del rows
    MEMORY.mark()
    started = time.perf_counter()
    manifest = land_recordings(recordings, case["target"], downloader, conn_id=case.get("conn_id"))
    seconds = time.perf_counter() - started
    return {
        "files": manifest["counts"]["landed"],
        "bytes": manifest["bytes"],
        "seconds": seconds,
        "failed": manifest["counts"]["failed"],
        **MEMORY.report(),
    }


def run_case(case: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(case)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    for line in reversed(output.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"the case failed:\n{output.stdout[-3000:]}\n{output.stderr[-3000:]}")


def target_of(store: str, s3: str | None) -> tuple[str, str | None, Any]:
    """Where a case lands (a fresh folder or bucket prefix), its connection, and how to clear it."""
    if store == "file":
        folder = tempfile.mkdtemp(prefix="comagic-recordings-")
        return folder, None, lambda: shutil.rmtree(folder, ignore_errors=True)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/recordings/date=2024-03-01", "bench_s3", lambda: None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, nargs="+", default=[60, 600, 3600])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--kinds", nargs="+", default=["mp3"])
    parser.add_argument("--stores", nargs="+", default=["file"], choices=["file", "s3"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    print(machine())
    print("| recording | store | concurrency | files | MB | files/s | MB/s | baseline MiB | peak over baseline MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    s3_process, s3 = moto_server() if "s3" in args.stores else (None, None)
    rows = []
    try:
        for seconds in args.seconds:
            process, url, token = emulator(args.calls, seconds)
            env = child_env()
            extra = {"timezone": TIMEZONE}
            env["AIRFLOW_CONN_COMAGIC_DEFAULT"] = json.dumps(
                {"conn_type": "comagic", "host": url, "password": token, "extra": extra}
            )
            if s3:
                aws = {"endpoint_url": s3, "region_name": "us-east-1"}
                env["AIRFLOW_CONN_BENCH_S3"] = json.dumps(
                    {"conn_type": "aws", "login": "x", "password": "x", "extra": aws}
                )
            try:
                for store in args.stores:
                    for concurrency in args.concurrency:
                        target, conn_id, clear = target_of(store, s3)
                        case = {"kinds": args.kinds, "concurrency": concurrency, "target": target, "conn_id": conn_id}
                        result = run_case(case, env)
                        clear()
                        rows.append((seconds, store, concurrency, result))
                        print(line(seconds, store, concurrency, result), flush=True)
            finally:
                process.terminate()
                process.wait(60)
    finally:
        if s3_process is not None:
            s3_process.terminate()
    return 0


def line(seconds: float, store: str, concurrency: int, result: dict[str, Any]) -> str:
    mb = result["bytes"] / 1e6
    return (
        f"| {seconds:>5.0f} s | {store:>4} | {concurrency:>2} | {result['files']:>5} | {mb:>8.1f} | "
        f"{result['files'] / result['seconds']:>7.1f} | {mb / result['seconds']:>7.1f} | "
        f"{result['baseline_mib']:>6.0f} | {result['peak_over_baseline_mib']:>6.1f} |"
    )


if __name__ == "__main__":
    sys.exit(main())
