#!/usr/bin/env bash
# Creates .venv (with uv when available, else venv + pip) and installs the provider with the extras in $EXTRAS
# (default: test,test-airflow3: the test extra and what only the Airflow 3 leg can install).
# Idempotent: a second run only re-checks the installation.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! command -v uv >/dev/null 2>&1; then
    "$PY" -m pip install --quiet --disable-pip-version-check uv || true
  fi
  if command -v uv >/dev/null 2>&1; then uv venv --quiet --python "$PY" .venv; else "$PY" -m venv .venv; fi
fi
if command -v uv >/dev/null 2>&1; then
  uv pip install --quiet --python .venv/bin/python -e ".[${EXTRAS:-test,test-airflow3}]"
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${EXTRAS:-test,test-airflow3}]"
fi
