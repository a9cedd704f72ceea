# The pages are Russian: Cyrillic in strings and comments is intended, not a homoglyph slip.
# ruff: noqa: RUF001
"""What a method's page says about calling it: family, roles, components, paging, window cap, alternatives.

The result is one ``facts`` entry of ``methods.json`` (see ``MethodSpec`` in
``airflow_provider_comagic/comagic/catalogue``): plain JSON, deterministic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from catalogue_gen import overrides as ov
from catalogue_gen.pages import Row, cells_of, read_sections

# index.txt "Постраничный вывод": limit default 1000, at most 10 000; offset at most 100 000
INDEX_LIMIT_DEFAULT = 1000
INDEX_LIMIT_MAX = 10_000
INDEX_OFFSET_MAX = 100_000

_LIMIT_MAX = re.compile(r"более\s+(\d+)")
_DEFAULT = re.compile(r"По умолчанию\s+\"?(\d+)")
_WINDOW_DAYS = (
    re.compile(r"ограничение\s+(?:в\s+)?(\d+)\s+д"),  # "Дата начала основной выборки(ограничение 366 дней)"
    re.compile(r"не должно превышать\s+(\d+)\s+дн"),  # chat_messages_report: "не должно превышать 30 дней"
)
_PERMISSION = re.compile(r"([a-z_]+):\s*([a-z]+)")

# Alternatives the pages state as conditional requirements ("да, если нет chat_id или chat_ids").
REQUIRED_ALTERNATIVES: dict[str, tuple[tuple[str, ...], ...]] = {
    "get.chat_messages_report": (("date_from", "date_till"), ("chat_id",), ("chat_ids",)),
}

# Families (MethodSpec.family).
CLASSIC_REPORT = "classic_report"
REPORT_BUILDER = "report_builder"
REPORT_BUILDER_AGGREGATE = "report_builder_aggregate"
REFERENCE = "reference"
LOOKUP = "lookup"
CONFIGURATION = "configuration"
CHANGE_LOG = "change_log"
ACTION = "action"


def family_of(method: str) -> str:
    if method in ov.ACTION_PAGES:
        return ACTION
    if method in ov.CLASSIC_REPORTS or method in ov.MORE_CLASSIC_REPORTS:
        return CLASSIC_REPORT
    if method in ov.REPORT_BUILDER:
        return REPORT_BUILDER
    for family, names in (
        (REPORT_BUILDER_AGGREGATE, ov.REPORT_BUILDER_AGGREGATES),
        (CHANGE_LOG, ov.CHANGE_LOGS),
        (LOOKUP, ov.LOOKUPS),
        (REFERENCE, ov.REFERENCES),
    ):
        if method in names:
            return family
    return CONFIGURATION


def roles_of(text: str) -> list[str]:
    """ "Кому доступен": Агент and Партнёр are one role (partners.txt), "agent"; Клиент is "client"."""
    roles = set()
    if "Агент" in text or "Партн" in text:
        roles.add("agent")
    if "Клиент" in text:
        roles.add("client")
    return sorted(roles)


def components_table(docs: Path) -> dict[str, tuple[list[str], list[str]]]:
    """components.txt: method -> (required components, any one of them; permissions ``unit:action``)."""
    path = docs / "components.txt"
    if not path.exists():
        return {}
    cells = cells_of(read_sections(path)[-1].lines)
    table = {}
    for i in range(5, len(cells) - 4, 5):  # id | required_components | ... | required_permissions | ...
        method, components, _, permissions, _ = cells[i : i + 5]
        names = [name.strip() for name in components.split(",") if name.strip()]
        table[method] = (names, [f"{unit}:{action}" for unit, action in _PERMISSION.findall(permissions)])
    return table


def list_page_methods(docs: Path) -> dict[str, list[str]]:
    """Methods listed on the topic pages of ``LIST_PAGE_COMPONENTS`` -> the components those pages require."""
    out: dict[str, list[str]] = {}
    for page, components in sorted(ov.LIST_PAGE_COMPONENTS.items()):
        path = docs / page
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for method in sorted(set(re.findall(r'"([a-z_]+\.[a-z_]+)"', text))):
            out.setdefault(method, []).extend(components)
    return out


def paging_of(params: dict[str, Row]) -> dict[str, Any]:
    """Limit/offset facts: index.txt's defaults unless the page states its own ("Нельзя запросить более 200")."""
    limit, offset = params.get("limit"), params.get("offset")
    if limit is None and offset is None:
        return {"pages": False}
    limit_text = " ".join((limit.cells.get("values", ""), limit.cells.get("description", ""))) if limit else ""
    maximum = _LIMIT_MAX.search(limit_text)
    default = _DEFAULT.search(limit_text)
    return {
        "pages": True,
        "limit_max": int(maximum.group(1)) if maximum else INDEX_LIMIT_MAX,
        "limit_default": int(default.group(1)) if default else INDEX_LIMIT_DEFAULT,
        "limit_required": bool(limit and limit.cells.get("required", "").strip() == "да"),
        "offset": offset is not None,
        "offset_max": INDEX_OFFSET_MAX if offset is not None else None,
        "offset_required": bool(offset and offset.cells.get("required", "").strip() == "да"),
    }


def window_of(method: str, family: str, date_range: bool, params: dict[str, Row], page_text: str) -> dict[str, Any]:
    """The cap on ``date_till - date_from``: ``{"days": n}``, ``{"months": n}`` or ``{}``, and a note."""
    date_from = params["date_from"].cells.get("description", "") if "date_from" in params else ""
    stated = None
    for pattern, text in zip(_WINDOW_DAYS, (date_from, page_text), strict=True):
        found = pattern.search(" ".join(text.split()))
        if found:
            stated = int(found.group(1))
            break
    if method in ov.UNDOCUMENTED_WINDOW:
        return {"cap": None, "note": ov.UNDOCUMENTED_WINDOW[method]}
    if family == CLASSIC_REPORT and stated in (None, 90):
        return {"cap": {"months": ov.CLASSIC_WINDOW["months"]}, "note": ov.CLASSIC_WINDOW["note"]}
    if stated is not None:
        return {"cap": {"days": stated}, "note": ""}
    if date_range or "date_from" in params:
        return {"cap": None, "note": "the page states no limit on date_from/date_till"}
    return {"cap": None, "note": ""}


def component_groups(
    method: str, head: dict[str, str], table: dict[str, tuple[list[str], list[str]]], listed: dict[str, list[str]]
) -> tuple[list[list[str]], list[str]]:
    """Any-of component groups the method needs (all groups required) and the permissions it needs."""
    groups: list[list[str]] = []
    header = " ".join(head.get("Необходимые компоненты для работы с методом", "").split())
    for name in (part.strip(' "') for part in header.split('",')):  # '"Data API для настройки", "Загрузка..."'
        if name:
            groups.append([ov.HEADER_COMPONENTS.get(name, name)])
    components, permissions = table.get(method, ([], []))
    if components:
        groups.append(sorted(components))
    for extra in (ov.PROSE_COMPONENTS.get(method, ()), listed.get(method, ())):
        if extra:
            groups.append(sorted(extra))
    unique: list[list[str]] = []
    for group in groups:
        if group not in unique:
            unique.append(group)
    return unique, sorted(permissions)
