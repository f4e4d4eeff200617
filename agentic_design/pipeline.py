"""The propose → evaluate pipeline: K proposals and W evaluations in flight, deterministically.

Parallel work finishes in any order, yet a run must be reproducible (the same seed gives the
same designs) and replayable (a recorded LLM search, re-run, asks the very same questions). So:

- design ids are fixed in advance: proposal `n` becomes design `n`, committed in order;
- proposal `n` is planned from a fixed snapshot, the designs with ids up to `n - lag` (and never
  before every seed is scored), only once all of them are finished — `lag = K + W` keeps every
  worker busy while the snapshot stays independent of timing.

A design is recorded as pending when committed and final when its evaluation returns, each in
one transaction, so a killed run loses only the work in flight.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Protocol

from agentic_design.archive import Archive
from agentic_design.config import Budget
from agentic_design.evaluation import Evaluation, Evaluator
from agentic_design.proposers.evolution import EvolutionError, NoParentsError
from agentic_design.records import Proposal, Status


class Proposer(Protocol):
    """Where new designs come from: `plan` reads the archive (on the pipeline's thread),
    `write` does the slow part (on a worker thread)."""

    name: str
    repair_attempts: int

    def plan(self, archive: Archive, number: int, upto: int) -> Any: ...

    def write(self, plan: Any) -> Proposal: ...


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


class Pipeline:
    """Runs proposals and evaluations until the budget is spent; returns why it stopped."""

    def __init__(
        self,
        archive: Archive,
        proposer: Proposer,
        evaluator: Evaluator,
        *,
        workers: int,
        in_flight: int,
        budget: Budget,
        eval_seed: int,
        fingerprint: str,
        elapsed: Callable[[], float],
        on_result: Callable[[int, Evaluation], None],
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
        self.stopped_by: str | None = None
        self.reason = ""  # what stopped it early, in words

    def run(self) -> str:
        archive = self.archive
        pending = {d.id for d in archive.pending()}
        queued = deque(sorted(pending))
        seeds = [d.id for d in archive.designs() if d.proposer == "seed"]
        first_snapshot = max(seeds, default=0)
        next_id = commit_id = archive.total() + 1
        proposals: dict[int, Future[Proposal]] = {}
        evaluations: dict[Future[Evaluation], int] = {}
        propose_pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="propose")
        evaluate_pool = ThreadPoolExecutor(self.workers, thread_name_prefix="evaluate")
        try:
            while True:
                self._check_budget()
                # 1. plan proposals whose snapshot is complete
                while (
                    self.stopped_by is None
                    and len(proposals) < self.in_flight
                    and next_id <= self.budget.evaluations
                ):
                    upto = max(next_id - self.lag, first_snapshot)
                    if pending and min(pending) <= upto:
                        break  # its snapshot is not finished yet
                    try:
                        plan = self.proposer.plan(archive, next_id, upto)
                    except EvolutionError as exc:
                        self.stopped_by = (
                            "no_parents" if isinstance(exc, NoParentsError) else "exhausted"
                        )
                        self.reason = str(exc)
                        break
                    proposals[next_id] = propose_pool.submit(self.proposer.write, plan)
                    next_id += 1
                # 2. commit finished proposals, in order
                while commit_id in proposals and proposals[commit_id].done():
                    proposal = proposals.pop(commit_id).result()
                    design_id = archive.add(
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
                        archive.finish(design_id, unusable)
                        self.on_result(design_id, unusable)
                    else:
                        pending.add(design_id)
                        queued.append(design_id)
                # 3. start evaluations
                while queued and len(evaluations) < self.workers:
                    design = archive.get(queued.popleft())
                    future = evaluate_pool.submit(
                        self.evaluator.evaluate, design.code, seed=design.eval_seed or 0
                    )
                    evaluations[future] = design.id
                waiting: list[Future[Any]] = [
                    *evaluations,
                    *(f for f in proposals.values() if not f.done()),
                ]
                if not waiting:
                    if proposals:  # done but not yet committable: cannot happen, ids are dense
                        raise RuntimeError("a proposal cannot be committed")
                    break
                done, _ = wait(waiting, return_when=FIRST_COMPLETED)
                for future in done:
                    if future in evaluations:
                        design_id = evaluations.pop(future)
                        evaluation = _result_or_error(future, design_id, self.eval_seed)
                        archive.finish(design_id, evaluation)
                        pending.discard(design_id)
                        self.on_result(design_id, evaluation)
        except KeyboardInterrupt:
            self.stopped_by = "interrupted"
            propose_pool.shutdown(wait=False, cancel_futures=True)
            evaluate_pool.shutdown(wait=False, cancel_futures=True)
            raise
        propose_pool.shutdown()
        evaluate_pool.shutdown()
        return self.stopped_by or "evaluations"

    def _check_budget(self) -> None:
        if self.stopped_by is not None:
            return
        budget = self.budget
        if budget.hours is not None and self.elapsed() > budget.hours * 3600:
            self.stopped_by = "hours"
        if budget.usd is not None or budget.tokens is not None:
            spend = self.archive.spend()
            if budget.usd is not None and spend["usd"] >= budget.usd:
                self.stopped_by = "usd"
            if budget.tokens is not None and spend["tokens"] >= budget.tokens:
                self.stopped_by = "tokens"
