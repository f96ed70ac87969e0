"""Static checks of strategy source: syntax, the Strategy class and its entry methods, hyperparameters.

User code is only compiled and its syntax tree inspected, never imported or executed: the
server process must not run arbitrary code just because someone opened the editor.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

REQUIRED_METHODS = ("should_long", "go_long")
HYPERPARAMETER_TYPES = ("int", "float", "categorical")
# Jesse writes a numeric hyperparameter's type as the builtin itself: {"type": int}.
_BUILTIN_TYPE_NAMES = ("int", "float")


@dataclass(frozen=True)
class Diagnostic:
    line: int  # 1-based
    column: int  # 1-based
    severity: Severity
    message: str


def validate_source(source: str, class_name: str) -> list[Diagnostic]:
    """Problems that would stop `class_name` (the strategy's name) from loading or trading."""
    try:
        # A full compile (not just parsing) also catches errors found after parsing, such as
        # `return` outside a function or a duplicate argument name.
        compile(source, f"{class_name}/__init__.py", "exec", dont_inherit=True)
        tree = ast.parse(source)
    except SyntaxError as error:
        return [Diagnostic(error.lineno or 1, error.offset or 1, "error", f"syntax error: {error.msg}")]
    except (ValueError, RecursionError, MemoryError) as error:  # a NUL byte; absurdly deep nesting
        return [Diagnostic(1, 1, "error", f"cannot compile: {error}")]

    strategy = _strategy_class(tree, class_name)
    if strategy is None:
        return [Diagnostic(1, 1, "error", f"no class deriving from Strategy; define `class {class_name}(Strategy):`")]
    diagnostics: list[Diagnostic] = []
    if strategy.name != class_name:
        diagnostics.append(
            _at(strategy, "error", f"the strategy class must be named {class_name} (its directory's name) to be loaded")
        )
    diagnostics += _method_diagnostics(strategy)
    diagnostics += _hyperparameter_diagnostics(strategy)
    return diagnostics


def declared_hyperparameters(source: str, class_name: str) -> list[dict[str, Any]]:
    """The well-formed entries of the literal list `hyperparameters()` returns; [] when it cannot be
    read without running code (best effort: a computed list is only known at run time)."""
    try:
        strategy = _strategy_class(ast.parse(source), class_name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    if strategy is None:
        return []
    entries, _ = _literal_hyperparameters(strategy)
    return [entry.spec for entry in entries if entry.spec is not None]


def _strategy_class(tree: ast.Module, class_name: str) -> ast.ClassDef | None:
    """The top-level Strategy subclass named `class_name`, else the first Strategy subclass."""
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and _derives_from_strategy(node)]
    return next((node for node in classes if node.name == class_name), classes[0] if classes else None)


def _at(node: ast.AST, severity: Severity, message: str) -> Diagnostic:
    return Diagnostic(node.lineno, node.col_offset + 1, severity, message)


def _derives_from_strategy(node: ast.ClassDef) -> bool:
    """`class X(Strategy)` or `class X(module.Strategy)`, whichever module it comes from (candlewire or jesse)."""
    return any(
        (isinstance(base, ast.Name) and base.id == "Strategy")
        or (isinstance(base, ast.Attribute) and base.attr == "Strategy")
        for base in node.bases
    )


def _methods(strategy: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node for node in strategy.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def _method_diagnostics(strategy: ast.ClassDef) -> list[Diagnostic]:
    methods = _methods(strategy)
    diagnostics = [
        _at(strategy, "error", f"{strategy.name} must define {name}(self)")
        for name in REQUIRED_METHODS
        if name not in methods
    ]
    # Shorting is optional, but only as a pair.
    if "should_short" in methods and "go_short" not in methods:
        diagnostics.append(
            _at(methods["should_short"], "error", "should_short() is defined but go_short() is not: a short entry would place no orders")
        )
    if "go_short" in methods and "should_short" not in methods:
        diagnostics.append(
            _at(methods["go_short"], "warning", "go_short() is never called without should_short(), which defaults to False")
        )
    for name, method in methods.items():
        if isinstance(method, ast.AsyncFunctionDef):
            diagnostics.append(_at(method, "error", f"{name}() must not be async: the engine calls it synchronously"))
    return diagnostics


def _hyperparameter_diagnostics(strategy: ast.ClassDef) -> list[Diagnostic]:
    entries, unreadable = _literal_hyperparameters(strategy)
    diagnostics = [_at(entry.node, "warning", entry.problem) for entry in entries if entry.problem]
    if unreadable is not None:
        diagnostics.append(
            _at(unreadable, "info", "hyperparameters() does not return a literal list; they are only known when the strategy runs")
        )
    return diagnostics


@dataclass(frozen=True)
class _Entry:
    node: ast.expr
    spec: dict[str, Any] | None
    problem: str | None


def _literal_hyperparameters(strategy: ast.ClassDef) -> tuple[list[_Entry], ast.AST | None]:
    """Each element of the list `hyperparameters()` returns, and the node to blame when that list is
    not a literal (None when there is no such method or it returns a literal)."""
    method = _methods(strategy).get("hyperparameters")
    if method is None:
        return [], None
    returned = next((node.value for node in ast.walk(method) if isinstance(node, ast.Return) and node.value), None)
    if not isinstance(returned, (ast.List, ast.Tuple)):
        return [], returned or method
    return [_entry(element) for element in returned.elts], None


def _entry(node: ast.expr) -> _Entry:
    try:
        value = ast.literal_eval(_BuiltinTypesAsNames().visit(copy.deepcopy(node)))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _Entry(node, None, "hyperparameter is not a literal dict; it is only known when the strategy runs")
    if not isinstance(value, dict):
        return _Entry(node, None, "hyperparameter must be a dict with name, type, min, max and default")
    problem = _spec_problem(value)
    return _Entry(node, None if problem else value, problem)


def _spec_problem(spec: dict[str, Any]) -> str | None:
    name, kind = spec.get("name"), spec.get("type")
    if not isinstance(name, str) or not name:
        return "hyperparameter needs a \"name\""
    if kind not in HYPERPARAMETER_TYPES:
        return f"hyperparameter {name!r}: \"type\" must be int, float or \"categorical\""
    if kind == "categorical":
        if not isinstance(spec.get("options"), (list, tuple)) or not spec["options"]:
            return f"hyperparameter {name!r}: a categorical needs a non-empty \"options\" list"
        return None
    bounds = [spec.get(key) for key in ("min", "max")]
    if not all(isinstance(bound, (int, float)) and not isinstance(bound, bool) for bound in bounds):
        return f"hyperparameter {name!r}: \"min\" and \"max\" must be numbers"
    if bounds[0] > bounds[1]:
        return f"hyperparameter {name!r}: \"min\" is above \"max\""
    return None


class _BuiltinTypesAsNames(ast.NodeTransformer):
    """Turns the names `int` and `float` into strings, which literal_eval can read."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in _BUILTIN_TYPE_NAMES:
            return ast.copy_location(ast.Constant(node.id), node)
        return node
