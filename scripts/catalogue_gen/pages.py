# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
# ruff: noqa: RUF002, RUF003
"""Reading one documentation page: sections, tables, nesting, the JSON examples.

The pages under ``comagic-docs/`` are text renders of the HTML documentation: every table cell is a line
``<indent>| text``; a cell may continue on following lines that carry no ``|`` (enum value lists, wrapped
descriptions, even a field name in nested tables). Tables have no row markers, so rows are recovered from
the column count of the table header, and single-cell rows are group headers ("Проставленные теги").

Nesting (``tags`` -> ``tag_id``...) is recovered from the table order and checked against the page's JSON
example, which wins where the table alone is ambiguous (see :func:`nest`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Type cells that are not the API's types (index.txt: number, string, boolean, iso8601, enum, array, object):
# call_legs_report documents contact_id as "id", the report-builder pages write "numeric"/"integer"/"text",
# getobj.site has the typo "nustringmber" (its example holds a domain name), two pages write "date".
TYPE_FIXES: dict[str, str] = {
    "id": "number",
    "numeric": "number",
    "integer": "number",
    "text": "string",
    "nustringmber": "string",
    "date": "iso8601",
}
# "duration" (report-builder pages: "hh:mm:ss" text, e.g. "00:00:30") is kept as its own type.

# Column headers (by prefix; the pages have typos such as "Названия", "Описани") -> attribute.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("назван", "name"),
    ("тип", "type"),
    ("обязат", "required"),
    ("допуст", "values"),
    ("фильтр", "filterable"),
    ("сортир", "sortable"),
    ("ответ по", "default"),
    ("описан", "description"),
)

_CELL = re.compile(r"^(\s*)\|(.*)$")
_HEADING = re.compile(r"^(#+)\s*(.*?)\s*$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE = re.compile(r"^[a-z0-9_]+( или [a-z0-9_]+)?$")
METHOD_NAME = re.compile(r'^"?([a-z_]+\.[a-z_]+)"?$')
_FORMAT = re.compile(r"^[YMDhms:\- ]+$")
_ENUM_ITEM = re.compile(r"^(\S+?)\s*-\s+\S")
# a name cell whose text starts on the next line, indented this much deeper than its bar, is a nested member
# (the report-builder pages: "| \n                value" under an object row, where the JSON example is "{}")
_NESTED_INDENT = 3


@dataclass
class Section:
    """Lines under one markdown heading of a page."""

    title: str
    lines: list[str]


@dataclass
class Cell:
    """One table cell: its text and whether it is indented as a nested member's name."""

    text: str
    nested: bool = False


@dataclass
class Row:
    """One table row (a field or a parameter) and, once nested, its children."""

    cells: dict[str, str]
    children: list[Row] = field(default_factory=list)
    nested: bool = False  # the name cell is indented as a member of the object row above

    @property
    def name(self) -> str:
        return self.cells["name"]

    @property
    def raw_type(self) -> str:
        return " ".join(self.cells.get("type", "").lower().split())

    @property
    def type(self) -> str:
        return TYPE_FIXES.get(self.raw_type, self.raw_type)


def read_sections(path: Path) -> list[Section]:
    sections = [Section("", [])]
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADING.match(line)
        if match:
            sections.append(Section(match.group(2), []))
        else:
            sections[-1].lines.append(line)
    return sections


def find_section(sections: list[Section], pattern: str) -> Section | None:
    regex = re.compile(pattern, re.IGNORECASE)
    return next((s for s in sections if regex.search(s.title)), None)


def table_cells(lines: list[str]) -> list[Cell]:
    """Table cells of a section: a ``|`` line opens a cell, other non-blank lines continue the last one."""
    parts: list[list[str]] = []
    nested: list[bool] = []
    bars: list[int] = []
    for line in lines:
        match = _CELL.match(line)
        if match:
            parts.append([match.group(2).strip()])
            bars.append(len(match.group(1)))
            nested.append(False)
        elif line.strip() and parts:
            if len(parts[-1]) == 1 and not parts[-1][0]:
                indent = len(line) - len(line.lstrip())
                nested[-1] = indent - bars[-1] >= _NESTED_INDENT
            parts[-1].append(line.strip())
    texts = ["\n".join(part for part in cell if part).strip() for cell in parts]
    # a wrapped line repeating the next cell is a render artefact ("Последний разговаривавший сотрудник")
    for i in range(len(texts) - 1):
        head, _, last = texts[i].rpartition("\n")
        if head and last == texts[i + 1]:
            texts[i] = head
    return [Cell(text, flag) for text, flag in zip(texts, nested, strict=True)]


