"""The documentation site builds with warnings as errors (autodoc imports every documented module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sphinx_builds_without_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pages = ("operators/report", "operators/upload", "sensors/uploaded_calls", "operators/postgres", "api")
    for page in (*pages, "operators/reference", "operators/report_builder", "warehouse"):
        assert (tmp_path / f"{page}.html").exists(), page
