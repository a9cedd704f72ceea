"""The README's main job: run the example DAG end to end against the bundled emulator, no account needed.

Starts the Data API emulator on 127.0.0.1, prepares a throwaway Airflow home (SQLite) under ``.demo/``, runs
``comagic_calls_to_object_storage`` for one data interval with ``airflow dags test``, then prints where the
files landed and how many rows each report has, checked against the emulator's truth.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pendulum

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "comagic_calls_to_object_storage"
EXAMPLE_FOLDER = "calls_to_object_storage"  # the example lands into its own folder under the base
REPORTS = {"calls_report": "get.calls_report", "communications_report": "get.communications_report"}


def airflow_env(home: Path, conn: dict, output_base: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_COMAGIC_DEFAULT": json.dumps(conn),
            "COMAGIC_OUTPUT_BASE": output_base,
        }
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", default=None, help="the day to land, YYYY-MM-DD (default: yesterday)")
    parser.add_argument("--calls-per-day", type=int, default=5000)
    parser.add_argument("--output", default=str(ROOT / "output"), help="local folder for the landed files")
    args = parser.parse_args()

    from airflow_provider_comagic.landing.manifest import read_manifest
    from airflow_provider_comagic.landing.reader import iter_landed_rows
    from airflow_provider_comagic.testing import ComagicEmulator, EmulatorConfig

    tz = "Europe/Moscow"
    # the run at midnight `logical` covers the day before it: by default yesterday, the last complete day
    logical = pendulum.parse(args.date, tz=tz).add(days=1) if args.date else pendulum.today(tz)
    start, end = logical.subtract(days=1), logical
    home = ROOT / ".demo" / "airflow-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    output = Path(args.output).resolve()
    airflow = str(Path(sys.executable).parent / "airflow")

    with ComagicEmulator(EmulatorConfig(seed=1, calls_per_day=args.calls_per_day, timezone=tz)) as emulator:
        conn = {
            "conn_type": "comagic",
            "host": emulator.base_url,
            "password": emulator.access_token,
            "extra": {"timezone": tz},  # the emulated account's zone: the landing tasks check it
        }
        env = airflow_env(home, conn, f"file://{output}")
        print(f"Emulator: {emulator.url}  Airflow home: {home}")
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"Running {DAG_ID} for the interval [{start}, {end}) ...")
        run = subprocess.run(
            [airflow, "dags", "test", DAG_ID, logical.to_date_string()],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        (home / "dags-test.log").write_text(run.stdout)
        if run.returncode != 0 or "state=success" not in run.stdout:
            print(run.stdout[-5000:])
            print(f"The DAG run failed; full log: {home / 'dags-test.log'}")
            return 1

        ok = True
        for report, method in REPORTS.items():
            manifests = sorted(output.glob(f"{EXAMPLE_FOLDER}/{report}/*/_manifest.json"))
            manifest = next((m for m in manifests if start.to_date_string() in str(m)), None)
            if manifest is None:
                print(f"{report}: no manifest found under {output / EXAMPLE_FOLDER / report}")
                ok = False
                continue
            landed = read_manifest(str(manifest.parent))
            truth = emulator.truth(
                method, start.format("YYYY-MM-DD HH:mm:ss"), end.subtract(seconds=1).format("YYYY-MM-DD HH:mm:ss")
            )
            landed_ids = sorted(row["id"] for row in iter_landed_rows(str(manifest.parent)))
            same = landed["rows"] == len(truth) and landed_ids == sorted(row["id"] for row in truth)
            match = "equals" if same else "DIFFERS FROM"
            ok &= same
            print(f"{report}: {landed['rows']} rows in {len(landed['files'])} file(s) at {manifest.parent}")
            api = landed.get("api", {})
            print(
                f"    {match} the emulator's truth ({len(truth)} rows); {api.get('calls')} API calls, {api.get('points')} points"
            )
        print(f"Log of the run: {home / 'dags-test.log'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
