"""Designs that attack the behavioural fingerprint (issue 22), through the real path (the bin
packing task, the sandbox, the pipeline): one that hangs in its probe, one that forges the
fingerprint of the best seed to be taken for it, and one whose probe floods its output. None
may hang the search, take another design's score, or cost more than its own timeout and a
share of it."""

from __future__ import annotations

import time

import pytest

from agentic_design import Archive, RunConfig, Status
from agentic_design.config import Budget
from agentic_design.proposers.base import ProposerExhausted
from agentic_design.records import Origin, Proposal
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.run.evaluation import BEHAVIOUR_MIN_S
from agentic_design.run.pipeline import Pipeline

HANGS = """
def priority(item, bins):
    while True:
        pass
"""

# At import, it finds the task object in the sandbox's process and makes every fingerprint
# the best-fit seed's: it is then recorded as that seed's duplicate, and scores nothing.
FORGES = """
import gc
import numpy as np

def priority(item, bins):
    return -(bins - item)

def _best_fit(item, bins):
    return -(bins - item)

for obj in gc.get_objects():
    behaviour = getattr(type(obj), "behaviour", None)
    if callable(behaviour) and hasattr(obj, "split_items"):
        original = type(obj).behaviour
        def forged(self, design, *, seed, budget, _original=original):
            class Seed:
                priority = staticmethod(_best_fit)
            return _original(self, Seed, seed=seed, budget=budget)
        type(obj).behaviour = forged
"""

FLOODS = """
import sys

def priority(item, bins):
    sys.stdout.write("x" * 10_000_000)
    return -(bins - item)
"""


def config(run_dir, wall_s: float = 60) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "fingerprints",
            "task": "binpack",
            "task_params": {"distribution": "weibull", "items": 300, "instances": 2},
            "run_dir": str(run_dir),
            "seed": 0,
            "budget": {"evaluations": 1},
            "sandbox": {"workers": 1, "wall_s": wall_s},
            "search": {"report": False},
        }
    )


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    run = config(tmp_path_factory.mktemp("run"), wall_s=12)
    task = build_task(run)
    with sandbox_for(run, task) as sandbox:
        yield evaluator_for(run, task, sandbox)


def test_a_design_that_hangs_in_its_probe_costs_a_share_of_the_limit_not_the_whole(evaluator):
    started = time.monotonic()
    assert evaluator.behaviour(HANGS, seed=0) is None  # no fingerprint: it will be evaluated
    took = time.monotonic() - started
    assert took < BEHAVIOUR_MIN_S + 4  # the probe's limit (a quarter of 12 s, at least 5 s)
    result = evaluator.evaluate(HANGS, seed=0)
    assert result.status is Status.TIMEOUT


BEST_FIT = "def priority(item, bins):\n    return -(bins - item)\n"
FIRST_FIT = "import numpy as np\n\ndef priority(item, bins):\n    return -np.arange(len(bins))\n"


def test_a_flood_in_the_probe_gives_no_fingerprint_and_the_next_design_its_own(evaluator):
    assert evaluator.behaviour(FLOODS, seed=0) is None  # the output limit stops it
    assert evaluator.behaviour(BEST_FIT, seed=0) != evaluator.behaviour(FIRST_FIT, seed=0)


class OneProposal:
    """Proposes `code` once, then nothing more."""

    name = "hostile"
    repair_attempts = 0

    def __init__(self, code: str) -> None:
        self.code = code

    def plan(self, archive, number, upto):
        if number > 2:
            raise ProposerExhausted("nothing more")
        return self.code

    def write(self, plan):
        return Proposal(name="forger", thought="", code=plan, proposer=self.name)


def test_a_design_that_forges_a_seeds_fingerprint_is_recorded_as_its_duplicate(evaluator, tmp_path):
    best_fit = evaluator.behaviour(BEST_FIT, seed=0)
    assert evaluator.behaviour(FORGES, seed=0) == best_fit  # the forgery works in its own run
    # ...and not beyond it: every design is fingerprinted in a fresh child.
    assert evaluator.behaviour(FIRST_FIT, seed=0) != best_fit
    archive = Archive.create(tmp_path / "run", meta={"name": "forged"})
    seed = Proposal(name="Best fit", thought="", code=BEST_FIT, origin=Origin.SEED)
    archive.add_many([seed], eval_seed=0, task_fingerprint="f")
    Pipeline(
        archive,
        OneProposal(FORGES),
        evaluator,
        workers=1,
        in_flight=1,
        budget=Budget(evaluations=5),
        eval_seed=0,
        fingerprint="f",
        elapsed=lambda: 0.0,
        on_result=lambda design_id, evaluation: None,
        behaviour=True,
    ).run()
    forger = archive.get(2)
    # What the forgery buys: the record of a duplicate of the seed; no evaluation, no score.
    assert forger.status is Status.DUPLICATE and forger.behaviour_of == 1
    assert forger.fitness is None and forger.evaluation_cost == 0
    assert archive.evaluations(2) == [] or all(
        e["status"] == "duplicate" for e in archive.evaluations(2)
    )
