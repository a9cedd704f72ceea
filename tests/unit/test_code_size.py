"""Size limits of the package's code, so later features cannot regrow a module, a function or an operator class
past them (the layout rule of docs/architecture.md): every module <= 600 lines, every function <= 80 lines, every
operator, sensor or transfer class <= 300 lines (docstring included)."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "airflow_provider_comagic"
LIMITS = {"module": 600, "function": 80, "task": 300}
TASK_ROOMS = ("operators", "sensors", "transfers")


def _span(node: ast.AST) -> int:
    return node.end_lineno - node.lineno + 1  # type: ignore[attr-defined]


def oversized(root: pathlib.Path, limits: dict[str, int] = LIMITS) -> list[str]:
    """Every module, function and task class under ``root`` over its limit, named with its size."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root)
        source = path.read_text()
        if (lines := len(source.splitlines())) > limits["module"]:
            found.append(f"module {name}: {lines} lines > {limits['module']}")
        in_task_room = path.parent.name in TASK_ROOMS
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _span(node) > limits["function"]:
                found.append(f"function {name}:{node.name}: {_span(node)} lines > {limits['function']}")
            elif in_task_room and isinstance(node, ast.ClassDef) and _span(node) > limits["task"]:
                found.append(f"class {name}:{node.name}: {_span(node)} lines > {limits['task']}")
    return found


def test_no_module_function_or_task_class_is_over_its_limit():
    assert oversized(PACKAGE) == []


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("x = 1\n" * 11, "module"),
        ("def f():\n" + "    x = 1\n" * 5, "function"),
        ("class Op:\n" + "    x = 1\n" * 7, "class"),
    ],
)
def test_the_check_finds_each_kind_of_oversize(tmp_path, source, kind):
    (tmp_path / "operators").mkdir()
    (tmp_path / "operators" / "big.py").write_text(source)
    (tmp_path / "helpers.py").write_text("class Helper:\n" + "    x = 1\n" * 7)  # not a task room: no class limit
    found = oversized(tmp_path, {"module": 10, "function": 5, "task": 7})
    assert len(found) == 1 and found[0].startswith(f"{kind} operators/big.py")
