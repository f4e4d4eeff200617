"""Point mutations for any Python code: each changes one node in place. A constant is scaled,
an operator swapped for a relative (`+` for `-`), a numpy or math function for another of the
same signature (`np.exp` for `np.sqrt`)."""

from __future__ import annotations

import ast
import math
import random
from typing import cast

from agentic_design.mutations.code_ast import (
    emit,
    enclosing_function,
    import_aliases,
    in_subscript,
    is_text_arithmetic,
    parent_map,
    parse_code,
    snippet,
)
from agentic_design.mutations.operators import Mutation

# --- constants ---------------------------------------------------------------------------------

# Keyword arguments whose numbers are axes or orders, not magnitudes to tune.
_INDEX_KEYWORDS = frozenset({"axis", "axes", "dim", "dims", "ndim", "ndmin", "ord", "keepdims"})


def _tunable(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    if not (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))):
        return False
    parent = parents.get(node)
    return (
        type(node.value) is not bool
        and node.value != 0  # scaling cannot move it; a zero is mostly a start or an index
        and math.isfinite(node.value)
        and not (isinstance(parent, ast.keyword) and parent.arg in _INDEX_KEYWORDS)
        and not in_subscript(node, parents)
    )


def _log_factor(rng: random.Random) -> float:
    """A factor in [1/2, 2], log-uniform, at least 10% away from 1 to be worth a trial."""
    magnitude = rng.uniform(math.log(1.1), math.log(2.0))
    return math.exp(magnitude if rng.random() < 0.5 else -magnitude)


def _moved(old: float, rng: random.Random, exponent: bool) -> float | None:
    """`old` scaled by a log-uniform factor: ints stay ints, move by at least 1 and keep their
    sign; an integer exponent (`x ** 2`) steps by one. None when the value cannot move."""
    if isinstance(old, int):
        if exponent:
            return rng.choice([v for v in (old - 1, old + 1) if v >= 1])
        factor = _log_factor(rng)
        stepped = round(old * factor)
        if stepped == old:
            stepped += 1 if factor > 1 else -1
        return stepped if stepped * old > 0 else old + (1 if old > 0 else -1)
    new = float(f"{old * _log_factor(rng):.3g}")
    return new if new != old else None


def mutate_constant(code: str, rng: random.Random) -> Mutation | None:
    """Scale one numeric constant by a log-uniform factor in [1/2, 2] (`0.5 -> 0.35`), leaving
    zeros, indices (`x[0]`) and axes (`axis=1`) alone."""
    tree = parse_code(code)
    if tree is None:
        return None
    parents = parent_map(tree)
    sites = [node for node in ast.walk(tree) if _tunable(node, parents)]
    rng.shuffle(sites)
    for node in sites:
        assert isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
        parent = parents.get(node)
        exponent = (
            isinstance(parent, ast.BinOp)
            and isinstance(parent.op, ast.Pow)
            and parent.right is node
        )
        new = _moved(node.value, rng, exponent)
        if new is not None:
            old, node.value = node.value, new
            where = enclosing_function(node, parents)
            return emit(tree, f"constant {old!r} -> {new!r} in {where}", "constant")
    return None


# --- operators ---------------------------------------------------------------------------------

_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.BitAnd: "&", ast.BitOr: "|", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Eq: "==", ast.NotEq: "!=", ast.And: "and", ast.Or: "or",
}  # fmt: skip
# What each operator may become: same arity, a related meaning. `**` is left alone (x ** 2
# into x * 2 is rarely an improvement); `&`/`|` combine numpy's masks.
_OPERATOR_SWAPS: dict[type[ast.AST], tuple[type[ast.AST], ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,),
    ast.Div: (ast.Mult, ast.FloorDiv), ast.FloorDiv: (ast.Div,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,),
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.And: (ast.Or,), ast.Or: (ast.And,),
}  # fmt: skip


