"""Tuned constants: a design's numeric literals tuned by Optuna's TPE sampler, each trial an
evaluation of the code with the trial's values written in; the best trial is the child.

Determinism: the same code, seed and evaluation give the same trials and the same child. The
constants tuned are chosen from the seed, TPE is seeded with it, and trials run one at a time
(ask, evaluate, tell), so nothing depends on timing.

Trial 0 is the parent's own values, so the child is never worse than the parent at the same
evaluation: at worst it is the parent. Optuna is imported only when tuning runs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from agentic_design.mutations.constants import Constant, find_constants, substitute
from agentic_design.records import Design, Evaluation, Proposal, Status, code_hash

if TYPE_CHECKING:
    import optuna

    from agentic_design.config import TuneConfig
    from agentic_design.proposers.base import Proposer
    from agentic_design.store.archive import Archive

#: Evaluates a design's code: its fitness (higher is better), or None when the design failed.
Evaluate = Callable[[str], float | None]

# Significant digits a tuned float is written with: the child reads `0.7312`, not
# `0.7312459013472`, and TPE's resolution on a log scale is coarser than that anyway.
_DIGITS = 4


class NothingToTune(ValueError):
    """The code has no numeric literal worth tuning."""


@dataclass(frozen=True)
class Trial:
    """One trial: the values written into the code, the fitness its code scored (None when it
    failed) and the code's fingerprint. `repeat_of` names an earlier trial of the same code,
    whose result was reused rather than evaluated again."""

    number: int
    values: tuple[int | float, ...]
    fitness: float | None
    code_hash: str
    repeat_of: int | None = None


@dataclass(frozen=True)
class Tuning:
    """The outcome of tuning: the best trial's code and fitness, the parent's (trial 0's), the
    constants tuned and their best values, and every trial, for the record."""

    code: str
    fitness: float | None
    parent_fitness: float | None
    constants: tuple[Constant, ...]
    values: tuple[int | float, ...]
    trials: tuple[Trial, ...]

    @property
    def improved(self) -> bool:
        """True when a trial beat the parent (any working trial beats a parent that failed)."""
        if self.fitness is None:
            return False
        return self.parent_fitness is None or self.fitness > self.parent_fitness

    @property
    def description(self) -> str:
        """The changes for a human: `tune 3 constants in 30 trials: 0.5 -> 0.7312 in priority`."""
        changes = [
            f"{c.text} -> {v!r} in {c.where}"
            for c, v in zip(self.constants, self.values, strict=True)
            if v != c.value
        ]
        count = len(self.constants)
        head = f"tune {count} constant{'s' * (count != 1)} in {len(self.trials)} trials"
        return f"{head}: {', '.join(changes) if changes else 'no change'}"


def tune_constants(
    code: str, evaluate: Evaluate, *, seed: int, trials: int, max_constants: int = 8
) -> Tuning:
    """Tune the numeric literals of `code` (`find_constants`) with TPE over `trials`
    evaluations, trial 0 being the parent's values; at most `max_constants` of them
    (`choose_constants`). Each value searches a range around its own (`_suggest`), keeping its
    type and sign. A trial whose evaluation returns None (or a fitness that is not finite) is
    a failure: TPE learns to avoid its region. An exception from `evaluate` is not caught.
    Raises NothingToTune, without evaluating, when the code has no constant to tune."""
    if trials < 1 or max_constants < 1:
        raise ValueError(f"need trials >= 1 and max_constants >= 1, not {trials}, {max_constants}")
    found = find_constants(code)
    if not found:
        raise NothingToTune("the code has no numeric literal to tune")
    chosen = choose_constants(found, max_constants, seed)

    import optuna

    # Optuna reports every trial at INFO: quiet its own logger for the run, and only its.
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return _study(code, chosen, evaluate, seed, trials)
    finally:
        optuna.logging.set_verbosity(verbosity)


def choose_constants(constants: Sequence[Constant], limit: int, seed: int) -> list[Constant]:
    """At most `limit` of `constants`, in source order: floats before ints, drawn at random
    (from `seed`) within each kind. A float is mostly a weight, rate or threshold someone
    guessed; an int more often a size, count or capacity the design needs exactly."""
    if len(constants) <= limit:
        return list(constants)
    rng = random.Random(seed)
    floats = [c for c in constants if not c.is_int]
    ints = [c for c in constants if c.is_int]
    chosen = rng.sample(floats, min(limit, len(floats)))
    chosen += rng.sample(ints, limit - len(chosen))
    return sorted(chosen, key=lambda c: (c.line, c.col))


def _study(
    code: str, constants: list[Constant], evaluate: Evaluate, seed: int, trials: int
) -> Tuning:
    import optuna

    # A third of the budget (at most Optuna's default of 10) samples at random before TPE
    # models the results; TPE is multivariate by default, so constants that interact are
    # modelled together.
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(1, trials // 3)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial({f"c{i}": abs(c.value) for i, c in enumerate(constants)})
    done: list[Trial] = []
    by_code: dict[str, Trial] = {}
    best_code, best, best_fitness = code, None, -math.inf
    for _ in range(trials):
        trial = study.ask()
        values = tuple(_suggest(trial, f"c{i}", c) for i, c in enumerate(constants))
        child = substitute(code, constants, values)
        key = code_hash(child)
        earlier = by_code.get(key)
        fitness = earlier.fitness if earlier else _finite(evaluate(child))
        if fitness is None:
            # Pruned, not failed: TPE ignores failed trials and would sample their region
            # again, but ranks pruned ones below every finished one.
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, fitness)
        done.append(Trial(trial.number, values, fitness, key, earlier.number if earlier else None))
        by_code.setdefault(key, done[-1])
        if fitness is not None and (best is None or fitness > best_fitness):  # ties: earliest
            best_code, best, best_fitness = child, done[-1], fitness
    return Tuning(
        code=best_code,
        fitness=best.fitness if best else None,
        parent_fitness=done[0].fitness,
        constants=tuple(constants),
        values=best.values if best else done[0].values,
        trials=tuple(done),
    )


def _suggest(trial: optuna.Trial, name: str, constant: Constant) -> int | float:
    """A value for `constant`, keeping its type and sign: a float log-uniform within ten times
    its size either way, an int log-uniform from a quarter of it to four times it (at least 1
    in size), a zero in [0, 1]. The parent's value comes back exactly (trial 0)."""
    value = constant.value
    if value == 0:
        # A zero is mostly a rate, decay or temperature switched off, none of which may go
        # below zero: search upwards only.
        if constant.is_int:
            return trial.suggest_int(name, 0, 1)
        return _rounded(trial.suggest_float(name, 0.0, 1.0), value)
    sign, size = (1 if value > 0 else -1), abs(value)
    if isinstance(size, int):
        return sign * trial.suggest_int(name, max(1, size // 4), size * 4, log=True)
    return sign * _rounded(trial.suggest_float(name, size / 10, size * 10, log=True), size)


def _rounded(value: float, old: float) -> float:
    # The parent's own value is kept exactly, so that trial 0 writes the parent's code.
    return value if value == old else float(f"{value:.{_DIGITS}g}")


def _finite(fitness: float | None) -> float | None:
    return fitness if fitness is not None and math.isfinite(fitness) else None


@dataclass(frozen=True)
class _TunePlan:
    number: int
    parent: Design


class TuningStep:
    """A proposer that, every `settings.every` designs, tunes a promising design's constants
    instead of asking `inner` (`search.tune`): the best design of the snapshot (full
    evaluations only) that has not been tuned yet and has constants to tune. Each trial is an
    evaluation (`evaluate(code, design_id)`, sandboxed, at the search's cheapest share, its
    LLM calls, for an agent, recorded under the child's id, so that a replay answers them in
    the same order); the best trial is the child, with operator `tune` and its trials
    recorded. Without any gain it is recorded as an unusable proposal, its trials spent all
    the same."""

    def __init__(
        self,
        inner: Proposer,
        settings: TuneConfig,
        evaluate: Callable[[str, int], Evaluation],
        *,
        seed: int,
        share: float,
    ) -> None:
        self.inner = inner
        self.settings = settings
        self.evaluate = evaluate
        self.seed = seed
        self.share = share
        self.name = inner.name
        self.repair_attempts = inner.repair_attempts
        self._tuned: set[int] | None = None  # parents tuned so far (read from the store once)

    def plan(self, archive: Archive, number: int, upto: int) -> Any:
        every = self.settings.every
        if every and number % every == 0:
            parent = self._parent(archive, upto)
            if parent is not None:
                self._tuned.add(parent.id)  # type: ignore[union-attr]
                return _TunePlan(number, parent)
        return self.inner.plan(archive, number, upto)

    def write(self, plan: Any) -> Proposal:
        if isinstance(plan, _TunePlan):
            return self._tune(plan)
        return self.inner.write(plan)

    def _parent(self, archive: Archive, upto: int) -> Design | None:
        """The best design up to `upto` not tuned before that has a constant to tune."""
        if self._tuned is None:
            self._tuned = {
                parent
                for d in archive.designs(outline=True)
                if d.operator.startswith("tune")
                for parent in d.parents[:1]
            }
        for candidate in archive.top(8, upto):
            if candidate.id in self._tuned or candidate.fidelity < 1:
                continue
            try:
                if find_constants(candidate.code):
                    return candidate
            except SyntaxError:
                continue
        return None

    def _tune(self, plan: _TunePlan) -> Proposal:
        parent = plan.parent

        def fitness(code: str) -> float | None:
            evaluation = self.evaluate(code, plan.number)
            return evaluation.fitness if evaluation.status is Status.OK else None

        tuning = tune_constants(
            parent.code,
            fitness,
            seed=self.seed * 1_000_003 + plan.number,
            trials=self.settings.trials,
            max_constants=self.settings.constants,
        )
        spent = sum(t.repeat_of is None for t in tuning.trials) * self.share
        trials = tuple(
            {
                "trial": t.number,
                "values": list(t.values),
                "fitness": t.fitness,
                "code_hash": t.code_hash,
                "repeat_of": t.repeat_of,
                "share": self.share,
            }
            for t in tuning.trials
        )
        where = f"at {self.share:.0%} of a full evaluation" if self.share < 1 else "in full"
        before = "failed" if tuning.parent_fitness is None else f"{tuning.parent_fitness:.4f}"
        after = "failed" if tuning.fitness is None else f"{tuning.fitness:.4f}"
        thought = (
            f"Tuned {len(tuning.constants)} constants of {parent.name!r} (#{parent.id}) with "
            f"TPE over {len(tuning.trials)} trials evaluated {where}: {before} -> {after}."
        )
        proposal = Proposal(
            name=f"{parent.name.split(' ·', 1)[0]} ·t{plan.number}",
            thought=thought,
            code=tuning.code,
            parents=(parent.id,),
            operator=tuning.description,
            proposer="tune",
            generation=parent.generation + 1,
            cost=spent,
            trials=trials,
        )
        if not tuning.improved:
            return replace(
                proposal,
                error=f"tuning found nothing better than #{parent.id}'s own values in "
                f"{len(tuning.trials)} trials {where}",
            )
        return proposal
