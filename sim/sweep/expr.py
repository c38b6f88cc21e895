"""Small, safe expressions over hardware fields: a sweep's constraints and derived fields.

``ifmap_sram_bytes + filter_sram_bytes + ofmap_sram_bytes <= 8388608`` or
``dram_bytes_per_s * 0.9`` are parsed with Python's `ast` and only names, numbers, strings,
arithmetic (``+ - * / // % **``, unary minus), comparisons (chained too) and ``and``/``or``/``not``
are allowed: no calls, attributes, subscripts or lambdas, so nothing a spec file says can run code.
An expression is evaluated on numpy arrays (one element per config), so thousands of configs are
checked in one pass.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from workloads.errors import CodesignError

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
#: Operators whose right operand must not be zero (numpy would give inf or NaN, which compare as a
#: constraint that holds, or fails, for every config).
_DIVIDING = (ast.Div, ast.FloorDiv, ast.Mod)


class SweepSpecError(CodesignError):
    """A sweep spec is invalid; the message names the key, the value and what is valid."""


class _DivisionByZero(Exception):
    """Raised inside `_eval`; `Expression.evaluate` names the expression."""

    def __init__(self, divisor: str, zeros: int, size: int) -> None:
        super().__init__(divisor)
        self.divisor, self.zeros, self.size = divisor, zeros, size


@dataclass(frozen=True)
class Expression:
    """A parsed expression and the field names it reads."""

    text: str
    names: tuple[str, ...]
    tree: ast.Expression
    where: str = "expression"

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value over `values` (field name → scalar or numpy array of one value per config); an
        error naming the expression where it divides by zero."""
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                return _eval(self.tree.body, values)
        except _DivisionByZero as zero:
            count = f"in {zero.zeros:,} of {zero.size:,} configs" if zero.size > 1 else "for every config"
            raise SweepSpecError(
                f"{self.where}: {self.text!r} divides by zero: {zero.divisor!r} is 0 {count}"
            ) from None


def parse_expression(text: str, *, fields: tuple[str, ...], where: str) -> Expression:
    """Parse `text`, allowing only the node types above and names among `fields`."""
    try:
        tree = ast.parse(str(text).strip(), mode="eval")
    except SyntaxError as error:
        raise SweepSpecError(f"{where}: {text!r} is not an expression: {error.msg}") from None
    tree = _DottedNames().visit(tree)
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in fields:
                close = difflib.get_close_matches(node.id, fields, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SweepSpecError(f"{where}: {text!r} names unknown field {node.id!r}{hint}")
            names.append(node.id)
        elif not isinstance(node, _ALLOWED):
            raise SweepSpecError(
                f"{where}: {text!r}: {type(node).__name__} is not allowed (only field names, numbers, "
                "arithmetic, comparisons and and/or/not)"
            )
    return Expression(text=str(text).strip(), names=tuple(dict.fromkeys(names)), tree=tree, where=where)


class _DottedNames(ast.NodeTransformer):
    """``overlay.cores`` (attribute access on a name) read as the one field name ``'overlay.cores'``:
    a nested spec's field, as sweep axes and ``--set`` name it."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:  # noqa: N802 — ast's visitor naming
        parts, inner = [node.attr], node.value
        while isinstance(inner, ast.Attribute):
            parts.append(inner.attr)
            inner = inner.value
        if not isinstance(inner, ast.Name):
            return self.generic_visit(node)
        name = ".".join([inner.id, *reversed(parts)])
        return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)


_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    ast.Not,
    *_BINARY,
    *_COMPARE,
    *_UNARY,
)


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
            raise SweepSpecError(f"constant {node.value!r}: only numbers and strings are allowed")
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        if isinstance(node.op, _DIVIDING):
            zeros = np.asarray(right) == 0
            if zeros.any():
                raise _DivisionByZero(ast.unparse(node.right), int(zeros.sum()), zeros.size)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        return np.logical_not(operand) if isinstance(node.op, ast.Not) else _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        result = _eval(node.values[0], values)
        for value in node.values[1:]:
            result = combine(result, _eval(value, values))
        return result
    if isinstance(node, ast.Compare):
        left, result = _eval(node.left, values), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, values)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return result
    raise SweepSpecError(f"{type(node).__name__} is not allowed in an expression")
