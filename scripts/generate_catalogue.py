#!/usr/bin/env python3
# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
# ruff: noqa: RUF001, RUF002, RUF003
"""Generate ``airflow_provider_comagic/comagic/catalogue/methods.json`` from the Data API documentation pages.

The pages under ``comagic-docs/`` are text renders of the HTML documentation: every table cell is a line
``<indent>| text``; a cell may continue on following lines that carry no ``|`` (enum value lists, wrapped
descriptions, even a field name in nested tables). Tables have no row markers, so rows are recovered from
the column count of the table header, and single-cell rows are group headers ("Проставленные теги").

Nesting (``tags`` -> ``tag_id``...) is recovered from the table order and checked against the page's JSON
example, which wins where the table alone is ambiguous (see :func:`_nest`). Facts the pages do not state in a
parseable way live in the commented override tables below.

Usage::

    python scripts/generate_catalogue.py [DOCS_DIR]          # (re)write methods.json
    python scripts/generate_catalogue.py [DOCS_DIR] --check  # exit 1 if methods.json is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = REPO_ROOT.parent / "shared" / "reference" / "comagic-docs"
OUTPUT = REPO_ROOT / "airflow_provider_comagic" / "comagic" / "catalogue" / "methods.json"

# method -> documentation page that describes it
DOC_PAGES: dict[str, str] = {
    "get.calls_report": "report.get_calls_report.txt",
    "get.communications_report": "report.get_communications_report.txt",
    "get.call_legs_report": "report.get_call_legs_report.txt",
    "get.goals_report": "report.get_goals_report.txt",
    "get.chats_report": "report.get_chats_report.txt",
    "get.chat_messages_report": "report.get_chat_messages_report.txt",
    "get.offline_messages_report": "report.get_offline_messages_report.txt",
    "get.visitor_sessions_report": "report.get_visitor_sessions_report.txt",
    "get.financial_call_legs_report": "report.get_financial_call_legs_report.txt",
    "get.campaign_daily_stat": "report.get_campaign_daily_stat.txt",
    "get.uploaded_calls": "communication.get_uploaded_calls.txt",
    "upload.calls": "communication.upload_calls.txt",
    "login.user": "authentication.login_user.txt",
    "logout.user": "authentication.logout_user.txt",
    "get.account": "account.get_account.txt",
    "getobj.account": "account_new.getobj_account.txt",
    "get.customers": "partner.get_customers.txt",
    "get.customer_users": "partner.get_customer_users.txt",
}

# The ten report methods (the seeds' list), in the order operators and docs present them.
REPORT_METHODS: tuple[str, ...] = (
    "get.calls_report",
    "get.communications_report",
    "get.call_legs_report",
    "get.goals_report",
    "get.chats_report",
    "get.chat_messages_report",
    "get.offline_messages_report",
    "get.visitor_sessions_report",
    "get.financial_call_legs_report",
    "get.campaign_daily_stat",
)

# Row semantics the pages state only in prose (or not at all):
#   time_field: the row field that date_from/date_till select on; incremental loads window on it.
#   key: fields identifying a row uniquely, used for de-duplication across overlapping pages; () = none.
#   order: sortable fields that fix every row's position when the time field is not sortable (the paging
#     engine sorts by them, so rows whose other fields change between pages do not move); () = none.
#   order_ties: at most how many rows can share the values of the order fields (the engine re-reads that
#     many rows minus one at each page boundary, so rows the server orders differently within a tie are
#     still each read); 1 when the order is unique.
OVERRIDES: dict[str, dict[str, Any]] = {
    "get.calls_report": {"time_field": "start_time", "key": ("id",)},
    "get.communications_report": {"time_field": "date_time", "key": ("id",)},
    # a leg belongs to a call session; legs are selected by their own start_time
    "get.call_legs_report": {"time_field": "start_time", "key": ("id",)},
    "get.goals_report": {"time_field": "date_time", "key": ("id",)},
    # chats are selected by the chat start (date_time), not by the last message
    "get.chats_report": {"time_field": "date_time", "key": ("id",)},
    "get.chat_messages_report": {"time_field": "date_time", "key": ("id",)},
    "get.offline_messages_report": {"time_field": "date_time", "key": ("id",)},
    "get.visitor_sessions_report": {"time_field": "date_time", "key": ("id",)},
    # a history of charges per call leg: no row id, and leg_id may repeat (several charges per leg)
    "get.financial_call_legs_report": {"time_field": "start_time", "key": ()},
    # one row per day and campaign/ad breakdown; the page documents no unique id or combination
    "get.campaign_daily_stat": {"time_field": "date", "key": ()},
    # "Дата начала основной выборки по upload_time". One row per upload attempt: ext_id repeats across failed
    # attempts (communication.upload_calls: a call is ignored once it was uploaded successfully or has 3 failed
    # attempts, so an ext_id has at most 3 rows), usually under the same ext_request_id (a retry re-sends the
    # request); an attempt is told apart by its upload_time. upload_time is not sortable: rows are ordered by
    # ext_id, ext_request_id (both documented sortable, both fixed for a row), which ties only the attempts
    # of one call within one request: at most 3 rows.
    "get.uploaded_calls": {
        "time_field": "upload_time",
        "key": ("ext_id", "ext_request_id", "upload_time"),
        "order": ("ext_id", "ext_request_id"),
        "order_ties": 3,
    },
    "get.customers": {"time_field": None, "key": ("id",)},
    "get.customer_users": {"time_field": None, "key": ("id",)},
    "get.account": {"time_field": None, "key": ("app_id",)},
}

# Enum fields whose values are listed in a separate table of the page ("Мнемоника | Описание").
VALUE_TABLES: dict[tuple[str, str], str] = {
    ("get.calls_report", "finish_reason"): "Причины окончания сессии звонка",
    ("get.call_legs_report", "finish_reason"): "Причины завершения плеча",
}

# Parameter facts where the page contradicts itself.
PARAM_FIXES: dict[tuple[str, str], dict[str, Any]] = {
    # The table marks report_id required, but the JSON request example has no report_id and its text points
    # to "get.reports_list" (copied from the custom-report methods): treat it as optional.
    ("get.uploaded_calls", "report_id"): {"required": False},
}

# Type cells that are not API types: call_legs_report documents contact_id as "id".
TYPE_FIXES: dict[str, str] = {"id": "number"}

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

_CELL = re.compile(r"^\s*\|(.*)$")
_HEADING = re.compile(r"^(#+)\s*(.*?)\s*$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE = re.compile(r"^[a-z0-9_]+( или [a-z0-9_]+)?$")
_METHOD = re.compile(r'^"?([a-z_]+\.[a-z_]+)"?$')
_WEIGHT = re.compile(r"(\d+)\s*бал")
_FORMAT = re.compile(r"^[YMDhms:\- ]+$")
_ENUM_ITEM = re.compile(r"^(\S+?)\s*-\s+\S")


@dataclass
class Section:
    """Lines under one markdown heading of a page."""

    title: str
    lines: list[str]


@dataclass
class Row:
    """One table row (a field or a parameter) and, once nested, its children."""

    cells: dict[str, str]
    children: list[Row] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.cells["name"]

    @property
    def type(self) -> str:
        type_ = " ".join(self.cells.get("type", "").lower().split())
        return TYPE_FIXES.get(type_, type_)


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


def cells_of(lines: list[str]) -> list[str]:
    """Table cells of a section: a ``|`` line opens a cell, other non-blank lines continue the last one."""
    cells: list[list[str]] = []
    for line in lines:
        match = _CELL.match(line)
        if match:
            cells.append([match.group(1).strip()])
        elif line.strip() and cells:
            cells[-1].append(line.strip())
    result = ["\n".join(part for part in cell if part).strip() for cell in cells]
    # a wrapped line repeating the next cell is a render artefact ("Последний разговаривавший сотрудник")
    for i in range(len(result) - 1):
        head, _, last = result[i].rpartition("\n")
        if head and last == result[i + 1]:
            result[i] = head
    return result


def parse_table(lines: list[str]) -> list[Row | str]:
    """Rows (and group-header strings) of the first table in ``lines``, keyed by column attribute."""
    cells = cells_of(lines)
    columns: list[str] = []
    for cell in cells:
        attr = next((a for p, a in COLUMNS if cell.lower().replace("\n", " ").startswith(p)), None)
        if attr is None:
            break
        columns.append(attr)
    if "name" not in columns:
        return []
    items: list[Row | str] = []
    i, width = len(columns), len(columns)
    while i < len(cells):
        nxt = cells[i + 1].lower() if i + 1 < len(cells) else ""
        if _IDENT.match(cells[i]) and _TYPE.match(nxt) and i + width <= len(cells):
            items.append(Row(dict(zip(columns, cells[i : i + width], strict=True))))
            i += width
        else:
            items.append(cells[i].replace("\n", " "))  # group header: a row with one cell
            i += 1
    return items


def json_example(section: Section | None) -> Any:
    if section is None:
        return None
    text = "\n".join(section.lines)
    start, end = text.find("{"), text.rfind("}")
    return json.loads(text[start : end + 1]) if start >= 0 else None


def response_node(example: Any) -> Any:
    """The JSON object that describes one response row (``result.data[0]``, ``result[0]`` or ``result.data``)."""
    result = (example or {}).get("result")
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


def _nest(items: list[Row | str], example: Any) -> list[Row]:
    """Attach rows to the array/object rows that own them.

    Table rule (the docs' convention): an ``array``/``object`` row directly after a group header owns the
    following rows until the next group header. The JSON example refines it: a row the example shows
    inside the open container stays in it across a sub-header (campaign_daily_stat ``communications`` ->
    ``tags``); a row the example shows in an outer object closes the container (calls_report: the table
    runs ``source``, ``is_lost``... on after ``scenario_operations`` children with no header, while the
    example has them at row level). A container the example shows with object members opens without a
    header (upload.calls ``calls``).
    """
    root = _Level(None, keys_of(example), example, False, [])
    stack = [root]
    after_header = False
    for item in items:
        if isinstance(item, str):
            after_header = True
            continue
        name = item.name
        if after_header:
            while len(stack) > 1 and stack[-1].by_header and name not in (stack[-1].keys or ()):
                stack.pop()
        while (
            len(stack) > 1
            and stack[-1].keys is not None
            and name not in stack[-1].keys
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
    return root.children


def _yes(text: str | None) -> bool:
    return (text or "").strip().lower() == "да"


def _values(cell: str, type_: str) -> tuple[list[str], str]:
    """(allowed values, format) of a "Допустимые значения" cell."""
    text = cell.strip()
    if not text:
        return [], ""
    if _FORMAT.match(" ".join(text.split())):
        # normalised: the pages carry typos such as "YYYY-DD-MM hh:mm:ss" (chats) and "YYY-MM-DD" (offline)
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


def _description(row: Row) -> str:
    return " ".join(row.cells.get("description", "").split())


def _field_json(row: Row, has_default_column: bool) -> dict[str, Any]:
    values, fmt = _values(row.cells.get("values", ""), row.type)
    return {
        "name": row.name,
        "type": row.type,
        "filterable": _yes(row.cells.get("filterable")),
        "sortable": _yes(row.cells.get("sortable")),
        # pages without the "Ответ по умолчанию" column return every field by default
        "default": _yes(row.cells.get("default")) if has_default_column else True,
        "values": values,
        "format": fmt,
        "children": [_field_json(child, has_default_column) for child in row.children],
        "description": _description(row),
    }


def _param_json(row: Row) -> dict[str, Any]:
    values, fmt = _values(row.cells.get("values", ""), row.type)
    required = " ".join(row.cells.get("required", "").split())
    description = _description(row)
    if required.lower().startswith("да,"):
        # conditional ("да, если нет chat_id или chat_ids"): not required on its own; keep the condition
        description = f"Обязательный: {required}. {description}"
    return {
        "name": row.name,
        "type": row.type,
        "required": _yes(required),
        "values": values,
        "format": fmt,
        "children": [_param_json(child) for child in row.children],
        "description": description,
    }


_API_TYPES = frozenset({"number", "string", "boolean", "iso8601", "enum", "array", "object"})


def _example_type(value: Any) -> str:
    """Type of a JSON example value: examples mostly hold type names, some hold sample values."""
    if isinstance(value, str):
        if value in _API_TYPES:
            return value
        return "boolean" if value in ("true", "false") else "string"  # upload.calls: "success": "true"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object"


def _example_fields(node: Any) -> list[dict[str, Any]]:
    """Children known only from the JSON example (chat_messages ``resource``): typed by the example."""
    if isinstance(node, list):
        node = node[0] if node else None
    if not isinstance(node, dict):
        return []
    return [
        {
            "name": name,
            "type": _example_type(value),
            "filterable": False,
            "sortable": False,
            "default": True,
            "values": [],
            "format": "",
            "children": _example_fields(value),
            "description": "(from the JSON response example)",
        }
        for name, value in node.items()
    ]


def _value_table(sections: list[Section], title: str) -> list[str]:
    section = find_section(sections, "^" + re.escape(title))
    cells = cells_of(section.lines) if section else []
    return [c for c in cells[2::2] if c]  # skip the "Мнемоника | Описание" header


def _method_table(sections: list[Section], method: str) -> dict[str, str]:
    """The leading "Метод / Описание / Кому доступен / Вес метода" table as a key -> value dict."""
    for section in sections:
        cells = cells_of(section.lines)
        table = dict(zip(cells[::2], cells[1::2], strict=False))
        found = _METHOD.match(table.get("Метод", ""))
        if found and found.group(1) == method:
            return table
    raise ValueError(f"{method}: no method table")


def _notes(method: str, rows: list[Row], node: Any, where: str, path: str = "") -> list[str]:
    """Differences between a table and its JSON example, reported while generating."""
    keys = keys_of(node)
    if keys is None:
        return []
    names = {row.name for row in rows}
    notes = [f"{method}: {where} {path}{name} in the table only" for name in sorted(names - keys)]
    notes += [f"{method}: {where} {path}{name} in the JSON example only" for name in sorted(keys - names)]
    for row in rows:
        if row.children:
            notes += _notes(method, row.children, child_node(node, row.name), where, f"{path}{row.name}.")
    return notes


def build_method(docs: Path, method: str, notes: list[str]) -> dict[str, Any]:
    page = DOC_PAGES[method]
    sections = read_sections(docs / page)
    head = _method_table(sections, method)
    weight = _WEIGHT.search(head.get("Вес метода", ""))

    request_example = json_example(find_section(sections, r"^JSON стр\w+ запроса"))
    params_node = (request_example or {}).get("params") or {}
    params_section = find_section(sections, r"^Параметры (запроса|метода)$")
    param_rows = _nest(parse_table(params_section.lines if params_section else []), params_node)
    params = {row.name: _param_json(row) for row in param_rows}
    for (fixed_method, name), fix in PARAM_FIXES.items():
        if fixed_method == method:
            params[name].update(fix)
    # the example lists params the table forgets (campaign_daily_stat: access_token, user_id)
    for name, value in params_node.items():
        if name not in params:
            params[name] = {
                "name": name,
                "type": value if isinstance(value, str) else type(value).__name__,
                "required": name == "access_token",
                "values": [],
                "format": "",
                "children": [],
                "description": "(from the JSON request example)",
            }
            notes.append(f"{method}: param {name} in the JSON example only; added")
    notes += _notes(method, param_rows, params_node, "param")

    response_example = json_example(find_section(sections, r"^JSON стр\w+ ответа"))
    row_node = response_node(response_example)
    fields_section = find_section(sections, r"^Параметры ответа$")
    items = parse_table(fields_section.lines if fields_section else [])
    has_default = any(isinstance(i, Row) and "default" in i.cells for i in items)
    field_rows = _nest(items, row_node)
    fields = [_field_json(row, has_default) for row in field_rows]
    if not fields and row_node:
        fields = _example_fields(row_node)  # upload.calls documents its answer only by example
        notes.append(f"{method}: fields taken from the JSON example")
    for entry in fields:
        title = VALUE_TABLES.get((method, entry["name"]))
        if title:
            entry["values"] = _value_table(sections, title)
        if entry["type"] in ("array", "object") and not entry["children"]:
            entry["children"] = _example_fields(child_node(row_node, entry["name"]))
            if entry["children"]:
                notes.append(f"{method}: field {entry['name']} children taken from the JSON example")
    notes += _notes(method, field_rows, row_node, "field")

    names = {f["name"] for f in fields}
    override = OVERRIDES.get(method, {})
    time_field = override.get("time_field")
    key = list(override.get("key", ()))
    order = list(override.get("order", ()))
    missing = [n for n in [time_field, *key, *order] if n and n not in names]
    if missing:
        raise ValueError(f"{method}: override names unknown fields {missing}")
    unsortable = [f["name"] for f in fields if f["name"] in order and not f["sortable"]]
    if unsortable:
        raise ValueError(f"{method}: the override orders by fields the page does not mark sortable: {unsortable}")
    # chat_messages_report: "да, если нет chat_id или chat_ids" still makes it a date-range method
    date_range = all(
        params.get(p, {}).get("required") or "Обязательный: да" in params.get(p, {}).get("description", "")
        for p in ("date_from", "date_till")
    )
    return {
        "name": method,
        "title": " ".join(head.get("Описание", "").split()),
        "doc": page,
        "weight": int(weight.group(1)) if weight else 1,  # index.txt: every operation costs 1 point
        "params": params,
        "fields": fields,
        "date_range": date_range,
        "time_field": time_field,
        "key": key,
        "order": order,
        "order_ties": int(override.get("order_ties", 1)),
    }


def filter_operators(docs: Path) -> list[str]:
    section = find_section(read_sections(docs / "index.txt"), r"^Операторы фильтрации$")
    if section is None:
        raise ValueError("index.txt: no 'Операторы фильтрации' section")
    cells = cells_of(section.lines)
    return cells[4::4]  # columns: Оператор | Описание | Учёт регистра строк | Тип данных


def generate(docs: Path) -> tuple[str, list[str]]:
    notes: list[str] = []
    catalogue = {
        "source": "comagic-docs (generated by scripts/generate_catalogue.py; do not edit)",
        "filter_operators": filter_operators(docs),
        "report_methods": list(REPORT_METHODS),
        "methods": {method: build_method(docs, method, notes) for method in DOC_PAGES},
    }
    return json.dumps(catalogue, ensure_ascii=False, sort_keys=True, indent=1) + "\n", notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("docs", nargs="?", type=Path, default=DEFAULT_DOCS, help="comagic-docs folder")
    parser.add_argument("--check", action="store_true", help="fail if methods.json is not up to date")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="print table/JSON-example differences")
    args = parser.parse_args(argv)

    if not args.docs.is_dir():
        if args.check:
            print(f"generate_catalogue: {args.docs} not found; check skipped")
            return 0
        print(f"generate_catalogue: {args.docs} not found", file=sys.stderr)
        return 2
    text, notes = generate(args.docs)
    if args.verbose:
        for note in notes:
            print("note:", note, file=sys.stderr)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"generate_catalogue: {args.output} is stale; run scripts/generate_catalogue.py")
            return 1
        print(f"generate_catalogue: {args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"generate_catalogue: wrote {args.output} ({len(DOC_PAGES)} methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
