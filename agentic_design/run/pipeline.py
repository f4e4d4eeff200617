"""The propose → evaluate pipeline: K proposals and W evaluations in flight, deterministically.

Parallel work finishes in any order, yet a run must be reproducible (the same seed gives the
same designs) and replayable (a recorded LLM search, re-run, asks the very same questions). So:

- design ids are fixed in advance: proposal `n` becomes design `n`, committed in order;
- proposal `n` is planned from a fixed snapshot, the designs with ids up to `n - lag` (and never
  before every seed is scored), only once all of them are finished — `lag = K + W` keeps every
  worker busy while the snapshot stays independent of timing.

A design is recorded as pending when committed and final when its evaluation returns, each in
one transaction, so a killed run loses only the work in flight.

Replaying a recorded search (`reference` set), design `n` is evaluated under the budget that
repeats the recorded evaluation of design `n` (so a busy machine cannot change a score), and the
run stops at the first design that differs from its recording, saying how.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Protocol

from agentic_design.config import Budget
from agentic_design.llm import ReplayMiss
from agentic_design.proposers.base import Proposer, ProposerExhausted
from agentic_design.records import ArchiveError, Design, Evaluation, Proposal, Status
from agentic_design.records import StopReason as Stop
from agentic_design.store.archive import Archive


class Evaluates(Protocol):
    """What the pipeline needs of an evaluator (`evaluation.Evaluator`, or a test's fake)."""

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
    ) -> Evaluation: ...


def _result_or_error(future: Future[Evaluation], design_id: int, seed: int) -> Evaluation:
    """The evaluation, or — if judging it raised, a bug of ours or of the task — an error
    recorded against the design, so that one bad result cannot stop the run (or its resume)."""
    try:
        return future.result()
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc)[-6:])
        return Evaluation(
            status=Status.ERROR,
            split="validation",
            seed=seed,
            error=f"evaluating design {design_id} failed outside its sandbox: {exc!r}\n{trace}",
        )


def divergence(recorded: Design, replayed: Design) -> str | None:
    """How a replayed design differs from its recording, in words; None if it does not."""
    if recorded.code_hash != replayed.code_hash:
        return f"design {replayed.id} has other code than the recorded one"
    if recorded.status is not replayed.status or recorded.fitness != replayed.fitness:
        summaries = f"; now {replayed.summary!r}, recorded {recorded.summary!r}"
        return (
            f"design {replayed.id} ({replayed.name}) scored {replayed.fitness!r} "
            f"({replayed.status.value}) where the recording has {recorded.fitness!r} "
            f"({recorded.status.value})" + (summaries if recorded.summary else "")
        )
    return None


