"""Pages of rows kept as JSON Lines bytes: how the report operators land rows without decoding them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

__all__ = ["JsonLines"]

_LINE_BREAKS = (b"\n", b"\r")


class JsonLines:
    """One page of rows as JSON Lines: each row one JSON object on its own line, every line newline-terminated.

    Built from the API's undecoded rows (slices of the response body), it lets a writer land JSON Lines by
    copying bytes and Parquet through Arrow's JSON reader, without a Python object per value; :meth:`dicts`
    decodes the rows when Python objects are needed.

    :param data: the lines (``b""`` for no rows).
    :param rows: how many rows (lines) ``data`` holds.
    """

    __slots__ = ("data", "rows")

    def __init__(self, data: bytes, rows: int):
        self.data = data
        self.rows = rows

    @classmethod
    def from_rows(cls, rows: Sequence[Any]) -> JsonLines:
        """Join rows given as JSON objects (``bytes``, ``msgspec.Raw``) or dicts (dumped) into lines.

        Rows are kept byte for byte, except a row whose JSON text holds a line break (pretty-printed
        whitespace), which is re-encoded compactly so that each row stays on one line.
        """
        if not rows:
            return cls(b"", 0)
        parts = [orjson.dumps(row) if isinstance(row, Mapping) else row for row in rows]
        count = len(parts)
        parts.append(b"")  # the last line's newline comes from the join: the page is copied once
        data = b"\n".join(parts)
        if data.count(b"\n") != count or b"\r" in data:
            parts = [_one_line(bytes(part)) for part in parts]
            data = b"\n".join(parts)
        return cls(data, count)

    def dicts(self) -> list[dict[str, Any]]:
        """The rows decoded (one dict per line)."""
        loads = orjson.loads
        return [loads(line) for line in self.data.split(b"\n")[:-1]]

    def __len__(self) -> int:
        return self.rows

    def __repr__(self) -> str:
        return f"JsonLines(rows={self.rows}, bytes={len(self.data)})"


def _one_line(row: bytes) -> bytes:
    return orjson.dumps(orjson.loads(row)) if any(brk in row for brk in _LINE_BREAKS) else row