def _operator_sites(tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> list[tuple[ast.AST, int]]:
    """(node, index) for every swappable operator: that of a BinOp, AugAssign or BoolOp, the
    index-th of a Compare, or a call of the builtin min or max."""
    sites: list[tuple[ast.AST, int]] = []
    for node in ast.walk(tree):
        if in_subscript(node, parents):
            continue
        numeric = isinstance(node, ast.BinOp) and not is_text_arithmetic(node)
        if numeric or isinstance(node, ast.AugAssign):
            assert isinstance(node, (ast.BinOp, ast.AugAssign))
            sites += [(node, 0)] if type(node.op) in _OPERATOR_SWAPS else []
        elif isinstance(node, ast.BoolOp):
            sites.append((node, 0))
        elif isinstance(node, ast.Compare):
            sites += [(node, i) for i, op in enumerate(node.ops) if type(op) in _OPERATOR_SWAPS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            sites += [(node, 0)] if node.func.id in ("min", "max") else []
    return sites


def _swapped(old: ast.AST, rng: random.Random) -> ast.AST:
    # Operator nodes are shared singletons in CPython's ast: replace them, never edit them.
    return rng.choice(_OPERATOR_SWAPS[type(old)])()


def swap_operator(code: str, rng: random.Random) -> Mutation | None:
    """Swap one operator for a relative: `+`/`-`, `*`/`/`, `/`/`//`, `&`/`|`, `<`/`<=`/`>`,
    `==`/`!=`, `and`/`or`, or the builtins `min`/`max`."""
    tree = parse_code(code)
    if tree is None:
        return None
    parents = parent_map(tree)
    sites = _operator_sites(tree, parents)
    if not sites:
        return None
    node, index = rng.choice(sites)
    old: ast.AST | str
    new: ast.AST | str
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        old = node.func.id
        new = node.func.id = "max" if old == "min" else "min"
    elif isinstance(node, ast.Compare):
        old = node.ops[index]
        new = node.ops[index] = cast(ast.cmpop, _swapped(old, rng))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)):
        old = node.op
        new = node.op = cast(ast.operator, _swapped(old, rng))
    else:
        assert isinstance(node, ast.BoolOp)
        old = node.op
        new = node.op = cast(ast.boolop, _swapped(old, rng))
    shown = [x if isinstance(x, str) else _SYMBOLS[type(x)] for x in (old, new)]
    where = enclosing_function(node, parents)
    return emit(tree, f"{shown[0]} -> {shown[1]} in {where}: {snippet(node)}", "swap_operator")


# --- functions ---------------------------------------------------------------------------------

# Functions of the same signature that may replace one another, per module.
_CALL_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "numpy": (
        ("exp", "log1p", "sqrt", "abs", "square", "tanh"),
        ("max", "min"), ("amax", "amin"), ("maximum", "minimum"), ("mean", "median"),
        ("argmax", "argmin"), ("floor", "ceil"),
    ),
    "math": (("exp", "log1p", "sqrt", "tanh"), ("floor", "ceil")),
}  # fmt: skip


def swap_call(code: str, rng: random.Random) -> Mutation | None:
    """Swap one numpy or math function for a relative (`np.exp -> np.sqrt`, `np.max -> np.min`,
    `math.floor -> math.ceil`), whatever name the module is imported under."""
    tree = parse_code(code)
    if tree is None:
        return None
    relatives: dict[str, tuple[str, ...]] = {}
    for module, groups in _CALL_GROUPS.items():
        for alias in import_aliases(tree, module):
            relatives.update({f"{alias}.{name}": group for group in groups for name in group})
    sites = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and f"{node.func.value.id}.{node.func.attr}" in relatives
    ]
    if not sites:
        return None
    call = rng.choice(sites)
    assert isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
    module, old = call.func.value.id, call.func.attr
    call.func.attr = rng.choice([f for f in relatives[f"{module}.{old}"] if f != old])
    where = enclosing_function(call, parent_map(tree))
    return emit(tree, f"{module}.{old} -> {module}.{call.func.attr} in {where}", "swap_call")
