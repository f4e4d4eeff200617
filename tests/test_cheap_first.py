"""Every evaluation counts (issue 22), in the pipeline: behavioural duplicates recorded and not
evaluated, cheap evaluations first with ASHA's promotion rule, and a budget that counts cost —
all of it the same whatever order the work finishes in. A fake proposer and a fake evaluator
whose work finishes in random order, as in test_pipeline.py; the real tasks' fingerprints and
shares are tested in test_task_fidelity.py, and a real search with both in test_search.py."""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentic_design.config import Budget
from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.run.pipeline import MAX_DESIGNS_PER_EVALUATION, Pipeline
from agentic_design.store.archive import Archive

from .test_pipeline import FakeProposer

SEEDS = 3


def quality(code: str) -> float:
    """A design's true quality: its code's hash in [0, 1)."""
    return int(hashlib.sha256(code.encode()).hexdigest()[:6], 16) / 16**6


class Proposer(FakeProposer):
    """Design n from its snapshot, written after a random pause (test_pipeline's); every
    `repeat`-th design behaves as the one before it."""

    def __init__(self, jitter: random.Random, repeat: int = 0) -> None:
        super().__init__(jitter)
        self.repeat = repeat

    def plan(self, archive: Archive, number: int, upto: int) -> tuple[int, str]:
        behaves = number - 1 if self.repeat and number % self.repeat == 0 else number
        return number, f"design = {number}\nbehaves = {behaves}\nsnapshot = {upto}\n"


class Evaluator:
    """A cheap evaluation sees the quality through noise; a full one sees it exactly. The
    fingerprint is the `behaves` line. Every call is counted."""

    def __init__(self, jitter: random.Random) -> None:
        self.jitter = jitter
        self.lock = threading.Lock()
        self.calls: list[tuple[str, int | None, float]] = []
        self.fingerprinted: list[str] = []
        self.recorded: list[tuple[float, dict[str, Any] | None]] = []

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
        fidelity: float = 1.0,
    ) -> Evaluation:
        with self.lock:
            pause = self.jitter.uniform(0, 0.02)
            self.calls.append((code, design_id, fidelity))
            self.recorded.append((fidelity, recorded))
        time.sleep(pause)
        noise = 0.0 if fidelity == 1 else (quality(code + "noise") - 0.5) * 0.2
        fitness = quality(code) * (0.5 if fidelity < 1 else 1.0) + noise
        return Evaluation(
            Status.OK,
            "validation",
            seed,
            fitness=fitness,
            ci_low=fitness - 0.1,
            ci_high=fitness + 0.1,
            metrics={"share": fidelity, "length": len(code)},
            fidelity=fidelity,
        )

    def behaviour(self, code: str, *, seed: int) -> str | None:
        with self.lock:
            self.fingerprinted.append(code)
        found = re.search(r"behaves = (\d+)", code)
        return f"b{found.group(1)}" if found else f"code:{hashlib.sha1(code.encode()).hexdigest()}"


def seeded_store(path: Path) -> Archive:
    archive = Archive.create(path, meta={"name": path.name})
    seeds = [
        Proposal(name=f"seed {i}", thought="", code=f"seed = {i}\n", origin=Origin.SEED)
        for i in range(SEEDS)
    ]
    archive.add_many(seeds, eval_seed=0, task_fingerprint="f")
    return archive


def run(
    path: Path,
    timing: int,
    evaluations: int = 20,
    archive: Archive | None = None,
    **kwargs: Any,
) -> tuple[Pipeline, Archive, Evaluator]:
    archive = archive or seeded_store(path)
    evaluator = kwargs.pop("evaluator", None) or Evaluator(random.Random(timing + 1))
    pipeline = Pipeline(
        archive,
        kwargs.pop("proposer", None) or Proposer(random.Random(timing), kwargs.pop("repeat", 0)),
        evaluator,
        workers=3,
        in_flight=2,
        budget=Budget(evaluations=evaluations),
        eval_seed=0,
        fingerprint="f",
        elapsed=lambda: 0.0,
        on_result=lambda design_id, evaluation: None,
        **kwargs,
    )
    pipeline.run()
    return pipeline, archive, evaluator


