"""Evolution over design code: by default regularized ("aging") evolution (Real et al. 2019).

The population is the most recent working designs, so every design eventually ages out however
good it was: the search keeps re-earning its best results instead of clinging to a lucky one.
A parent is the fittest of a small random tournament; its child is one or more code mutations
of it, or now and then a crossover of two parents. `search.selection` swaps the way parents
are chosen (best-k, MAP-Elites, islands: `agentic_design.proposers.selection`).

Planning is incremental: each plan reads only the designs finished since the last one, so it
costs the same at design 100,000 as at design 100.

With `behaviour` set (a task's behavioural fingerprint, taken in the sandbox), a child that
behaves as a design already in the run, or as a child planned since, is drawn again, up to
`behaviour_tries` times: a constant scaled where it changes no comparison is not worth an
evaluation. After that many, the last child goes as it is, and the search records it as a
duplicate without evaluating it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agentic_design.config import EvolutionConfig, SelectionConfig
from agentic_design.mutations.operators import (
    Mutation,
    MutationError,
    Operators,
    check_weights,
    mutate,
)
from agentic_design.proposers.base import ProposerExhausted
from agentic_design.proposers.selection import Strategy, make_strategy, tournament, works
from agentic_design.records import Design, Proposal, StopReason, code_hash, near_hash

if TYPE_CHECKING:
    from agentic_design.store.archive import Archive

# How often to draw a fresh child before giving up on finding code the run has not seen yet.
MAX_ATTEMPTS = 12


class EvolutionError(ProposerExhausted):
    """Evolution cannot propose a child."""


class NoParentsError(EvolutionError):
    """No design in the history is fit to be a parent (none finished OK with a fitness)."""

    reason = StopReason.NO_PARENTS


class NoNovelChildError(EvolutionError):
    """Every child drawn duplicated code the run has already evaluated."""


def select_population(history: Sequence[Design], size: int) -> list[Design]:
    """The `size` most recent designs that finished OK with a finite fitness, oldest first."""
    return sorted((d for d in history if works(d)), key=lambda d: d.id)[-size:]


__all__ = ["EvolutionProposer", "select_population", "tournament"]


def _base_name(name: str) -> str:
    # Children are named "<base> ·m12"; strip an earlier suffix so names do not grow.
    return name.split(" ·", 1)[0]


@dataclass(frozen=True)
class _Child:
    code: str
    parents: tuple[Design, ...]
    changes: tuple[Mutation, ...]


class EvolutionProposer:
    """Proposes children of the current population by tournament selection and mutation, with
    the operators its task provides (`Task.evolution_operators`)."""

    name = "evolution"

    def __init__(
        self,
        settings: EvolutionConfig,
        operators: Operators,
        seed: int,
        selection: SelectionConfig | None = None,
        strategy: Callable[[], Strategy] | None = None,
    ) -> None:
        self.settings = settings
        if settings.operator_weights is not None:  # the named operators only
            check_weights(settings.operator_weights, operators.mutations)
            operators = replace(operators, weights=settings.operator_weights)
        self.operators = operators
        self.seed = seed
        self.selection = selection or SelectionConfig()
        # Makes the parents' strategy: `search.selection`'s, unless the caller brings its own
        # (the control run's uniform draw).
        self._make_strategy = strategy
        # What `plan` has read of the run so far: the strategy fed with every finished design
        # up to `_read_upto`, and the code hashes of all of them (and of planned children).
        self._strategy = self._new_strategy()
        self._read_upto = 0
        self._count = 0
        self._seen: set[str] = set()
        self._planned: list[str] = []  # code hashes of children planned by `plan`
        self._archive: Archive | None = None  # where `plan` reads chosen parents' code
        #: The fingerprint of a child's behaviour (None: none could be taken); None: children
        #: are not fingerprinted. Set by the search, with the sandbox to take them in.
        self.behaviour: Callable[[str], str | None] | None = None
        self.behaviour_tries = 8
        self._behaviours: set[str] = set()  # of the designs read and the children planned

    def _new_strategy(self) -> Strategy:
        if self._make_strategy is not None:
            return self._make_strategy()
        return make_strategy(self.selection, self.settings.population, self.settings.tournament)

    def _load(self, design: Design) -> Design:
        """The design with its code (strategies fed by `plan` hold them without it)."""
        if design.code or self._archive is None:
            return design
        return self._archive.get(design.id)

    @staticmethod
    def _hashes(design: Design) -> set[str]:
        # The stored fingerprint where there is one: parsing every design of a long run again
        # would make a resumed run's first plan slow.
        return {design.code_hash, design.near_hash or near_hash(design.code)}

    repair_attempts = 0  # evolution does not repair: a failed child simply does not breed

    def plan(self, archive: Archive, number: int, upto: int) -> Proposal:
        """Propose design `number` from the finished designs with ids up to `upto`, avoiding the
        code of the children planned since (not yet in that snapshot)."""
        # Only what finished since the last plan: the pipeline plans from growing snapshots,
        # each complete (every design up to `upto` finished). Read without code (a resumed
        # run reads all of it once); a chosen parent's code is read when it is chosen.
        self._archive = archive
        if self._read_upto == 0:  # the first plan (of a resumed run, too): the store's hashes
            self._seen |= archive.code_fingerprints(upto)
            self._count = upto
            if self.behaviour is not None:  # every design before this one, planned or not
                self._behaviours |= archive.behaviours(number - 1)
        elif self.behaviour is not None:
            self._behaviours |= archive.behaviours(upto, after=self._read_upto)
        new = self._strategy.follow(archive, self._read_upto, upto)
        for design in new:
            self._seen |= self._hashes(design)
        self._count += len(new)
        self._read_upto = max(self._read_upto, upto)
        rng = random.Random(self.seed * 1_000_003 + number)
        proposal = self._propose(self._strategy, self._seen, self._count, rng, number)
        self._planned.append(code_hash(proposal.code))
        self._seen.add(code_hash(proposal.code))
        if proposal.behaviour is not None:
            self._behaviours.add(proposal.behaviour)
        return proposal

    def write(self, plan: Proposal) -> Proposal:
        return plan  # evolution does all its work while planning: it is instant

    def propose(
        self,
        history: Sequence[Design],
        rng: random.Random | None = None,
        number: int | None = None,
    ) -> Proposal:
        """A new child of the population in `history` (the run's designs in creation order).

        Deterministic: the same history and the same `rng` state (or, without one, the same
        proposer seed) give the same proposal. Raises NoParentsError when no design finished OK.
        """
        if rng is None:
            rng = random.Random(self.seed * 1_000_003 + len(history))
        self._archive = None  # the history holds the designs' code
        strategy = self._new_strategy()
        seen: set[str] = set(self._planned)
        behaviours = set(self._behaviours)
        for design in sorted(history, key=lambda d: d.id):
            strategy.add(design)
            seen |= self._hashes(design)
            if design.behaviour is not None:
                behaviours.add(design.behaviour)
        if number is None:
            number = max((d.id for d in history), default=0) + 1
        return self._propose(strategy, seen, len(history), rng, number, behaviours)

    def _propose(
        self,
        strategy: Strategy,
        seen: set[str],
        count: int,
        rng: random.Random,
        number: int,
        behaviours: set[str] | None = None,
    ) -> Proposal:
        if not strategy.population(number):
            raise NoParentsError(
                f"none of the {count} designs so far finished OK with a fitness; "
                "evolution needs at least one working design (a seed) to start from"
            )
        unchangeable: list[int] = []  # parents no configured operator can change
        known = self._behaviours if behaviours is None else behaviours
        same_behaviour: list[tuple[_Child, str]] = []  # new code, known behaviour
        for attempt in range(MAX_ATTEMPTS + self.behaviour_tries):
            # Later attempts stack extra mutations: a parent whose close neighbours were all
            # tried already needs a bigger step to reach something new.
            extra = min(attempt, MAX_ATTEMPTS) // 4
            child = self._child(strategy, number, unchangeable, rng, extra=extra)
            if isinstance(child, int):
                unchangeable.append(child)
                if all(d.id in unchangeable for d in strategy.population(number)):
                    raise NoNovelChildError(
                        "no configured mutation operator can change any design of the "
                        "population (see search.evolution.operator_weights)"
                    )
                continue
            if {code_hash(child.code), near_hash(child.code)} & seen:
                continue
            if self.behaviour is None:
                return self._proposal(child, number)
            behaviour = self.behaviour(child.code)
            if behaviour is None or behaviour not in known:
                return self._proposal(child, number, behaviour, redrawn=len(same_behaviour))
            same_behaviour.append((child, behaviour))
            if len(same_behaviour) >= self.behaviour_tries:
                break
        if same_behaviour:  # recorded as the duplicate it is, without an evaluation
            child, behaviour = same_behaviour[-1]
            return self._proposal(child, number, behaviour, redrawn=len(same_behaviour) - 1)
        raise NoNovelChildError(
            f"{MAX_ATTEMPTS} children in a row duplicated designs already in the run"
        )

    def _child(
        self,
        strategy: Strategy,
        number: int,
        unchangeable: list[int],
        rng: random.Random,
        extra: int,
    ) -> _Child | int:
        """A child, or the id of the parent drawn when no operator can change it."""
        settings = self.settings
        parent = self._load(strategy.pick(rng, number, exclude=unchangeable))
        population = [d for d in strategy.population(number) if d.id not in unchangeable]
        if len(population) >= 2 and rng.random() < settings.crossover_rate:
            other = self._load(strategy.pick(rng, number, exclude=[*unchangeable, parent.id]))
            labels = (f"#{parent.id}", f"#{other.id}")
            crossed = self.operators.crossover(parent.code, other.code, rng, labels)
            if crossed is not None:
                return _Child(crossed.code, (parent, other), (crossed,))
        code, changes = parent.code, []
        for _ in range(rng.randint(1, settings.mutations_per_child) + extra):
            try:
                change = mutate(code, rng, self.operators)
            except MutationError:  # nothing the configured operators can change (any more)
                break
            code = change.code
            changes.append(change)
        return _Child(code, (parent,), tuple(changes)) if changes else parent.id

    def _proposal(
        self, child: _Child, number: int, behaviour: str | None = None, redrawn: int = 0
    ) -> Proposal:
        first = child.parents[0]
        what = "; ".join(m.description for m in child.changes)
        if len(child.parents) == 2:
            second = child.parents[1]
            suffix = "x"
            thought = (
                f"Crossed {first.name!r} (fitness {first.fitness:.3f}) with {second.name!r} "
                f"(fitness {second.fitness:.3f}): {what}."
            )
        else:
            suffix = "m"
            thought = f"Mutated {first.name!r} (fitness {first.fitness:.3f}): {what}."
        if redrawn:
            thought += (
                f" Drawn after {redrawn} other child{'ren' * (redrawn != 1)} that behaved as "
                "designs already in the run (not evaluated)."
            )
        return Proposal(
            name=f"{_base_name(first.name)} ·{suffix}{number}",
            thought=thought,
            code=child.code,
            parents=tuple(d.id for d in child.parents),
            operator="; ".join(f"{m.operator}: {m.description}" for m in child.changes),
            proposer=self.name,
            generation=max(d.generation for d in child.parents) + 1,
            behaviour=behaviour,
        )
