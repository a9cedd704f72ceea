"""Templated operator arguments: whether a value is still a Jinja template, and the one parser of the values
templates render to.

Airflow renders a template to a string unless the DAG sets ``render_template_as_native_obj=True``; an XCom
list pulled into a template therefore arrives as its Python ``repr`` (``"['7001', '7002']"``), a JSON list
(``'["7001", "7002"]'``) as JSON, and a hand-written value often as a comma list (``"7001, 7002"``). Every
operator and sensor of the package reads such values through :func:`parse_list`, :func:`parse_structure` and
:func:`parse_optional_int`, so all of them accept the same forms and keep strings as strings (``'7001'`` is
never ``"'7001'"``) and numbers as numbers.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from airflow_provider_comagic.exceptions import ParameterError

__all__ = ["is_templated", "parse_list", "parse_optional_int", "parse_rendered", "parse_structure"]

T = TypeVar("T")
ErrorClass = type[ParameterError]
_JINJA_MARKERS = ("{{", "{%", "{#")
_EMPTY = (None, "", [], ())


def is_templated(value: Any, *, skip_keys: frozenset[str] = frozenset()) -> bool:
    """True when a string inside ``value`` (lists and dicts walked, ``skip_keys`` ignored) is a Jinja template."""
    if isinstance(value, str):
        return any(marker in value for marker in _JINJA_MARKERS)
    if isinstance(value, Mapping):
        return any(is_templated(v, skip_keys=skip_keys) for k, v in value.items() if k not in skip_keys)
    if isinstance(value, list | tuple):
        return any(is_templated(v, skip_keys=skip_keys) for v in value)
    return False


def parse_rendered(value: Any, name: str, *, error: ErrorClass = ParameterError) -> Any:
    """A structured value as given, or read back from the string a template rendered it to: JSON first, then a
    Python literal (how Airflow renders an XCom list or dict). Raises ``error`` naming ``name`` otherwise."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise error(f"{name} rendered to {value!r}, which is neither JSON nor a Python literal") from None


def parse_structure(
    value: Any, name: str, *, kinds: tuple[type, ...] = (Mapping,), error: ErrorClass = ParameterError
) -> Any:
    """A dict or list argument (``filter``, ``sort``, ``api_params``, ``calls``...) as given or rendered; None
    when empty. ``kinds`` are the accepted types; anything else raises ``error`` naming ``name``."""
    if value in _EMPTY or value == {}:
        return None
    parsed = parse_rendered(value, name, error=error)
    if parsed in _EMPTY or parsed == {}:
        return None
    if not isinstance(parsed, kinds) or isinstance(parsed, str):
        expected = " or ".join(_kind_name(kind) for kind in kinds)
        raise error(f"{name} must be a {expected}, got {parsed!r}")
    return parsed


def parse_list(
    value: Any, name: str, *, item: Callable[[Any], T] | None = None, error: ErrorClass = ParameterError
) -> list[Any] | None:
    """A list argument as given, or rendered to a JSON list, a Python-literal list or a comma list; a single
    value becomes a one-item list. None when empty. ``item`` converts each item (``str`` for ids kept as
    strings, ``int`` for numeric ids); without it, items stay as given (a comma list gives strings)."""
    if value in _EMPTY:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("[", "(", "{")):
            value = parse_rendered(text, name, error=error)
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise error(f"{name} must be a list, got {value!r}")
    items = list(value)
    if item is not None:
        items = [_convert(element, item, name, error) for element in items]
    return items or None


def parse_optional_int(value: Any, name: str, *, error: ErrorClass = ParameterError) -> int | None:
    """An integer id given as an int or as the string a template renders to; None when unset."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise error(f"{name} must be an integer id, got {value!r}")
    try:
        return int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be an integer id, got {value!r}") from None


def _convert(element: Any, item: Callable[[Any], T], name: str, error: ErrorClass) -> T:
    if item is int:
        try:
            converted = parse_optional_int(element, name, error=error)
        except ParameterError:
            converted = None
        if converted is None:
            raise error(f"{name} must be integers, got {element!r}") from None
        return converted  # type: ignore[return-value]
    if isinstance(element, Mapping | list | tuple) or element is None:
        raise error(f"{name} must hold plain values, got {element!r}")
    return item(element)


def _kind_name(kind: type) -> str:
    return {Mapping: "mapping", list: "list", tuple: "tuple"}.get(kind, kind.__name__)