def outcome(archive: Archive) -> list[tuple[Any, ...]]:
    return [
        (d.code, d.status.value, d.fitness, d.fidelity, d.evaluation_cost, d.behaviour_of)
        for d in archive.designs()
    ]


# -- cheap evaluations first -------------------------------------------------------------------
@pytest.mark.parametrize("levels", [(0.25,), (0.1, 0.4)])
def test_with_cheap_levels_the_same_designs_climb_and_stop_whatever_the_timing(tmp_path, levels):
    outcomes = [
        outcome(run(tmp_path / f"run{timing}", timing, levels=levels)[1]) for timing in range(3)
    ]
    assert all(o == outcomes[0] for o in outcomes)
    statuses = {status for _, status, *_ in outcomes[0]}
    assert statuses == {"ok", "screened_out"}  # some went on, some did not


def test_a_design_goes_on_only_when_it_ranks_in_the_best_third_of_those_before_it(tmp_path):
    _, archive, _ = run(tmp_path / "run", 4, evaluations=30, levels=(0.25,), eta=3.0)
    cheap: dict[int, float] = {}
    for design in archive.designs():
        rows = [e for e in archive.evaluations(design.id) if e["fidelity"] == 0.25]
        assert len(rows) == 1  # every design was evaluated cheaply first, once
        cheap[design.id] = rows[0]["fitness"]
    for design in archive.designs():
        rivals = sorted(((-f, i) for i, f in cheap.items() if i <= design.id))
        rank = rivals.index((-cheap[design.id], design.id))
        places = max(1, math.floor(len(rivals) / 3.0))
        if design.origin is Origin.SEED:
            assert design.status is Status.OK and design.fidelity == 1.0
        elif rank < places:
            assert design.status is Status.OK and design.fidelity == 1.0
            assert design.evaluation_cost == pytest.approx(1.25)
            assert [e["fidelity"] for e in archive.evaluations(design.id)] == [0.25, 1.0]
        else:
            assert design.status is Status.SCREENED_OUT and design.fidelity == 0.25
            assert design.evaluation_cost == pytest.approx(0.25)
            assert design.fitness == cheap[design.id]  # the number it was judged by
            assert f"ranked {rank + 1} of {len(rivals)}" in (design.error or "")


def test_the_budget_counts_a_cheap_evaluation_as_its_share(tmp_path):
    _, archive, evaluator = run(tmp_path / "run", 5, evaluations=20, levels=(0.25,))
    spent = archive.spent()
    assert archive.total() > 20  # more designs than full evaluations
    assert 20 <= spent < 20 + 1.25  # to the last design, which may go over by its own cost
    assert spent == pytest.approx(sum(share for _, _, share in evaluator.calls))
    assert archive.pending() == []


def test_the_best_and_the_parents_are_full_evaluations_only(tmp_path):
    _, archive, _ = run(tmp_path / "run", 6, evaluations=25, levels=(0.25,))
    best = archive.best()
    assert best is not None and best.fidelity == 1.0
    assert all(d.fidelity == 1.0 for d in archive.top(50))
    assert all(d.status is Status.OK for d in archive.recent_working(100))


def test_a_replay_repeats_each_level_with_the_metrics_recorded_at_that_level(tmp_path):
    _, recorded, _ = run(tmp_path / "recorded", 0, levels=(0.25,))
    pipeline, replayed, evaluator = run(
        tmp_path / "replayed", 7, levels=(0.25,), reference=recorded
    )
    assert pipeline.stopped_by is None and outcome(replayed) == outcome(recorded)
    assert evaluator.recorded and all(
        metrics is not None and metrics["share"] == share for share, metrics in evaluator.recorded
    )


def test_a_resumed_run_ranks_new_designs_against_the_cheap_results_before_it(tmp_path):
    _, whole, _ = run(tmp_path / "whole", 8, evaluations=24, levels=(0.25,))
    # The same run stopped at 12 full evaluations, then resumed to 24: the same designs.
    _, first, _ = run(tmp_path / "parts", 9, evaluations=12, levels=(0.25,))
    first.close()
    again = Archive.open(tmp_path / "parts")
    run(tmp_path / "parts", 10, evaluations=24, levels=(0.25,), archive=again)
    assert outcome(again) == outcome(whole)


