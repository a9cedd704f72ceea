"""Sphinx configuration of the provider's documentation (built with warnings as errors in CI)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "false")

from airflow_provider_comagic import __version__

project = "airflow-provider-comagic"
author = "airflow-provider-comagic developers"
release = version = __version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "architecture.md"]
html_theme = "alabaster"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = False
suppress_warnings = ["ref.python"]
