"""Airflow operators: the landing operators (on :mod:`~airflow_provider_comagic.operators.base`), the agency
client list and the call upload."""
