"""A user's own heuristic task, written against the public Task API only
(examples/tasks/scheduling.py): it loads from the path its config names, its seeds run and score
in-process, its scorer trusts nothing it is handed, its fingerprint follows the decisions rather
than the code, and offline evolution searches it end to end."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rich.console import Console

from agentic_design import RunConfig, Search, Status
from agentic_design.records import Origin
from agentic_design.run.evaluation import behaviour_hash, load_design_module
from agentic_design.store.archive import Archive
from agentic_design.tasks import InvalidDesign, InvalidOutputs, Task, load_task

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "examples" / "tasks" / "scheduling.yaml"
SMALL = {"jobs": 100, "instances": 4}


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return RunConfig.from_yaml(CONFIG)


@pytest.fixture(scope="module")
def task(config):
    return load_task(config.task, SMALL)


@pytest.fixture(scope="module")
def seeds(task):
    return {seed.name: seed.code for seed in task.seeds()}


def evaluate(task, code: str, split: str = "validation", fidelity: float = 1.0):
    budget = task.budget.model_copy(update={"fidelity": fidelity})
    outputs = task.run(load_design_module(code), split, seed=0, budget=budget)
    return outputs, task.score(outputs, split, fidelity=fidelity)


def fingerprint(task, code: str) -> str | None:
    return behaviour_hash(task.behaviour(load_design_module(code), seed=0, budget=task.budget))


def test_the_config_names_the_task_by_its_path_and_it_loads(config, task):
    assert config.task.endswith("examples/tasks/scheduling.py:WeightedTardinessTask")
    assert isinstance(task, Task) and type(task).__name__ == "WeightedTardinessTask"
    assert load_task(config.task, config.task_params).params == {"jobs": 500, "instances": 10}
    assert task.interface == ("priority",) and "priority(time, processing" in task.describe()
    assert task.fidelities() == (0.2,)


def test_the_task_file_imports_only_the_public_api():
    tree = ast.parse((REPO / "examples" / "tasks" / "scheduling.py").read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agentic")
    }
    assert imported <= {
        "agentic_design.tasks",
        "agentic_design.tasks.base",
        "agentic_design.records",
    }


def test_seeds_run_and_score_as_the_classic_rules_do(task, seeds):
    assert list(seeds) == [
        "Earliest due date",
        "Weighted shortest processing time",
        "Apparent tardiness cost",
    ]
    assert all(seed.origin is Origin.SEED for seed in task.seeds())
    scores = {name: evaluate(task, code)[1] for name, code in seeds.items()}
    edd, wspt, atc = scores.values()
    assert atc.fitness > wspt.fitness > edd.fitness  # the textbook order on tight due dates
    for score in scores.values():
        assert score.fitness < 0 and score.ci_low <= score.fitness <= score.ci_high
        assert score.fitness == pytest.approx(-score.metrics["weighted_tardiness"])
        assert len(score.metrics["per_instance"]) == 4
    assert "jobs late" in task.summarize(atc.metrics)


def test_a_cheap_evaluation_schedules_the_first_instances_only(task, seeds):
    outputs, cheap = evaluate(task, seeds["Apparent tardiness cost"], fidelity=0.25)
    _, full = evaluate(task, seeds["Apparent tardiness cost"])
    assert len(outputs["orders"]) == 1
    assert cheap.metrics["per_instance"] == full.metrics["per_instance"][:1]


FORGERIES = {
    "wrong-key": (lambda o: {"assignments": o}, "list of job orders"),
    "not-a-dict": (lambda o: [o], "list of job orders"),
    "instance-missing": (lambda o: {"orders": o[:-1]}, "expected 4 job orders"),
    "job-missing": (lambda o: {"orders": [o[0][:-1], *o[1:]]}, "instance 0: expected an order"),
    "job-twice": (lambda o: {"orders": [[o[0][0], *o[0][:-1]], *o[1:]]}, "runs twice"),
    "floats": (lambda o: {"orders": [[float(j) for j in o[0]], *o[1:]]}, "integers in"),
    "bool": (lambda o: {"orders": [[True, *o[0][1:]], *o[1:]]}, "integers in"),
    "out-of-range": (lambda o: {"orders": [[100, *o[0][1:]], *o[1:]]}, "integers in"),
    "not-a-list": (lambda o: {"orders": [dict(enumerate(o[0])), *o[1:]]}, "got dict"),
    # Job 25 comes with the second batch: running it first means idling while 25 jobs wait.
    "before-release": (
        lambda o: {"orders": [[25, *(j for j in o[0] if j != 25)], *o[1:]]},
        "job 25 is chosen at time 0, before it arrives",
    ),
}


@pytest.mark.parametrize(("forge", "message"), FORGERIES.values(), ids=FORGERIES.keys())
def test_the_scorer_rejects_forged_outputs(task, seeds, forge, message):
    honest, _ = evaluate(task, seeds["Earliest due date"])
    with pytest.raises(InvalidOutputs, match=message):
        task.score(forge([list(order) for order in honest["orders"]]), "validation")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return np.zeros(len(due) + 1)", "one score per waiting job"),
        ("return np.full(len(due), np.nan)", "NaN or infinite"),
        ("return ['a'] * len(due)", "must return numbers"),
    ],
)
def test_malformed_rules_make_the_design_invalid(task, body, message):
    code = (
        f"import numpy as np\n\ndef priority(time, processing, weight, due, release):\n    {body}\n"
    )
    with pytest.raises(InvalidDesign, match=message):
        evaluate(task, code)


def test_a_slow_rule_times_out_within_its_budget(task):
    slow = "import time as clock\n\ndef priority(time, processing, weight, due, release):\n"
    slow += "    clock.sleep(0.01)\n    return -due\n"
    budget = task.budget_model(max_seconds_per_instance=0.05)
    with pytest.raises(Exception, match=r"took over 0\.05 s") as raised:
        task.run(load_design_module(slow), "validation", seed=0, budget=budget)
    # Each load_task imports the user's file anew: its exception is known by name.
    assert type(raised.value).__name__ == "DesignTooSlow"
    assert raised.value.sandbox_status == "timeout"  # how the sandbox records it


def test_rules_that_choose_alike_share_a_fingerprint(task, seeds):
    wspt = seeds["Weighted shortest processing time"]
    alike = [
        wspt.replace("ratio = weight / processing", "ratio = 3.5 * weight / processing"),
        wspt.replace("ratio = weight / processing", "ratio = weight / processing + 7.0"),
        # A term that decides nothing: no job is due before time 0.5.
        wspt.replace("ratio = weight / processing", "ratio = weight / processing - (due < 0.5)"),
    ]
    prints = {fingerprint(task, code) for code in [wspt, *alike]}
    assert len(prints) == 1 and None not in prints


def test_rules_that_choose_otherwise_do_not(task, seeds):
    prints = {fingerprint(task, code) for code in seeds.values()}
    atc = seeds["Apparent tardiness cost"]
    prints.add(fingerprint(task, atc.replace("2.0 * np.mean", "0.5 * np.mean")))
    assert len(prints) == 4


@pytest.mark.slow
def test_an_offline_search_of_the_users_task_completes(config, tmp_path):
    small = config.with_overrides(
        task_params=SMALL,
        run_dir=str(tmp_path / "run"),
        **{"budget.evaluations": 12, "search.report": False},
    )
    result = Search(small, console=Console(quiet=True), progress=False).run()
    with Archive.open(result.run_dir, readonly=True) as archive:
        designs = archive.designs()
        spent = archive.spent()
        test = archive.meta("test")
    assert 12 <= spent <= 12 + 1.2  # the last design may go over by its cheap share
    seed_best = max(d.fitness for d in designs if d.origin is Origin.SEED)
    assert result.best is not None and result.best.fitness >= seed_best
    assert test["design_id"] == result.best.id and test["fitness"] < 0
    assert {d.status for d in designs} <= {
        Status.OK,
        Status.DUPLICATE,
        Status.SCREENED_OUT,
        Status.INVALID,
        Status.ERROR,
    }
    assert len(designs) > 3  # evolution wrote children beside the three seeds
