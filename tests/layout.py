"""The package's import graph, read from its source with `ast` (nothing is imported).

Used by `test_layout.py` to hold the import rules, and runnable to print the layout:

    python -m tests.layout [PACKAGE_DIR]     # rooms, module sizes, import circles, upward imports

Each edge is one module importing another of the package, with how: `top` (at import time),
`lazy` (inside a function: paid when called) or `type` (under `if TYPE_CHECKING:`, never run).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

PACKAGE = "agentic_design"

#: Floors, lowest first: a module may import its own floor and those below it. The leaves and
#: the sandbox at the bottom; the command line at the top.
FLOORS: tuple[tuple[str, ...], ...] = (
    (
        "records",
        "config",
        "resources",
        "prompts",
        "lenient_json",
        "normalise",
        "moved",
        "redaction",
        "sandbox",
    ),
    ("store", "llm"),
    ("mutations", "graph", "agents"),
    ("tasks",),
    ("proposers", "learning"),
    ("run", "report"),
    ("cli", "entry", "__main__", ""),
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    how: str  # top | lazy | type
    line: int


def modules(root: Path) -> dict[str, Path]:
    """Module name (relative to the package, '' for the package itself) -> its file."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _function_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def edges(root: Path) -> list[Edge]:
    """Every import of one of the package's modules by another, resolved to the module."""
    known = modules(root)
    found = []
    for name, path in known.items():
        tree = ast.parse(path.read_text())
        typed, inside = _type_checking_lines(tree), _function_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".") if package else []
                    base = base[: len(base) - node.level + 1]
                    module = ".".join([PACKAGE, *base, *([node.module] if node.module else [])])
                else:
                    module = node.module or ""
                targets = [
                    f"{module}.{a.name}"
                    if f"{module}.{a.name}"[len(PACKAGE) + 1 :] in known
                    else module
                    for a in node.names
                ]
            for target in targets:
                if target != PACKAGE and not target.startswith(PACKAGE + "."):
                    continue
                short = target[len(PACKAGE) + 1 :]
                while short and short not in known:
                    short = short.rpartition(".")[0]
                if short == name:
                    continue
                how = "type" if node.lineno in typed else "lazy" if node.lineno in inside else "top"
                found.append(Edge(name, short, how, node.lineno))
    return found


def floor_of(module: str) -> int:
    room = module.split(".")[0]
    for level, rooms in enumerate(FLOORS):
        if room in rooms:
            return level
    raise KeyError(f"{module!r} is in no floor: add its room to FLOORS")


def graph(found: list[Edge], kinds: tuple[str, ...] = ("top", "lazy", "type")) -> nx.DiGraph:
    g = nx.DiGraph()
    for e in found:
        if e.how in kinds:
            g.add_edge(e.source, e.target)
    return g


def circles(found: list[Edge]) -> list[list[str]]:
    """Groups of modules that import each other (through any chain, any kind of import)."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph(found)) if len(c) > 1)


def upward(found: list[Edge]) -> list[Edge]:
    """Imports of a module on a higher floor than the importer's."""
    return [e for e in found if floor_of(e.target) > floor_of(e.source)]


def report(root: Path) -> str:
    known = modules(root)
    found = edges(root)
    rooms: dict[str, list[str]] = {}
    for name in known:
        room = name.split(".")[0] if "." in name or (root / name).is_dir() else "(top level)"
        rooms.setdefault(room or "(top level)", []).append(name)
    lines = [f"{len(known)} modules in {len(rooms)} rooms"]
    for room, names in sorted(rooms.items()):
        lines.append(f"  {room}: {len(names)}")
    lines.append("module sizes over 400 lines:")
    for name, path in sorted(known.items(), key=lambda kv: -len(kv[1].read_text().splitlines())):
        size = len(path.read_text().splitlines())
        if size > 400:
            lines.append(f"  {size:5d}  {name or '__init__'}")
    found_circles = circles(found)
    lines.append(f"import circles: {len(found_circles)}")
    lines += [f"  {' <-> '.join(c)}" for c in found_circles]
    try:
        up = upward(found)
    except KeyError as exc:
        lines.append(f"upward imports: not counted ({exc})")
    else:
        lines.append(f"upward imports: {len(up)}")
        lines += [f"  {e.source} -> {e.target} ({e.how}, line {e.line})" for e in up]
    return "\n".join(lines)


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / PACKAGE
    print(report(where))
