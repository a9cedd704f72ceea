"""Packaging: PEP 639 license metadata, an opt-in pytest plugin, an sdist without stray test files."""

from __future__ import annotations

import importlib.metadata
import pathlib
import subprocess
import sys
import tarfile

REPO = pathlib.Path(__file__).resolve().parents[2]
DIST = "airflow-provider-comagic"


def test_license_is_an_spdx_expression_without_the_deprecated_classifier():
    metadata = importlib.metadata.metadata(DIST)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert not [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]


def test_the_pytest_plugin_is_opt_in():
    # a pytest11 entry point would load the plugin into the test runs of every project that installs the provider
    plugins = [e for e in importlib.metadata.entry_points(group="pytest11") if "airflow_provider_comagic" in e.value]
    assert plugins == []
    assert "airflow_provider_comagic.testing.pytest_plugin" in (REPO / "tests" / "conftest.py").read_text()


def test_sdist_carries_the_package_and_no_test_or_docs_fragments(tmp_path):
    script = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path)!r}))"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "deprecated" not in result.stderr.lower(), result.stderr[-3000:]
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert "airflow_provider_comagic/comagic/catalogue/methods.json" in names
    assert "airflow_provider_comagic/testing/pytest_plugin.py" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/"))], "include tests/ and docs/ together, or neither"
