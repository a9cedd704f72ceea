"""Numbers as people read them in a task log: bytes (``12.4 MB``), durations (``2 min 05 s``), counts (``310 000``)."""

from __future__ import annotations

__all__ = ["human_bytes", "human_count", "human_duration"]

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KB``, decimal units (1 KB = 1 000 B, as object stores bill them)."""
    value, unit = float(count), 0
    while abs(value) >= 1000 and unit < len(_BYTE_UNITS) - 1:
        value, unit = value / 1000, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_BYTE_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """``0.4`` -> ``0.4 s``, ``125`` -> ``2 min 05 s``, ``3725`` -> ``1 h 02 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def human_count(count: int) -> str:
    """``310000`` -> ``310 000`` (thin groups, no locale)."""
    return f"{count:,}".replace(",", " ")
