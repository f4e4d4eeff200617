"""`agentic-design init [KIND] DIR`: a task file and a config that run as written, for each
kind; the heuristic's scorer trusts nothing it is handed; a folder that holds anything is left
alone unless --force; the files are clean to ruff."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentic_design import RunConfig
from agentic_design.cli import app
from agentic_design.cli.init import KINDS, project_name, write_starting_point
from agentic_design.records import Status
from agentic_design.run.evaluation import load_design_module
from agentic_design.store.archive import Archive
from agentic_design.tasks import InvalidDesign, InvalidOutputs, load_task

CLASSES = {"heuristic": "Knapsack", "architecture": "DigitsClassifier", "agent": "LetterCounting"}
SEEDS = {"heuristic": 3, "architecture": 2, "agent": 2}
# Enough designs past the seeds for evolution to make some, few enough for seconds per run.
EVALUATIONS = {"heuristic": 10, "architecture": 5, "agent": 6}


def cli(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """The real command line, in a process of its own, with its data cache under the test's
    folder."""
    env = {**os.environ, "AGENTIC_DESIGN_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "agentic_design", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def knapsack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("knapsack")
    write_starting_point("heuristic", folder)
    return load_task(f"{folder / 'task.py'}:Knapsack")


# -- each kind runs as written ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_init_writes_a_task_that_runs_as_written_from_another_folder(tmp_path, kind):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = cli("init", kind, "../my project", cwd=elsewhere, cache=tmp_path / "cache")
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "my project"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.yaml", "task.py"]
    assert "agentic-design run '../my project/config.yaml'" in made.stdout

    # Run from a third folder: the config names its task file against its own folder.
    run_dir = tmp_path / "run"
    ran = cli(
        "run",
        str(folder / "config.yaml"),
        "--run-dir",
        str(run_dir),
        "--evaluations",
        str(EVALUATIONS[kind]),
        "--no-progress",
        cwd=tmp_path,
        cache=tmp_path / "cache",
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    with Archive.open(run_dir, readonly=True) as archive:
        designs = archive.designs()
        seeds = [d for d in designs if d.id in archive.seed_ids()]
        best = archive.best()
    assert len(designs) >= EVALUATIONS[kind]
    assert len(seeds) == SEEDS[kind] and all(d.status is Status.OK for d in seeds), [
        (d.name, d.status, d.error) for d in seeds
    ]
    assert best is not None and best.fitness is not None and 0 < best.fitness <= 1
    assert archive_task(run_dir).endswith(f"{folder / 'task.py'}:{CLASSES[kind]}")


def archive_task(run_dir: Path) -> str:
    return RunConfig.from_yaml(run_dir / "config.yaml").task


def test_the_config_names_the_task_beside_it_whatever_the_current_folder(tmp_path, monkeypatch):
    write_starting_point("heuristic", tmp_path / "proj")
    monkeypatch.chdir(tmp_path.parent)
    config = RunConfig.from_yaml(Path(tmp_path.name) / "proj" / "config.yaml")
    task = load_task(config.task, config.task_params)
    assert type(task).__name__ == "Knapsack" and task.name == "proj"
    assert config.name == "proj"


# -- the heuristic's scorer ------------------------------------------------------------------------
def seed_outputs(task, name: str) -> dict:
    code = next(seed.code for seed in task.seeds() if seed.name == name)
    return task.run(load_design_module(code), "validation", seed=0, budget=task.budget)


def test_the_knapsack_seeds_score_apart_and_below_the_optimum(knapsack):
    scores = {
        seed.name: knapsack.score(seed_outputs(knapsack, seed.name), "validation").fitness
        for seed in knapsack.seeds()
    }
    assert scores["Lightest first"] < scores["Most valuable first"] < scores["Value per weight"]
    assert all(0.5 < score < 1 for score in scores.values())


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "a list of items per instance"),
        ({"chosen": [[0]] * 3}, "a list of items per instance"),
        ({"chosen": "all"}, "a list of items per instance"),
        ({"chosen": [[0, 0]] + [[]] * 9}, "packed twice"),
        ({"chosen": [[100]] + [[]] * 9}, "numbered 0 to 99"),
        ({"chosen": [[True]] + [[]] * 9}, "numbered 0 to 99"),
        ({"chosen": [[1.0]] + [[]] * 9}, "numbered 0 to 99"),
        ({"chosen": [list(range(100))] + [[]] * 9}, "weigh too much"),
    ],
)
def test_the_knapsack_scorer_refuses_malformed_or_impossible_outputs(knapsack, outputs, message):
    with pytest.raises(InvalidOutputs, match=message):
        knapsack.score(outputs, "validation")


def test_the_knapsack_scorer_recomputes_the_value_of_what_was_packed(knapsack):
    # An empty knapsack is a valid packing worth nothing, whatever a design might claim.
    empty = knapsack.score({"chosen": [[]] * 10, "fitness": 1.0}, "validation")
    assert empty.fitness == 0 and empty.metrics["gap_pct"] == 100


def test_a_priority_of_the_wrong_shape_is_an_invalid_design(knapsack):
    design = load_design_module("def priority(value, weight, room):\n    return [1.0, 2.0]\n")
    with pytest.raises(InvalidDesign, match="a finite score per item"):
        knapsack.run(design, "validation", seed=0, budget=knapsack.budget)
    with pytest.raises(InvalidDesign, match="must define priority"):
        knapsack.run(load_design_module("x = 1\n"), "validation", seed=0, budget=knapsack.budget)


# -- the folder is never overwritten silently ------------------------------------------------------
def invoke(*args: str):
    return CliRunner().invoke(app, ["init", *args])


def test_init_refuses_a_folder_that_holds_anything_and_names_what(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert "notes.txt" in result.output and "--force" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_refuses_to_overwrite_its_own_files_and_force_replaces_them(tmp_path):
    (tmp_path / "task.py").write_text("# my work\n")
    (tmp_path / "notes.txt").write_text("mine")
    refused = invoke("agent", str(tmp_path))
    assert refused.exit_code == 2 and "already holds task.py" in refused.output
    assert (tmp_path / "task.py").read_text() == "# my work\n"

    forced = invoke("agent", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert "class LetterCounting(Task)" in (tmp_path / "task.py").read_text()
    assert "task.py (replaced)" in forced.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_init_writes_into_a_new_or_empty_folder_and_says_what_to_run(tmp_path):
    result = invoke("architecture", str(tmp_path / "a" / "b"))
    assert result.exit_code == 0, result.output
    assert "wrote an architecture task" in result.output
    assert f"agentic-design run {tmp_path / 'a' / 'b' / 'config.yaml'}" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(str(empty)).exit_code == 0
    assert "class Knapsack(Task)" in (empty / "task.py").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "init takes [KIND] DIR"),
        (["agent"], "needs the folder to write in"),
        (["tsp", "x"], "unknown kind 'tsp'"),
        (["heuristic", "x", "y"], "unexpected extra argument"),
    ],
)
def test_init_says_what_is_wrong_with_its_arguments(tmp_path, args, message):
    result = CliRunner().invoke(app, ["init", *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x").exists()


def test_init_refuses_a_file_for_a_folder(tmp_path):
    (tmp_path / "file").write_text("")
    result = invoke(str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file, not a folder" in result.output


def test_the_project_name_is_a_safe_slug_of_the_folder_name(tmp_path):
    assert project_name(tmp_path / "My Task!", "agent") == "my-task"
    assert project_name(tmp_path / "___", "agent") == "agent"


# -- clean code ----------------------------------------------------------------------------------
def ruff() -> list[str] | None:
    if shutil.which("ruff"):
        return ["ruff"]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    return None


@pytest.mark.skipif(ruff() is None, reason="ruff is not installed")
@pytest.mark.parametrize("kind", KINDS)
def test_the_task_file_is_clean_to_ruff(tmp_path, kind):
    folder = tmp_path / "weird name-2"
    write_starting_point(kind, folder)
    command = [*(ruff() or []), "check", "--isolated", "--no-cache"]
    # ruff's own defaults, as in a user's folder, and this project's rules.
    for rules in ([], ["--select", "E,F,W,I,B,UP,SIM,RUF", "--line-length", "100"]):
        checked = subprocess.run(
            [*command, *rules, "task.py"], cwd=folder, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout
    formatted = subprocess.run(
        [*(ruff() or []), "format", "--isolated", "--line-length", "100", "--check", "task.py"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout
