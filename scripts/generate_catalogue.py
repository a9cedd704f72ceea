#!/usr/bin/env python3
# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
# ruff: noqa: RUF001
"""Generate ``airflow_provider_comagic/comagic/catalogue/methods.json`` from the Data API documentation pages.

Every documented read method that returns rows (``get.*``, ``getobj.*`` with a response table) is read from
its page under ``comagic-docs/`` (``catalogue_gen/pages.py``), plus ``get.financial_summary_report`` from the
older Markdown reference in ``seeds/`` (``catalogue_gen/seeds.py``) and the three actions the provider calls
(``upload.calls``, ``login.user``, ``logout.user``). Facts the pages state in prose or contradict live in the
commented tables of ``catalogue_gen/overrides.py``; methods left out are listed there with the reason.

``methods.json`` holds, per method, ``methods[name]`` (parameters, fields, row semantics) and
``facts[name]`` (family, roles, components, paging, window cap, alternatives, notes).

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from catalogue_gen import facts as facts_of
from catalogue_gen import overrides as ov
from catalogue_gen.pages import (
    Row,
    cells_of,
    child_node,
    example_field,
    example_fields,
    fields_json,
    find_section,
    json_example,
    keys_of,
    method_table,
    nest,
    page_method,
    param_json,
    parse_table,
    read_sections,
    response_node,
    table_notes,
    value_table,
)
from catalogue_gen.seeds import seed_method

__all__ = ["DEFAULT_DOCS", "cells_of", "generate", "main"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOCS = REPO_ROOT.parent / "shared" / "reference" / "comagic-docs"
OUTPUT = REPO_ROOT / "airflow_provider_comagic" / "comagic" / "catalogue" / "methods.json"
REPORT_METHODS = ov.CLASSIC_REPORTS

# Enum fields whose values are listed in a separate table of the page ("Мнемоника | Описание").
VALUE_TABLES: dict[tuple[str, str], str] = {
    ("get.calls_report", "finish_reason"): "Причины окончания сессии звонка",
    ("get.call_legs_report", "finish_reason"): "Причины завершения плеча",
}
_WEIGHT = re.compile(r"(\d+)\s*бал")


@dataclass
class Page:
    """One method as one page documents it."""

    doc: str
    head: dict[str, str]
    params: dict[str, dict[str, Any]]
    param_rows: dict[str, Row]
    fields: list[dict[str, Any]]
    text: str = ""
    docs: list[str] = field(default_factory=list)


def seeds_of(docs: Path) -> Path:
    return docs.parent / "seeds"


def read_methods(docs: Path) -> dict[str, list[str]]:
    """Every documented read method -> its pages (two for get.tags), plus the actions; exclusions dropped."""
    found: dict[str, list[str]] = {}
    for path in sorted(docs.glob("*.txt")):
        method = page_method(path)
        if method and method.split(".")[0] in ("get", "getobj") and method not in ov.EXCLUDED:
            found.setdefault(method, []).append(path.name)
    for method, pages in found.items():
        if len(pages) > 1 and method not in ov.MERGED_PAGES:
            # a how-to page repeats a method's table (ca_sales_funnel.instructions_uploading_deals.txt): the
            # method's own page is the one named after it
            own = [page for page in pages if page.removesuffix(".txt").endswith(method.replace(".", "_"))]
            if len(own) != 1:
                raise ValueError(f"{method}: documented on {pages}; name its page in overrides.MERGED_PAGES")
            found[method] = own
    for method, pages in ov.MERGED_PAGES.items():
        found[method] = list(pages)
    for method, page in ov.ACTION_PAGES.items():
        found[method] = [page]
    return dict(sorted(found.items()))


def _params(method: str, param_rows: list[Row], request: Any, notes: list[str]) -> dict[str, dict[str, Any]]:
    params_node = (request or {}).get("params") or {}
    for row in param_rows:
        renamed = ov.PARAM_RENAMES.get((method, row.name))
        if renamed:
            notes.append(f"{method}: param {row.name} renamed {renamed} (the request example and index.txt)")
            row.cells["name"] = renamed
    params = {row.name: param_json(row) for row in param_rows}
    for (fixed_method, name), fix in ov.PARAM_FIXES.items():
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
    notes.extend(table_notes(method, param_rows, params_node, "param"))
    return params


def _fields(method: str, sections: list[Any], row_node: Any, notes: list[str]) -> list[dict[str, Any]]:
    fields_section = find_section(sections, r"^Параметры ответа$")
    items = parse_table(fields_section.lines if fields_section else [])
    for item in items:
        if isinstance(item, Row) and (method, item.name) in ov.FIELD_RENAMES:
            item.cells["name"] = ov.FIELD_RENAMES[(method, item.name)]
    has_default = any(isinstance(i, Row) and "default" in i.cells for i in items)
    field_rows = nest(items, row_node)
    fields = fields_json(field_rows, has_default, method, notes)
    _fix_shapes(method, fields, row_node, notes)
    if not fields and row_node:
        fields = [example_field(name, value) for name, value in row_node.items()]  # upload.calls: example only
        notes.append(f"{method}: fields taken from the JSON example")
    for entry in fields:
        title = VALUE_TABLES.get((method, entry["name"]))
        if title:
            entry["values"] = value_table(sections, title)
        if (
            entry["type"] in ("array", "object")
            and not entry["children"]
            and (method, entry["name"]) not in ov.FREE_OBJECTS
        ):
            entry["children"] = example_fields(child_node(row_node, entry["name"]))
            if entry["children"]:
                notes.append(f"{method}: field {entry['name']} children taken from the JSON example")
    for name, type_ in ov.EXAMPLE_ONLY_FIELDS.get(method, {}).items():
        if name in (keys_of(row_node) or ()) and name not in {f["name"] for f in fields}:
            note = "(only in the JSON response example)"
            fields.append(example_field(name, child_node(row_node, name), default=not has_default, note=note))
            fields[-1]["type"] = type_ or fields[-1]["type"]
    notes.extend(table_notes(method, field_rows, row_node, "field"))
    for (fixed, path), type_ in ov.FIELD_TYPES.items():
        if fixed == method:
            entry = _field_at(fields, path)
            entry["type"] = type_
            entry["format"] = "YYYY-MM-DD hh:mm:ss" if type_ == "iso8601" else entry["format"]
            notes.append(f"{method}: field {path} typed {type_} (the JSON example)")
    return fields


def _fix_shapes(method: str, fields: list[dict[str, Any]], row_node: Any, notes: list[str]) -> None:
    """overrides.MOVED_FIELDS, DROPPED_FIELDS, EXAMPLE_CHILDREN: where the table's nesting is wrong."""
    by_name = {f["name"]: f for f in fields}
    for (fixed, path), target in ov.MOVED_FIELDS.items():
        if fixed == method:
            parent_name, name = path.rsplit(".", 1)
            parent = by_name[parent_name]
            moved = next(child for child in parent["children"] if child["name"] == name)
            parent["children"].remove(moved)
            if target:
                by_name[target]["children"].insert(0, moved)
            else:
                fields.insert(fields.index(parent) + 1, moved)
            notes.append(f"{method}: field {path} moved to {target or 'the row'}")
    for (fixed, name), reason in ov.DROPPED_FIELDS.items():
        if fixed == method:
            fields.remove(by_name[name])
            notes.append(f"{method}: field {name} dropped: documents {reason}")
    for (fixed, name), source in ov.EXAMPLE_CHILDREN.items():
        if fixed == method:
            by_name[name]["children"] = example_fields(child_node(row_node, source))
            notes.append(f"{method}: field {name} members taken from the example's {source}")
    for fixed, name in ov.FREE_OBJECTS:
        if fixed == method:
            by_name[name]["children"] = []


