"""Cheap evaluations and behavioural fingerprints of the built-in tasks.

A cheap evaluation (`Task.fidelities`, run with `budget.fidelity` below 1) must do that share of
the work, be scored on just what it did, and rank designs as the full evaluation would. A
fingerprint (`Task.behaviour`) must be shared by designs that would score the same and differ
between designs that would not. Tasks run here in-process, as the sandbox would run them; the
last tests take the evaluator's way through a real sandbox.
"""

from __future__ import annotations

import math

import pytest

from agentic_design.config import RunConfig
from agentic_design.resources import shipped_dir
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.run.evaluation import behaviour_hash, has_behaviour, load_design_module
from agentic_design.tasks import InvalidDesign, InvalidOutputs, load_task
from agentic_design.tasks.agent import task as agent_task
from agentic_design.tasks.common import share_count

# -- the share of a split ------------------------------------------------------------------------


def test_a_share_covers_the_first_instances_rounded_up_and_at_least_one():
    assert [share_count(5, 0.2), share_count(5, 0.25), share_count(40, 0.25)] == [1, 2, 10]
    assert share_count(10, 0.3) == 3  # 10 * 0.3 is 3.0000000000000004 in binary
    assert share_count(3, 0.01) == 1 and share_count(7, 1.0) == 7


# -- bin packing ---------------------------------------------------------------------------------

BINPACK = {"items": 500, "instances": 5}
BEST_FIT = (shipped_dir("archive") / "binpack" / "best_fit.py").read_text()
FIRST_FIT = (shipped_dir("archive") / "binpack" / "first_fit.py").read_text()
WORST_FIT = (shipped_dir("archive") / "binpack" / "worst_fit.py").read_text()


def at(task, fidelity: float):
    return task.budget.model_copy(update={"fidelity": fidelity})


@pytest.fixture(scope="module")
def binpack():
    return load_task("binpack", BINPACK)


def fingerprint(task, code: str):
    return task.behaviour(load_design_module(code), seed=0, budget=task.budget)


def test_binpack_fingerprints_priorities_that_pack_alike_as_one(binpack):
    same = [
        BEST_FIT,
        BEST_FIT.replace("score = -remaining", "score = -remaining * 3.0"),
        BEST_FIT.replace("score = -remaining", "score = 7.5 - remaining"),
        BEST_FIT.replace("    return score", "    unused = np.sqrt(bins)\n    return score"),
    ]
    prints = [fingerprint(binpack, code) for code in same]
    assert all(p == prints[0] for p in prints)
    assert behaviour_hash(prints[0]) == behaviour_hash(fingerprint(binpack, BEST_FIT))
    assert len(prints[0]["bins"]) == 2 and all(n > 0 for n in prints[0]["bins"])


def test_binpack_fingerprints_tell_different_decisions_apart(binpack):
    prints = [fingerprint(binpack, code) for code in (BEST_FIT, FIRST_FIT, WORST_FIT)]
    # Best fit but for one rare choice: a gap of 2 left rather than a perfect fit. It uses as
    # many bins as best fit on the probe, and more on the validation instances.
    gap_of_two = "score = 3.0 * (remaining == 2) - remaining"
    rare = fingerprint(binpack, BEST_FIT.replace("score = -remaining", gap_of_two))
    assert rare["bins"] == prints[0]["bins"]
    assert len({p["decisions"] for p in [*prints, rare]}) == 4


def test_binpack_fingerprint_of_a_malformed_priority_is_invalid(binpack):
    with pytest.raises(InvalidDesign, match="one score per bin"):
        fingerprint(binpack, "def priority(item, bins):\n    return bins[:1]\n")


def test_binpack_cheap_evaluation_packs_the_first_fifth_and_ranks_as_the_full_one(binpack):
    assert binpack.fidelities() == (0.2,)
    fitness = {}
    for name, code in (("best", BEST_FIT), ("first", FIRST_FIT), ("worst", WORST_FIT)):
        design = load_design_module(code)
        cheap = binpack.run(design, "validation", seed=0, budget=at(binpack, 0.2))
        full = binpack.run(design, "validation", seed=0, budget=binpack.budget)
        assert len(cheap["assignments"]) == 1 and len(full["assignments"]) == 5
        assert cheap["assignments"][0] == full["assignments"][0]
        score = binpack.score(cheap, "validation", fidelity=0.2)
        whole = binpack.score(full, "validation")
        assert (
            score.metrics["per_instance_excess_pct"] == whole.metrics["per_instance_excess_pct"][:1]
        )
        # One instance: the bootstrap has nothing to resample, and the interval is the value.
        assert score.ci_low == score.fitness == score.ci_high
        fitness[name] = (score.fitness, whole.fitness)
    assert fitness["best"][0] > fitness["first"][0] > fitness["worst"][0]
    assert fitness["best"][1] > fitness["first"][1] > fitness["worst"][1]


