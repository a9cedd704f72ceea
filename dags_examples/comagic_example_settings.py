"""Settings the example DAGs share, in one place: copy this file into your dags folder with the examples and edit
it (or set the environment variables) once for all of them.

* ``ACCOUNT_TIMEZONE``: the CoMagic account's IANA zone (its settings page shows it; the connection's Test button
  reports it). Every example's schedule runs on the days of this zone, so each run's data interval is one day of
  the account and lands as one ``date=YYYY-MM-DD`` partition. The landing tasks check it against the account and
  fail, before any report call, when they differ.
* ``DEFAULT_OUTPUT_BASE``: where the examples land when the Airflow Variable ``comagic_output_base`` is not set.
  Each example lands into its own folder under the base (:func:`example_lake`), so no two examples share a report
  folder, and so an asset.
"""

from __future__ import annotations

import os

ACCOUNT_TIMEZONE = os.environ.get("COMAGIC_ACCOUNT_TIMEZONE", "Europe/Moscow")
DEFAULT_OUTPUT_BASE = os.environ.get("COMAGIC_OUTPUT_BASE", "file:///tmp/comagic")


def example_lake(folder: str) -> str:
    """The output path of one example: ``<base>/<folder>``, the base read when the task runs (the Airflow Variable
    ``comagic_output_base``, else ``DEFAULT_OUTPUT_BASE``; a template, never read at parse time)."""
    return "{{ var.value.get('comagic_output_base', '" + DEFAULT_OUTPUT_BASE + "') }}/" + folder