def cells_of(lines: list[str]) -> list[str]:
    """The texts of :func:`table_cells`."""
    return [cell.text for cell in table_cells(lines)]


def parse_table(lines: list[str]) -> list[Row | str]:
    """Rows (and group-header strings) of the first table in ``lines``, keyed by column attribute."""
    cells = table_cells(lines)
    columns: list[str] = []
    for cell in cells:
        attr = next((a for p, a in COLUMNS if cell.text.lower().replace("\n", " ").startswith(p)), None)
        if attr is None:
            break
        columns.append(attr)
    if "name" not in columns:
        return []
    items: list[Row | str] = []
    i, width = len(columns), len(columns)
    while i < len(cells):
        nxt = cells[i + 1].text.lower() if i + 1 < len(cells) else ""
        if _IDENT.match(cells[i].text) and _TYPE.match(nxt) and i + width <= len(cells):
            texts = [cell.text for cell in cells[i : i + width]]
            items.append(Row(dict(zip(columns, texts, strict=True)), nested=cells[i].nested))
            i += width
        else:
            items.append(cells[i].text.replace("\n", " "))  # group header: a row with one cell
            i += 1
    return items


def _repaired(text: str) -> str:
    """Cheap repairs of the pages' invalid JSON examples: ``.....`` placeholders, trailing commas, ``]]``."""
    text = re.sub(r"^\s*\.{2,}\s*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"\]\s*\]", "]", text)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return text


