"""The rooms' import direction (pyproject.toml [tool.importlinter]) holds: checked by import-linter itself."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    executable = shutil.which("lint-imports", path=str(pathlib.Path(sys.executable).parent))
    assert executable, "import-linter is a test dependency (pip install -e '.[test]')"
    return subprocess.run(
        [executable, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_contracts_are_kept():
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    # every contract of pyproject.toml was checked (a contract dropped from the file would go unnoticed)
    assert "Contracts: 7 kept" in result.stdout