# -- behaviour ---------------------------------------------------------------------------------
@pytest.mark.parametrize("timing", [0, 1, 2])
def test_a_design_that_behaves_as_an_earlier_one_is_recorded_as_its_duplicate(tmp_path, timing):
    _, archive, evaluator = run(tmp_path / "run", timing, repeat=3, behaviour=True)
    duplicates = archive.designs(Status.DUPLICATE)
    total = archive.total()
    assert [d.id for d in duplicates] == [n for n in range(SEEDS + 1, total + 1) if n % 3 == 0]
    for duplicate in duplicates:
        assert duplicate.behaviour_of == duplicate.id - 1
        assert f"behaves as design #{duplicate.id - 1}" in (duplicate.error or "")
        assert duplicate.evaluation_cost == 0 and duplicate.fitness is None
    evaluated = {code for code, _, _ in evaluator.calls}
    assert not evaluated & {d.code for d in duplicates}  # never sent to a worker
    # Seeds are fingerprinted before their evaluation; children once, when written.
    assert sorted(evaluator.fingerprinted) == sorted(d.code for d in archive.designs())


def test_duplicates_cost_nothing_so_the_budget_goes_to_new_behaviour(tmp_path):
    _, archive, _ = run(tmp_path / "run", 3, evaluations=20, repeat=3, behaviour=True)
    assert archive.spent() == 20
    assert len(archive.designs(Status.OK)) == 20
    assert archive.total() > 20


def test_a_proposer_that_writes_only_duplicates_still_comes_to_an_end(tmp_path):
    class Same(Proposer):
        def plan(self, archive: Archive, number: int, upto: int) -> tuple[int, str]:
            return number, f"design = {number}\nbehaves = 0\n"

    _, archive, _ = run(tmp_path / "run", 1, evaluations=5, proposer=Same(random.Random(1)))
    assert archive.total() == 5  # without fingerprints: evaluated, as before
    _, archive, _ = run(
        tmp_path / "fingerprinted",
        1,
        evaluations=5,
        proposer=Same(random.Random(1)),
        behaviour=True,
    )
    assert archive.total() == 5 * MAX_DESIGNS_PER_EVALUATION
    assert len(archive.designs(Status.OK)) == SEEDS + 1  # the first child, then its duplicates


def test_fingerprints_and_cheap_levels_together_stay_deterministic(tmp_path):
    outcomes = [
        outcome(run(tmp_path / f"run{timing}", timing, repeat=4, behaviour=True, levels=(0.2,))[1])
        for timing in range(3)
    ]
    assert all(o == outcomes[0] for o in outcomes)
    statuses = {status for _, status, *_ in outcomes[0]}
    assert statuses == {"ok", "screened_out", "duplicate"}


# -- evolution's redraws -------------------------------------------------------------------------
def test_evolution_draws_again_until_a_child_behaves_in_a_new_way():
    from agentic_design.config import EvolutionConfig
    from agentic_design.proposers.evolution import EvolutionProposer

    from .test_evolution import design, torch_operators

    history = [design(i, fitness=0.5 + i / 100) for i in range(1, 5)]
    seen: list[str] = []

    def behaviour(code: str) -> str:
        seen.append(code)
        # The first three children drawn behave as a design already in the run.
        return "known" if len(seen) <= 3 else f"new {len(seen)}"

    proposer = EvolutionProposer(EvolutionConfig(), torch_operators(), seed=1)
    proposer.behaviour = behaviour
    proposer._behaviours = {"known"}
    proposal = proposer.propose(history)
    assert len(seen) == 4 and proposal.behaviour == "new 4" and proposal.code == seen[-1]
    assert "Drawn after 3 other children that behaved as designs already" in proposal.thought

    # Nothing new in `behaviour_tries` draws: the last child goes, to be recorded as a duplicate.
    proposer = EvolutionProposer(EvolutionConfig(), torch_operators(), seed=1)
    proposer.behaviour, proposer.behaviour_tries = (lambda code: "known"), 5
    proposer._behaviours = {"known"}
    proposal = proposer.propose(history)
    assert proposal.behaviour == "known" and "after 4 other children" in proposal.thought
