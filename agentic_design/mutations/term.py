"""Term mutations for any Python code: add a new term to an arithmetic expression, or drop one.

A new term is built from a small grammar (`TERM_FORMS`: powers, threshold masks, products...)
over the names in scope where it goes, with coefficients and thresholds drawn log-uniformly
around the typical magnitude of the design's numbers (`scale`, which the task may know: a bin's
capacity). Whether a name holds a number is guessed from how it was computed or annotated.

The draws lean towards changes that can matter: names the function computed over its raw
arguments, array-valued names over scalars in a function that returns an array (adding a term
of scalars alone moves every entry alike), whole values over operands deep inside them.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from agentic_design.mutations.code_ast import (
    FUNCTIONS,
    emit,
    enclosing_function,
    import_aliases,
    in_subscript,
    is_text_arithmetic,
    local_nodes,
    parent_map,
    parse_code,
    replace_child,
    snippet,
)
from agentic_design.mutations.operators import Mutation


@dataclass(frozen=True)
class TermForm:
    """One shape of new term. In `template`, `v` and `w` are names in scope, `c` a coefficient
    (its sign comes from the + or - the term is added with), `k`, `lo` and `hi` thresholds.
    `power` makes the term comparable to `v`: `c` scales as scale ** power (`c * v ** 2`
    needs a coefficient near 1 / scale, a mask `c * (v > k)` one near scale)."""

    template: str
    weight: float
    power: float = 0.0


# Weighted by how often each improved best fit in one step on online bin packing (250 tries
# each): masks did (3.6% of bands, 2% of `v > k`, 0.8% of `v < k`), no other form did. The
# others stay for tasks that differ, and to combine with masks over several steps.
TERM_FORMS: tuple[TermForm, ...] = (
    TermForm("{c} * {v}", 1.0),
    TermForm("{c} * {v} ** 2", 1.0, power=-1.0),
    TermForm("{c} * ({v} > {k})", 2.0, power=1.0),
    TermForm("{c} * ({v} < {k})", 1.5, power=1.0),
    TermForm("{c} * (({v} > {lo}) & ({v} < {hi}))", 4.0, power=1.0),
    TermForm("{c} * {v} * {w}", 0.5, power=-1.0),
    TermForm("{c} * {v} / (abs({w}) + 1)", 0.5),
    TermForm("{c} * {np}.sqrt({np}.abs({v}))", 0.5, power=0.5),
    TermForm("{c} * {np}.log1p({np}.abs({v}))", 0.5, power=1.0),
)
# Log-uniform ranges of coefficients (times scale ** power) and thresholds (times scale).
COEFFICIENTS = (0.01, 1.0)
THRESHOLDS = (0.01, 1.0)
# Names computed in the function weigh more than its arguments: they are what the design's
# author thought worth naming. Scalar arguments of a function returning an array weigh less.
LOCAL_NAME_WEIGHT = 2.0
SCALAR_NAME_WEIGHT = 0.25
# A term goes into an operand at depth d of a value with weight SITE_DECAY ** d: in long
# expressions, deep operands are many and each matters little.
SITE_DECAY = 0.5

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_VALUED = (ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign)
# Builtins that return numbers, numpy functions that do not, annotations of non-numbers.
_NUMERIC_BUILTINS = frozenset({"abs", "min", "max", "float", "int", "len", "sum", "round"})
_NOT_NUMERIC_NUMPY = frozenset({"nonzero", "split", "array_split", "meshgrid", "unravel_index"})
_NOT_NUMERIC_TYPES = frozenset({"str", "bool", "bytes", "list", "dict", "tuple", "set", "Callable"})
_ARRAY_TYPES = frozenset({"ndarray", "array", "Tensor", "ArrayLike"})


def _numeric(expr: ast.expr, modules: Collection[str]) -> bool:
    """Whether `expr` looks like a number or an array of numbers (a guess from its form);
    `modules` are the names numpy and math are imported under."""
    if isinstance(expr, ast.Constant):
        return type(expr.value) in (int, float)
    if isinstance(expr, (ast.Name, ast.Subscript)):
        return True
    if isinstance(expr, ast.UnaryOp):
        return isinstance(expr.op, (ast.USub, ast.UAdd)) and _numeric(expr.operand, modules)
    if isinstance(expr, ast.BinOp):
        sides = (expr.left, expr.right)
        return isinstance(expr.op, _ARITHMETIC) and all(_numeric(e, modules) for e in sides)
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        return expr.func.id in _NUMERIC_BUILTINS
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        base = expr.func.value
        return (
            isinstance(base, ast.Name)
            and base.id in modules
            and expr.func.attr not in _NOT_NUMERIC_NUMPY
        )
    return False


def _type_name(annotation: ast.expr | None) -> str:
    """`ndarray` for `np.ndarray`: the last part of a plain annotation ("" if none)."""
    return "" if annotation is None else ast.unparse(annotation).rpartition(".")[2]


def _argument_weight(arg: ast.arg, returns_array: bool) -> float:
    """How often an argument is drawn into a new term: never if it cannot be a number (`self`,
    a `str`, a `list[int]`), seldom if it is a scalar of a function that returns an array (a
    term of scalars alone moves every entry alike), else 1."""
    if arg.arg in ("self", "cls") or isinstance(arg.annotation, ast.Subscript):
        return 0.0
    kind = _type_name(arg.annotation)
    if kind in _NOT_NUMERIC_TYPES:
        return 0.0
    return SCALAR_NAME_WEIGHT if returns_array and kind in ("float", "int") else 1.0


def _assignment(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    """(name, value) for `name = value` and `name: T = value`, else None."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def _scope_names(
    fn: ast.FunctionDef | ast.AsyncFunctionDef, upto: int, modules: Collection[str]
) -> dict[str, float]:
    """Numeric-looking names bound before `fn.body[upto]`, arguments then earlier locals, each
    with the weight it is drawn with."""
    args = [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]
    returns_array = _type_name(fn.returns) in _ARRAY_TYPES
    weights = {a.arg: _argument_weight(a, returns_array) for a in args}
    names = {name: weight for name, weight in weights.items() if weight > 0}
    for stmt in fn.body[:upto]:
        assigned = _assignment(stmt)
        if assigned is not None and _numeric(assigned[1], modules):
            names[assigned[0]] = LOCAL_NAME_WEIGHT
    return names