def _field_at(fields: list[dict[str, Any]], path: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"children": fields}
    for part in path.split("."):
        entry = next(child for child in entry["children"] if child["name"] == part)
    return entry


def read_page(docs: Path, page: str, method: str, notes: list[str]) -> Page:
    sections = read_sections(docs / page)
    head = method_table(sections, method)
    request = json_example(find_section(sections, r"^JSON стр\w+ запроса"), notes, f"{method}: request")
    params_section = find_section(sections, r"^Параметры (запроса|метода)$")
    example_params = (request or {}).get("params") or {}
    param_rows = nest(parse_table(params_section.lines if params_section else []), example_params)
    response = json_example(find_section(sections, r"^JSON стр\w+ ответа"), notes, f"{method}: response")
    row_node = response_node(response)
    return Page(
        doc=page,
        head=head,
        params=_params(method, param_rows, request, notes),
        param_rows={row.name: row for row in param_rows},
        fields=_fields(method, sections, row_node, notes),
        text=(docs / page).read_text(encoding="utf-8"),
        docs=[page],
    )


def read_seed(seeds: Path, page: str, method: str, notes: list[str]) -> Page:
    seed = seed_method(seeds / page, method)
    params = {row.name: param_json(row) for row in seed["params"]}
    for name, values in seed["param_values"].items():
        params[name]["values"] = values
    fields = fields_json(seed["fields"], False, method, notes)
    notes.extend(table_notes(method, seed["fields"], response_node(seed["response"]), "field"))
    head = {"Описание": seed["title"], "Кому доступен": seed["roles"]}
    rows = {row.name: row for row in seed["params"]}
    return Page(f"seeds/{page}", head, params, rows, fields, docs=[f"seeds/{page}"])


