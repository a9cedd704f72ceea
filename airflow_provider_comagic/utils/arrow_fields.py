"""What the vendors' Arrow schemas tell the landing converter, without importing either: the field metadata
keys of a timestamp column, the timestamp unit and the timestamp modes.

A vendor's schema module (:mod:`~airflow_provider_comagic.comagic.schemas`,
:mod:`~airflow_provider_comagic.mcn.call_log`, :mod:`~airflow_provider_comagic.unified.schema`) puts
``source_format``/``source_timezone`` on a timestamp field; :mod:`~airflow_provider_comagic.landing.arrow`
reads them to parse the API's wall-clock strings exactly. ``enum_values``, ``json_text`` and ``sensitive`` tell
the drift rules (:mod:`~airflow_provider_comagic.landing.drift`) what the docs say of a column.
"""

from __future__ import annotations

from typing import Literal

from airflow_provider_comagic.utils.time import API_TIME_FORMAT

__all__ = [
    "DEFAULT_TIME_FORMAT",
    "ENUM_VALUES",
    "JSON_TEXT",
    "SENSITIVE",
    "SOURCE_FORMAT",
    "SOURCE_TIMEZONE",
    "TIMESTAMP_UNIT",
    "TimestampMode",
]

SOURCE_FORMAT = b"source_format"
"""Field metadata: the strptime pattern of the strings a timestamp column is read from."""
SOURCE_TIMEZONE = b"source_timezone"
"""Field metadata: the zone of those wall-clock strings."""
ENUM_VALUES = b"enum_values"
"""Field metadata: the documented values of an enum column, a JSON list; other values land and are counted as
drift (``unlisted``)."""
JSON_TEXT = b"json_text"
"""Field metadata (``b"1"``): a string column documented to hold any JSON value (an object whose keys are data),
stored as its JSON text; such a value is no drift."""
SENSITIVE = b"sensitive"
"""Field metadata (``b"1"``): personal data or a secret; a drift example of it is always masked."""
DEFAULT_TIME_FORMAT = API_TIME_FORMAT
"""The pattern used when a timestamp field names none (the APIs' ``YYYY-MM-DD hh:mm:ss``)."""

TimestampMode = Literal["account", "utc"]
TIMESTAMP_UNIT = "us"
"""Microseconds: what Parquet readers (Spark, BigQuery, DuckDB, PostgreSQL loaders) handle natively."""
