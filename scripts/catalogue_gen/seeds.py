# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
"""Reading a method of the older Markdown reference (``../shared/reference/seeds``).

That reference documents each method as a Markdown section: a ``Метод | `name` `` table, then
``### Параметры запроса`` / ``### Параметры ответа`` pipe tables whose names are in backticks, and fenced
JSON examples. Rows become the same :class:`~catalogue_gen.pages.Row` objects as the HTML pages' tables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from catalogue_gen.pages import COLUMNS, Row

_SECTION = re.compile(r"^## ", re.MULTILINE)
_SUBSECTION = re.compile(r"^### (.+)$", re.MULTILINE)
_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
_LIST_ITEM = re.compile(r"<li>\s*([^<\s]+)\s*-")


def _plain(cell: str) -> str:
    """A cell without Markdown/HTML markup: backticks, ``<blockquote>`` and friends."""
    cell = re.sub(r"<li>", "\n", cell)
    cell = re.sub(r"<[^>]+>", " ", cell)
    return cell.replace("`", "").strip()


def _rows(table: str) -> tuple[list[Row], dict[str, list[str]]]:
    """The rows of a pipe table, and the values its "Допустимые значения" cells list as ``<li>`` items."""
    lines = [line for line in table.splitlines() if "|" in line]
    if len(lines) < 2:
        return [], {}
    header = [cell.strip().lower() for cell in lines[0].split("|")]
    columns = [next((a for p, a in COLUMNS if cell.startswith(p)), "") for cell in header]
    rows, listed = [], {}
    for line in lines[2:]:  # the second line is the ":---" alignment row
        cells = [cell.strip() for cell in line.split("|")]
        row = {attr: _plain(cell) for attr, cell in zip(columns, cells, strict=False) if attr}
        values = _LIST_ITEM.findall(cells[columns.index("values")]) if "values" in columns else []
        if values:  # "<ul><li>1 - Январь</li>...": the allowed values, one per item
            listed[row["name"]] = values
        rows.append(Row(row))
    return rows, listed


def seed_method(path: Path, method: str) -> dict[str, Any]:
    """``{title, roles, version, params, param_values, fields, request, response}`` of ``method``'s section."""
    text = path.read_text(encoding="utf-8")
    section = next((s for s in _SECTION.split(text) if f"`{method}`" in s.split("\n###", 1)[0]), None)
    if section is None:
        raise ValueError(f"{path.name}: no section documents {method}")
    head = dict(
        (key.strip(), _plain(value))
        for key, value in (line.split("|", 1) for line in section.split("\n###", 1)[0].splitlines() if "|" in line)
    )
    parts = dict(zip(_SUBSECTION.findall(section), _SUBSECTION.split(section)[2::2], strict=True))
    examples = {title: _JSON_BLOCK.search(body) for title, body in parts.items()}
    params, param_values = _rows(parts.get("Параметры запроса", ""))
    return {
        "title": head.get("Описание", ""),
        "roles": head.get("Кому доступен", ""),
        "version": head.get("Версия API", ""),
        "params": params,
        "param_values": param_values,
        "fields": _rows(parts.get("Параметры ответа", ""))[0],
        "request": json.loads(examples["JSON структура запроса"].group(1)),
        "response": json.loads(examples["JSON структура ответа"].group(1)),
    }
