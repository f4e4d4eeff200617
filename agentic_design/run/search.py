"""The orchestrator: propose → evaluate (W workers in parallel) → archive, until the budget ends.

A run's state lives entirely in its store: a design is recorded as pending before it is
evaluated and becomes final in one transaction when its result comes back. `resume` therefore
re-evaluates exactly the designs that were in flight when a run died, and never repeats or loses
a finished one.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentic_design.config import ConfigError, RunConfig
from agentic_design.proposers.base import Proposer
from agentic_design.proposers.evolution import EvolutionProposer
from agentic_design.proposers.meta_agent import MetaAgentProposer
from agentic_design.records import ArchiveError, Design, Evaluation, Origin, Proposal, StopReason
from agentic_design.run.assemble import (
    build_task,
    cheap_levels,
    checked_endpoints,
    device_plan,
    evaluation_parts,
    learns_without_llm,
    preflight,
    proposer_for,
)
from agentic_design.run.evaluation import Evaluator, has_behaviour
from agentic_design.run.lifecycle import final_test, open_run, record_stop
from agentic_design.run.pipeline import Evaluates, Pipeline
from agentic_design.store.archive import Archive
from agentic_design.tasks import Task

if TYPE_CHECKING:
    from agentic_design.proposers.by_parts import Checker
    from agentic_design.run.estimate import CostEstimate
    from agentic_design.run.ray_executor import RayEvaluator


@dataclass(frozen=True)
class SearchResult:
    """What a finished (or stopped) search leaves behind."""

    run_dir: Path
    best: Design | None
    counts: dict[str, int]
    total: int
    stopped_by: StopReason
    proposer: str
    test: Evaluation | None
    fitness_name: str = "fitness"
    reason: str = ""  # what stopped the search early, in words


def resolve_task_ref(ref: str) -> str:
    """Make a `path/file.py:Class` reference absolute: sandboxed children run elsewhere."""
    path, sep, cls = ref.rpartition(":")
    if sep and path.endswith(".py"):
        return f"{Path(path).resolve()}:{cls}"
    return ref


class Search:
    """One search: `Search(config).run()` starts it, `Search.resume(run_dir).run()` goes on."""

    def __init__(
        self,
        config: RunConfig,
        *,
        console: Console | None = None,
        progress: bool = True,
        accept_estimate: bool = False,
    ) -> None:
        self.config = config.with_overrides(task=resolve_task_ref(config.task))
        # Start even where the LLM spend's estimate is above budget.usd (`estimate`).
        self.accept_estimate = accept_estimate
        self.console = console or Console(stderr=True)
        self.show_progress = progress
        self.run_dir = self.config.resolved_run_dir
        self._resuming = False
        self._replay_store: Archive | None = None
        self._recorded_fingerprint: str | None = None  # the task's, in the run resumed or replayed
        self._stores: list[Archive] = []  # extra connections this search opened, to close

    @classmethod
    def replay(cls, recorded_run: str | Path, run_dir: str | Path, **kwargs: Any) -> Search:
        """Re-run a recorded search into `run_dir`, answering every LLM call from the recording
        (no network); the pipeline's determinism makes it ask the very same questions."""
        recorded = Archive.open(recorded_run, readonly=True)
        try:
            config = recorded.run_config()
        except ArchiveError:
            raise ConfigError(f"{recorded_run} holds no run configuration to replay") from None
        if config.llm is None:
            raise ConfigError(f"{recorded_run} was not an LLM search: there is nothing to replay")
        search = cls(config.with_overrides(run_dir=str(run_dir)), **kwargs)
        search._replay_store = recorded
        search._recorded_fingerprint = recorded.meta("task_fingerprint")
        return search

    @classmethod
    def resume(cls, run_dir: str | Path, **kwargs: Any) -> Search:
        """Continue a stopped or killed run from its directory, with the configuration saved in
        its store."""
        if not (Path(run_dir) / "run.db").is_file():
            raise ConfigError(f"no run to resume at {run_dir} (expected {run_dir}/run.db)")
        try:
            with Archive.open(run_dir, readonly=True) as archive:
                config = archive.run_config()
                fingerprint = archive.meta("task_fingerprint")
        except ArchiveError as exc:
            raise ConfigError(f"cannot resume {run_dir}: {exc}") from None
        search = cls(config.with_overrides(run_dir=str(run_dir)), **kwargs)
        search._resuming = True
        search._recorded_fingerprint = fingerprint
        return search

    # -- set-up ---------------------------------------------------------------------------------
    def preflight(self, estimate_for: Task | None = None) -> Future[None] | None:
        """With an LLM configured, one cheap call to each model (exit 2 on failure); none when
        replaying a recording. The agents' models are checked now, before their seeds call
        them; the meta-agent's on a thread of their own (`model_check`), which the first
        proposal waits for, and which then says what the budget is likely to cost
        (`estimate_for`'s task; `_refuse_above_budget` said it already where it may refuse)."""
        if self._replay_store is not None:
            return None
        preflight(self.config, ("agent_llm",))
        if not checked_endpoints(self.config, "llm"):
            return None
        say = (lambda: self._say_estimate(estimate_for)) if estimate_for is not None else None
        return model_check(self.config, self.run_dir, then=say)

    def _refuse_above_budget(self, task: Task) -> bool:
        """Where `budget.usd` caps an LLM search (a new one, not a replay), its expected spend
        (`run.estimate`) said before anything starts, and the search refused
        (EstimateExceedsBudget, exit 2) when the estimate's high end is above the cap, unless
        accepted. True when it was estimated here. Estimating imports litellm (seconds):
        without a cap to hold, it is left to the models' check, beside the seeds."""
        if self._resuming or self._replay_store is not None or self.config.budget.usd is None:
            return False
        from agentic_design.run.estimate import check_estimate

        estimate = self._say_estimate(task)
        if estimate is not None:
            check_estimate(estimate, self.config.budget.usd, accept=self.accept_estimate)
        return True

    def _say_estimate(self, task: Task | None) -> CostEstimate | None:
        """Print the expected LLM spend of the budget (None for a search that spends none)."""
        if task is None or self._resuming or self._replay_store is not None:
            return None
        from agentic_design.run.estimate import estimate_cost

        estimate = estimate_cost(self.config, task)
        if estimate.free:
            return None
        self.console.print(f"[bold]estimate:[/] {estimate.summary()}", highlight=False)
        return estimate

    def _llm_store(self) -> Archive:
        """The meta-agent's call store: the recording it replays, or a connection of its own
        (LLM calls are recorded from the proposal threads)."""
        if self._replay_store is not None:
            return self._replay_store
        store = Archive.open(self.run_dir)
        self._stores.append(store)
        return store

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        # SIGTERM stops the whole search as Ctrl-C does, not only its loop: while the sandbox
        # starts, during the final test, while the stop is being recorded.
        with _sigterm_interrupts():
            return self._run()

    def _run(self) -> SearchResult:
        task = build_task(self.config, self._recorded_fingerprint)
        # What the task settled for itself (the arithmetic set's secret salt) is kept in the
        # configuration the run saves: its resume, replays and Ray workers build the same task.
        self.config = self.config.with_overrides(task_params=task.run_params())
        cheap_levels(self.config, task)  # a share the task cannot run: before anything starts
        learns_without_llm(self.config)
        if self.config.executor == "local":  # Ray's workers check their own nodes' devices
            devices = device_plan(self.config, task)  # a GPU the machine lacks: before anything
            if devices.note:
                self.console.print(f"[bold]devices:[/] {devices.note}", highlight=False)
        estimated = self._refuse_above_budget(task)
        check = self.preflight(None if estimated else task)
        try:
            task.prepare()
        except OSError as exc:  # the data cache cannot be written: the user's setting to fix
            raise ConfigError(str(exc)) from None
        archive = open_run(self.config, task, self.run_dir, resuming=self._resuming)
        try:
            return self._search(archive, task, check)
        finally:
            archive.close()
            for store in self._stores:
                store.close()

    def _search(self, archive: Archive, task: Task, check: Future[None] | None) -> SearchResult:
        note, test, reason = "", None, ""
        made: Proposer | None = None
        try:
            proposer, note = proposer_for(
                self.config, task, self._llm_store, replay=self._replay_store is not None
            )
            made = proposer
            archive.set_meta("proposer", note)
            self.console.print(f"[bold]proposer:[/] {note}")
            if archive.total() == 0:  # the seeds go in together, or not at all
                seeds = [replace(seed, origin=Origin.SEED) for seed in task.seeds()]
                archive.add_many(
                    seeds, eval_seed=self.config.seed, task_fingerprint=task.fingerprint()
                )
            with self._evaluators(task) as (evaluator, checker, protections):
                self._record_protections(archive, protections)
                if isinstance(proposer, MetaAgentProposer):  # its decompose mode checks parts
                    proposer.checker = checker
                if isinstance(proposer, EvolutionProposer) and fingerprints(self.config, task):
                    seed = self.config.seed  # children behaving as a design before: redrawn
                    proposer.behaviour = lambda code: evaluator.behaviour(code, seed=seed)
                    proposer.behaviour_tries = self.config.search.behaviour_tries
                proposer = self._with_tuning(proposer, evaluator, task)
                if check is not None:
                    proposer = AfterCheck(proposer, check)
                stopped_by, reason = self._loop(archive, evaluator, proposer, task, check)
                if stopped_by not in (StopReason.INTERRUPTED, StopReason.DIVERGED):
                    test = final_test(archive, evaluator, task)
        except KeyboardInterrupt:  # outside the loop: while the sandbox starts, say
            stopped_by = StopReason.INTERRUPTED
            self._say_interrupted()
        finally:
            if isinstance(made, MetaAgentProposer):
                made.close()
        try:
            best = record_stop(archive, stopped_by, reason, test)
        except KeyboardInterrupt:  # a stop while the end is being recorded stops it there
            stopped_by = StopReason.INTERRUPTED
            self._say_interrupted()
            best = record_stop(archive, stopped_by, reason, test)
        if self.config.search.report:
            self._write_report(archive)
        return SearchResult(
            run_dir=self.run_dir,
            best=best,
            counts=archive.counts(),
            total=archive.total(),
            stopped_by=stopped_by,
            proposer=note,
            test=test,
            fitness_name=task.fitness_name,
            reason=reason,
        )

    @contextmanager
    def _evaluators(
        self, task: Task
    ) -> Iterator[tuple[Evaluator | RayEvaluator, Checker, list[dict[str, Any]]]]:
        """The run's evaluator, the meta-agent's part checker and the sandbox's protections
        (`assemble.evaluation_parts`); an agent task's calls get a store connection of their
        own (the broker's threads record them)."""
        calls = None
        if task.uses_broker:
            calls = self._replay_store or Archive.open(self.run_dir)
            self._stores.append(calls)
        replay = self._replay_store is not None
        with evaluation_parts(self.config, task, calls=calls, replay=replay) as parts:
            yield parts

    def _write_report(self, archive: Archive) -> None:
        """RUN_DIR/report.html, from what the run recorded: a report that cannot be made is a
        warning (and an event), never the loss of a result."""
        from agentic_design.report import write_report  # matplotlib: only now

        path = self.run_dir / "report.html"
        try:
            written = write_report(archive, path)
        except KeyboardInterrupt:
            self.console.print("[yellow]the report was not written[/] (interrupted)")
            return
        except Exception as exc:
            self.console.print(f"[yellow]warning:[/] the report could not be written: {exc}")
            with suppress(sqlite3.Error):  # a full disk, say, that the report met first
                archive.event("report_failed", error=f"{type(exc).__name__}: {exc}")
            return
        failed = "".join(f"; its section {f.title!r} failed" for f in written.failed)
        self.console.print(f"[bold]report:[/] {path}{failed}", highlight=False)

    def _loop(
        self,
        archive: Archive,
        evaluator: Evaluates,
        proposer: Proposer,
        task: Task,
        check: Future[None] | None,
    ) -> tuple[StopReason, str]:
        budget = self.config.budget
        searched_before = float(archive.meta("searched_s", 0.0))
        started = time.monotonic()

        def elapsed() -> float:
            return searched_before + time.monotonic() - started

        progress = self._progress()
        reason = ""
        try:
            with progress:
                bar = progress.add_task("searching", total=budget.evaluations)
                self._update(progress, bar, archive)

                def on_result(design_id: int, evaluation: Evaluation) -> None:
                    self._announce(archive, design_id, evaluation, task)
                    archive.set_meta("searched_s", elapsed())
                    self._update(progress, bar, archive)

                pipeline = Pipeline(
                    archive,
                    proposer,
                    evaluator,
                    workers=self.config.sandbox.workers,
                    in_flight=self._in_flight(),
                    budget=budget,
                    eval_seed=self.config.seed,
                    fingerprint=task.fingerprint(),
                    elapsed=elapsed,
                    on_result=on_result,
                    reference=self._replay_store,
                    levels=cheap_levels(self.config, task),
                    eta=self.config.search.fidelity.eta,
                    behaviour=fingerprints(self.config, task),
                    proposal_cost=self._tuning_cost(task),
                    complete=task.complete,
                    watch=check,
                )
                stopped_by = pipeline.run()
                reason = pipeline.reason
                if reason:
                    self.console.print(f"[red]stopping:[/] {reason}", highlight=False)
        except KeyboardInterrupt:
            stopped_by = StopReason.INTERRUPTED
            self._say_interrupted()
        finally:
            archive.set_meta("searched_s", elapsed())
        return stopped_by, reason

    def _tuning_cost(self, task: Task) -> float:
        """The most a proposal may spend: a tuning step's trials at the cheapest share."""
        settings = self.config.search.tune
        if not settings.every:
            return 0.0
        return settings.trials * cheapest_share(self.config, task)

    def _with_tuning(self, proposer: Proposer, evaluator: Evaluates, task: Task) -> Proposer:
        """The proposer, tuning a promising design's constants every `search.tune.every`
        designs, each trial at the cheapest share."""
        settings = self.config.search.tune
        if not settings.every:
            return proposer
        from agentic_design.proposers.tune import TuningStep  # optuna: only now

        seed, share = self.config.seed, cheapest_share(self.config, task)
        cheap: dict[str, Any] = {"fidelity": share} if share < 1 else {}

        def evaluate(code: str, design_id: int) -> Evaluation:
            return evaluator.evaluate(code, seed=seed, design_id=design_id, **cheap)

        return TuningStep(proposer, settings, evaluate, seed=seed, share=share)

    def _say_interrupted(self) -> None:
        self.console.print(
            "[yellow]interrupted:[/] finished designs are saved; designs in flight stay "
            f"pending and `agentic-design resume {self.run_dir}` re-evaluates them"
        )

    def _in_flight(self) -> int:
        """Proposals in flight: the LLM's concurrency (or the configured number); evolution
        proposes instantly, one per evaluation worker is plenty."""
        if self.config.llm is None:
            return self.config.sandbox.workers
        return self.config.search.meta_agent.in_flight or self.config.llm.concurrency

    def _record_protections(self, archive: Archive, protections: list[dict[str, Any]]) -> None:
        """Keep the sandbox's capability report with the run, and say aloud what is missing."""
        archive.set_meta("sandbox", protections)
        for p in protections:
            if not p["enabled"]:
                self.console.print(f"[yellow]sandbox: no {p['name']}:[/] {p['detail']}")

    def _announce(
        self, archive: Archive, design_id: int, evaluation: Evaluation, task: Task
    ) -> None:
        """Say so when a finished design is the new best."""
        best = archive.best()  # ties go to the earlier design, so only a strict improvement
        if best is None or best.id != design_id or evaluation.fitness is None:
            return
        summary = f"; {evaluation.summary}" if evaluation.summary else ""
        self.console.print(
            f"new best #{design_id} {best.name}: {task.fitness_name} {evaluation.fitness:.4f} "
            f"[{evaluation.ci_low:.3f}, {evaluation.ci_high:.3f}]{summary}",
            highlight=False,
        )

    # -- progress -------------------------------------------------------------------------------
    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.show_progress,
            transient=False,
        )

    @staticmethod
    def _update(progress: Progress, bar: Any, archive: Archive) -> None:
        # Against budget.evaluations: a cheap evaluation counts its share, a duplicate nothing.
        finished = archive.spent()
        best = archive.best()
        label = f"best {best.fitness:.4f} (#{best.id})" if best and best.fitness else "no best yet"
        progress.update(bar, completed=finished, description=label)


