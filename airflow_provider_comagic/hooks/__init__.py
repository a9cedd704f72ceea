"""Airflow hooks: the CoMagic sync and async Data API clients and the MCN Telecom client."""