def test_binpack_outputs_of_another_share_are_rejected(binpack):
    design = load_design_module(BEST_FIT)
    cheap = binpack.run(design, "validation", seed=0, budget=at(binpack, 0.2))
    full = binpack.run(design, "validation", seed=0, budget=binpack.budget)
    with pytest.raises(InvalidOutputs, match="expected 1 assignments, got 5"):
        binpack.score(full, "validation", fidelity=0.2)
    with pytest.raises(InvalidOutputs, match="expected 5 assignments, got 1"):
        binpack.score(cheap, "validation")
    with pytest.raises(InvalidOutputs, match="expected 2 assignments, got 1"):
        binpack.score(cheap, "validation", fidelity=0.4)  # a share the config chose
    forged = {"assignments": [list(range(500))[:-1]]}
    with pytest.raises(InvalidOutputs, match="instance 0: expected a bin for each"):
        binpack.score(forged, "validation", fidelity=0.2)


# -- architectures -------------------------------------------------------------------------------

MLP = """
from torch import nn


def build_model(input_shape, num_classes):
    hidden = {hidden}
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, hidden), nn.{activation}(), nn.Linear(hidden, num_classes)
    )


def train_recipe():
    return {{"optimizer": "{optimizer}", "lr": {lr}, "epochs": 4, "batch_size": 64,
             "momentum": {momentum}}}
"""


def mlp(
    hidden: int = 32,
    lr: float = 3e-3,
    optimizer: str = "adam",
    momentum: float = 0.9,
    activation: str = "ReLU",
) -> str:
    return MLP.format(
        hidden=hidden, lr=lr, optimizer=optimizer, momentum=momentum, activation=activation
    )


@pytest.fixture(scope="module")
def digits():
    task = load_task("digits")
    task.prepare()
    task.configure({"max_epochs": 4, "max_seconds": 20, "device": "cpu"})
    return task


def test_architecture_fingerprints_ignore_code_that_changes_nothing(digits):
    base = fingerprint(digits, mlp())
    dead = mlp().replace("    hidden = 32\n", "    hidden = 32\n    unused = hidden * 7\n")
    assert fingerprint(digits, dead) == base
    assert fingerprint(digits, mlp()) == base  # built again: the same seeds, the same weights
    assert fingerprint(digits, mlp(momentum=0.5)) == base  # Adam reads no momentum
    assert base["params"] == 64 * 32 + 32 + 32 * 10 + 10
    assert base["shapes"] == [[32, 64], [32], [10, 32], [10]]
    assert base["recipe"]["lr"] == 3e-3 and "momentum" not in base["recipe"]


def test_architecture_fingerprints_tell_models_and_recipes_apart(digits):
    variants = [
        mlp(),
        mlp(hidden=48),
        mlp(lr=1e-3),
        mlp(activation="Tanh"),  # the same parameters, another function of them
        mlp(optimizer="sgd"),
        mlp(optimizer="sgd", momentum=0.5),
    ]
    prints = [behaviour_hash(fingerprint(digits, code)) for code in variants]
    assert len(set(prints)) == len(variants)


def test_architecture_cheap_evaluation_trains_a_quarter_of_the_steps(digits):
    assert digits.fidelities() == (0.25,)
    design = load_design_module(mlp())
    planned = 4 * math.ceil(len(digits.inputs()["y_train"]) / 64)
    full = digits.run(design, "validation", seed=0, budget=digits.budget)
    cheap = digits.run(design, "validation", seed=0, budget=at(digits, 0.25))
    assert full["steps"] == planned and full["stopped_by"] == "epochs"
    assert cheap["steps"] == share_count(planned, 0.25) and cheap["stopped_by"] == "steps"
    # Scored on the whole split: a cheap evaluation trains less, it does not predict less.
    score = digits.score(cheap, "validation", fidelity=0.25)
    assert score.metrics["steps"] == cheap["steps"]
    assert len(cheap["predictions"]) == len(digits.labels("validation"))
    assert 0.5 < score.fitness < digits.score(full, "validation").fitness


def test_architecture_cheap_evaluation_shares_the_time_limit_too(digits):
    design = load_design_module(mlp())
    budget = digits.budget.model_copy(update={"max_seconds": 0.0001, "fidelity": 0.25})
    cheap = digits.run(design, "validation", seed=0, budget=budget)
    assert cheap["stopped_by"] == "time"


def test_architecture_replay_of_a_cheap_evaluation_repeats_it(digits):
    design = load_design_module(mlp())
    cheap = digits.run(design, "validation", seed=0, budget=at(digits, 0.25))
    recorded = digits.score(cheap, "validation", fidelity=0.25).metrics
    # As the evaluator does it: the replay's budget first, then the share.
    replay = digits.replay_budget(digits.budget, recorded).model_copy(update={"fidelity": 0.25})
    again = digits.run(design, "validation", seed=0, budget=replay)
    assert again["steps"] == cheap["steps"] and again["predictions"] == cheap["predictions"]