def _operands(expr: ast.expr, depth: int = 0) -> Iterator[tuple[ast.expr, int]]:
    """`expr` and, recursively, the operands of its arithmetic, each with its depth."""
    yield expr, depth
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, _ARITHMETIC):
        yield from _operands(expr.left, depth + 1)
        yield from _operands(expr.right, depth + 1)
    elif isinstance(expr, ast.UnaryOp):
        yield from _operands(expr.operand, depth + 1)


@dataclass(frozen=True)
class _Site:
    expr: ast.expr  # where the term goes
    names: dict[str, float]  # the names in scope there, with their weights
    weight: float  # how often it is drawn: whole values more often than deep operands


def _term_sites(tree: ast.Module, modules: Collection[str]) -> list[_Site]:
    """Numeric expressions a term can be added to (returned or assigned values and their
    operands, in functions), each with the names in scope there."""
    sites = []
    for fn in ast.walk(tree):
        if not isinstance(fn, FUNCTIONS):
            continue
        for index, stmt in enumerate(fn.body):
            names = _scope_names(fn, index, modules)
            if not names:
                continue
            for node in local_nodes(stmt):
                if isinstance(node, _VALUED) and node.value is not None:
                    sites += [
                        _Site(e, names, SITE_DECAY**depth)
                        for e, depth in _operands(node.value)
                        if _numeric(e, modules)
                    ]
    return sites


def _number(rng: random.Random, low: float, high: float) -> float:
    """Log-uniform in [low, high], to two significant digits."""
    return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.2g}")


def _new_term(
    rng: random.Random, names: Mapping[str, float], numpy: str | None, scale: float
) -> str:
    """A new term drawn from `TERM_FORMS`, made from the names in scope (by weight)."""
    v = rng.choices(list(names), weights=list(names.values()))[0]
    others = {n: w for n, w in names.items() if n != v}
    w = rng.choices(list(others), weights=list(others.values()))[0] if others else v
    forms = [
        form
        for form in TERM_FORMS
        if ("{w}" not in form.template or w != v) and ("{np}" not in form.template or numpy)
    ]
    form = rng.choices(forms, weights=[f.weight for f in forms])[0]
    low, high = (scale * t for t in THRESHOLDS)
    lo, hi = sorted((_number(rng, low, high), _number(rng, low, high)))
    c = _number(rng, *(x * scale**form.power for x in COEFFICIENTS))
    k = _number(rng, low, high)
    return form.template.format(c=c, k=k, lo=lo, hi=hi, v=v, w=w, np=numpy)


def insert_term(code: str, rng: random.Random, scale: float = 1.0) -> Mutation | None:
    """Add a new term to one numeric expression of a function (`return -r` becomes
    `return -r - 0.3 * r ** 2`), made from the names in scope there and fresh constants.
    `scale` is the typical magnitude of the design's numbers, when the task knows it."""
    tree = parse_code(code)
    if tree is None:
        return None
    numpy = next(iter(import_aliases(tree, "numpy")), None)
    modules = [*import_aliases(tree, "numpy"), *import_aliases(tree, "math")]
    sites = _term_sites(tree, modules)
    if not sites:
        return None
    site = rng.choices(sites, weights=[s.weight for s in sites])[0]
    term = _new_term(rng, site.names, numpy, scale)
    op = rng.choice(("+", "-"))
    new = ast.parse(f"(_) {op} {term}", mode="eval").body
    assert isinstance(new, ast.BinOp)
    parents = parent_map(tree)
    replace_child(parents[site.expr], site.expr, new)
    new.left = site.expr
    where = enclosing_function(site.expr, parents)
    description = f"insert {op} {term} after {snippet(site.expr, 30)} in {where}"
    return emit(tree, description, "insert_term")


def drop_term(code: str, rng: random.Random) -> Mutation | None:
    """Remove one operand of a sum or difference: `a + b` becomes `a` or `b`, `a - b` becomes
    `a` or `-b`."""
    tree = parse_code(code)
    if tree is None:
        return None
    parents = parent_map(tree)
    sums = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and not is_text_arithmetic(node)
        and not in_subscript(node, parents)
    ]
    if not sums:
        return None
    node = rng.choice(sums)
    keep_left = rng.random() < 0.5
    dropped = node.right if keep_left else node.left
    kept: ast.expr = node.left if keep_left else node.right
    if not keep_left and isinstance(node.op, ast.Sub):
        kept = ast.UnaryOp(op=ast.USub(), operand=kept)
    where = enclosing_function(node, parents)
    replace_child(parents[node], node, kept)
    return emit(tree, f"drop {snippet(dropped, 40)} in {where}", "drop_term")