def json_example(section: Section | None, notes: list[str] | None = None, where: str = "") -> Any:
    """The JSON object of an example section; a page's invalid JSON is repaired, else ``None`` (table only)."""
    if section is None:
        return None
    text = "\n".join(section.lines)
    start, end = text.find("{"), text.rfind("}")
    if start < 0:
        return None
    body = text[start : end + 1]
    for candidate in (body, _repaired(body)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    if notes is not None:
        notes.append(f"{where}: invalid JSON example ignored; the table alone gives the shape")
    return None


def response_node(example: Any) -> Any:
    """The JSON object that describes one response row (``result.data[0]``, ``result[0]`` or ``result.data``)."""
    result = (example or {}).get("result") if isinstance(example, dict) else None
    if isinstance(result, dict) and "data" in result:
        result = result["data"]
    return result


def keys_of(node: Any) -> frozenset[str] | None:
    if isinstance(node, list):
        return keys_of(node[0]) if node else None
    if isinstance(node, dict) and node:
        return frozenset(node)
    return None


def child_node(node: Any, name: str) -> Any:
    if isinstance(node, list):
        node = node[0] if node else None
    return node.get(name) if isinstance(node, dict) else None


@dataclass
class _Level:
    row: Row | None
    keys: frozenset[str] | None
    node: Any
    by_header: bool
    children: list[Row]
    by_indent: bool = False


def _open_by_indent(stack: list[_Level], previous: Row | None) -> None:
    """A nested-indented row right after an object/array row that is not open yet opens it."""
    if previous is None or previous.type not in ("array", "object") or stack[-1].row is previous:
        return
    parent = next(level for level in reversed(stack) if any(row is previous for row in level.children))
    while stack[-1] is not parent:
        stack.pop()
    node = child_node(parent.node, previous.name)
    stack.append(_Level(previous, keys_of(node), node, False, [], True))


def nest(items: list[Row | str], example: Any) -> list[Row]:
    """Attach rows to the array/object rows that own them.

    Table rule (the docs' convention): an ``array``/``object`` row directly after a group header owns the
    following rows until the next group header. The JSON example refines it: a row the example shows
    inside the open container stays in it across a sub-header (campaign_daily_stat ``communications`` ->
    ``tags``); a row the example shows in an outer object closes the container (calls_report: the table
    runs ``source``, ``is_lost``... on after ``scenario_operations`` children with no header, while the
    example has them at row level). A container the example shows with object members opens without a
    header (upload.calls ``calls``); one the example shows as an empty list closes at a row the example shows
    outside (get.sites ``connected_integrations``, ``parent_id``). Where the example is empty (get.chats: ``{}``), a name cell indented
    as a nested member opens the object row above it (``chat_status`` -> ``value``, ``value_id``) until a
    row indented as a top-level one.
    """
    root = _Level(None, keys_of(example), example, False, [])
    stack = [root]
    after_header = False
    previous: Row | None = None
    for item in items:
        if isinstance(item, str):
            after_header = True
            continue
        name = item.name
        if after_header:
            while len(stack) > 1 and stack[-1].by_header and name not in (stack[-1].keys or ()):
                stack.pop()
        if item.nested and not after_header:
            _open_by_indent(stack, previous)
        elif not item.nested:
            while len(stack) > 1 and stack[-1].by_indent and name not in (stack[-1].keys or ()):
                stack.pop()
        while (
            len(stack) > 1
            and (stack[-1].keys is not None or stack[-1].by_indent or stack[-1].node == [])
            and name not in (stack[-1].keys or ())
            and any(name in (level.keys or ()) for level in stack[:-1])
        ):
            stack.pop()
        parent = stack[-1]
        parent.children.append(item)
        if parent.row is not None:
            parent.row.children = parent.children
        if item.type in ("array", "object"):
            node = child_node(parent.node, name)
            keys = keys_of(node)
            if after_header or keys:
                stack.append(_Level(item, keys, node, after_header, []))
        after_header = False
        previous = item
    return root.children


def yes(text: str | None) -> bool:
    return (text or "").strip().lower() == "да"


def parse_values(cell: str, type_: str) -> tuple[list[str], str]:
    """(allowed values, format) of a "Допустимые значения" cell."""
    text = cell.strip()
    if not text:
        return [], ""
    if _FORMAT.match(" ".join(text.split())):
        # normalised: the pages carry typos such as "YYYY-DD-MM hh:mm:ss" (chats) and "YYY-MM-DD" (offline);
        # "hh:mm:ss" alone is a time of day (report builder call_start_time: "19:29:27")
        if "Y" not in text:
            return [], "hh:mm:ss"
        return [], "YYYY-MM-DD hh:mm:ss" if "hh" in text else "YYYY-MM-DD"
    if type_ not in ("enum", "boolean", "array"):
        return [], ""  # prose ("E164", "Формат IANA zoneinfo") stays in the description
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if any(_ENUM_ITEM.match(line) for line in lines):
        # "in - Входящая;" / "call_tracking- Аналитика;": one value per line, prose after the dash
        pieces = [_ENUM_ITEM.match(line).group(1) for line in lines if _ENUM_ITEM.match(line)]
    elif "," in text:
        pieces = " ".join(lines).split(",")  # "Новый, Вернувшийся, Не\nзаполнен" wraps inside a value
    else:
        pieces = " ".join(lines).split()
    values: list[str] = []
    for piece in pieces:
        value = piece.strip().rstrip(";.,").strip()
        if value and value not in values:
            values.append(value)
    return values, ""


def description(row: Row) -> str:
    return " ".join(row.cells.get("description", "").split())


def _unique(rows: list[Row], method: str, notes: list[str], where: str) -> list[Row]:
    """A name listed twice in one table (notifications.notification_error_message): the first row stays."""
    seen: dict[str, Row] = {}
    for row in rows:
        if row.name in seen:
            notes.append(f"{method}: {where} {row.name} listed twice; the first row kept")
            continue
        seen[row.name] = row
    return list(seen.values())


def field_json(row: Row, has_default_column: bool, method: str = "", notes: list[str] | None = None) -> dict[str, Any]:
    values, fmt = parse_values(row.cells.get("values", ""), row.type)
    if row.raw_type == "date" and not fmt:
        fmt = "YYYY-MM-DD"
    children = _unique(row.children, method, notes if notes is not None else [], f"field {row.name}.")
    return {
        "name": row.name,
        "type": row.type,
        "filterable": yes(row.cells.get("filterable")),
        "sortable": yes(row.cells.get("sortable")),
        # pages without the "Ответ по умолчанию" column return every field by default
        "default": yes(row.cells.get("default")) if has_default_column else True,
        "values": values,
        "format": fmt,
        "children": [field_json(child, has_default_column, method, notes) for child in children],
        "description": description(row),
    }


def fields_json(rows: list[Row], has_default_column: bool, method: str, notes: list[str]) -> list[dict[str, Any]]:
    return [field_json(row, has_default_column, method, notes) for row in _unique(rows, method, notes, "field")]


def param_json(row: Row) -> dict[str, Any]:
    values, fmt = parse_values(row.cells.get("values", ""), row.type)
    required = " ".join(row.cells.get("required", "").split())
    text = description(row)
    if required.lower().startswith("да,"):
        # conditional ("да, если нет chat_id или chat_ids"): not required on its own; keep the condition
        text = f"Обязательный: {required}. {text}"
    return {
        "name": row.name,
        "type": row.type,
        "required": yes(required),
        "values": values,
        "format": fmt,
        "children": [param_json(child) for child in row.children],
        "description": text,
    }


_API_TYPES = frozenset({"number", "string", "boolean", "iso8601", "enum", "array", "object"})


def example_type(value: Any) -> str:
    """Type of a JSON example value: examples mostly hold type names, some hold sample values."""
    if isinstance(value, str):
        if value in _API_TYPES:
            return value
        return "boolean" if value in ("true", "false") else "string"  # upload.calls: "success": "true"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:  # an example's null says nothing of the type: text never loses a value
        return "string"
    return "array" if isinstance(value, list) else "object"


def example_field(name: str, value: Any, *, default: bool = True, note: str = "") -> dict[str, Any]:
    """A field known only from a JSON example, typed by the example."""
    return {
        "name": name,
        "type": example_type(value),
        "filterable": False,
        "sortable": False,
        "default": default,
        "values": [],
        "format": "YYYY-MM-DD hh:mm:ss" if example_type(value) == "iso8601" else "",
        "children": example_fields(value),
        "description": note or "(from the JSON response example)",
    }


def example_fields(node: Any) -> list[dict[str, Any]]:
    """Children known only from the JSON example (chat_messages ``resource``): typed by the example."""
    if isinstance(node, list):
        node = node[0] if node else None
    if not isinstance(node, dict):
        return []
    return [example_field(name, value) for name, value in node.items()]


def value_table(sections: list[Section], title: str) -> list[str]:
    section = find_section(sections, "^" + re.escape(title))
    cells = cells_of(section.lines) if section else []
    return [c for c in cells[2::2] if c]  # skip the "Мнемоника | Описание" header


def method_table(sections: list[Section], method: str) -> dict[str, str]:
    """The leading "Метод / Описание / Кому доступен / Вес метода" table as a key -> value dict."""
    for section in sections:
        cells = cells_of(section.lines)
        table = dict(zip(cells[::2], cells[1::2], strict=False))
        found = METHOD_NAME.match(table.get("Метод", ""))
        if found and found.group(1) == method:
            return table
    raise ValueError(f"{method}: no method table")


def page_method(path: Path) -> str | None:
    """The method a page documents (its "Метод" table), or ``None`` for list and topic pages."""
    for section in read_sections(path):
        cells = cells_of(section.lines)
        table = dict(zip(cells[::2], cells[1::2], strict=False))
        found = METHOD_NAME.match(table.get("Метод", ""))
        if found:
            return found.group(1)
    return None


def table_notes(method: str, rows: list[Row], node: Any, where: str, path: str = "") -> list[str]:
    """Differences between a table and its JSON example, reported while generating."""
    keys = keys_of(node)
    if keys is None:
        return []
    names = {row.name for row in rows}
    notes = [f"{method}: {where} {path}{name} in the table only" for name in sorted(names - keys)]
    notes += [f"{method}: {where} {path}{name} in the JSON example only" for name in sorted(keys - names)]
    for row in rows:
        if row.children:
            notes += table_notes(method, row.children, child_node(node, row.name), where, f"{path}{row.name}.")
    return notes
