"""Reward hacks against the reference problems' verifiers (circle packing, the autocorrelation
inequality): each known hack must score nothing — its outputs refused by the verifier outside
the sandbox (InvalidOutputs; through the search, status invalid) or the design stopped inside it
— while an honest packing, checked by hand, scores exactly its sum.

Data-level hacks are handed to `score` directly, as a design that controls everything `run`
returns could send them. Hacks that live in a design's code run through the real path: the
sandbox runs the design, the scorer outside reads what came back. A design that patches the
task, numpy or math inside the sandbox changes only its own process: the verifier is another."""

from __future__ import annotations

import math

import pytest

from agentic_design import RunConfig, Status
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.tasks import InvalidOutputs, load_task
from agentic_design.tasks.autocorrelation import MAX_STEPS
from agentic_design.tasks.verified import TOLERANCE

# A packing checked by hand: 25 circles of radius 0.1 on a 5 x 5 grid and one in the hole at
# (0.2, 0.2), 0.1 * sqrt(2) from its four neighbours' centres. Sum: 2.5 + 0.1 * (sqrt(2) - 1).
CENTERS = [[0.1 + 0.2 * i, 0.1 + 0.2 * j] for i in range(5) for j in range(5)] + [[0.2, 0.2]]
RADII = [0.1] * 25 + [0.1 * math.sqrt(2) - 0.1]
HONEST_SUM = 2.5 + 0.1 * (math.sqrt(2) - 1)

# The same packing as a design's code, for hacks that live in the design.
GRID_DESIGN = f"""
CENTERS = {CENTERS!r}
RADII = {RADII!r}

def construct_packing(n):
    return CENTERS, RADII
"""


def forged(**changes) -> dict:
    outputs = {"centers": [list(c) for c in CENTERS], "radii": list(RADII)}
    outputs.update(changes)
    return outputs


def with_radius(index: int, value) -> list:
    radii = list(RADII)
    radii[index] = value
    return radii


def with_center(index: int, value) -> list:
    centers = [list(c) for c in CENTERS]
    centers[index] = value
    return centers


@pytest.fixture(scope="module")
def circles():
    return load_task("circle_packing")


@pytest.fixture(scope="module")
def autocorrelation():
    return load_task("autocorrelation")


def test_the_honest_packing_scores_exactly_its_sum(circles):
    score = circles.score(forged(claimed_sum=HONEST_SUM), "validation")
    assert score.fitness == pytest.approx(HONEST_SUM, abs=1e-15)


