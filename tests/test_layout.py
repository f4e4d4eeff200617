"""The package's layout holds its import rules (the "Layout" section of docs/index.md).

The graph is read from the source (`tests/layout.py`); what runs inside the sandbox is also
imported for real, in a fresh interpreter, to see what it loads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .layout import PACKAGE, Edge, circles, edges, floor_of, modules, upward

ROOT = Path(__file__).resolve().parents[1] / PACKAGE
EDGES = edges(ROOT)

#: The import circles the package keeps on purpose, each justified where it is imported:
#: (importer, imported) -> why. Each import waits until it is called.
NAMED_CIRCLES = {
    ("store.archive", "run.replay"): "Archive.replay(id), the Python API's promise",
    ("run.assemble", "run.ray_executor"): "Ray workers assemble their node's parts",
    ("entry", "cli"): "entry loads cli only once it can answer a Ctrl-C",
}

#: Imported by what runs inside the sandbox: the toolkit designs import, the evaluation entry,
#: the built-in tasks' `run` and what it imports, the graph engine, the sandbox's own server.
INSIDE = (
    "agentic_design.agents",
    "agentic_design.agents.adas",
    "agentic_design.agents.decompose",
    "agentic_design.graph",
    "agentic_design.run.evaluation",
    "agentic_design.run.program_check",
    "agentic_design.tasks.binpack",
    "agentic_design.tasks.circle_packing",
    "agentic_design.tasks.autocorrelation",
    "agentic_design.tasks.verified",
    "agentic_design.tasks.folder",
    "agentic_design.tasks.folder.runner",
    "agentic_design.tasks.agent",
    "agentic_design.tasks.architecture",
    "agentic_design.tasks.architecture.training",
    "agentic_design.sandbox.server",
)
SEARCH_SIDE_ONLY = ("jinja2", "litellm", "tenacity", "rich", "typer")


def _edges_from(room: str) -> list[Edge]:
    return [e for e in EDGES if e.source == room or e.source.startswith(room + ".")]


def _outside(edges_: list[Edge], allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{e.source} imports {e.target} (line {e.line})"
        for e in edges_
        if not any(e.target == a or e.target.startswith(a + ".") for a in allowed)
    ]


def test_the_graph_reader_sees_every_kind_of_import():
    # A check that could not fail proves nothing: the reader must find each kind.
    kinds = {e.how for e in EDGES}
    assert kinds == {"top", "lazy", "type"}
    assert any(e.source == "run.search" and e.target == "run.assemble" for e in EDGES)
    assert any(e.source == "store.archive" and e.target == "run.replay" for e in EDGES)


def test_the_sandbox_imports_nothing_else_of_the_package():
    assert _outside(_edges_from("sandbox"), ("sandbox",)) == []


def test_the_leaves_import_nothing_of_the_package_but_what_they_may():
    may = {
        "records": (),
        "lenient_json": (),
        "normalise": (),
        "resources": (),
        "moved": (),
        "redaction": (),
        "prompts": ("resources",),
        "config": ("sandbox",),  # the names of the sandbox's protections
    }
    for leaf, allowed in may.items():
        assert _outside(_edges_from(leaf), allowed) == [], leaf


def test_the_store_and_the_llm_reach_only_config_records_and_redaction():
    store = [e for e in _edges_from("store") if (e.source, e.target) not in NAMED_CIRCLES]
    assert _outside(store, ("store", "config", "records", "redaction")) == []
    assert _outside(_edges_from("llm"), ("config", "records", "redaction")) == []


def test_tasks_never_import_proposers_the_run_or_the_store():
    forbidden = ("proposers", "run", "store")
    assert [e for e in _edges_from("tasks") if e.target.split(".")[0] in forbidden] == []


def test_only_the_command_line_stands_above_the_run():
    above = [
        f"{e.source} -> {e.target}"
        for e in EDGES
        if e.target.startswith("run.")
        and not e.source.startswith("run.")
        and e.source.split(".")[0] not in ("cli", "entry", "")  # the cli package, any module
        and (e.source, e.target) not in NAMED_CIRCLES
    ]
    assert above == []


def test_no_module_imports_a_floor_above_its_own_but_the_named_circles():
    up = [e for e in upward(EDGES) if (e.source, e.target) not in NAMED_CIRCLES]
    assert up == []
    with pytest.raises(KeyError):
        floor_of("a_room_nobody_placed")  # a new room must be given its floor


def test_no_import_circle_remains_but_the_named_ones():
    kept = [e for e in EDGES if (e.source, e.target) not in NAMED_CIRCLES]
    assert circles(kept) == []
    # ...and each named one is a real circle, justified in a comment where it is imported.
    for (source, target), why in NAMED_CIRCLES.items():
        assert any(e.source == source and e.target == target for e in EDGES), why
        text = modules(ROOT)[source].read_text()
        assert "circle" in text, f"{source} does not say why it imports {target}"


def test_what_runs_inside_the_sandbox_never_loads_the_searchs_dependencies():
    # One fresh interpreter imports each in turn and says what it found loaded after each.
    probe = (
        "import importlib, json, sys\n"
        f"found = {{}}\n"
        f"for name in {list(INSIDE)!r}:\n"
        "    importlib.import_module(name)\n"
        f"    found[name] = sorted(m for m in {list(SEARCH_SIDE_ONLY)!r} if m in sys.modules)\n"
        "print(json.dumps(found))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {name: [] for name in INSIDE}


def test_the_probe_would_see_a_search_side_module_loaded():
    # The same probe on a module that does load them: the check above can fail.
    probe = (
        "import importlib, sys\n"
        "importlib.import_module('agentic_design.run.search')\n"
        f"print(sorted(m for m in {list(SEARCH_SIDE_ONLY)!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert "rich" in out.stdout