def model_check(
    config: RunConfig, run_dir: Path, then: Callable[[], Any] | None = None
) -> Future[None]:
    """The meta-agent's models checked (`assemble.preflight`) on a thread of their own, beside
    the set-up and the seeds' evaluations: importing litellm alone takes seconds, and no model
    is asked anything before the first proposal, which waits for the check (`AfterCheck`). A
    check that fails stops the pipeline at once (its `watch`); one that passes goes on to
    `then` (saying the estimate), which nothing waits for."""
    future: Future[None] = Future()

    def check() -> None:
        try:
            preflight(config, ("llm",))
        except ConfigError as exc:
            saved = f"the search stopped; what it evaluated before is saved in {run_dir}"
            future.set_exception(ConfigError(f"{exc} ({saved})"))
        except BaseException as exc:  # raised again on the search's thread
            future.set_exception(exc)
        else:
            future.set_result(None)
        if then is not None and future.exception() is None:
            with suppress(Exception):  # words for the user (the estimate): never a failure
                then()

    threading.Thread(target=check, name="model-check", daemon=True).start()
    return future


class AfterCheck:
    """A proposer that plans its first proposal only once the models' check has passed (one
    that failed raises its error: exit 2, what was evaluated meanwhile kept)."""

    def __init__(self, inner: Proposer, check: Future[None]) -> None:
        self.inner = inner
        self.check = check
        self.name = inner.name
        self.repair_attempts = inner.repair_attempts

    def plan(self, archive: Archive, number: int, upto: int) -> Any:
        self.check.result()  # raises what the check raised
        return self.inner.plan(archive, number, upto)

    def write(self, plan: Any) -> Proposal:
        return self.inner.write(plan)


def cheapest_share(config: RunConfig, task: Task) -> float:
    """The share of a full evaluation the run's cheapest evaluation runs (1: no cheap ones)."""
    return (*cheap_levels(config, task), 1.0)[0]


def fingerprints(config: RunConfig, task: Task) -> bool:
    """Whether the run takes behavioural fingerprints (`search.behaviour`, for a task that
    defines them)."""
    return config.search.behaviour and has_behaviour(task)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the search as Ctrl-C does — where a handler can be set at all: only the
    main thread may set one, and a search run from a thread (a notebook's, a service's, the
    task graph's) leaves signals to whoever owns the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