def merge_pages(method: str, pages: list[Page], notes: list[str]) -> Page:
    """One method on several pages (get.tags): the union of fields and params; a field's filter/sort/default
    flags hold only where every page that has the field says so, and a field of one page only is neither
    filterable, sortable nor returned by default (the other shape of the answer lacks it)."""
    base = pages[0]
    by_name = {f["name"]: dict(f) for f in base.fields}
    for page in pages[1:]:
        other = {f["name"]: f for f in page.fields}
        for name, entry in by_name.items():
            if name in other:
                for flag in ("filterable", "sortable", "default"):
                    entry[flag] = entry[flag] and other[name][flag]
            else:
                entry.update(filterable=False, sortable=False, default=False)
        for name, entry in other.items():
            if name not in by_name:
                by_name[name] = {**entry, "filterable": False, "sortable": False, "default": False}
        for name, param in page.params.items():
            base.params.setdefault(name, param)
            base.param_rows.setdefault(name, page.param_rows[name])
    roles = " ".join(page.head.get("Кому доступен", "") for page in pages)
    notes.append(f"{method}: documented on {', '.join(p.doc for p in pages)}; merged")
    head = {**base.head, "Кому доступен": roles}
    headers = {p.head.get("Необходимые компоненты для работы с методом", "") for p in pages}
    if len(headers) > 1:  # a component only one page requires is not needed by the method
        head.pop("Необходимые компоненты для работы с методом", None)
    return Page(base.doc, head, base.params, base.param_rows, list(by_name.values()), base.text, [p.doc for p in pages])


def row_semantics(method: str, family: str, fields: list[dict[str, Any]], date_range: bool) -> dict[str, Any]:
    """time_field, key, order, order_ties (overrides.ROW_SEMANTICS; reference lists default to their id)."""
    names = {f["name"] for f in fields}
    sortable = {f["name"] for f in fields if f["sortable"]}
    override = ov.ROW_SEMANTICS.get(method, {})
    listed = family in (facts_of.REFERENCE, facts_of.CONFIGURATION, facts_of.LOOKUP)
    key = list(override.get("key", ("id",) if listed and "id" in names else ()))
    order = list(override.get("order", key if listed and key and set(key) <= sortable and not date_range else ()))
    time_field = override.get("time_field")
    missing = [n for n in [time_field, *key, *order] if n and n not in names]
    if missing:
        raise ValueError(f"{method}: override names unknown fields {missing}")
    unsortable = [name for name in order if name not in sortable]
    if unsortable:
        raise ValueError(f"{method}: the override orders by fields the page does not mark sortable: {unsortable}")
    return {"time_field": time_field, "key": key, "order": order, "order_ties": int(override.get("order_ties", 1))}


