"""The documentation site: it builds with every warning an error, and its generated reference
pages (the configuration, the command line, the JSON schema) say what the code says.

The generators live beside the site (docs/hooks/) and run at each build; these tests walk the
code on their own and check the pages against it, so that neither can drift."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from agentic_design.cli.about import config_schema
from agentic_design.config import ConfigError, RunConfig
from agentic_design.tasks import BUILTIN_TASKS, task_class

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("examples/tasks/*.yaml")])


def hook_module(name: str) -> ModuleType:
    """One of docs/hooks/'s modules, loaded from its file as mkdocs loads it."""
    path = ROOT / "docs" / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_models() -> list[type[BaseModel]]:
    """RunConfig and every model its fields reach, however nested (optional, in a list)."""

    def inner(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in inner(arg)]

    found: list[type[BaseModel]] = [RunConfig]
    for model in found:  # grows as it goes: a breadth-first walk
        for field in model.model_fields.values():
            found += [m for m in inner(field.annotation) if m not in found]
    return found


def tables(markdown: str) -> list[list[str]]:
    """The keys each table of a page lists, in order: the first `code` of each row."""
    found: list[list[str]] = []
    rows: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("| `"):
            rows.append(re.match(r"\| `([^`]+)`", line).group(1))  # type: ignore[union-attr]
        elif rows:
            found.append(rows)
            rows = []
    return found


# -- the configuration reference ----------------------------------------------------------------
def test_the_configuration_reference_lists_every_field_of_every_model() -> None:
    page = hook_module("config_reference").render()
    listed = tables(page)
    models = config_models()
    assert len(models) >= 14  # RunConfig, Budget, SandboxConfig, ... as config.py has today
    for model in models:
        assert list(model.model_fields) in listed, f"no table lists {model.__name__}'s fields"
    for name in BUILTIN_TASKS:
        budget = task_class(name).budget_model
        assert list(budget.model_fields) in listed, f"{name}'s budget {budget.__name__}"
        assert f"`{name}`" in page


def test_the_configuration_reference_has_a_section_per_key_path() -> None:
    page = hook_module("config_reference").render()
    headings = re.findall(r"^## (\S+)", page, flags=re.MULTILINE)
    for path in ("budget", "sandbox", "search.selection", "search.meta_agent.decompose", "llm"):
        assert path in headings
    assert "llm.models[]" in headings  # a list of blocks: its items' keys
    # A field's own description, its type as YAML reads it, its default and its range.
    row = next(line for line in page.splitlines() if line.startswith("| `choice` |"))
    assert '"weights" \\| "bandit"' in row and '`"bandit"`' in row and "UCB1" in row
    row = next(line for line in page.splitlines() if line.startswith("| `hours` |"))
    assert "float \\| null, > 0" in row and "`null`" in row
    assert "| `task_budget` or `train` |" in page
    assert "{openevolve: FOLDER}" in page


# -- the command-line reference -----------------------------------------------------------------
def test_the_command_line_reference_lists_every_command_and_option() -> None:
    cli_reference = hook_module("cli_reference")
    page = cli_reference.render()
    commands = cli_reference.commands()
    assert {"run", "show", "tasks", "config-schema"} <= {name for name, _ in commands}
    for name, command in commands:
        start = page.index(f"## {name} {{ #{name} }}")
        section = page[start : page.find("\n## ", start + 1)]
        assert f"agentic-design {name}" in section
        for param in command.params:
            if param.name != "help":
                for opt in [*param.opts, *param.secondary_opts]:
                    shown = opt if opt.startswith("-") else opt.upper()
                    assert f"`{shown}`" in section, f"{name}: {shown}"
    run = page[page.index("## run ") : page.index("## resume ")]
    assert "| `--evaluations` | int |" in run and "| `--progress` / `--no-progress` | flag |" in run


# -- the JSON schema ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_schema_accepts_every_example(validator: Any, path: Path) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_the_schema_accepts_what_the_loader_accepts_besides_its_models(validator: Any) -> None:
    for spelling in ({"openevolve": "problems/x"}, {"shinka": "x"}, {"folder": "x"}):
        assert validator.is_valid({"task": spelling})
        RunConfig.from_dict({"task": spelling})
    assert validator.is_valid({"task": "digits", "train": {"max_seconds": 4}})


BAD = {
    "an unknown key": {"task": "digits", "budgett": {}},
    "an unknown nested key": {"task": "digits", "search": {"selection": {"stratgy": "x"}}},
    "a wrong type": {"task": "digits", "budget": {"evaluations": "many"}},
    "a value out of range": {"task": "digits", "sandbox": {"workers": 0}},
    "a value not among the choices": {"task": "digits", "executor": "slurm"},
    "no task": {"name": "x"},
    "an unknown folder format": {"task": {"funsearch": "x"}},
    "two folders": {"task": {"openevolve": "x", "shinka": "y"}},
    "both names of the task budget": {"task": "digits", "train": {}, "task_budget": {}},
}


@pytest.mark.parametrize("data", BAD.values(), ids=list(BAD))
def test_the_schema_rejects_what_the_loader_rejects(validator: Any, data: dict[str, Any]) -> None:
    assert not validator.is_valid(data)
    with pytest.raises(ConfigError):
        RunConfig.from_dict(copy.deepcopy(data))


@pytest.mark.slow
def test_the_config_schema_command_prints_the_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentic_design", "config-schema"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == config_schema()
    assert config_schema()["properties"]["budget"] == {"$ref": "#/$defs/Budget"}


# -- the site -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_site_builds_without_a_warning(tmp_path: Path) -> None:
    for plugin in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(plugin, reason="the docs extra: pip install -e '.[docs]'")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads((site / "schema" / "config.schema.json").read_text()) == config_schema()
    configuration = (site / "reference" / "configuration" / "index.html").read_text()
    assert 'id="search-selection"' in configuration
    assert 'id="config-schema"' in (site / "reference" / "cli" / "index.html").read_text()
    api = (site / "reference" / "api" / "index.html").read_text()
    assert "Search" in api and "from_yaml" in api
    assert not (site / "hooks").exists()  # the generators are not part of the site
