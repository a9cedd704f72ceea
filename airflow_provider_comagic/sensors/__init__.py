"""Airflow sensors: waiting for uploaded calls to be processed."""
