"""Loaders from the lake into databases; each reads partitions through :mod:`~airflow_provider_comagic.landing.reader`."""