def _facts(method: str, page: Page, entry: dict[str, Any], context: dict[str, Any], notes: list[str]) -> dict:
    family = facts_of.family_of(method)
    groups, permissions = facts_of.component_groups(method, page.head, context["components"], context["listed"])
    window = facts_of.window_of(method, family, entry["date_range"], page.param_rows, page.text)
    method_notes = [n.split(": ", 1)[1] for n in notes if n.startswith(f"{method}: ")]
    for extra in (ov.NAME_NOTES, ov.FIELD_NOTES):
        if method in extra:
            method_notes.append(extra[method])
    return {
        "family": family,
        "docs": page.docs,
        "roles": facts_of.roles_of(page.head.get("Кому доступен", "")),
        "components": groups,
        "permissions": permissions,
        "paging": facts_of.paging_of(page.param_rows),
        "window": window["cap"],
        "window_note": window["note"],
        "required_alternatives": [list(g) for g in facts_of.REQUIRED_ALTERNATIVES.get(method, ())],
        "report_types": list(ov.REPORT_TYPES.get(method, ())),
        "notes": sorted(set(method_notes)),
    }


def build_method(docs: Path, method: str, pages: list[str], notes: list[str], context: dict[str, Any]) -> tuple:
    """(``methods[method]``, ``facts[method]``) from the method's page(s)."""
    own: list[str] = []
    if method in ov.SEED_PAGES:
        page = read_seed(seeds_of(docs), ov.SEED_PAGES[method], method, own)
    else:
        parsed = [read_page(docs, p, method, own) for p in pages]
        page = merge_pages(method, parsed, own) if len(parsed) > 1 else parsed[0]
    weight = _WEIGHT.search(page.head.get("Вес метода", ""))
    params = page.params
    # chat_messages_report: "да, если нет chat_id или chat_ids" still makes it a date-range method
    date_range = all(
        params.get(p, {}).get("required") or "Обязательный: да" in params.get(p, {}).get("description", "")
        for p in ("date_from", "date_till")
    )
    family = facts_of.family_of(method)
    entry = {
        "name": method,
        "title": " ".join(page.head.get("Описание", "").split()),
        "doc": page.doc,
        "weight": int(weight.group(1)) if weight else 1,  # index.txt: every operation costs 1 point
        "params": params,
        "fields": page.fields,
        "date_range": date_range,
        **row_semantics(method, family, page.fields, date_range),
    }
    notes.extend(own)
    return entry, _facts(method, page, entry, context, own)


def filter_operators(docs: Path) -> list[str]:
    section = find_section(read_sections(docs / "index.txt"), r"^Операторы фильтрации$")
    if section is None:
        raise ValueError("index.txt: no 'Операторы фильтрации' section")
    cells = cells_of(section.lines)
    return cells[4::4]  # columns: Оператор | Описание | Учёт регистра строк | Тип данных


def generate(docs: Path) -> tuple[str, list[str]]:
    notes: list[str] = []
    context = {"components": facts_of.components_table(docs), "listed": facts_of.list_page_methods(docs)}
    pages = read_methods(docs)
    for method in ov.SEED_PAGES:
        pages[method] = [ov.SEED_PAGES[method]]
    methods, facts = {}, {}
    for method in sorted(pages):
        methods[method], facts[method] = build_method(docs, method, pages[method], notes, context)
    catalogue = {
        "source": "comagic-docs (generated by scripts/generate_catalogue.py; do not edit)",
        "filter_operators": filter_operators(docs),
        "report_methods": list(REPORT_METHODS),
        "more_report_methods": list(ov.MORE_CLASSIC_REPORTS),
        "report_builder_methods": list(ov.REPORT_BUILDER),
        "excluded": dict(sorted(ov.EXCLUDED.items())),
        "methods": methods,
        "facts": facts,
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
    count = len(json.loads(text)["methods"])
    print(f"generate_catalogue: wrote {args.output} ({count} methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
