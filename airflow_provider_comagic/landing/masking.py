"""Masking the example values that drift records carry (manifests, asset events, lineage, logs).

A drift record shows one value that arrived for a column, so that a reader can tell *what* changed (a number sent
as text, a flag as ``0``/``1``, a list as one object) without ever seeing personal data or a secret. The rule:

1. A **sensitive field** (its Arrow field metadata ``sensitive``, or a name that says so: phone numbers, numbers
   of a call's sides, e-mail, names and logins, contacts, comments and free text, addresses, IP addresses, URLs and links,
   records and files, tokens, passwords, keys, hashes, sessions, search terms) keeps only the *shape* of its
   value: every digit becomes ``#``, every letter ``x``, punctuation and spaces stay (``"+7 (916) 123-45-67"`` ->
   ``"+# (###) ###-##-##"``); a number becomes the shape of its digits as text. Booleans and null stay.
2. **Any other string** is scanned: a URL keeps its scheme and host only (``https://host/…``: its path and query
   may hold a capability hash), an e-mail address and a run of 7 or more digits (a phone number in free text)
   become their shape, and a token-like run of 20 or more letters and digits becomes its shape.
3. Objects and lists are masked member by member (a member is sensitive by its own name or its parent's); a
   string is cut to 64 characters, a list to 3 items, an object to 12 members.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["is_sensitive_name", "mask_example"]

_SENSITIVE_NAMES = re.compile(
    r"phone|msisdn|(^|_)(src|dst|caller|callee|contact|communication)?_?nums?(ber)?s?$|^did$|e_?mail"
    r"|(^|_)(full_|first_|last_|middle_|user_|display_)?names?$|login|(^|_)fio$|person|passport"
    r"|(^|_)contacts?$"
    r"|comment|text|message|(^|_)(question|answer)s?$|note|propert|description|address|(^|_)ip(_|$)|ip_address|user_agent"
    r"|url|link|href|uri$|record|file|token|passw|secret|(^|_)key$|api_key|hash|session_key|cookie|signature"
    r"|query|(^|_)term$|keyword|search"
)
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#]+)[^\s]*")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_LONG_DIGITS = re.compile(r"\d[\d\s()+-]{5,}\d")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(\s\d{2})?")  # a date (and hour) is no phone number
_TOKEN = re.compile(r"[A-Za-z0-9_+/=-]{20,}")
_MAX_TEXT = 64
_MAX_ITEMS = 3
_MAX_MEMBERS = 12


def is_sensitive_name(name: str) -> bool:
    """Whether a field called ``name`` (a path such as ``tags[].tag_name`` is judged by its last part) holds
    personal data or a secret by its name."""
    last = re.split(r"[.\[\]]+", name.strip(".[]"))[-1].lower() if name else ""
    return bool(_SENSITIVE_NAMES.search(last))


def _shape(text: str) -> str:
    return "".join("#" if ch.isdigit() else "x" if ch.isalpha() else ch for ch in text)


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"


def _scrub(text: str) -> str:
    """A string of a field that is not sensitive by name, with what looks personal or secret in it masked."""
    text = _URL.sub(lambda m: m.group(1) + ("/…" if len(m.group(0)) > len(m.group(1)) else ""), text)
    text = _EMAIL.sub(lambda m: _shape(m.group(0)), text)
    text = _TOKEN.sub(lambda m: _shape(m.group(0)) if any(c.isdigit() for c in m.group(0)) else m.group(0), text)
    return _LONG_DIGITS.sub(lambda m: m.group(0) if _DATE.fullmatch(m.group(0)) else _shape(m.group(0)), text)


def mask_example(name: str, value: Any, *, sensitive: bool = False) -> Any:
    """``value`` as a drift record may show it (see the module docstring); ``sensitive`` forces rule 1 whatever
    the name."""
    hidden = sensitive or is_sensitive_name(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _cut(_shape(value) if hidden else _scrub(value))
    if isinstance(value, int | float):
        return _shape(repr(value)) if hidden else value
    if isinstance(value, dict):
        items = list(value.items())
        masked = {str(k): mask_example(str(k), v, sensitive=hidden) for k, v in items[:_MAX_MEMBERS]}
        if len(items) > _MAX_MEMBERS:
            masked["…"] = f"{len(items) - _MAX_MEMBERS} more"
        return masked
    if isinstance(value, list | tuple):
        masked_items = [mask_example(f"{name}[]", v, sensitive=hidden) for v in value[:_MAX_ITEMS]]
        return masked_items + ([f"… {len(value) - _MAX_ITEMS} more"] if len(value) > _MAX_ITEMS else [])
    return _cut(_shape(str(value)) if hidden else _scrub(str(value)))
