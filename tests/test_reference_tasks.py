"""The field's reference problems as built-in tasks: circle packing and the first autocorrelation
inequality (AlphaEvolve), and FunSearch's OR3-style bin packing. Each verifier outside the
sandbox checks what it is handed and computes the score itself; the seeds run in the real
sandbox and score what their docstrings say; a short offline search runs end to end.
The hostile inputs each verifier must refuse are in tests/hostile/test_reward_hacks.py."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from rich.console import Console

from agentic_design import RunConfig, Search, Status
from agentic_design.records import Origin
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.run.evaluation import load_design_module
from agentic_design.store.archive import Archive
from agentic_design.tasks import (
    BUILTIN_TASKS,
    InvalidDesign,
    InvalidOutputs,
    TaskLoadError,
    load_task,
)
from agentic_design.tasks.autocorrelation import MAX_STEPS, autoconvolution_ratio
from agentic_design.tasks.binpack import BinPackingTask
from agentic_design.tasks.verified import TOLERANCE, ConstructionBudget, DesignTooSlow

# 25 circles of radius 0.1 on a 5 x 5 grid, and one in the hole between the four circles at
# the grid's lower-left: its centre (0.2, 0.2) is 0.1 * sqrt(2) from theirs, so its radius is
# 0.1 * sqrt(2) - 0.1. The sum, by hand: 2.5 + 0.1 * (sqrt(2) - 1).
GRID_CENTERS = [[0.1 + 0.2 * i, 0.1 + 0.2 * j] for i in range(5) for j in range(5)] + [[0.2, 0.2]]
GRID_RADII = [0.1] * 25 + [0.1 * math.sqrt(2) - 0.1]
GRID_SUM = 2.5 + 0.1 * (math.sqrt(2) - 1)


def packing(centers=None, radii=None, **extra) -> dict:
    return {"centers": centers or GRID_CENTERS, "radii": radii or GRID_RADII, **extra}


def run_config(task: str, run_dir: str = "unused", **overrides) -> RunConfig:
    config = {
        "name": task,
        "task": task,
        "run_dir": run_dir,
        "seed": 0,
        "budget": {"evaluations": 1},
        "sandbox": {"workers": 1, "wall_s": 60},
        "search": {"report": False},
    }
    config.update(overrides)
    return RunConfig.from_dict(config)


@pytest.fixture(scope="module")
def circles():
    return load_task("circle_packing")


@pytest.fixture(scope="module")
def autocorrelation():
    return load_task("autocorrelation")


@pytest.fixture(scope="module")
def sandboxed():
    """Evaluates a design of a task the real way: run in the sandbox, scored outside."""
    with contextlib.ExitStack() as stack:
        evaluators = {}

        def evaluate(task_name: str, code: str):
            if task_name not in evaluators:
                config = run_config(task_name)
                task = build_task(config)
                sandbox = stack.enter_context(sandbox_for(config, task))
                evaluators[task_name] = evaluator_for(config, task, sandbox)
            return evaluators[task_name].evaluate(code, seed=0)

        yield evaluate


def test_the_three_are_built_in():
    assert BUILTIN_TASKS["circle_packing"].endswith(":CirclePackingTask")
    assert BUILTIN_TASKS["autocorrelation"].endswith(":AutocorrelationTask")
    assert BUILTIN_TASKS["binpack_or"].endswith(":ORBinPackingTask")


# -- circle packing ---------------------------------------------------------------------------
def test_a_hand_checked_packing_scores_exactly_its_sum(circles):
    score = circles.score(packing(), "validation")
    assert score.fitness == pytest.approx(GRID_SUM, abs=1e-15)
    assert score.ci_low == score.fitness == score.ci_high  # deterministic: no interval
    assert score.metrics["sum_radii"] == score.fitness and score.metrics["n"] == 26
    assert abs(score.metrics["min_gap"]) < 1e-15  # every circle touches a wall or another
    assert score.metrics["record"] == 2.635863
    assert score.metrics["ratio_to_record"] == pytest.approx(GRID_SUM / 2.635863)
    assert circles.summarize(score.metrics) == (
        "sum of radii 2.541421 for n=26, 96.417% of the record 2.635863"
    )


def test_a_claimed_sum_is_accepted_only_when_it_is_the_sum(circles):
    assert circles.score(packing(claimed_sum=GRID_SUM), "test").fitness == pytest.approx(GRID_SUM)
    assert circles.score(packing(claimed_sum=GRID_SUM + TOLERANCE / 2), "test")
    with pytest.raises(InvalidOutputs, match="reports what it did not compute"):
        circles.score(packing(claimed_sum=GRID_SUM + 3 * TOLERANCE), "test")


def test_each_check_has_the_one_tolerance(circles):
    """Overlap by half the tolerance passes; by twice it, it does not. So for the walls."""
    within = list(GRID_RADII)
    within[0] += TOLERANCE / 2  # circle 0 touches a wall and its neighbours
    circles.score(packing(radii=within), "validation")
    beyond = list(GRID_RADII)
    beyond[0] += 2 * TOLERANCE
    with pytest.raises(InvalidOutputs, match="leaves the unit square"):
        circles.score(packing(radii=beyond), "validation")
    inner = list(GRID_RADII)
    inner[6] += 2 * TOLERANCE  # circle 6 (0.3, 0.3) touches only other circles
    with pytest.raises(InvalidOutputs, match="circles 1 and 6 overlap by 2e-09"):
        circles.score(packing(radii=inner), "validation")


def test_describe_states_the_interface_tolerance_and_records(circles):
    text = circles.describe()
    for fragment in ("construct_packing(n: int)", "n is 26", "1e-09", "2.635863", "2.635983",
                     "within 30 seconds", "Validation and test evaluate this"):  # fmt: skip
        assert fragment in text, fragment
    assert "2.937944" in load_task("circle_packing", {"n": 32}).describe()
    seven = {"centers": [[0.1 + 0.2 * i, 0.5] for i in range(5)] + [[0.1, 0.1], [0.9, 0.9]]}
    score = load_task("circle_packing", {"n": 7}).score({**seven, "radii": [0.1] * 7}, "test")
    assert score.fitness == pytest.approx(0.7) and "record" not in score.metrics


@pytest.mark.parametrize("n", [0, 1001, "26", 26.0, True, None])
def test_n_is_an_integer_in_range(n):
    with pytest.raises(TaskLoadError, match="n must be an integer"):
        load_task("circle_packing", {"n": n})


def test_unknown_params_are_refused():
    with pytest.raises(TaskLoadError, match="unknown parameters"):
        load_task("circle_packing", {"circles": 26})
    with pytest.raises(TaskLoadError, match="unknown parameters"):
        load_task("autocorrelation", {"steps": 600})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return [[0.5, 0.5]] * n", "must return \\(centers, radii\\)"),
        ("return np.zeros((n, 3)), np.ones(n)", "centers must have shape \\(26, 2\\)"),
        ("return np.zeros((n, 2)), np.ones(n + 1)", "radii must have shape \\(26,\\)"),
        ("return np.zeros((n, 2)), np.full(n, np.nan)", "radii holds a NaN"),
        ("return np.zeros((n, 2)), ['a'] * n", "radii must hold numbers"),
        ("return np.zeros((n, 2)), np.ones(n), 'lots'", "claimed sum of radii must be a number"),
        ("return np.zeros((n, 2)), np.ones(n), np.inf", "claimed sum of radii is not finite"),
    ],
)
def test_a_malformed_packing_is_the_designs_error(circles, body, message):
    design = load_design_module(f"import numpy as np\n\ndef construct_packing(n):\n    {body}\n")
    with pytest.raises(InvalidDesign, match=message):
        circles.run(design, "validation", seed=0, budget=circles.budget)


def test_a_design_without_the_function_is_invalid(circles):
    with pytest.raises(InvalidDesign, match="must define a function construct_packing"):
        circles.run(load_design_module("x = 1\n"), "validation", seed=0, budget=circles.budget)


def test_a_slow_design_times_out_within_its_budget(circles):
    slow = "import time\n\ndef construct_packing(n):\n    time.sleep(0.2)\n"
    with pytest.raises(DesignTooSlow, match=r"over the 0\.05 s") as raised:
        circles.run(load_design_module(slow), "validation", seed=0,
                    budget=ConstructionBudget(max_seconds=0.05))  # fmt: skip
    assert raised.value.sandbox_status == "timeout"


def test_the_circle_seeds_score_in_the_sandbox_as_they_say(circles, sandboxed):
    seeds = {seed.name: seed for seed in circles.seeds()}
    assert set(seeds) == {
        "Grid with holes filled",
        "SLSQP from perturbed grids, then an exact repair",
    }
    assert all(seed.origin is Origin.SEED and seed.thought for seed in seeds.values())
    grid = sandboxed("circle_packing", seeds["Grid with holes filled"].code)
    assert grid.status is Status.OK, grid.error
    assert grid.fitness == pytest.approx(GRID_SUM, abs=1e-12)  # the same packing as ours
    optimised = sandboxed(
        "circle_packing", seeds["SLSQP from perturbed grids, then an exact repair"].code
    )
    assert optimised.status is Status.OK, optimised.error
    assert 2.6 < optimised.fitness < 2.635863  # 2.6343 with single-threaded BLAS


# -- the autocorrelation inequality -----------------------------------------------------------
@pytest.mark.parametrize(
    ("heights", "ratio"),
    [([1.0], 2.0), ([3.0] * 50, 2.0), ([1.0, 2.0, 1.0], 2.25), ([1.0, 0.0, 1.0], 3.0)],
)
def test_the_ratio_by_hand(autocorrelation, heights, ratio):
    # [1, 2, 1]: the autoconvolution is [1, 4, 6, 4, 1]; 2 * 3 * 6 / 4^2 = 2.25.
    # [1, 0, 1]: [1, 0, 2, 0, 1]; 2 * 3 * 2 / 2^2 = 3.
    score = autocorrelation.score({"heights": heights}, "validation")
    assert score.fitness == pytest.approx(-ratio, abs=1e-15)
    assert score.ci_low == score.fitness == score.ci_high
    assert score.metrics == {
        "ratio": pytest.approx(ratio),
        "steps": len(heights),
        "record": 1.503164,
        "over_record": pytest.approx(ratio - 1.503164),
    }


def test_the_ratio_is_the_integrals_own():
    """Against the definition, by brute force: (f*f)(t) as a fine Riemann sum over s, at t on a
    fine grid, over the square of the mass — for a random step function."""
    heights = np.random.default_rng(3).random(7)
    fine = 7 * 400
    s = -0.25 + (np.arange(fine) + 0.5) / (2 * fine)  # midpoints of [-1/4, 1/4]
    f = np.repeat(heights, 400)
    ds = 0.5 / fine
    peak = max(
        ds * float(np.sum(f * np.interp(t - s, s, f, left=0.0, right=0.0)))
        for t in np.linspace(-0.5, 0.5, 2001)
    )
    mass = ds * f.sum()
    assert autoconvolution_ratio(heights) == pytest.approx(peak / mass**2, rel=2e-3)


def test_the_ratio_does_not_change_when_steps_are_split_or_heights_scaled():
    heights = np.random.default_rng(4).random(9)
    ratio = autoconvolution_ratio(heights)
    assert autoconvolution_ratio(np.repeat(heights, 5)) == pytest.approx(ratio, rel=1e-12)
    assert autoconvolution_ratio(heights * 1e200) == pytest.approx(ratio, rel=1e-12)
    assert autoconvolution_ratio(heights * 1e-300) == pytest.approx(ratio, rel=1e-12)


def test_the_autocorrelation_seeds_score_in_the_sandbox_as_they_say(autocorrelation, sandboxed):
    seeds = {seed.name: seed for seed in autocorrelation.seeds()}
    assert set(seeds) == {"Constant function", "Descent on a smoothed peak"}
    constant = sandboxed("autocorrelation", seeds["Constant function"].code)
    assert constant.status is Status.OK, constant.error
    assert constant.fitness == pytest.approx(-2.0, abs=1e-12)
    descent = sandboxed("autocorrelation", seeds["Descent on a smoothed peak"].code)
    assert descent.status is Status.OK, descent.error
    assert -1.53 < descent.fitness < -1.503164  # 1.5186: better than constant, short of the record
    assert descent.metrics["steps"] == 200


def test_the_autocorrelation_run_returns_heights_and_a_claim(autocorrelation):
    def run(body):
        design = load_design_module(f"import numpy as np\n\ndef step_heights():\n    {body}\n")
        return autocorrelation.run(design, "validation", seed=0, budget=autocorrelation.budget)

    assert run("return [1, 2, 1]") == {"heights": [1.0, 2.0, 1.0]}
    assert run("return np.ones(4), 2.0") == {"heights": [1.0] * 4, "claimed_ratio": 2.0}
    assert run("return (1.0, 2.0)") == {"heights": [1.0, 2.0]}  # a tuple of heights, no claim
    with pytest.raises(InvalidDesign, match="1 to 10,000 heights"):
        run(f"return np.ones({MAX_STEPS + 1})")
    with pytest.raises(InvalidDesign, match="shape"):
        run("return np.ones((3, 3))")
    assert "1.503164" in autocorrelation.describe() and "10,000" in autocorrelation.describe()
    assert autocorrelation.fitness_meaning.startswith("minus the ratio")


# -- OR3-style bin packing --------------------------------------------------------------------
def test_binpack_or_is_or3_shaped_and_strict():
    task = load_task("binpack_or")
    assert isinstance(task, BinPackingTask) and task.name == "binpack_or"
    assert (task.capacity, task.items, task.instances) == (150, 500, 20)
    items = np.concatenate(task.split_items("validation"))
    assert items.min() >= 20 and items.max() <= 100 and len(items) == 500 * 20
    assert load_task("binpack_or", {"instances": 3, "data_seed": 1}).instances == 3
    for bad in ({"distribution": "weibull"}, {"items": 1000}):
        with pytest.raises(TaskLoadError, match="unknown parameters"):
            load_task("binpack_or", bad)
    assert load_task("binpack_or").fingerprint() != load_task("binpack").fingerprint()


def test_binpack_ors_reference_figures_are_the_measured_ones():
    task = load_task("binpack_or")
    seeds = {seed.name: load_design_module(seed.code) for seed in task.seeds()}
    measured = {
        (name, split): task.score(task.run(seeds[name], split, seed=0, budget=task.budget), split)
        for name in ("Best fit", "First fit")
        for split in ("validation", "test")
    }
    excess = {key: f"{score.metrics['excess_pct']:.2f}%" for key, score in measured.items()}
    assert excess == {
        ("Best fit", "validation"): "5.06%",
        ("Best fit", "test"): "5.16%",
        ("First fit", "validation"): "5.59%",
        ("First fit", "test"): "5.48%",
    }
    text = task.describe()
    assert all(figure in text for figure in excess.values())
    assert "5.37%" in text and "3.11%" in text and "not those files" in text


# -- short searches, end to end -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "task_budget"),
    [("circle_packing", {"max_seconds": 20}), ("autocorrelation", {"max_seconds": 20})],
)
def test_a_short_offline_search_runs_end_to_end(tmp_path, task, task_budget):
    config = run_config(
        task,
        str(tmp_path / "run"),
        budget={"evaluations": 8},
        task_budget=task_budget,
        sandbox={"workers": 2, "wall_s": 60},
        search={"report": False, "tune": {"every": 4, "trials": 2}},
    )
    result = Search(config, console=Console(quiet=True), progress=False).run()
    with Archive.open(result.run_dir, readonly=True) as archive:
        designs = archive.designs()
        test = archive.meta("test")
    seeds = [d for d in designs if d.origin is Origin.SEED]
    assert len(seeds) == 2 and len(designs) > 2  # evolution wrote children beside the seeds
    assert result.best is not None
    assert result.best.fitness >= max(d.fitness for d in seeds if d.fitness is not None)
    # Validation and test evaluate the same problem, deterministically: the same number.
    assert test["design_id"] == result.best.id and test["fitness"] == result.best.fitness
