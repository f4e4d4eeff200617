"""The pipeline's determinism rules, with a fake proposer and a fake evaluator whose work
finishes in random order: the same designs whatever the timing, snapshots that are complete,
exact budgets, and replays that stop at the first divergence."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentic_design.config import Budget
from agentic_design.llm import ReplayMiss
from agentic_design.proposers.base import ProposerExhausted
from agentic_design.records import Evaluation, Origin, Proposal, Status, StopReason
from agentic_design.run.pipeline import Pipeline
from agentic_design.store.archive import Archive


def fitness_of(code: str) -> float:
    return int(hashlib.sha256(code.encode()).hexdigest()[:6], 16) / 16**6


class FakeProposer:
    """Writes design n from its snapshot; sleeps a random while, as an LLM call would."""

    name = "fake"
    repair_attempts = 0

    def __init__(self, jitter: random.Random, exhaust_at: int | None = None) -> None:
        self.jitter = jitter
        self.lock = threading.Lock()
        self.exhaust_at = exhaust_at
        self.snapshots: dict[int, list[tuple[int, str]]] = {}

    def plan(self, archive: Archive, number: int, upto: int) -> tuple[int, str]:
        if number == self.exhaust_at:
            raise ProposerExhausted("nothing new to propose")
        snapshot = [(d.id, d.status.value) for d in archive.designs(upto=upto)]
        self.snapshots[number] = snapshot
        best = max((d.fitness or 0.0 for d in archive.designs(upto=upto)), default=0.0)
        return number, f"x = {len(snapshot)}\ndesign = {number}\nbest_so_far = {best:.6f}\n"

    def write(self, plan: tuple[int, str]) -> Proposal:
        with self.lock:
            pause = self.jitter.uniform(0, 0.01)
        time.sleep(pause)
        return Proposal(name=f"design {plan[0]}", thought="", code=plan[1], proposer="fake")


class FakeEvaluator:
    """Scores code by its hash after a random pause, so evaluations finish out of order."""

    def __init__(self, jitter: random.Random, broken: str | None = None) -> None:
        self.jitter = jitter
        self.lock = threading.Lock()
        self.broken = broken
        self.recorded: list[dict[str, Any] | None] = []

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
    ) -> Evaluation:
        with self.lock:
            pause = self.jitter.uniform(0, 0.02)
            self.recorded.append(recorded)
        time.sleep(pause)
        if self.broken and self.broken in code:
            raise RuntimeError("the scorer crashed")
        return Evaluation(
            Status.OK,
            "validation",
            seed,
            fitness=fitness_of(code),
            ci_low=0.0,
            ci_high=1.0,
            metrics={"length": len(code)},
        )


def store_with_seeds(path: Path) -> Archive:
    archive = Archive.create(path, meta={"name": path.name})
    seeds = [
        Proposal(name=f"seed {i}", thought="", code=f"x = {i}\n", origin=Origin.SEED)
        for i in range(3)
    ]
    archive.add_many(seeds, eval_seed=0, task_fingerprint="f")
    return archive


def run(path: Path, timing: int, evaluations: int = 20, **kwargs: Any) -> tuple[Pipeline, Archive]:
    archive = store_with_seeds(path)
    pipeline = Pipeline(
        archive,
        kwargs.pop("proposer", None) or FakeProposer(random.Random(timing)),
        kwargs.pop("evaluator", None) or FakeEvaluator(random.Random(timing + 1)),
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
    return pipeline, archive


def outcome(archive: Archive) -> list[tuple[str, str, float | None]]:
    return [(d.code, d.status.value, d.fitness) for d in archive.designs()]


def test_the_same_designs_come_out_whatever_order_the_work_finishes_in(tmp_path):
    runs = [run(tmp_path / f"run{timing}", timing) for timing in range(4)]
    outcomes = [outcome(archive) for _, archive in runs]
    assert all(o == outcomes[0] for o in outcomes)
    assert len(outcomes[0]) == 20 and all(status == "ok" for _, status, _ in outcomes[0])


def test_each_proposal_is_planned_from_a_complete_snapshot_lagging_by_k_plus_w(tmp_path):
    proposer = FakeProposer(random.Random(7))
    pipeline, _ = run(tmp_path / "run", 7, proposer=proposer)
    assert pipeline.lag == 5
    for number, snapshot in proposer.snapshots.items():
        ids = [design_id for design_id, _ in snapshot]
        assert ids == list(range(1, max(number - 5, 3) + 1))  # never before the seeds are in
        assert all(status == "ok" for _, status in snapshot)  # every one of them finished


def test_the_budget_is_spent_exactly_and_nothing_is_left_pending(tmp_path):
    pipeline, archive = run(tmp_path / "run", 3, evaluations=11)
    assert archive.total() == 11 and archive.pending() == []
    assert pipeline.stopped_by is None  # it ran to its budget: run() said "evaluations"


def test_an_exhausted_proposer_stops_the_run_with_its_reason(tmp_path):
    proposer = FakeProposer(random.Random(1), exhaust_at=9)
    pipeline, archive = run(tmp_path / "run", 1, proposer=proposer)
    assert pipeline.stopped_by is StopReason.EXHAUSTED
    assert pipeline.reason == "nothing new to propose"
    assert archive.total() == 8 and archive.pending() == []


def test_a_crash_while_judging_a_design_is_recorded_and_the_run_goes_on(tmp_path):
    evaluator = FakeEvaluator(random.Random(2), broken="design = 6\n")
    _, archive = run(tmp_path / "run", 2, evaluator=evaluator)
    crashed = archive.get(6)
    assert crashed.status is Status.ERROR and "the scorer crashed" in crashed.error
    assert archive.total() == 20 and archive.pending() == []


def test_a_replay_evaluates_each_design_with_its_recorded_metrics(tmp_path):
    _, recorded = run(tmp_path / "recorded", 0)
    evaluator = FakeEvaluator(random.Random(5))
    pipeline, replayed = run(tmp_path / "replayed", 5, evaluator=evaluator, reference=recorded)
    assert pipeline.stopped_by is None and outcome(replayed) == outcome(recorded)
    assert None not in evaluator.recorded
    assert sorted(r["length"] for r in evaluator.recorded if r) == sorted(
        d.metrics["length"] for d in recorded.designs()
    )


def test_a_replay_stops_at_the_first_design_that_scores_differently(tmp_path):
    _, recorded = run(tmp_path / "recorded", 0)
    # Design 9 of the recording "scored" otherwise: as if the machine had been busy.
    with recorded._db:
        recorded._db.execute("UPDATE designs SET fitness = 0.5 WHERE id = 9")
    pipeline, replayed = run(tmp_path / "replayed", 1, reference=recorded)
    assert pipeline.stopped_by is StopReason.DIVERGED
    assert pipeline.reason.startswith("design 9 (design 9) scored")
    assert "where the recording has 0.5" in pipeline.reason
    assert replayed.total() < 20  # it did not carry on past the divergence


def test_a_replay_that_asks_what_the_recording_lacks_stops_and_says_which_design(tmp_path):
    _, recorded = run(tmp_path / "recorded", 0)

    class MissingAnswer(FakeProposer):
        def write(self, plan: tuple[int, str]) -> Proposal:
            if plan[0] == 7:
                raise ReplayMiss("the recording holds no answer to this request")
            return super().write(plan)

    proposer = MissingAnswer(random.Random(3))
    pipeline, replayed = run(tmp_path / "replayed", 3, proposer=proposer, reference=recorded)
    assert pipeline.stopped_by is StopReason.DIVERGED
    assert pipeline.reason == "design 7: the recording holds no answer to this request"
    assert replayed.total() == 6


@pytest.mark.parametrize("timing", [11, 12])
def test_designs_are_committed_in_id_order_with_their_proposals(tmp_path, timing):
    _, archive = run(tmp_path / "run", timing)
    for design in archive.designs():
        if design.origin is Origin.SEARCH:
            assert design.name == f"design {design.id}"


@pytest.mark.parametrize("timing", [13, 14])
def test_a_run_of_unusable_proposals_does_not_end_the_search_early(tmp_path, timing):
    class Unusable(FakeProposer):
        """Every answer unusable and at once (a model writing garbage): nothing ever goes to a
        worker, and often nothing is in flight at all."""

        def write(self, plan: tuple[int, str]) -> Proposal:
            return Proposal(name="unusable", thought="", code=plan[1], error="malformed answer")

    pipeline, archive = run(tmp_path / "run", timing, proposer=Unusable(random.Random(timing)))
    assert pipeline.stopped_by is None and archive.total() == 20
    assert archive.counts() == {"ok": 3, "invalid": 17}


def test_a_near_duplicate_is_recorded_as_such_and_not_evaluated(tmp_path):
    class Repeats(FakeProposer):
        """Proposes the first seed again, reformatted and commented, then new code."""

        def plan(self, archive, number, upto):
            if number == 4:
                return number, '"""The same, said again."""\nx = (0)  # a comment\n'
            return number, f"x = {number}\n"

    _, archive = run(tmp_path / "run", 1, evaluations=6, proposer=Repeats(random.Random(3)))
    duplicate = archive.get(4)
    assert duplicate.status is Status.INVALID and "a duplicate of design #1" in duplicate.error
    assert duplicate.metrics == {"stage": "proposal"}  # never sent to the evaluator
    assert [d.status for d in archive.designs() if d.id != 4] == [Status.OK] * 5
