"""Local partitions reach the disk without Airflow's discovery of every provider's file systems."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys
    from airflow_provider_comagic.landing.writer import land_pages
    from airflow_provider_comagic.version_compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.io.fs import _register_filesystems
    else:
        from airflow.io import _register_filesystems

    manifest = land_pages([[{"id": 1}, {"id": 2}]], sys.argv[1], "jsonl")
    assert manifest["rows"] == 2, manifest
    print("discovered", _register_filesystems.cache_info().currsize)
    print("boto", "botocore" in sys.modules)
    """
)


def test_local_landing_does_not_discover_provider_file_systems(tmp_path: Path):
    # a fresh interpreter: the registry is a process-wide cache other tests may have filled
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "day=2024-03-01")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 0, result.stderr
    assert "discovered 0" in result.stdout
    assert "boto False" in result.stdout
    assert len(list((tmp_path / "day=2024-03-01").glob("part-*.jsonl.gz"))) == 1
