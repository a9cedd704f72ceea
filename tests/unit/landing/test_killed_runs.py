"""A landing process SIGKILLed at chosen and random points, 30 times on file:// and 20 on S3 (tests/fixtures/landing_crash.py):
the manifest always holds the previous or the new complete copy, a glob reader never sees a stray file or two
copies, and the next run repairs the partition and lands the truth with no stray file."""

from __future__ import annotations

import collections
import os
import random

from tests.fixtures.lake import lake  # noqa: F401 - fixture
from tests.fixtures.landing_crash import Partition, context, pilot_duration, plans

KILLS, PAGES = {"file": 30, "s3": 20}, 5


def test_killed_landings_never_break_the_partition(lake, capsys):  # noqa: F811
    ctx = context()
    env = {name: value for name, value in os.environ.items() if name.startswith("AIRFLOW_CONN_")}
    partition = Partition(lake, env)
    rng = random.Random(f"kills-{lake.kind}")
    duration = pilot_duration(ctx, partition, PAGES)
    kills = KILLS[lake.kind]
    outcomes = [partition.kill_once(ctx, plan, PAGES) for plan in plans(rng, kills, PAGES, duration)]
    violations = [f"{o.plan}: {v}" for o in outcomes for v in o.violations]
    killed = sum(o.killed for o in outcomes)
    states = collections.Counter(o.state for o in outcomes)
    globs = collections.Counter(o.glob for o in outcomes)
    with capsys.disabled():
        print(
            f"\n{lake.kind}: {killed} kills of {len(outcomes)} runs; committed copy after the kill {dict(states)}; "
            f"glob view {dict(globs)}; {sum(o.stray_visible for o in outcomes)} stray visible files; "
            f"{sum(bool(o.leftovers_after_rerun) for o in outcomes)} reruns left hidden parts of the killed run "
            f"for the grace period; {len(violations)} violations"
        )
    assert violations == []
    assert killed == kills
    assert states["previous"] and states["new"]  # kills before and after the commit point both happened
