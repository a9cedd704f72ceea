"""The parts of a catalogue entry: fields, parameters, paging and the window cap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_comagic.utils.time import add_months

ENUM_OBJECT_MEMBERS = frozenset({"value", "value_id"})


def listing(names: Iterable[str]) -> str:
    """``a, b, c`` for error messages, ``(none)`` when empty."""
    names = list(names)
    return ", ".join(names) if names else "(none)"


@dataclass(frozen=True)
class FieldSpec:
    """A field of a response row; ``children`` describe the objects inside an array/object field.

    ``type`` is the page's type (``number``, ``string``, ``boolean``, ``iso8601``, ``enum``, ``array``,
    ``object``) or ``duration`` (report-builder ``hh:mm:ss`` text).
    """

    name: str
    type: str
    filterable: bool
    sortable: bool
    default: bool
    values: tuple[str, ...]
    children: tuple[FieldSpec, ...]
    description: str
    format: str = ""  # "YYYY-MM-DD hh:mm:ss" or "YYYY-MM-DD" for iso8601 fields

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldSpec:
        return cls(
            name=data["name"],
            type=data["type"],
            filterable=data["filterable"],
            sortable=data["sortable"],
            default=data["default"],
            values=tuple(data["values"]),
            children=tuple(cls.from_json(child) for child in data["children"]),
            description=data["description"],
            format=data.get("format", ""),
        )

    @property
    def is_enum_object(self) -> bool:
        """A report-builder enum wrapped as ``{value, value_id}`` (the label and the mnemonic/flag)."""
        return self.type == "object" and {c.name for c in self.children} == ENUM_OBJECT_MEMBERS


@dataclass(frozen=True)
class ParamSpec:
    """A request parameter; ``children`` describe nested objects (``upload.calls`` -> ``calls`` -> ...)."""

    name: str
    type: str
    required: bool
    values: tuple[str, ...]
    description: str
    children: tuple[ParamSpec, ...] = ()
    format: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParamSpec:
        return cls(
            name=data["name"],
            type=data["type"],
            required=data["required"],
            values=tuple(data["values"]),
            description=data["description"],
            children=tuple(cls.from_json(child) for child in data["children"]),
            format=data.get("format", ""),
        )


@dataclass(frozen=True)
class Paging:
    """How a method pages (index.txt "Постраничный вывод" unless its page says otherwise).

    ``pages`` is false for methods without ``limit``/``offset`` (one answer holds every row). ``limit_max`` rows
    per call (10 000; 200 for ``getobj.report_table`` and friends), ``limit_default`` when no ``limit`` is sent
    (1000; 50), ``offset_max`` the largest offset (100 000); ``offset`` is false where only ``limit`` exists
    (``getobj.report_linechart``); ``*_required`` where the page marks the parameter required.
    """

    pages: bool
    limit_default: int | None = None
    limit_max: int | None = None
    limit_required: bool = False
    offset: bool = False
    offset_max: int | None = None
    offset_required: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Paging:
        return cls(**{name: data[name] for name in data if name in cls.__dataclass_fields__})

    @property
    def reachable_rows(self) -> int | None:
        """How many rows one query reaches at most (``offset_max + limit_max``); ``None`` when unbounded."""
        if not self.pages:
            return None
        return (self.offset_max or 0) + (self.limit_max or 0)


@dataclass(frozen=True)
class WindowCap:
    """The longest ``date_from`` .. ``date_till`` span a method accepts: calendar ``months`` or ``days``.

    ``date_till`` may be at most ``months`` calendar months (or ``days`` days) after ``date_from``, both
    wall-clock times in the account's zone; past that the API answers ``date_interval_limit_reached``.
    """

    days: int = 0
    months: int = 0
    note: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, note: str = "") -> WindowCap | None:
        if not data:
            return None
        return cls(days=int(data.get("days", 0)), months=int(data.get("months", 0)), note=note)

    def __str__(self) -> str:
        if self.months:
            return f"{self.months} month{'s' if self.months != 1 else ''}"
        return f"{self.days} day{'s' if self.days != 1 else ''}"

    @property
    def span(self) -> dt.timedelta | None:
        """The cap as a timedelta (``None`` for a calendar-month cap, whose length depends on the start)."""
        return None if self.months else dt.timedelta(days=self.days)

    def latest_till(self, date_from: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
        """The latest ``date_till`` allowed with this ``date_from``: months are counted on the account's wall
        clock (``tz``, else ``date_from``'s zone); a naive ``date_from`` is a wall-clock time already."""
        if not self.months:
            return date_from + dt.timedelta(days=self.days)
        if date_from.tzinfo is None:
            utc = dt.timezone.utc
            return add_months(date_from.replace(tzinfo=utc), self.months, utc).replace(tzinfo=None)
        return add_months(date_from, self.months, tz or date_from.tzinfo)

    def allows(self, date_from: dt.datetime, date_till: dt.datetime, tz: dt.tzinfo | None = None) -> bool:
        return date_till <= self.latest_till(date_from, tz)
