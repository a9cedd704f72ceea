"""Fault soak, bounded: randomized landings under injected faults end exact or fail cleanly (no partial commit).

Runs in the default suite (``COMAGIC_SOAK_SEEDS`` seeds, 50 by default); ``benchmarks/soak.py`` runs 1 000.
"""

from __future__ import annotations

import os

import pytest

from tests.soak.fault_soak import SoakResult, run_seed, tally

pytestmark = [pytest.mark.soak, pytest.mark.integration]

SEEDS = int(os.environ.get("COMAGIC_SOAK_SEEDS", "50"))


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[SoakResult]:
    workdir = tmp_path_factory.mktemp("soak")
    return [run_seed(seed, workdir) for seed in range(SEEDS)]


def test_every_seed_is_exact_or_fails_cleanly(results: list[SoakResult]) -> None:
    summary = tally(results)
    assert summary["outcomes"]["wrong"] == 0, "\n".join(summary["wrong"])


def test_the_soak_exercises_faults_and_completes_runs(results: list[SoakResult]) -> None:
    """A soak where nothing fires, or every run fails, proves nothing."""
    summary = tally(results)
    assert summary["outcomes"]["ok"] >= len(results) // 2, summary
    fired = summary["faults_fired"]
    for kind in ("http_500", "drop", "truncate", "internal_error", "limit_exceeded", "expire_session", "add_rows"):
        assert fired.get(kind, 0) > 0, f"{kind} never fired in {len(results)} seeds: {fired}"
    assert any(r.max_offset < r.rows for r in results if r.outcome == "ok"), "no run needed a continuation window"
