# The two commands of the README: `make demo` runs an example DAG end to end on the bundled emulator,
# `make test` runs the whole test suite. Both set everything up on a fresh machine.
.PHONY: setup services demo test test-airflow-2.10 lint docs bench

setup:
	./scripts/bootstrap.sh

services:
	./scripts/install-services.sh

demo: setup
	.venv/bin/python scripts/demo.py

test: setup services
	.venv/bin/ruff check .
	.venv/bin/python scripts/generate_catalogue.py --check
	.venv/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# the second CI leg: the suite on Airflow 2.10 in its own virtualenv
test-airflow-2.10: services
	./scripts/test-airflow-2.10.sh

docs: setup
	.venv/bin/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

bench:
	EXTRAS=test,test-airflow3,bench ./scripts/bootstrap.sh
	.venv/bin/python benchmarks/run.py
