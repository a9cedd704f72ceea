"""What a landing operator records about its Airflow run in a partition's manifest (JSON-safe values only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["run_info"]


def run_info(context: Mapping[str, Any]) -> dict[str, Any]:
    """``dag_id``, ``task_id``, ``run_id`` and ``try_number`` of the running task, where known."""
    ti = context.get("ti") or context.get("task_instance")
    info = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
    }
    return {k: v for k, v in info.items() if isinstance(v, str | int) and not isinstance(v, bool)}
