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

Every evaluation should teach the search something, so two checks come before one is paid for:

- a proposal whose behavioural fingerprint (`Task.behaviour`, taken in the sandbox) equals an
  earlier design's is recorded as its duplicate (`behaviour_of`) and not evaluated. It is
  decided at commit, in id order, against the designs before it: the same designs are
  duplicates on every run.
- with cheap evaluations (`levels`: shares of a full evaluation, lowest first), a design climbs
  the shares one at a time and goes on only while it ranks among the best 1/eta of the designs
  with smaller ids that reached the same share (ASHA's rule: ranks, not values, since a cheap
  evaluation's fitness is on a scale of its own). Each decision waits until those designs all
  have their result at that share, so it does not depend on timing. Seeds always go on: they
  are the references.

The budget counts cost: a full evaluation 1, a cheap one its share, a duplicate or a proposal
judged not new (`Proposal.novelty`) nothing (an unusable proposal 1, as it was paid for).
Design `n` is planned while what the designs before it spent is below `budget.evaluations`:
judged from the snapshot when that is certain either way (with the most a design may cost for
each design planned since), else once every design before `n` has finished. So a run spends
its budget to the last design, and the same designs are planned whatever the timing.
"""

from __future__ import annotations

import math
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from agentic_design.config import Budget
from agentic_design.llm import ReplayMiss
from agentic_design.proposers.base import Proposer, ProposerExhausted
from agentic_design.records import ArchiveError, Design, Evaluation, Proposal, Status
from agentic_design.records import StopReason as Stop
from agentic_design.store.archive import Archive
from agentic_design.tasks.base import InvalidDesign

#: A run records at most this many designs per unit of `budget.evaluations` (a duplicate costs
#: nothing, so a proposer that writes nothing new must still come to an end).
MAX_DESIGNS_PER_EVALUATION = 4


class Evaluates(Protocol):
    """What the pipeline needs of an evaluator (`evaluation.Evaluator`, or a test's fake). It
    is passed `fidelity` only for a cheap evaluation, and asked for `behaviour(code, seed=)`
    (a fingerprint, or None) only when the pipeline takes fingerprints."""

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
    ) -> Evaluation: ...


@dataclass
class _Ladder:
    """A design on its way up the fidelity levels: the level it is evaluated at (or waits to
    be), and its results below it."""

    design_id: int
    code: str
    seed: int
    is_seed: bool
    fingerprint: bool  # its behaviour is still to be taken (a seed's, a resumed design's)
    step: int = 0
    results: list[Evaluation] = field(default_factory=list)
    behaviour: str | None = None


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
        lines = [line for line in (replayed.error or "").splitlines() if line.strip()]
        error = f"; its error now: {' / '.join(lines[-3:])[:600]}" if lines else ""
        return (
            f"design {replayed.id} ({replayed.name}) scored {replayed.fitness!r} "
            f"({replayed.status.value}) where the recording has {recorded.fitness!r} "
            f"({recorded.status.value})" + (summaries if recorded.summary else "") + error
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
        levels: tuple[float, ...] = (),
        eta: float = 3.0,
        behaviour: bool = False,
        proposal_cost: float = 0.0,
        complete: Callable[[str], str] = str,
        watch: Future[Any] | None = None,
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
        self.levels = (*levels, 1.0)  # the shares a design climbs, the full evaluation last
        # The most one design may spend: every level, and what its proposal spent (a tuning
        # step's trials).
        self.most_per_design = sum(self.levels) + proposal_cost
        self.eta = eta
        self.behaviour = behaviour
        self.complete = complete  # `Task.complete`
        # Work beside the pipeline (the models' check) whose failure stops it at once.
        self.watch = watch
        self.stopped_by: Stop | None = None
        self.reason = ""  # what stopped it early, in words
        self._spent_out = False  # the next design would go over budget.evaluations
        self._spent = (0, 0.0)  # (upto, archive.spent(upto)) as last asked
        self._pending: set[int] = set()
        self._queued: deque[int] = deque()
        self._ladders: dict[int, _Ladder] = {}
        # Designs waiting for their promotion to be decided, at each cheap level.
        self._waiting: list[set[int]] = [set() for _ in self.levels[:-1]]
        self._rungs: dict[float, dict[int, float]] = {share: {} for share in self.levels[:-1]}
        self._proposals: dict[int, Future[Proposal]] = {}
        self._evaluations: dict[Future[Evaluation], int] = {}

    def run(self) -> Stop:
        archive = self.archive
        seeds = set(archive.seed_ids())
        for design in archive.pending():
            self._start(design.id, design.code, design.eval_seed or 0, design.id in seeds)
            self._ladders[design.id].fingerprint = self.behaviour and design.behaviour is None
        for design_id, share, fitness in archive.cheap_results():  # a resumed run's ranks
            if share in self._rungs:
                self._rungs[share][design_id] = fitness
        first_snapshot = max(seeds, default=0)
        next_id = commit_id = archive.total() + 1
        propose_pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="propose")
        evaluate_pool = ThreadPoolExecutor(self.workers, thread_name_prefix="evaluate")
        try:
            while True:
                self._check_budget()
                next_id = self._plan(next_id, first_snapshot, propose_pool)
                commit_id = self._commit(commit_id)
                self._schedule(evaluate_pool)
                more = self.stopped_by is None and not self._spent_out
                if not self._wait_and_collect(more):
                    break
        except BaseException as exc:  # Ctrl-C, or the failure of the work watched
            if isinstance(exc, KeyboardInterrupt):
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
            and not self._spent_out
            and len(self._proposals) < self.in_flight
        ):
            upto = max(next_id - self.lag, first_snapshot)
            if self._pending and min(self._pending) <= upto:
                break  # its snapshot is not finished yet
            affordable = self._affordable(next_id, upto)
            if affordable is None:  # too close to call from the snapshot: from every design
                if self._proposals or self._pending:
                    break  # before it, once they have all finished
                affordable = self.archive.spent(next_id - 1) < self.budget.evaluations
            if not affordable:
                self._spent_out = True
                break
            try:
                plan = self.proposer.plan(self.archive, next_id, upto)
            except ProposerExhausted as exc:
                self._stop(exc.reason, str(exc))
                break
            self._proposals[next_id] = pool.submit(self._write, plan)
            next_id += 1
        return next_id

    def _affordable(self, number: int, upto: int) -> bool | None:
        """Whether design `number` may be planned, when the finished snapshot up to `upto`
        tells for certain (the designs planned since may cost nothing, or the most a design
        can); None when it does not."""
        budget = self.budget.evaluations
        if number > budget * MAX_DESIGNS_PER_EVALUATION:
            return False
        last, total = self._spent
        if upto > last:
            total += self.archive.spent(upto, after=last)
            self._spent = (upto, total)
        if total >= budget:
            return False
        if total + (number - 1 - upto) * self.most_per_design < budget:
            return True
        return None

    def _write(self, plan: Proposal) -> Proposal:
        """The proposer's proposal with its fingerprint, taken here (in the proposal's thread)
        unless the proposer took it already."""
        proposal = self._completed(self.proposer.write(plan))
        if self.behaviour and proposal.error is None and proposal.behaviour is None:
            behaviour = self.evaluator.behaviour(  # type: ignore[attr-defined]
                proposal.code, seed=self.eval_seed
            )
            proposal = replace(proposal, behaviour=behaviour)
        return proposal

    def _completed(self, proposal: Proposal) -> Proposal:
        """The proposal with the whole design its code stands for (`Task.complete`), or with
        the reason it stands for none as its error."""
        if proposal.error is not None:
            return proposal
        try:
            code = self.complete(proposal.code)
        except InvalidDesign as exc:
            return replace(proposal, error=f"{type(exc).__name__}: {exc}")
        return proposal if code == proposal.code else replace(proposal, code=code)

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
            judged = proposal.novelty is not None and proposal.novelty.get("novel") is False
            if not judged:  # one judged not new is recorded so, a near copy or not
                proposal = self._unless_duplicate(proposal)
            twin = None
            if proposal.error is None and proposal.behaviour is not None:
                twin = self.archive.behaviour_twin(proposal.behaviour)
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
                # Paid for all the same: its own cost (a tuning step's trials), or 1.
                self._finish(design_id, unusable, cost=0.0 if proposal.cost else 1.0)
            elif judged:
                assert proposal.novelty is not None  # judged
                not_novel = Evaluation(
                    status=Status.NOT_NOVEL,
                    split="validation",
                    seed=self.eval_seed,
                    error=proposal.novelty.get("why") or "judged not new: not evaluated",
                    metrics={"stage": "novelty"},
                )
                self._finish(design_id, not_novel, cost=0.0)
            elif twin is not None:
                duplicate = Evaluation(
                    status=Status.DUPLICATE,
                    split="validation",
                    seed=self.eval_seed,
                    error=f"behaves as design #{twin} (the same behavioural fingerprint): "
                    "not evaluated",
                    metrics={"stage": "behaviour"},
                )
                self._finish(design_id, duplicate, cost=0.0, behaviour_of=twin)
            else:
                self._start(design_id, proposal.code, self.eval_seed, is_seed=False)
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

    def _start(self, design_id: int, code: str, seed: int, is_seed: bool) -> None:
        """Queue a committed design's first evaluation."""
        self._ladders[design_id] = _Ladder(design_id, code, seed, is_seed, fingerprint=False)
        self._pending.add(design_id)
        self._queued.append(design_id)

    def _schedule(self, pool: ThreadPoolExecutor) -> None:
        """Start evaluations of committed designs while a worker is free."""
        while self._queued and len(self._evaluations) < self.workers:
            ladder = self._ladders[self._queued.popleft()]
            # The recording is read here, on the search's thread: its store connection is
            # not for the evaluation threads to share.
            recorded = self._recorded_metrics(ladder.design_id, self.levels[ladder.step])
            future = pool.submit(self._evaluate, ladder, recorded)
            self._evaluations[future] = ladder.design_id

    def _evaluate(self, ladder: _Ladder, recorded: dict[str, Any] | None) -> Evaluation:
        """One evaluation of a design, at its ladder's level (in an evaluation thread), under
        the recorded evaluation's budget when replaying; a design with no fingerprint yet has
        it taken first."""
        if ladder.fingerprint:
            behaviour = self.evaluator.behaviour(  # type: ignore[attr-defined]
                ladder.code, seed=ladder.seed
            )
            ladder.behaviour, ladder.fingerprint = behaviour, False
        share = self.levels[ladder.step]
        cheap: dict[str, Any] = {"fidelity": share} if share < 1 else {}
        return self.evaluator.evaluate(
            ladder.code,
            seed=ladder.seed,
            recorded=recorded,
            design_id=ladder.design_id,
            **cheap,
        )

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
        watched = [self.watch] if self.watch is not None and not self.watch.done() else []
        done, _ = wait([*waiting, *watched], return_when=FIRST_COMPLETED)
        if self.watch is not None and self.watch.done() and self.watch.exception() is not None:
            raise self.watch.exception()  # type: ignore[misc]  # checked: not None
        for future in done:
            if future in self._evaluations:
                design_id = self._evaluations.pop(future)
                self._climb(design_id, _result_or_error(future, design_id, self.eval_seed))
        self._decide()
        return True

    # -- cheap evaluations first ----------------------------------------------------------------
    def _climb(self, design_id: int, evaluation: Evaluation) -> None:
        """A design's evaluation came back: the last level (or a failure) finishes it; a cheap
        result waits for its promotion to be decided."""
        ladder = self._ladders[design_id]
        share = self.levels[ladder.step]
        last = ladder.step == len(self.levels) - 1
        if last or evaluation.status is not Status.OK or evaluation.fitness is None:
            self._finish_ladder(ladder, evaluation)
            return
        ladder.results.append(evaluation)
        self._rungs[share][design_id] = evaluation.fitness
        self._waiting[ladder.step].add(design_id)

    def _decide(self) -> None:
        """Promote or screen out the designs waiting at a cheap level whose rivals (pending
        designs with smaller ids) all have their result there; deterministic by design."""
        for share, waiting in zip(self.levels, self._waiting, strict=False):
            rung = self._rungs[share]
            for design_id in sorted(waiting):
                if any(m < design_id and m not in rung for m in self._pending):
                    continue
                waiting.discard(design_id)
                ladder = self._ladders[design_id]
                rank, rivals, places = self._rank(rung, design_id)
                if ladder.is_seed or rank < places:
                    ladder.step += 1
                    self._queued.appendleft(design_id)  # finish what was started first
                else:
                    self._screen_out(ladder, share, rank, rivals, places)

    def _rank(self, rung: dict[int, float], design_id: int) -> tuple[int, int, int]:
        """The design's rank at a level among the designs up to it (0: the best; ties go to
        the earlier design), how many they are, and how many places go on."""
        rivals = sorted((-fitness, other) for other, fitness in rung.items() if other <= design_id)
        rank = rivals.index((-rung[design_id], design_id))
        return rank, len(rivals), max(1, math.floor(len(rivals) / self.eta))

    def _screen_out(
        self, ladder: _Ladder, share: float, rank: int, rivals: int, places: int
    ) -> None:
        cheap = ladder.results[-1]
        screened = replace(
            cheap,
            status=Status.SCREENED_OUT,
            error=f"screened out at {share:.0%} of a full evaluation: ranked {rank + 1} of "
            f"{rivals} designs there, and the best {places} went on",
        )
        ladder.results.pop()
        self._finish_ladder(ladder, screened)

    def _finish_ladder(self, ladder: _Ladder, evaluation: Evaluation) -> None:
        self._ladders.pop(ladder.design_id)
        cost = sum(self.levels[: ladder.step + 1])
        self._finish(
            ladder.design_id,
            evaluation,
            cost=cost,
            cheaper=ladder.results,
            behaviour=ladder.behaviour,
        )

    # -- helpers --------------------------------------------------------------------------------
    def _finish(
        self,
        design_id: int,
        evaluation: Evaluation,
        *,
        cost: float,
        cheaper: list[Evaluation] | None = None,
        behaviour: str | None = None,
        behaviour_of: int | None = None,
    ) -> None:
        self.archive.finish(
            design_id,
            evaluation,
            cost=cost,
            cheaper=cheaper or (),
            behaviour=behaviour,
            behaviour_of=behaviour_of,
        )
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

    def _recorded_metrics(self, design_id: int, share: float) -> dict[str, Any] | None:
        """The metrics of the recorded evaluation at `share` of design `design_id`, that a
        replay repeats (None when not replaying, or the recording has none)."""
        recorded = self._recorded(design_id)
        if recorded is None or self.reference is None:
            return None
        if recorded.fidelity == share and recorded.status is not Status.DUPLICATE:
            return recorded.metrics
        for row in reversed(self.reference.evaluations(design_id)):
            if row["purpose"] == "search" and row.get("fidelity", 1.0) == share:
                return dict(row["metrics"])
        return None

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