class Pipeline:
    """Runs proposals and evaluations until the budget is spent; returns why it stopped."""

    def __init__(
        self,
        archive: Archive,
        proposer: Proposer,
        evaluator: Evaluates,
        *,
        workers: int,
        in_flight: int,
        budget: Budget,
        eval_seed: int,
        fingerprint: str,
        elapsed: Callable[[], float],
        on_result: Callable[[int, Evaluation], None],
        reference: Archive | None = None,
    ) -> None:
        self.archive = archive
        self.proposer = proposer
        self.evaluator = evaluator
        self.workers = workers
        self.in_flight = in_flight
        self.lag = in_flight + workers
        self.budget = budget
        self.eval_seed = eval_seed
        self.fingerprint = fingerprint
        self.elapsed = elapsed
        self.on_result = on_result
        self.reference = reference
        self.stopped_by: Stop | None = None
        self.reason = ""  # what stopped it early, in words
        self._pending: set[int] = set()
        self._queued: deque[int] = deque()
        self._proposals: dict[int, Future[Proposal]] = {}
        self._evaluations: dict[Future[Evaluation], int] = {}

    def run(self) -> Stop:
        archive = self.archive
        self._pending = {d.id for d in archive.pending()}
        self._queued = deque(sorted(self._pending))
        first_snapshot = max(archive.seed_ids(), default=0)
        next_id = commit_id = archive.total() + 1
        propose_pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="propose")
        evaluate_pool = ThreadPoolExecutor(self.workers, thread_name_prefix="evaluate")
        try:
            while True:
                self._check_budget()
                next_id = self._plan(next_id, first_snapshot, propose_pool)
                commit_id = self._commit(commit_id)
                self._schedule(evaluate_pool)
                more = self.stopped_by is None and next_id <= self.budget.evaluations
                if not self._wait_and_collect(more):
                    break
        except KeyboardInterrupt:
            self.stopped_by = Stop.INTERRUPTED
            propose_pool.shutdown(wait=False, cancel_futures=True)
            evaluate_pool.shutdown(wait=False, cancel_futures=True)
            raise
        propose_pool.shutdown()
        evaluate_pool.shutdown()
        return self.stopped_by or Stop.EVALUATIONS

    # -- the four steps of one turn -----------------------------------------------------------
    def _plan(self, next_id: int, first_snapshot: int, pool: ThreadPoolExecutor) -> int:
        """Plan proposals whose snapshot is complete; return the next id to plan."""
        while (
            self.stopped_by is None
            and len(self._proposals) < self.in_flight
            and next_id <= self.budget.evaluations
        ):
            upto = max(next_id - self.lag, first_snapshot)
            if self._pending and min(self._pending) <= upto:
                break  # its snapshot is not finished yet
            try:
                plan = self.proposer.plan(self.archive, next_id, upto)
            except ProposerExhausted as exc:
                self._stop(exc.reason, str(exc))
                break
            self._proposals[next_id] = pool.submit(self.proposer.write, plan)
            next_id += 1
        return next_id

    def _commit(self, commit_id: int) -> int:
        """Record finished proposals as designs, in id order; return the next id to commit."""
        while commit_id in self._proposals and self._proposals[commit_id].done():
            future = self._proposals.pop(commit_id)
            try:
                proposal = future.result()
            except ReplayMiss as exc:
                self._stop(Stop.DIVERGED, f"design {commit_id}: {exc}")
                self._drop_proposals()
                return commit_id
            proposal = self._unless_duplicate(proposal)
            design_id = self.archive.add(
                proposal, eval_seed=self.eval_seed, task_fingerprint=self.fingerprint
            )
            if design_id != commit_id:
                raise RuntimeError(
                    f"design ids out of step ({design_id} != {commit_id}): "
                    "was the run store written by another process?"
                )
            commit_id += 1
            if proposal.error is not None:
                unusable = Evaluation(
                    status=Status.INVALID,
                    split="validation",
                    seed=self.eval_seed,
                    error=proposal.error,
                    metrics={"stage": "proposal"},
                )
                self._finish(design_id, unusable)
            else:
                self._pending.add(design_id)
                self._queued.append(design_id)
        return commit_id

    def _unless_duplicate(self, proposal: Proposal) -> Proposal:
        """A proposal whose code the run already has, but for comments, docstrings and layout,
        is recorded as such and not evaluated again (whichever proposer made it)."""
        if proposal.error is not None:
            return proposal
        earlier = self.archive.near_duplicate(proposal.code)
        if earlier is None:
            return proposal
        return replace(
            proposal,
            error=f"a duplicate of design #{earlier}: the same code once comments, docstrings "
            "and layout are set aside; not evaluated again",
        )

    def _schedule(self, pool: ThreadPoolExecutor) -> None:
        """Start evaluations of committed designs while a worker is free."""
        while self._queued and len(self._evaluations) < self.workers:
            design = self.archive.get(self._queued.popleft())
            recorded = self._recorded(design.id)
            future = pool.submit(
                self.evaluator.evaluate,
                design.code,
                seed=design.eval_seed or 0,
                recorded=recorded.metrics if recorded is not None else None,
                design_id=design.id,
            )
            self._evaluations[future] = design.id

    def _wait_and_collect(self, more: bool) -> bool:
        """Wait for the next proposal or evaluation; record finished evaluations. False when
        nothing is left in flight and (`more` False) nothing is left to plan."""
        waiting: list[Future[Any]] = [
            *self._evaluations,
            *(f for f in self._proposals.values() if not f.done()),
        ]
        if not waiting:
            if self._proposals and self.stopped_by is None:
                raise RuntimeError("a proposal cannot be committed")  # ids are dense: a bug
            # Proposals committed as unusable leave nothing in flight; planning goes on.
            return more
        done, _ = wait(waiting, return_when=FIRST_COMPLETED)
        for future in done:
            if future in self._evaluations:
                design_id = self._evaluations.pop(future)
                self._finish(design_id, _result_or_error(future, design_id, self.eval_seed))
        return True

    # -- helpers --------------------------------------------------------------------------------
    def _finish(self, design_id: int, evaluation: Evaluation) -> None:
        self.archive.finish(design_id, evaluation)
        self._pending.discard(design_id)
        self.on_result(design_id, evaluation)
        recorded = self._recorded(design_id)
        if recorded is not None and self.stopped_by is None:
            differs = divergence(recorded, self.archive.get(design_id))
            if differs is not None:
                self._stop(Stop.DIVERGED, differs)
                self._drop_proposals()

    def _recorded(self, design_id: int) -> Design | None:
        """Design `design_id` of the recording being replayed (None when not replaying)."""
        if self.reference is None:
            return None
        try:
            return self.reference.get(design_id)
        except ArchiveError:
            return None  # the replay runs past the recording: nothing to hold it to

    def _drop_proposals(self) -> None:
        """After a divergence nothing more is committed: the rest would not be a replay."""
        for future in self._proposals.values():
            future.cancel()
        self._proposals.clear()
        self._queued.clear()

    def _stop(self, reason: Stop, words: str) -> None:
        if self.stopped_by is None:
            self.stopped_by, self.reason = reason, words

    def _check_budget(self) -> None:
        if self.stopped_by is not None:
            return
        budget = self.budget
        if budget.hours is not None and self.elapsed() > budget.hours * 3600:
            self.stopped_by = Stop.HOURS
        if budget.usd is not None or budget.tokens is not None:
            spend = self.archive.spend()
            if budget.usd is not None and spend["usd"] >= budget.usd:
                self.stopped_by = Stop.USD
            if budget.tokens is not None and spend["tokens"] >= budget.tokens:
                self.stopped_by = Stop.TOKENS
        if budget.target_fitness is not None or budget.stagnation is not None:
            best = self.archive.best()
            if best is None or best.fitness is None:
                return
            if budget.target_fitness is not None and best.fitness >= budget.target_fitness:
                self._stop(Stop.TARGET, f"#{best.id} reached {best.fitness:.4f}")
            if budget.stagnation is not None:
                since = self.archive.finished_after(best.id)
                if since >= budget.stagnation:
                    self._stop(Stop.STAGNATION, f"{since} evaluations since the best, #{best.id}")
