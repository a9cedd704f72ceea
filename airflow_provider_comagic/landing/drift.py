"""Schema drift: the policy of a landing task when the API's values do not match its docs, and the record of what
drifted in one partition.

What happens to a value is decided by :mod:`~airflow_provider_comagic.landing.coercion` (fits, lossless coercion,
mismatch) and applied by :mod:`~airflow_provider_comagic.landing.guard`; this module holds:

* :class:`DriftPolicy`: ``on_type_mismatch`` (``rescue``: a mismatch is kept in the rescue column
  :data:`RESCUED_COLUMN` and its typed column is null; ``coerce_only``: a mismatch fails the task; ``fail``: any
  value not exactly as documented, even a coercible one, fails the task), ``max_rescued_fraction`` (a documented
  column whose rescued values pass this share of the partition's rows fails the task at commit: a changed API,
  not noise; up to :data:`RESCUE_ALLOWANCE` rescued values never do) and ``schema_evolution`` (fields the docs do
  not list become new string columns instead of going to the rescue column).
* :class:`DriftTally`: per column and kind of value that arrived, how many values were coerced, rescued, added
  as a new column or were an enum value the docs do not list, with one masked example
  (:func:`~airflow_provider_comagic.landing.masking.mask_example`); plain JSON for a deferral, the manifest's
  ``drift`` section, one log line per column, the limit check.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_comagic.exceptions import LandingError, SchemaDriftError
from airflow_provider_comagic.landing.masking import mask_example

__all__ = [
    "DEFAULT_MAX_RESCUED_FRACTION",
    "NOT_DOCUMENTED",
    "POLICIES",
    "RESCUED_COLUMN",
    "RESCUE_ALLOWANCE",
    "UNLISTED",
    "DriftPolicy",
    "DriftTally",
]

log = logging.getLogger(__name__)

RESCUED_COLUMN = "_rescued"
"""The rescue column of a typed partition: a nullable string, per row a JSON object of the fields whose values
did not fit (exactly as the API sent them), null when every value fit."""
POLICIES = ("rescue", "coerce_only", "fail")
DEFAULT_MAX_RESCUED_FRACTION = 0.05
RESCUE_ALLOWANCE = 5
"""Rescued values of one column that never fail a task, whatever ``max_rescued_fraction`` says: too few to tell a
changed API from noise (a small partition)."""
NOT_DOCUMENTED = "not documented"
"""The documented type recorded for a field the docs do not list."""
UNLISTED = "unlisted value"
"""What arrived, for an enum value the docs do not list (it lands as text)."""
_COUNTS = ("coerced", "rescued", "added", "unlisted")


def _described(entry: Mapping[str, Any]) -> str:
    """``3 coerced as digit string (e.g. '515')``; ``2 values the docs do not list (e.g. 'x')``."""
    if entry["arrived"] == UNLISTED:
        return f"{entry['unlisted']} values the docs do not list (e.g. {entry['example']!r})"
    counts = ", ".join(f"{entry[what]} {what}" for what in _COUNTS if entry[what])
    return f"{counts} as {entry['arrived']} (e.g. {entry['example']!r})"


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1 or math.isnan(value):
        raise LandingError(f"{name} must be a number from 0 to 1 (a share of the partition's rows), got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class DriftPolicy:
    """What a landing task does with values that do not match the docs (see the module docstring).

    :param on_type_mismatch: ``"rescue"`` (default), ``"coerce_only"`` or ``"fail"``.
    :param max_rescued_fraction: the largest share (0-1) of a partition's rows whose value of one documented column
        may be rescued; a mapping gives it per column (``{"talk_duration": 0.5}``; ``"*"`` sets the others, else
        :data:`DEFAULT_MAX_RESCUED_FRACTION`); None: no limit.
    :param schema_evolution: fields the docs do not list become new (string) columns instead of being rescued
        (under ``coerce_only``/``fail``, instead of failing).

    Raises :class:`~airflow_provider_comagic.exceptions.LandingError` naming the bad option.
    """

    on_type_mismatch: str = "rescue"
    max_rescued_fraction: float | Mapping[str, float] | None = DEFAULT_MAX_RESCUED_FRACTION
    schema_evolution: bool = False

    def __post_init__(self) -> None:
        if self.on_type_mismatch not in POLICIES:
            raise LandingError(f"on_type_mismatch must be one of {', '.join(POLICIES)}, got {self.on_type_mismatch!r}")
        limit = self.max_rescued_fraction
        if isinstance(limit, Mapping):
            for column, value in limit.items():
                if not isinstance(column, str) or not column:
                    raise LandingError(f"max_rescued_fraction: keys are column names, got {column!r}")
                _fraction(value, f"max_rescued_fraction[{column!r}]")
            object.__setattr__(self, "max_rescued_fraction", dict(limit))
        elif limit is not None:
            object.__setattr__(self, "max_rescued_fraction", _fraction(limit, "max_rescued_fraction"))
        if not isinstance(self.schema_evolution, bool):
            raise LandingError(f"schema_evolution must be True or False, got {self.schema_evolution!r}")

    def limit_for(self, column: str) -> float | None:
        """The share of rows whose ``column`` value may be rescued (None: any)."""
        limit = self.max_rescued_fraction
        if isinstance(limit, Mapping):
            return limit.get(column, limit.get("*", DEFAULT_MAX_RESCUED_FRACTION))
        return limit

    def as_json(self) -> dict[str, Any]:
        return {
            "on_type_mismatch": self.on_type_mismatch,
            "max_rescued_fraction": self.max_rescued_fraction,
            "schema_evolution": self.schema_evolution,
        }


class DriftTally:
    """What drifted in one partition: an entry per (column, kind of value that arrived) with its documented type,
    its counts (``coerced``, ``rescued``, ``added``, ``unlisted``) and one masked example; rows with a rescued value.

    Only masked examples are ever held (never a raw value), so its :meth:`to_json` may go anywhere.
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.rescued_rows = 0

    def _entry(self, column: str, documented: str, arrived: str, value: Any, sensitive: bool) -> dict[str, Any]:
        entry = self.entries.get((column, arrived))
        if entry is None:
            entry = self.entries[(column, arrived)] = {
                "column": column,
                "documented": documented,
                "arrived": arrived,
                **dict.fromkeys(_COUNTS, 0),
                "example": mask_example(column, value, sensitive=sensitive),
            }
        return entry

    def count(
        self, what: str, column: str, documented: str, arrived: str, value: Any, *, sensitive: bool = False, n: int = 1
    ) -> None:
        """Count ``n`` values of ``column`` that were ``what`` (``coerced``, ``rescued``, ``added``, ``unlisted``);
        ``value`` is the example (masked here) kept by the entry's first count."""
        self._entry(column, documented, arrived, value, sensitive)[what] += n

    def rescued_in(self, column: str) -> int:
        """Values of ``column`` rescued so far (every kind that arrived)."""
        return sum(e["rescued"] for (name, _), e in self.entries.items() if name == column)

    # -- the record ---------------------------------------------------------------------------------------------
    def summary(self, rows: int, policy: DriftPolicy) -> dict[str, Any]:
        """The manifest's ``drift`` section: the policy, the rows with a rescued value, every entry (sorted by
        column)."""
        columns = [
            {k: v for k, v in entry.items() if k not in _COUNTS or v}
            for _, entry in sorted(self.entries.items(), key=lambda item: item[0])
        ]
        return {"policy": policy.as_json(), "rows": rows, "rescued_rows": self.rescued_rows, "columns": columns}

    def log_lines(self) -> list[str]:
        """One line per column: its documented type, then per kind that arrived its counts and example."""
        by_column: dict[str, list[dict[str, Any]]] = {}
        for (column, _), entry in sorted(self.entries.items()):
            by_column.setdefault(column, []).append(entry)
        lines = []
        for column, entries in by_column.items():
            parts = [_described(entry) for entry in entries]
            documented = entries[0]["documented"]
            what = "a field the docs do not list" if documented == NOT_DOCUMENTED else f"documented {documented}"
            lines.append(f"Schema drift in {column} ({what}): {'; '.join(parts)}")
        return lines

    def log(self, label: str = "") -> None:
        for line in self.log_lines():
            log.warning("%s%s", f"{label}: " if label else "", line)

    def check_limits(self, rows: int, policy: DriftPolicy) -> None:
        """Raise :class:`~airflow_provider_comagic.exceptions.SchemaDriftError` for the first documented column
        (by name) whose rescued values pass its ``max_rescued_fraction`` of ``rows`` (and :data:`RESCUE_ALLOWANCE`)."""
        columns = sorted({column for (column, _), e in self.entries.items() if e["rescued"]})
        for column in columns:
            entries = [e for (name, _), e in self.entries.items() if name == column and e["rescued"]]
            if entries[0]["documented"] == NOT_DOCUMENTED:
                continue  # a field the API added is no broken promise: it never fails the task
            limit = policy.limit_for(column)
            rescued = sum(e["rescued"] for e in entries)
            if limit is None or rescued <= RESCUE_ALLOWANCE or rescued <= limit * rows:
                continue
            arrived = ", ".join(f"{e['rescued']} as {e['arrived']} (e.g. {e['example']!r})" for e in entries)
            raise SchemaDriftError(
                f"Schema drift: {rescued} of {rows} values of {column} (documented {entries[0]['documented']}) did "
                f"not match the docs ({rescued / max(rows, 1):.1%}, more than max_rescued_fraction={limit:g} "
                f"allows): {arrived}. This looks like a changed API, not noise; nothing was committed (the "
                f"partition keeps its previous copy). Check the values, then raise the limit for this column "
                f"(max_rescued_fraction={{{column!r}: 1.0}}) or fix the column's type.",
                column=column,
            )

    # -- plain JSON (a deferral's checkpoint) ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"entries": [dict(e) for e in self.entries.values()], "rescued_rows": self.rescued_rows}

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None) -> DriftTally:
        tally = cls()
        for entry in (state or {}).get("entries") or ():
            tally.entries[(entry["column"], entry["arrived"])] = {**dict.fromkeys(_COUNTS, 0), **entry}
        tally.rescued_rows = int((state or {}).get("rescued_rows") or 0)
        return tally