def test_architecture_cheap_evaluation_ranks_a_trainable_recipe_first(digits):
    scores = {
        lr: digits.score(
            digits.run(load_design_module(mlp(lr=lr)), "validation", seed=0,
                       budget=at(digits, 0.25)),
            "validation",
            fidelity=0.25,
        ).fitness
        for lr in (3e-3, 1e-5)
    }  # fmt: skip
    assert scores[3e-3] > scores[1e-5] + 0.2


def test_architecture_outputs_at_a_share_still_predict_the_whole_split(digits):
    n = len(digits.labels("validation"))
    with pytest.raises(InvalidOutputs, match=f"expected {n} predictions"):
        digits.score({"predictions": [0] * (n // 4)}, "validation", fidelity=0.25)


# -- agents --------------------------------------------------------------------------------------

ANSWERS_ZERO = "def forward(self, task):\n    return '0'\n"


@pytest.fixture
def arithmetic(tmp_path, monkeypatch):
    monkeypatch.setattr(agent_task, "CACHE_DIR", tmp_path / "cache")
    task = load_task("arithmetic")
    task.configure({"examples": 8, "concurrency": 2, "max_calls_per_example": 5})
    task.prepare()
    return task


def test_agents_have_no_fingerprint_and_a_quarter_of_the_examples_is_cheap(arithmetic):
    assert not has_behaviour(arithmetic) and arithmetic.fidelities() == (0.25,)
    design = load_design_module(ANSWERS_ZERO)
    assert arithmetic.behaviour(design, seed=0, budget=arithmetic.budget) is None
    cheap = arithmetic.run(design, "validation", seed=0, budget=at(arithmetic, 0.25))
    examples = arithmetic.examples("validation")
    assert [r["id"] for r in cheap["results"]] == [e.id for e in examples[:2]]
    assert arithmetic.score(cheap, "validation", fidelity=0.25).metrics["examples"] == 2
    assert arithmetic.call_cap("validation") == 40  # what the evaluator asks: all examples
    assert arithmetic.call_cap("validation", fidelity=0.25) == 10


def test_agent_cheap_outputs_are_scored_on_their_examples_alone(arithmetic):
    examples = arithmetic.examples("validation")
    right = {"results": [{"id": e.id, "answer": e.answer} for e in examples[:2]]}
    score = arithmetic.score(right, "validation", fidelity=0.25)
    assert score.fitness == 1.0 and score.metrics["correct"] == 2
    with pytest.raises(InvalidOutputs, match=r"expected one result per example \(8\), got 2"):
        arithmetic.score(right, "validation")
    three = {"results": [{"id": e.id, "answer": e.answer} for e in examples[:3]]}
    with pytest.raises(InvalidOutputs, match=r"\(2\), got 3"):
        arithmetic.score(three, "validation", fidelity=0.25)
    shifted = {"results": [{"id": e.id, "answer": e.answer} for e in examples[1:3]]}
    with pytest.raises(InvalidOutputs, match="in the examples' order"):
        arithmetic.score(shifted, "validation", fidelity=0.25)


# -- through the evaluator and a real sandbox ----------------------------------------------------


def run_config(task: str, task_params: dict, task_budget: dict) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "fidelity",
            "task": task,
            "task_params": task_params,
            "run_dir": "unused",
            "seed": 0,
            "budget": {"evaluations": 1},
            "task_budget": task_budget,
            "agent_llm": {"model": "simulated"},
            "sandbox": {"workers": 1, "wall_s": 120},
        }
    )


def test_binpack_through_the_sandbox_fingerprints_and_evaluates_cheaply():
    run = run_config("binpack", BINPACK, {})
    task = build_task(run)
    with sandbox_for(run, task) as sandbox:
        evaluator = evaluator_for(run, task, sandbox)
        scaled = BEST_FIT.replace("score = -remaining", "score = -remaining * 3.0")
        prints = [evaluator.behaviour(code, seed=0) for code in (BEST_FIT, scaled, FIRST_FIT)]
        cheap = evaluator.evaluate(BEST_FIT, seed=0, fidelity=0.2)
    assert prints[0] is not None and prints[0] == prints[1] != prints[2]
    assert cheap.status.value == "ok" and cheap.fidelity == 0.2
    assert len(cheap.metrics["per_instance_excess_pct"]) == 1


def test_humaneval_cheap_evaluation_runs_and_judges_its_answers_alone():
    run = run_config("humaneval", {}, {"examples": 8, "test_examples": 8})
    run.simulated.p_correct = 1.0
    task = build_task(run)
    task.prepare()
    seed = (shipped_dir("archive") / "agent" / "chain_of_thought.py").read_text()
    with sandbox_for(run, task) as sandbox:
        cheap = evaluator_for(run, task, sandbox).evaluate(seed, seed=0, fidelity=0.25)
    assert cheap.status.value == "ok", cheap.error
    assert cheap.fidelity == 0.25 and cheap.metrics["examples"] == 2
    assert cheap.fitness == 1.0  # the simulated model's right answers pass their tests
