"""The bin-packing task: seeded instances, online packing with a design's priority function,
and a scorer that trusts nothing it is handed."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from agentic_design.tasks import InvalidDesign, InvalidOutputs, TaskLoadError, load_task
from agentic_design.tasks.binpack import BinPackingBudget, BinPackingTask, DesignTooSlow

SMALL = {"items": 200, "instances": 3}


def design(code: str) -> types.ModuleType:
    module = types.ModuleType("design")
    exec(compile(code, "<design>", "exec"), module.__dict__)
    return module


def priority_returning(body: str) -> types.ModuleType:
    return design(f"import numpy as np\n\ndef priority(item, bins):\n    {body}\n")


@pytest.fixture(scope="module")
def task() -> BinPackingTask:
    built = load_task("binpack", SMALL)
    assert isinstance(built, BinPackingTask)
    return built


@pytest.fixture(scope="module")
def seeds(task):
    return {seed.name: design(seed.code) for seed in task.seeds()}


def evaluate(task, module, split="validation"):
    return task.score(task.run(module, split, seed=0, budget=task.budget), split)


def test_seeds_score_as_the_classics_do(task, seeds):
    assert set(seeds) == {"First fit", "Best fit", "Worst fit"}
    scores = {name: evaluate(task, module) for name, module in seeds.items()}
    best, first, worst = (scores[n] for n in ("Best fit", "First fit", "Worst fit"))
    assert best.fitness > first.fitness > worst.fitness
    for score in scores.values():
        assert score.fitness < 0  # no heuristic reaches the L1 bound on these instances
        assert score.ci_low <= score.fitness <= score.ci_high
        assert score.fitness == pytest.approx(-score.metrics["excess_pct"])
        assert score.metrics["bins"] > score.metrics["l1_bound"]
        assert len(score.metrics["per_instance_excess_pct"]) == 3


def test_the_score_counts_bins_against_the_l1_bound(task):
    items = task.split_items("validation")
    one_bin_each = {"assignments": [list(range(len(i))) for i in items]}
    score = task.score(one_bin_each, "validation")
    bounds = [math.ceil(i.sum() / 100) for i in items]
    assert score.metrics["bins"] == 3 * 200 and score.metrics["l1_bound"] == sum(bounds)
    expected = np.mean([100 * (200 - b) / b for b in bounds])
    assert score.metrics["excess_pct"] == pytest.approx(expected)
    assert task.summarize(score.metrics) == f"excess {expected:.2f}% over L1, 600 bins"


def test_a_design_packs_each_item_into_its_best_scored_bin(task):
    # Scores favour the last bin listed: the item goes into the newest bin with room.
    outputs = task.run(priority_returning("return np.arange(len(bins))"), "test", seed=0,
                       budget=task.budget)  # fmt: skip
    for assignment, items in zip(outputs["assignments"], task.split_items("test"), strict=True):
        assert len(assignment) == len(items) and all(type(b) is int for b in assignment)
        assert assignment[0] == len(items) - 1  # every bin fits the first item: the last wins
    task.score(outputs, "test")  # a valid packing


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        (lambda a: {"predictions": a}, "list of assignments"),
        (lambda a: [a], "list of assignments"),
        (lambda a: {"assignments": a[:-1]}, "expected 3 assignments"),
        (lambda a: {"assignments": [a[0][:-1], *a[1:]]}, "instance 0: expected a bin for each"),
        (lambda a: {"assignments": [*a[:2], [*a[2], 0]]}, "instance 2: expected a bin for each"),
        (lambda a: {"assignments": [[0] * 200, *a[1:]]}, "instance 0: bin 0 holds"),
        (lambda a: {"assignments": [[float(b) for b in a[0]], *a[1:]]}, "integers in"),
        (lambda a: {"assignments": [[True, *a[0][1:]], *a[1:]]}, "integers in"),
        (lambda a: {"assignments": [[str(b) for b in a[0]], *a[1:]]}, "integers in"),
        (lambda a: {"assignments": [[-1, *a[0][1:]], *a[1:]]}, "integers in"),
        (lambda a: {"assignments": [[200, *a[0][1:]], *a[1:]]}, "integers in"),
        (lambda a: {"assignments": [dict(enumerate(a[0])), *a[1:]]}, "got dict"),
    ],
    ids=[
        "wrong-key", "not-a-dict", "instance-missing", "item-missing", "item-twice",
        "over-capacity", "floats", "bool", "strings", "negative", "out-of-range", "dict",
    ],
)  # fmt: skip
def test_the_scorer_rejects_forged_outputs(task, seeds, forge, message):
    honest = task.run(seeds["Best fit"], "validation", seed=0, budget=task.budget)
    forged = forge([list(a) for a in honest["assignments"]])
    with pytest.raises(InvalidOutputs, match=message):
        task.score(forged, "validation")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return np.zeros(len(bins) + 1)", r"expected shape \(\d+,\), got \(\d+,\)"),
        ("return 0.0", r"got \(\)"),
        ("return np.full(len(bins), np.nan)", "NaN or infinite"),
        ("return bins * np.inf", "NaN or infinite"),
        ("return ['a'] * len(bins)", "must return numbers"),
        ("return np.zeros((len(bins), 1))", "one score per bin"),
    ],
)
def test_malformed_priorities_make_the_design_invalid(task, body, message):
    with pytest.raises(InvalidDesign, match=message):
        task.run(priority_returning(body), "validation", seed=0, budget=task.budget)


def test_a_design_without_priority_is_invalid(task):
    with pytest.raises(InvalidDesign, match="must define priority"):
        task.run(design("def score(item, bins):\n    return bins\n"), "validation", seed=0,
                 budget=task.budget)  # fmt: skip


def test_a_slow_design_times_out_within_its_budget(task):
    slow = design("import time\n\ndef priority(item, bins):\n    time.sleep(0.01)\n    return bins")
    budget = BinPackingBudget(max_seconds_per_instance=0.05)
    with pytest.raises(DesignTooSlow, match=r"took over 0\.05 s") as raised:
        task.run(slow, "validation", seed=0, budget=budget)
    assert raised.value.sandbox_status == "timeout"


def test_instances_are_deterministic_and_the_splits_differ():
    first, second = load_task("binpack", SMALL), load_task("binpack", SMALL)
    splits = ("train", "validation", "test")
    for split in splits:
        for a, b in zip(first.split_items(split), second.split_items(split), strict=True):
            np.testing.assert_array_equal(a, b)
    keys = {s: tuple(first.split_items(s)[0][:50]) for s in splits}
    assert len(set(keys.values())) == 3
    reseeded = load_task("binpack", {**SMALL, "data_seed": 1})
    assert tuple(reseeded.split_items("validation")[0][:50]) != keys["validation"]
    items = np.concatenate(first.split_items("validation"))
    assert items.min() >= 1 and items.max() <= 100 and (items == np.round(items)).all()
    assert 35 < items.mean() < 45  # Weibull(3) times 45 has mean 45 * Gamma(4/3) ~ 40.2


def test_the_uniform_distribution_has_or_library_sizes_and_capacity():
    task = load_task("binpack", {**SMALL, "distribution": "uniform"})
    items = np.concatenate(task.split_items("test"))
    assert items.min() >= 20 and items.max() <= 100 and task.capacity == 150
    assert "every bin holds 150" in task.describe()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"item": 200}, "unknown parameters"),
        ({"distribution": "normal"}, "distribution must be one of"),
        ({"items": 0}, "items must be an integer >= 1"),
        ({"instances": 2.5}, "instances must be an integer"),
    ],
)
def test_bad_task_params_are_rejected(params, message):
    with pytest.raises(TaskLoadError, match=message):
        load_task("binpack", params)


def test_describe_states_the_interface_data_limits_and_metric():
    task = load_task("binpack", {"items": 1234, "instances": 7})
    task.configure({"max_seconds_per_instance": 3.5})
    text = task.describe()
    for fact in ("def priority(item: float, bins: np.ndarray)", "1234 items", "7 instances",
                 "holds 100", "3.5 seconds", "L1 lower bound", "Weibull"):  # fmt: skip
        assert fact in text, fact


def test_descriptors_and_checklist(task):
    found = task.descriptors("def priority(item, bins):\n    return -bins\n", {"excess_pct": 4.2})
    assert found["excess_pct"] == 4.2 and found["ast_nodes"] > 5
    assert task.descriptors("def (", {}) == {"ast_nodes": 0.0, "excess_pct": 0.0}
    assert any("finite score" in line for line in task.reflect_checklist())
