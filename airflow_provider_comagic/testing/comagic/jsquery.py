"""A subset of PostgreSQL jsquery, enough for the ``jsquery`` filter operator on array/object fields.

Supported: paths of keys, ``#`` (any array element), ``%`` (any object value), ``$`` (the value itself);
comparisons ``= < > <= >=``, ``IN (...)``, array operators ``@> <@ &&``, ``IS <type>``, sub-queries
``path(expr)``, ``AND``/``OR``/``NOT`` and parentheses. A condition on a path holds when it holds for any
value the path reaches. Anything else is a syntax error (``ValueError``), answered as
``invalid_parameter_value`` like the API does for a bad jsquery.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

Matcher = Callable[[Any], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)'
    r"|(?P<op><=|>=|@>|<@|&&|[=<>().,#%$\[\]])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_TYPES = {"string": str, "numeric": (int, float), "array": list, "object": dict, "boolean": bool}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"jsquery syntax error at {pos}: {text[pos : pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "str":
            out.append(("val", json.loads(raw)))
        elif kind == "num":
            out.append(("val", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        else:
            out.append((kind, raw))
    return out


def _walk(value: Any, path: list[str]) -> Iterator[Any]:
    if not path:
        yield value
        return
    step, rest = path[0], path[1:]
    if step == "$":
        yield from _walk(value, rest)
    elif step == "#":
        if isinstance(value, list):
            for item in value:
                yield from _walk(item, rest)
    elif step == "%":
        if isinstance(value, dict):
            for item in value.values():
                yield from _walk(item, rest)
    elif isinstance(value, dict) and step in value:
        yield from _walk(value[step], rest)


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return op == "=" and left is right
    if op == "=":
        return left == right
    both_num = isinstance(left, int | float) and isinstance(right, int | float)
    if not both_num and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, raw: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (raw is not None and (tok[0] == "val" or str(tok[1]).upper() != raw)):
            raise ValueError(f"jsquery: expected {raw or 'a token'} at token {self.pos}")
        self.pos += 1
        return tok

    def at(self, raw: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] != "val" and str(tok[1]).upper() == raw

    def parse(self) -> Matcher:
        matcher = self.or_expr()
        if self.peek() is not None:
            raise ValueError(f"jsquery: unexpected token at {self.pos}")
        return matcher

    def or_expr(self) -> Matcher:
        parts = [self.and_expr()]
        while self.at("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda v: any(p(v) for p in parts))

    def and_expr(self) -> Matcher:
        parts = [self.not_expr()]
        while self.at("AND"):
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else (lambda v: all(p(v) for p in parts))

    def not_expr(self) -> Matcher:
        if self.at("NOT"):
            self.take()
            inner = self.not_expr()
            return lambda v: not inner(v)
        if self.at("("):
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        return self.condition()

    def path(self) -> list[str]:
        steps = []
        while True:
            kind, raw = self.take()
            if kind == "op" and raw in "#%$":
                steps.append(raw)
            elif kind in {"word", "val"} and isinstance(raw, str):
                steps.append(raw)
            else:
                raise ValueError("jsquery: bad path")
            if not self.at("."):
                return steps
            self.take()

    def value(self) -> Any:
        if self.at("["):
            self.take()
            items = []
            while not self.at("]"):
                items.append(self.value())
                if self.at(","):
                    self.take()
            self.take("]")
            return items
        kind, raw = self.take()
        if kind == "val":
            return raw
        words = {"TRUE": True, "FALSE": False, "NULL": None}
        if kind == "word" and raw.upper() in words:
            return words[raw.upper()]
        raise ValueError(f"jsquery: expected a value, got {raw!r}")

    def condition(self) -> Matcher:
        path = self.path()
        tok = self.peek()
        if tok is None:
            raise ValueError("jsquery: condition expected")
        if self.at("("):
            self.take()
            inner = self.or_expr()
            self.take(")")
            test: Callable[[Any], bool] = inner
        elif self.at("IN"):
            self.take()
            self.take("(")
            options = [self.value()]
            while self.at(","):
                self.take()
                options.append(self.value())
            self.take(")")
            test = lambda v: any(_compare("=", v, o) for o in options)  # noqa: E731
        elif self.at("IS"):
            self.take()
            type_name = str(self.take()[1]).lower()
            if type_name not in _TYPES:
                raise ValueError(f"jsquery: unknown type {type_name}")
            wanted = _TYPES[type_name]

            def test(v):
                return isinstance(v, wanted) and not (type_name == "numeric" and isinstance(v, bool))
        else:
            op = self.take()[1]
            right = self.value()
            test = self._operator(op, right)
        return lambda v: any(test(item) for item in _walk(v, path))

    @staticmethod
    def _operator(op: str, right: Any) -> Callable[[Any], bool]:
        if op in {"=", "<", ">", "<=", ">="}:
            return lambda v: _compare(op, v, right)
        if op in {"@>", "<@", "&&"}:
            if not isinstance(right, list):
                raise ValueError(f"jsquery: {op} needs an array")
            if op == "@>":
                return lambda v: isinstance(v, list) and all(r in v for r in right)
            if op == "<@":
                return lambda v: isinstance(v, list) and all(x in right for x in v)
            return lambda v: isinstance(v, list) and any(x in right for x in v)
        raise ValueError(f"jsquery: unknown operator {op!r}")


def compile_query(text: str) -> Matcher:
    """Compile a jsquery expression into a predicate over a JSON value; ``ValueError`` on bad syntax."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("jsquery: empty query")
    return _Parser(text).parse()
