# The two commands of the README: `make demo` runs an example DAG end to end on the bundled emulator,
# `make test` runs the whole test suite. Both set everything up on a fresh machine.
.PHONY: setup services demo test lint docs bench

setup:
	./scripts/bootstrap.sh

services:
	./scripts/install-services.sh

demo: setup
	.venv/bin/python scripts/demo.py

test: setup services
	.venv/bin/ruff check airflow_provider_comagic tests dags_examples scripts benchmarks
	.venv/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench: setup
	.venv/bin/python benchmarks/run.py
