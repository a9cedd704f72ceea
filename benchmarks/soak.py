"""The long fault soak: 1 000 randomized landings under injected faults, and the tally.

    .venv/bin/python benchmarks/soak.py [--seeds 1000] [--start 0]

Each seed lands ``get.calls_report`` through the hook and the landing module against a fresh emulator with
random faults (see ``tests/soak/fault_soak.py``) and ends ``ok`` (landed rows equal the truth), ``failed-cleanly``
(a provider error, the previous manifest intact, no new parts) or ``wrong``. Exits 1 if any seed went wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soak.fault_soak import run_seed, tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--start", type=int, default=0, help="first seed")
    args = parser.parse_args()
    # retries log warnings by design; the tally is the output (Airflow 3 hooks log through structlog)
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    started = time.perf_counter()
    results = []
    for seed in range(args.start, args.start + args.seeds):
        results.append(run_seed(seed))
        if results[-1].outcome == "wrong":
            print(results[-1].describe(), flush=True)
        if len(results) % 100 == 0:
            print(f"{len(results)} seeds, {time.perf_counter() - started:.0f} s", flush=True)
    summary = tally(results)
    print(json.dumps({k: v for k, v in summary.items() if k != "wrong"}, indent=2))
    print(f"{summary['seeds']} seeds in {time.perf_counter() - started:.0f} s: {summary['outcomes']}")
    return 1 if summary["outcomes"]["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
