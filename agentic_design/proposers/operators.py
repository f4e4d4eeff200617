"""Evolution operators for any Python design: small changes to its code, and a crossover.

A task hands offline evolution an `Operators` bundle (`Task.evolution_operators`): named mutation
operators with the weights they are drawn by, and a crossover. `generic_operators()` works on any
Python code: it scales constants, swaps arithmetic operators and numpy/math functions, inserts
and drops terms of arithmetic expressions, and crosses parents function by function. Tasks add
operators that know their own kind of design (torch layers, training recipes).

Every operator parses the code with `ast`, changes one thing and emits the result with
`ast.unparse` (comments are lost; docstrings kept). It returns None when it has nothing to act
on, never raises on code it cannot handle, and is deterministic given its `random.Random`: nodes
are visited in `ast.walk` order, never through a set. A change may still break the design (the
square root of a negative number): the evaluator records such a child as invalid, and evolution
moves on.
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import math
import random
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import cast


class MutationError(ValueError):
    """No operator can change the design (for instance, its code does not parse)."""


@dataclass(frozen=True)
class Mutation:
    """A changed design: its new code, a one-line description of the change, and the operator."""

    code: str
    description: str
    operator: str = ""


#: (code, rng) -> a changed design, or None when the operator has nothing to act on.
Operator = Callable[[str, random.Random], Mutation | None]
#: (code_a, code_b, rng, (label_a, label_b)) -> a child of both, or None.
Crossover = Callable[[str, str, random.Random, tuple[str, str]], Mutation | None]


def check_weights(weights: Mapping[str, float], known: Collection[str]) -> None:
    """Raise ValueError naming the problem when `weights` are not usable weights of the
    operators named `known`: an unknown name, a negative or non-finite weight, none positive."""
    unknown = [name for name in weights if name not in known]
    if unknown:
        raise ValueError(f"unknown mutation operator(s) {unknown}; known: {sorted(known)}")
    bad = {
        name: w
        for name, w in weights.items()
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not (0 <= w < math.inf)
    }
    if bad:
        raise ValueError(f"mutation operator weights must be finite numbers >= 0, got {bad}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one mutation operator needs a positive weight")


@dataclass(frozen=True)
class Operators:
    """What a task hands to offline evolution: mutation operators by name, the weight each is
    drawn with (a name left out is never drawn), and the crossover of two parents."""

    mutations: Mapping[str, Operator]
    weights: Mapping[str, float]
    crossover: Crossover

    def __post_init__(self) -> None:
        check_weights(self.weights, self.mutations)

    def with_weights(self, overrides: Mapping[str, float]) -> Operators:
        """A copy whose named operators have the weights in `overrides` (a config's choice)."""
        merged = {**self.weights, **overrides}
        check_weights(merged, self.mutations)
        return replace(self, weights=merged)


def mutate(code: str, rng: random.Random, operators: Operators) -> Mutation:
    """Apply one operator drawn by weight, falling back to the others while the drawn one has
    nothing to act on. The result parses and differs from `code` beyond formatting; its
    `operator` is the name it was drawn under. MutationError when no operator applies."""
    tree = _parse(code)
    if tree is None:
        raise MutationError("cannot mutate a design whose code does not parse")
    before = ast.unparse(tree)
    remaining = {name: w for name, w in operators.weights.items() if w > 0}
    while remaining:
        name = rng.choices(list(remaining), weights=list(remaining.values()))[0]
        del remaining[name]
        result = operators.mutations[name](code, rng)
        after = None if result is None else _parse(result.code)
        if result is not None and after is not None and ast.unparse(after) != before:
            return replace(result, operator=name)
    raise MutationError("no mutation operator applies to this design")


# --- AST helpers -----------------------------------------------------------------------------

# Nodes that open a scope of their own: names bound outside are not simply visible inside.
_SCOPES: tuple[type[ast.AST], ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_SCOPES += (ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in the source
        return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _emit(tree: ast.Module, description: str, operator: str) -> Mutation:
    return Mutation(ast.unparse(ast.fix_missing_locations(tree)), description, operator)


def _where(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """The name of the function around `node`, for descriptions."""
    while node in parents:
        node = parents[node]
        if isinstance(node, _FUNCTIONS):
            return node.name
    return "module"


def _in_slice(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True inside `x[...]`: indices and axes, where a changed number is rarely a good idea."""
    while node in parents and not isinstance(node, ast.stmt):
        parent = parents[node]
        if isinstance(parent, ast.Subscript) and parent.slice is node:
            return True
        node = parent
    return False


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where `old` is among `parent`'s children."""
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
        elif isinstance(value, list) and old in value:
            value[[v is old for v in value].index(True)] = new


def _snippet(node: ast.AST, limit: int = 50) -> str:
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _aliases(tree: ast.Module, module: str) -> list[str]:
    """The names `module` is imported under (`np` for `import numpy as np`)."""
    return [
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    ]


# --- 1. constants ----------------------------------------------------------------------------

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
        and not _in_slice(node, parents)
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
    tree = _parse(code)
    if tree is None:
        return None
    parents = _parents(tree)
    sites = [node for node in ast.walk(tree) if _tunable(node, parents)]
    rng.shuffle(sites)
    for node in sites:
        assert isinstance(node, ast.Constant)
        parent = parents.get(node)
        exponent = (
            isinstance(parent, ast.BinOp)
            and isinstance(parent.op, ast.Pow)
            and parent.right is node
        )
        assert isinstance(node.value, (int, float))
        new = _moved(node.value, rng, exponent)
        if new is not None:
            old, node.value = node.value, new
            where = _where(node, parents)
            return _emit(tree, f"constant {old!r} -> {new!r} in {where}", "constant")
    return None


# --- 2. operators ----------------------------------------------------------------------------

_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.BitAnd: "&", ast.BitOr: "|", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Eq: "==", ast.NotEq: "!=", ast.And: "and", ast.Or: "or",
}  # fmt: skip
# What each operator may become: same arity, a related meaning. `**` is left alone (x ** 2
# into x * 2 is rarely an improvement); `&`/`|` are numpy's masks.
_OPERATOR_SWAPS: dict[type[ast.AST], tuple[type[ast.AST], ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,),
    ast.Div: (ast.Mult, ast.FloorDiv), ast.FloorDiv: (ast.Div,),
    ast.BitAnd: (ast.BitOr,), ast.BitOr: (ast.BitAnd,),
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.And: (ast.Or,), ast.Or: (ast.And,),
}  # fmt: skip


def _textual(node: ast.BinOp) -> bool:
    """`"a" + b`, `f"{x}" * 3`: string arithmetic, which no swap keeps meaningful."""
    text = (ast.JoinedStr, ast.List, ast.Tuple)
    return any(
        isinstance(side, text) or (isinstance(side, ast.Constant) and isinstance(side.value, str))
        for side in (node.left, node.right)
    )


def _operator_sites(tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> list[tuple[ast.AST, int]]:
    """(node, index) for every swappable operator: BinOp/AugAssign/BoolOp (index 0), the
    index-th comparison of a Compare, or a call of the builtin min/max (index -1)."""
    sites: list[tuple[ast.AST, int]] = []
    for node in ast.walk(tree):
        if _in_slice(node, parents):
            continue
        if (isinstance(node, ast.BinOp) and not _textual(node)) or isinstance(node, ast.AugAssign):
            sites += [(node, 0)] if type(node.op) in _OPERATOR_SWAPS else []
        elif isinstance(node, ast.BoolOp):
            sites.append((node, 0))
        elif isinstance(node, ast.Compare):
            sites += [(node, i) for i, op in enumerate(node.ops) if type(op) in _OPERATOR_SWAPS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            sites += [(node, -1)] if node.func.id in ("min", "max") else []
    return sites


def _swapped(old: ast.AST, rng: random.Random) -> ast.AST:
    # Operator nodes are shared singletons in CPython's ast: replace them, never edit them.
    return rng.choice(_OPERATOR_SWAPS[type(old)])()


def swap_operator(code: str, rng: random.Random) -> Mutation | None:
    """Swap one operator for a relative: `+`/`-`, `*`/`/`, `/`/`//`, `&`/`|`, `<`/`<=`/`>`,
    `==`/`!=`, `and`/`or`, or the builtins `min`/`max`."""
    tree = _parse(code)
    if tree is None:
        return None
    parents = _parents(tree)
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
    where = _where(node, parents)
    return _emit(tree, f"{shown[0]} -> {shown[1]} in {where}: {_snippet(node)}", "swap_operator")


# --- 3. functions ------------------------------------------------------------------------------

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
    tree = _parse(code)
    if tree is None:
        return None
    relatives: dict[str, tuple[str, ...]] = {}
    for module, groups in _CALL_GROUPS.items():
        for alias in _aliases(tree, module):
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
    where = _where(call, _parents(tree))
    return _emit(tree, f"{module}.{old} -> {module}.{call.func.attr} in {where}", "swap_call")


# --- 4. and 5. terms ---------------------------------------------------------------------------

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)
_VALUED = (ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign)
# Builtins and numpy functions that return something other than a number or an array of them.
_NUMERIC_BUILTINS = frozenset({"abs", "min", "max", "float", "int", "len", "sum", "round"})
_NOT_NUMERIC_NUMPY = frozenset({"nonzero", "split", "array_split", "meshgrid", "unravel_index"})
_NOT_NUMERIC_TYPES = frozenset({"str", "bool", "bytes", "list", "dict", "tuple", "set", "Callable"})


def _numeric(expr: ast.expr, modules: Collection[str]) -> bool:
    """Whether `expr` looks like a number or an array of numbers (a guess from its form)."""
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


def _numeric_argument(arg: ast.arg) -> bool:
    annotation = arg.annotation
    if annotation is None:
        return arg.arg not in ("self", "cls")
    if isinstance(annotation, ast.Subscript):
        return False  # list[int], dict[str, float]: containers
    return ast.unparse(annotation).rpartition(".")[2] not in _NOT_NUMERIC_TYPES


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
    names = dict.fromkeys((a.arg for a in args if _numeric_argument(a)), 1.0)
    for stmt in fn.body[:upto]:
        assigned = _assignment(stmt)
        if assigned is not None and _numeric(assigned[1], modules):
            names[assigned[0]] = LOCAL_NAME_WEIGHT
    return names


def _local_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and its descendants breadth-first, without entering nested scopes."""
    queue = [node]
    while queue:
        current = queue.pop(0)
        yield current
        queue += [c for c in ast.iter_child_nodes(current) if not isinstance(c, _SCOPES)]


def _operands(expr: ast.expr) -> Iterator[ast.expr]:
    """`expr` and, recursively, the operands of its arithmetic."""
    yield expr
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, _ARITHMETIC):
        yield from _operands(expr.left)
        yield from _operands(expr.right)
    elif isinstance(expr, ast.UnaryOp):
        yield from _operands(expr.operand)


def _term_sites(
    tree: ast.Module, modules: Collection[str]
) -> list[tuple[ast.expr, dict[str, float]]]:
    """Numeric expressions a term can be added to (returned or assigned values and their
    operands, in functions), each with the names in scope there."""
    sites = []
    for fn in ast.walk(tree):
        if not isinstance(fn, _FUNCTIONS):
            continue
        for index, stmt in enumerate(fn.body):
            names = _scope_names(fn, index, modules)
            if not names:
                continue
            for node in _local_nodes(stmt):
                if isinstance(node, _VALUED) and node.value is not None:
                    sites += [(e, names) for e in _operands(node.value) if _numeric(e, modules)]
    return sites


@dataclass(frozen=True)
class TermForm:
    """One shape of new term. In `template`, `v` and `w` are names in scope, `c` a coefficient
    (its sign comes from the + or - the term is added with), `k`, `lo` and `hi` thresholds.
    `power` makes the term comparable to `v`: `c` scales as scale ** power (`c * v ** 2`
    needs a coefficient near 1 / scale, a mask `c * (v > k)` one near scale)."""

    template: str
    weight: float
    power: float = 0.0


TERM_FORMS: tuple[TermForm, ...] = (
    TermForm("{c} * {v}", 1.0),
    TermForm("{c} * {v} ** 2", 2.0, power=-1.0),
    TermForm("{c} * ({v} > {k})", 1.0, power=1.0),
    TermForm("{c} * ({v} < {k})", 1.0, power=1.0),
    TermForm("{c} * (({v} > {lo}) & ({v} < {hi}))", 2.0, power=1.0),
    TermForm("{c} * {v} * {w}", 1.0, power=-1.0),
    TermForm("{c} * {v} / (abs({w}) + 1)", 1.0),
    TermForm("{c} * {np}.sqrt({np}.abs({v}))", 1.0, power=0.5),
    TermForm("{c} * {np}.log1p({np}.abs({v}))", 1.0, power=1.0),
)
# Log-uniform ranges of coefficients (times scale ** power) and thresholds (times scale).
COEFFICIENTS = (0.01, 1.0)
THRESHOLDS = (0.01, 1.0)
# Names computed in the function weigh more than its arguments: they are what the design's
# author thought worth naming.
LOCAL_NAME_WEIGHT = 2.0


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
    tree = _parse(code)
    if tree is None:
        return None
    numpy = next(iter(_aliases(tree, "numpy")), None)
    sites = _term_sites(tree, [*_aliases(tree, "numpy"), *_aliases(tree, "math")])
    if not sites:
        return None
    site, names = rng.choice(sites)
    term = _new_term(rng, names, numpy, scale)
    op = rng.choice(("+", "-"))
    new = ast.parse(f"(_) {op} {term}", mode="eval").body
    assert isinstance(new, ast.BinOp)
    parents = _parents(tree)
    _replace(parents[site], site, new)
    new.left = site
    description = f"insert {op} {term} after {_snippet(site, 30)} in {_where(site, parents)}"
    return _emit(tree, description, "insert_term")


def drop_term(code: str, rng: random.Random) -> Mutation | None:
    """Remove one operand of a sum or difference: `a + b` becomes `a` or `b`, `a - b` becomes
    `a` or `-b`."""
    tree = _parse(code)
    if tree is None:
        return None
    parents = _parents(tree)
    sums = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, (ast.Add, ast.Sub))
        and not _textual(node)
        and not _in_slice(node, parents)
    ]
    if not sums:
        return None
    node = rng.choice(sums)
    keep_left = rng.random() < 0.5
    dropped = node.right if keep_left else node.left
    kept: ast.expr = node.left if keep_left else node.right
    if not keep_left and isinstance(node.op, ast.Sub):
        kept = ast.UnaryOp(op=ast.USub(), operand=kept)
    where = _where(node, parents)
    _replace(parents[node], node, kept)
    return _emit(tree, f"drop {_snippet(dropped, 40)} in {where}", "drop_term")


# --- 6. crossover ----------------------------------------------------------------------------

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_BUILTINS = frozenset(dir(builtins))
_IMPORTS = (ast.Import, ast.ImportFrom)


def _bindings(stmt: ast.stmt) -> dict[str, str]:
    """The top-level names `stmt` binds, each with what it binds it to (to compare parents)."""
    if isinstance(stmt, _DEFINITIONS):
        return {stmt.name: ast.dump(stmt)}
    if isinstance(stmt, ast.Import):
        return {(a.asname or a.name).split(".")[0]: f"import {a.name}" for a in stmt.names}
    if isinstance(stmt, ast.ImportFrom):
        source = f"from {'.' * stmt.level}{stmt.module} import"
        return {a.asname or a.name: f"{source} {a.name}" for a in stmt.names}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        return dict.fromkeys(names, ast.dump(stmt))
    return {}


def _free_names(stmt: ast.stmt) -> list[str]:
    """Names `stmt` reads but does not bind itself (roughly: any scope inside counts as its)."""
    bound = {a.arg for a in ast.walk(stmt) if isinstance(a, ast.arg)}
    bound |= {
        n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    bound |= set(_bindings(stmt))
    read = [n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return [name for name in dict.fromkeys(read) if name not in bound and name not in _BUILTINS]


def _needs(a: ast.Module, b: ast.Module, name: str) -> list[ast.stmt] | None:
    """The statements of `b` that its top-level `name` needs, directly or through one another,
    and `a` lacks; None when one of them would clash with a different definition in `a`."""
    defined_a = {n: what for s in a.body for n, what in _bindings(s).items()}
    owner_b = {n: s for s in b.body for n in _bindings(s)}
    queue, needed = [owner_b[name]], list[ast.stmt]()
    while queue:
        stmt = queue.pop(0)
        for free in _free_names(stmt):
            source = owner_b.get(free)
            if source is None or any(source is s for s in [*queue, *needed]):
                continue  # a global B lacks too, or already on the way
            if free not in defined_a:
                queue.append(source)
                needed.append(source)
            elif _bindings(source)[free] != defined_a[free]:
                return None  # B's function would read A's different `free`
        bound = _bindings(stmt)
        if stmt is not owner_b[name] and any(defined_a.get(n, w) != w for n, w in bound.items()):
            return None  # bringing it would redefine one of A's names
    return needed


def _transplant(a: ast.Module, b: ast.Module, name: str) -> tuple[ast.Module, list[str]] | None:
    """A copy of `a` with `b`'s top-level `name` in place of its own, plus what it needs."""
    needed = _needs(a, b, name)
    if needed is None:
        return None
    child = copy.deepcopy(a)
    extras = [copy.deepcopy(s) for s in b.body if any(s is n for n in needed)]  # in B's order
    imports = [s for s in extras if isinstance(s, _IMPORTS)]
    position = next(i for i, s in enumerate(child.body) if name in _bindings(s))
    replacement = next(s for s in b.body if name in _bindings(s))
    child.body[position : position + 1] = [
        *(s for s in extras if not isinstance(s, _IMPORTS)),
        copy.deepcopy(replacement),
    ]
    after = [i + 1 for i, s in enumerate(child.body) if isinstance(s, _IMPORTS)]
    start = after[-1] if after else int(ast.get_docstring(child) is not None)
    child.body[start:start] = imports
    return child, [n for s in extras for n in _bindings(s)]


def _without_docstring(tree: ast.Module) -> str:
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.unparse(ast.Module(body=body, type_ignores=[]))


def function_crossover(
    code_a: str, code_b: str, rng: random.Random, labels: tuple[str, str] = ("A", "B")
) -> Mutation | None:
    """Parent A with one top-level function (or class) of parent B in place of its own, along
    with the imports, helpers and constants it needs that A lacks. None when no shared
    definition differs, when B's would clash with a different definition in A, or when the
    child would equal a parent."""
    a, b = _parse(code_a), _parse(code_b)
    if a is None or b is None:
        return None
    defs_b = {s.name: ast.dump(s) for s in b.body if isinstance(s, _DEFINITIONS)}
    shared = [
        s.name
        for s in a.body
        if isinstance(s, _DEFINITIONS) and defs_b.get(s.name, ast.dump(s)) != ast.dump(s)
    ]
    rng.shuffle(shared)
    parents = {_without_docstring(a), _without_docstring(b)}
    for name in shared:
        result = _transplant(a, b, name)
        if result is None or _without_docstring(result[0]) in parents:
            continue
        child, extra = result
        note = f" (with {', '.join(extra)})" if extra else ""
        return _emit(child, f"{name} of {labels[1]} into {labels[0]}{note}", "crossover")
    return None


def generic_operators(scale: float = 1.0) -> Operators:
    """The operators for any Python code, with weights tuned on online bin packing. `scale` is
    the typical magnitude of the design's numbers (a bin's capacity), when the task knows it:
    new terms' coefficients and thresholds are drawn around it."""
    return Operators(
        mutations={
            "constant": mutate_constant,
            "swap_operator": swap_operator,
            "swap_call": swap_call,
            "insert_term": functools.partial(insert_term, scale=scale),
            "drop_term": drop_term,
        },
        weights={
            "constant": 3.0,
            "swap_operator": 1.0,
            "swap_call": 1.0,
            "insert_term": 2.0,
            "drop_term": 1.0,
        },
        crossover=function_crossover,
    )
