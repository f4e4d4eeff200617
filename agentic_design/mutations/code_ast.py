"""Small helpers over Python's `ast`, shared by the generic code operators."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence

from agentic_design.mutations.operators import Mutation

# Nodes that open a scope of their own: names bound outside are not simply visible inside.
SCOPES: tuple[type[ast.AST], ...] = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
SCOPES += (ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def parse_code(code: str) -> ast.Module | None:
    """The module `code` parses to, or None when it is not valid Python."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in the source
        return None


def parent_map(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Each node of `tree` mapped to the node that contains it (`ast` keeps no back-links)."""
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> str:
    """The name of the innermost function around `node`, or "module", for descriptions."""
    while node in parents:
        node = parents[node]
        if isinstance(node, FUNCTIONS):
            return node.name
    return "module"


def in_subscript(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True inside the brackets of `x[...]`: indices and axes, not magnitudes."""
    while node in parents and not isinstance(node, ast.stmt):
        parent = parents[node]
        if isinstance(parent, ast.Subscript) and parent.slice is node:
            return True
        node = parent
    return False


def replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where `old` is among `parent`'s children."""
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
        elif isinstance(value, list) and any(v is old for v in value):
            value[[v is old for v in value].index(True)] = new


def defined_names(statements: Sequence[ast.stmt]) -> set[str]:
    """The names `statements` bind: functions, classes, imports (`np` for `import numpy as
    np`, `os` for `import os.path`) and assignment targets, unpacked ones included."""
    names: set[str] = set()
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def snippet(node: ast.AST, limit: int = 50) -> str:
    """`node` as source, cut to `limit` characters, for descriptions."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def import_aliases(tree: ast.Module, module: str) -> list[str]:
    """The names `module` is imported under (`np` for `import numpy as np`)."""
    return [
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    ]


def local_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and its descendants breadth-first, without entering nested scopes."""
    queue = [node]
    while queue:
        current = queue.pop(0)
        yield current
        queue += [c for c in ast.iter_child_nodes(current) if not isinstance(c, SCOPES)]


def is_text_arithmetic(node: ast.BinOp) -> bool:
    """`"a" + b`, `f"{x}" * 3`, `[0] * n`: arithmetic on strings or lists, not numbers."""
    text = (ast.JoinedStr, ast.List, ast.Tuple)
    return any(
        isinstance(side, text) or (isinstance(side, ast.Constant) and isinstance(side.value, str))
        for side in (node.left, node.right)
    )


def emit(tree: ast.Module, description: str, operator: str) -> Mutation:
    """The mutation whose code is `tree`, written back as source."""
    return Mutation(ast.unparse(ast.fix_missing_locations(tree)), description, operator)