# -- data-level hacks, straight to the verifier -----------------------------------------------
CIRCLE_HACKS = {
    "claims 4.01 for a valid packing": (forged(claimed_sum=4.01), "claims a sum of radii 4.01"),
    "claims the sum plus 10 tolerances": (
        forged(claimed_sum=HONEST_SUM + 10 * TOLERANCE),
        "reports what it did not compute",
    ),
    "overlapping circles": (forged(radii=with_radius(12, 0.11)), "overlap"),
    "circle outside the square": (forged(centers=with_center(0, [0.05, 0.1])), "leaves the unit"),
    "centre outside the square": (forged(centers=with_center(0, [1.5, 0.5])), "leaves the unit"),
    "negative radius": (forged(radii=with_radius(3, -0.1)), "must be > 0"),
    "zero radius": (forged(radii=with_radius(3, 0.0)), "must be > 0"),
    "NaN radius": (forged(radii=with_radius(3, math.nan)), "not finite"),
    "infinite radius": (forged(radii=with_radius(3, math.inf)), "not finite"),
    "NaN centre": (forged(centers=with_center(3, [math.nan, 0.5])), "not finite"),
    "-inf centre": (forged(centers=with_center(3, [0.5, -math.inf])), "not finite"),
    "NaN claim": (forged(claimed_sum=math.nan), "not finite"),
    "a huge integer": (forged(radii=with_radius(3, 10**400)), "too large"),
    "radius over by 2 tolerances": (
        forged(radii=with_radius(12, 0.1 + 2 * TOLERANCE)),
        "overlap by 2e-09",
    ),
    "radius over by 10 tolerances": (forged(radii=with_radius(12, 0.1 + 1e-8)), "overlap by 1e-08"),
    "wall over by 3 tolerances": (
        forged(centers=with_center(24, [0.9 + 3 * TOLERANCE, 0.9])),
        "leaves the unit square by 3e-09",
    ),
    "25 radii": (forged(radii=RADII[:25]), "radii must hold 26 numbers, not 25"),
    "27 radii": (forged(radii=[*RADII, 0.01]), "radii must hold 26 numbers, not 27"),
    "25 centres": (forged(centers=CENTERS[:25]), "list of 26 centres, got 25"),
    "a centre of three": (forged(centers=with_center(0, [0.1, 0.1, 0.1])), "must hold 2"),
    "a centre of one": (forged(centers=with_center(0, [0.1])), "must hold 2"),
    "duplicated circle": (
        forged(centers=with_center(1, CENTERS[0]), radii=with_radius(1, 0.1)),
        "circles 0 and 1 overlap",
    ),
    "every circle twice": (
        forged(centers=CENTERS[:13] * 2, radii=RADII[:13] * 2),
        "circles 0 and 13 overlap",
    ),
    "bool radius": (forged(radii=with_radius(0, True)), "must be a number, not bool"),
    "string radius": (forged(radii=with_radius(0, "0.1")), "must be a number, not str"),
    "dict radius": (forged(radii=with_radius(0, {"r": 0.1})), "must be a number, not dict"),
    "None radius": (forged(radii=with_radius(0, None)), "must be a number, not NoneType"),
    "nested radius": (forged(radii=with_radius(0, [0.1])), "must be a number, not list"),
    "bool coordinate": (forged(centers=with_center(0, [True, 0.1])), "not bool"),
    "string coordinate": (forged(centers=with_center(0, ["0.1", 0.1])), "not str"),
    "radii as a dict": (forged(radii=dict(enumerate(RADII))), "radii must be a list, not dict"),
    "centres as a dict": (forged(centers={"0": CENTERS}), "list of 26 centres, got dict"),
    "string claim": (forged(claimed_sum="2.54"), "claimed_sum must be a number, not str"),
    "bool claim": (forged(claimed_sum=True), "claimed_sum must be a number, not bool"),
    "an extra key": (forged(fitness=4.01), "got keys"),
    "no radii": ({"centers": CENTERS}, "got keys"),
    "a list for outputs": ([CENTERS, RADII], "outputs must be a dict, not list"),
    "a million radii": (forged(radii=[0.001] * 1_000_000), "not 1000000"),
    "a million centres": (forged(centers=[[0.5, 0.5]] * 1_000_000), "got 1000000"),
}


@pytest.mark.parametrize("hack", list(CIRCLE_HACKS))
def test_a_circle_hack_scores_nothing(circles, hack):
    outputs, message = CIRCLE_HACKS[hack]
    with pytest.raises(InvalidOutputs, match=message):
        circles.score(outputs, "validation")


def test_the_tolerance_is_worth_at_most_n_times_itself(circles):
    """Every radius grown by 0.45 tolerances is accepted (each pair then overlaps by 0.9): the
    most a design gains from the tolerance is n times it, 2.6e-8 here."""
    grown = [r + 0.45 * TOLERANCE for r in RADII]
    score = circles.score(forged(radii=grown), "validation")
    assert 0 < score.fitness - HONEST_SUM <= 26 * TOLERANCE


AUTOCORRELATION_HACKS = {
    "claims the record for a constant": ({"heights": [1.0] * 10, "claimed_ratio": 1.5}, "claims"),
    "claims the ratio plus 10 tolerances": (
        {"heights": [1.0] * 10, "claimed_ratio": 2.0 + 10 * TOLERANCE},
        "reports what it did not compute",
    ),
    "a negative height": ({"heights": [1.0, -0.5, 1.0]}, r"heights\[1\] is -0.5"),
    "all zero": ({"heights": [0.0] * 10}, "every height is zero"),
    "NaN": ({"heights": [1.0, math.nan]}, "not finite"),
    "infinity": ({"heights": [1.0, math.inf]}, "not finite"),
    "too long": ({"heights": [1.0] * (MAX_STEPS + 1)}, "1 to 10,000 numbers, not 10,001"),
    "a million heights": ({"heights": [1.0] * 1_000_000}, "not 1,000,000"),
    "empty": ({"heights": []}, "not 0"),
    "bool": ({"heights": [1.0, True]}, "not bool"),
    "string": ({"heights": [1.0, "2"]}, "not str"),
    "dict": ({"heights": {"0": 1.0}}, "must be a list, not dict"),
    "nested": ({"heights": [[1.0, 2.0]]}, "not list"),
    "a huge integer": ({"heights": [1, 10**400]}, "too large"),
    "string claim": ({"heights": [1.0], "claimed_ratio": "2"}, "not str"),
    "an extra key": ({"heights": [1.0], "ratio": 1.0}, "got keys"),
}


