"""Two runs of one partition at once, one slowed, 50 pairs on file:// and 30 on S3 (more in
benchmarks/commit_soak.py): the later commit wins, intact; never a broken partition, never both green with a
broken result (tests/fixtures/landing_races.py)."""

from __future__ import annotations

import collections
import random

from tests.fixtures.lake import lake  # noqa: F401 - fixture
from tests.fixtures.landing_races import SCENARIOS, run_pair

PAIRS = {"file": 50, "s3": 30}
EXPECTED = {  # the slowed run waits at this step for the other run's commit: then...
    "before-c1": ("sequential", "slow"),  # its C1 fails, it re-reads and commits later: it wins
    "before-publish": ("superseded", "fast"),  # its C1 was replaced: the other run wins, it is told so
    "before-c2": ("superseded", "fast"),
    "after-commit": ("sequential", "slow"),  # no overlap: a plain rerun
}


def test_overlapping_runs_never_break_the_partition(lake, capsys):  # noqa: F811
    rng = random.Random(f"pairs-{lake.kind}")
    tally: collections.Counter[str] = collections.Counter()
    violations = []
    checks = 0
    pairs = PAIRS[lake.kind]
    for i in range(pairs):
        scenario = SCENARIOS[i % len(SCENARIOS)]
        outcome = run_pair(lake.url, lake.conn_id, rng, scenario)
        fast, slow = outcome.runs
        tally[outcome.kind] += 1
        checks += outcome.monitor_checks
        violations += [f"pair {i} ({scenario}): {v}" for v in outcome.violations]
        if scenario in EXPECTED:
            kind, who = EXPECTED[scenario]
            expected = (kind, (fast if who == "fast" else slow).name)
            assert (outcome.kind, outcome.winner) == expected, (i, scenario, outcome)
    with capsys.disabled():
        print(
            f"\n{lake.kind}: {pairs} pairs {dict(tally)}, {checks} reads by the monitor, {len(violations)} violations"
        )
    assert violations == []
    assert tally["broken"] == 0 and tally["superseded"] >= 2 * (pairs // len(SCENARIOS))
