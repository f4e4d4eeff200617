"""Function-level crossover for any Python code: one parent's module with a top-level function
(or class) of the other, plus whatever that definition needs from its own module."""

from __future__ import annotations

import ast
import builtins
import copy
import random

from agentic_design.mutations.code_ast import emit, parse_code
from agentic_design.mutations.operators import Mutation

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)
_BUILTINS = frozenset(dir(builtins))


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
    """Names `stmt` reads but does not bind (roughly: a name bound anywhere inside counts)."""
    names = [n for n in ast.walk(stmt) if isinstance(n, ast.Name)]
    bound = {a.arg for a in ast.walk(stmt) if isinstance(a, ast.arg)}
    bound |= {n.id for n in names if not isinstance(n.ctx, ast.Load)} | set(_bindings(stmt))
    read = dict.fromkeys(n.id for n in names if isinstance(n.ctx, ast.Load))
    return [name for name in read if name not in bound and name not in _BUILTINS]


def _needs(a: ast.Module, b: ast.Module, name: str) -> list[ast.stmt] | None:
    """The statements of `b` that its top-level `name` needs, directly or through one another,
    and `a` lacks; None when one of them would clash with a different definition in `a`."""
    defined_a = {n: what for s in a.body for n, what in _bindings(s).items()}
    owner_b = {n: s for s in b.body for n in _bindings(s)}
    queue = [owner_b[name]]
    needed: list[ast.stmt] = []
    while queue:
        stmt = queue.pop(0)
        for free in _free_names(stmt):
            source = owner_b.get(free)
            if source is None or any(source is s for s in [*queue, *needed]):
                continue  # a global B lacks too, or one already on its way
            if free not in defined_a:
                queue.append(source)
                needed.append(source)
            elif _bindings(source)[free] != defined_a[free]:
                return None  # B's definition would read A's different `free`
        bound = _bindings(stmt)
        if stmt is not owner_b[name] and any(defined_a.get(n, w) != w for n, w in bound.items()):
            return None  # bringing it along would redefine one of A's names
    return needed


def _transplant(a: ast.Module, b: ast.Module, name: str) -> tuple[ast.Module, list[str]] | None:
    """A copy of `a` with `b`'s top-level `name` in place of its own and what it needs (imports
    after `a`'s, helpers just before it); with the names brought along."""
    needed = _needs(a, b, name)
    if needed is None:
        return None
    child = copy.deepcopy(a)
    extras = [copy.deepcopy(s) for s in b.body if any(s is n for n in needed)]  # in B's order
    position = next(i for i, s in enumerate(child.body) if name in _bindings(s))
    replacement = [s for s in b.body if name in _bindings(s)][-1]
    child.body[position : position + 1] = [
        *(s for s in extras if not isinstance(s, _IMPORTS)),
        copy.deepcopy(replacement),
    ]
    after = [i + 1 for i, s in enumerate(child.body) if isinstance(s, _IMPORTS)]
    start = after[-1] if after else int(ast.get_docstring(child) is not None)
    child.body[start:start] = [s for s in extras if isinstance(s, _IMPORTS)]
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
    with the imports, helpers and constants it needs that A lacks. None when no definition of
    both differs, when B's would clash with a different definition in A, or when the child
    would equal a parent (docstrings aside)."""
    a, b = parse_code(code_a), parse_code(code_b)
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
        child, brought = result
        note = f" (with {', '.join(brought)})" if brought else ""
        return emit(child, f"{name} of {labels[1]} into {labels[0]}{note}", "crossover")
    return None
