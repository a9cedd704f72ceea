"""``methods.json``, read once."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def catalogue() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("methods.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def operator_order() -> tuple[str, ...]:
    """The filter operators in their documented order (index.txt "Операторы фильтрации")."""
    return tuple(catalogue()["filter_operators"])
