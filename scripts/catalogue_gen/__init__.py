"""Helpers of ``scripts/generate_catalogue.py``: page parsing, method facts and the override tables."""
