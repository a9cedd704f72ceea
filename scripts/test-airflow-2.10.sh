#!/usr/bin/env bash
# The second CI leg: the test suite on the last Airflow 2.10 release, in its own virtualenv (.venv-airflow-2.10).
# What needs Airflow 3 (its api-server/dag-processor process test, the UI tests in Chromium) is skipped there with
# the reason.
# universal-pathlib is held below 0.3 as Airflow 2.10's constraints do (0.3 breaks its ObjectStoragePath).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-airflow-2.10
AIRFLOW_210=${AIRFLOW_210:-2.10.5}
if ! command -v uv >/dev/null 2>&1; then python3 -m pip install --quiet --disable-pip-version-check uv; fi
# --install-only: just the virtualenv; COMAGIC_SKIP_INSTALL=1: just the tests (CI installs both legs' virtualenvs
# one after the other, then runs the legs at once)
if [ -z "${COMAGIC_SKIP_INSTALL:-}" ]; then
  [ -x "$VENV/bin/python" ] || uv venv --quiet --python "${PYTHON:-python3}" "$VENV"
  uv pip install --quiet --python "$VENV/bin/python" "apache-airflow==${AIRFLOW_210}" "universal-pathlib>=0.2.2,<0.3" \
    -e ".[test]"
fi
if [ "${1:-}" = "--install-only" ]; then exit 0; fi
AIRFLOW_HOME=$(mktemp -d)
export AIRFLOW_HOME AIRFLOW__CORE__LOAD_EXAMPLES=false
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
"$VENV/bin/airflow" db migrate >/dev/null
"$VENV/bin/python" -c "import airflow; print('Airflow', airflow.__version__)"
"$VENV/bin/python" -m pytest -p no:cacheprovider tests/unit tests/integration tests/dags tests/soak tests/ui ${PYTEST_ARGS:-}