@pytest.mark.parametrize("hack", list(AUTOCORRELATION_HACKS))
def test_an_autocorrelation_hack_scores_nothing(autocorrelation, hack):
    outputs, message = AUTOCORRELATION_HACKS[hack]
    with pytest.raises(InvalidOutputs, match=message):
        autocorrelation.score(outputs, "validation")


def test_no_scale_overflows_or_vanishes(autocorrelation):
    """Heights near the float range's ends would overflow or underflow a naive formula; the
    ratio is scale-free and the verifier's is the constant function's 2 at any scale."""
    for scale in (1e300, 1e-300, 5e-324):
        score = autocorrelation.score({"heights": [scale] * 8}, "validation")
        assert score.fitness == pytest.approx(-2.0, abs=1e-12)


# -- hacks that live in the design, through the sandbox ----------------------------------------
def evaluator_of(task: str):
    config = RunConfig.from_dict(
        {
            "name": "hacks",
            "task": task,
            "run_dir": "unused",
            "seed": 0,
            "budget": {"evaluations": 1},
            "sandbox": {"workers": 1, "wall_s": 60},
            "search": {"report": False},
        }
    )
    built = build_task(config)
    return config, built


@pytest.fixture(scope="module")
def packing_outcome():
    config, task = evaluator_of("circle_packing")
    with sandbox_for(config, task) as sandbox:
        evaluator = evaluator_for(config, task, sandbox)
        yield lambda code: evaluator.evaluate(code, seed=0)


@pytest.fixture(scope="module")
def autocorrelation_outcome():
    config, task = evaluator_of("autocorrelation")
    with sandbox_for(config, task) as sandbox:
        evaluator = evaluator_for(config, task, sandbox)
        yield lambda code: evaluator.evaluate(code, seed=0)


# The task's own class, patched from the design's module when the sandbox loads it: its `run`
# returns 26 circles of radius 0.5 on top of one another and claims their sum, 13.
PATCHES_RUN = """
from agentic_design.tasks.circle_packing import CirclePackingTask

def forged_run(self, design, split, *, seed, budget):
    return {"centers": [[0.5, 0.5]] * 26, "radii": [0.5] * 26, "claimed_sum": 13.0}

CirclePackingTask.run = forged_run

def construct_packing(n):
    return [], []
"""

# An honest packing, but everything inside that could score it is made to say 4.01 and to
# accept anything: the task's score and verifier, its tolerance, math.fsum, numpy's sum and
# hypot. The verifier outside is another process's: it still recomputes 2.5414.
PATCHES_THE_SCORER = (
    GRID_DESIGN
    + """
import math
import numpy as np
import agentic_design.tasks.circle_packing as verifier
from agentic_design.tasks.base import Score

verifier.CirclePackingTask.score = lambda self, outputs, split: Score(4.01, 4.01, 4.01, {})
verifier.packing_gaps = lambda centers, radii: 0.0
verifier.TOLERANCE = 1.0
math.fsum = lambda values: 4.01
np.sum = lambda *args, **kwargs: 4.01
np.hypot = lambda *args, **kwargs: np.full(np.broadcast(*args).shape, 10.0)
"""
)

# With the tolerance patched to 1 inside, overlapping circles by 1e-6 "pass" there: not outside.
PATCHES_THE_TOLERANCE = f"""
import agentic_design.tasks.circle_packing as verifier
verifier.TOLERANCE = 1.0

RADII = {with_radius(12, 0.1 + 1e-6)!r}

def construct_packing(n):
    return {CENTERS!r}, RADII
"""

# NaN radii with numpy's finiteness check patched inside: the run's own check passes them, the
# sandbox's wire refuses NaN, and nothing is scored.
PATCHES_ISFINITE = """
import numpy as np
np.isfinite = lambda array: np.ones(np.shape(array), dtype=bool)

def construct_packing(n):
    return np.full((n, 2), 0.5), np.full(n, np.nan)
"""

# The sandbox's result frame, written by the design itself as it loads, before the task's run:
# 26 circles of radius 0.5 on one another, claimed to sum to 13, and a fitness of its own. The
# sandbox refuses the frame (status error); had it passed, the verifier would refuse the data.
WRITES_ITS_RESULT_FRAME = """
import os
from agentic_design.sandbox.framing import write_frame

value = {"centers": [[0.5, 0.5]] * 26, "radii": [0.5] * 26, "claimed_sum": 13.0}
write_frame(3, {"status": "ok", "value": value, "fitness": 13.0})
os._exit(0)
"""

DESIGN_HACKS = {
    "claims 4.01": GRID_DESIGN.replace("return CENTERS, RADII", "return CENTERS, RADII, 4.01"),
    "overlapping circles": GRID_DESIGN + "\nRADII = RADII[:12] + [0.11] + RADII[13:]\n",
    "patches the task's run": PATCHES_RUN,
    "writes its own result frame": WRITES_ITS_RESULT_FRAME,
    "patches the tolerance": PATCHES_THE_TOLERANCE,
    "patches numpy's isfinite": PATCHES_ISFINITE,
    "returns a million circles": (
        "import numpy as np\n\ndef construct_packing(n):\n"
        "    return np.full((10**6, 2), 0.5), np.full(10**6, 1e-9)\n"
    ),
    "returns strings": "def construct_packing(n):\n    return [['a', 'b']] * n, ['c'] * n\n",
}


@pytest.mark.parametrize("hack", list(DESIGN_HACKS))
def test_a_design_that_hacks_the_packing_scores_nothing(packing_outcome, hack):
    outcome = packing_outcome(DESIGN_HACKS[hack])
    assert outcome.status is not Status.OK, outcome
    assert outcome.status in (Status.INVALID, Status.ERROR)
    assert outcome.fitness is None


def test_the_forged_run_is_refused_by_the_verifier_outside(packing_outcome):
    outcome = packing_outcome(PATCHES_RUN)
    assert outcome.status is Status.INVALID, outcome
    assert "overlap" in outcome.error  # the forged outputs reached the verifier, which refused


def test_patching_the_scorer_inside_changes_nothing_outside(packing_outcome):
    outcome = packing_outcome(PATCHES_THE_SCORER)
    assert outcome.status is Status.OK, outcome.error
    assert outcome.fitness == pytest.approx(HONEST_SUM, abs=1e-15)  # recomputed, not 4.01
    assert outcome.metrics["sum_radii"] == outcome.fitness


AUTOCORRELATION_DESIGN_HACKS = {
    "claims the record": "def step_heights():\n    return [1.0] * 10, 1.503164\n",
    "negative heights": "def step_heights():\n    return [1.0, -1.0, 1.0]\n",
    "all zero": "def step_heights():\n    return [0.0] * 10\n",
    "too many steps": f"def step_heights():\n    return [1.0] * {MAX_STEPS + 1}\n",
    "overflows": "def step_heights():\n    return [1e308, 1e308, float('inf')]\n",
}


@pytest.mark.parametrize("hack", list(AUTOCORRELATION_DESIGN_HACKS))
def test_a_design_that_hacks_the_ratio_scores_nothing(autocorrelation_outcome, hack):
    outcome = autocorrelation_outcome(AUTOCORRELATION_DESIGN_HACKS[hack])
    assert outcome.status is Status.INVALID, outcome
    assert outcome.fitness is None


def test_patching_the_ratio_inside_changes_nothing_outside(autocorrelation_outcome):
    code = """
import numpy as np
import agentic_design.tasks.autocorrelation as verifier
from agentic_design.tasks.base import Score

verifier.AutocorrelationTask.score = lambda self, outputs, split: Score(-1.0, -1.0, -1.0, {})
verifier.autoconvolution_ratio = lambda heights: 1.0
np.convolve = lambda a, b, mode="full": np.ones(len(a) + len(b) - 1)

def step_heights():
    return [1.0] * 10, 2.0
"""
    outcome = autocorrelation_outcome(code)
    assert outcome.status is Status.OK, outcome.error
    assert outcome.fitness == pytest.approx(-2.0, abs=1e-12)  # the constant function's own
