"""Regularized ("aging") evolution over design code (Real et al. 2019).

The population is the most recent working designs, so every design eventually ages out however
good it was: the search keeps re-earning its best results instead of clinging to a lucky one.
A parent is the fittest of a small random tournament; its child is one or more code mutations
of it, or now and then a crossover of two parents.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agentic_design.config import EvolutionConfig
from agentic_design.proposers.base import ProposerExhausted
from agentic_design.proposers.operators import (
    Mutation,
    MutationError,
    Operators,
    check_weights,
    mutate,
)
from agentic_design.records import Design, Proposal, Status, StopReason, code_hash

if TYPE_CHECKING:
    from agentic_design.archive import Archive

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
    alive = [
        d
        for d in history
        if d.status is Status.OK and d.fitness is not None and math.isfinite(d.fitness)
    ]
    return sorted(alive, key=lambda d: d.id)[-size:]


def tournament(population: Sequence[Design], size: int, rng: random.Random) -> Design:
    """The fittest of `size` members sampled without replacement (ties go to the first drawn)."""
    sample = rng.sample(list(population), min(size, len(population)))
    return max(sample, key=lambda d: d.fitness if d.fitness is not None else -math.inf)


def _normalized(code: str) -> str:
    """The code as `ast.unparse` writes it, so that formatting alone does not make it new."""
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError):
        return code


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

    def __init__(self, settings: EvolutionConfig, operators: Operators, seed: int) -> None:
        self.settings = settings
        if settings.operator_weights is not None:  # the named operators only
            check_weights(settings.operator_weights, operators.mutations)
            operators = replace(operators, weights=settings.operator_weights)
        self.operators = operators
        self.seed = seed
        # Code hashes per design id, computed once: normalising means parsing, and the
        # history grows with every proposal.
        self._hashes: dict[int, frozenset[str]] = {}
        self._planned: list[str] = []  # code hashes of children planned by `plan`

    def _seen(self, history: Sequence[Design]) -> set[str]:
        for d in history:
            if d.id not in self._hashes:
                self._hashes[d.id] = frozenset(
                    {d.code_hash, code_hash(d.code), code_hash(_normalized(d.code))}
                )
        return set().union(*(self._hashes[d.id] for d in history))

    repair_attempts = 0  # evolution does not repair: a failed child simply does not breed

    def plan(self, archive: Archive, number: int, upto: int) -> Proposal:
        """Propose design `number` from the finished designs with ids up to `upto`, avoiding the
        code of the children planned since (not yet in that snapshot)."""
        history = [d for d in archive.designs(upto=upto) if d.status is not Status.PENDING]
        rng = random.Random(self.seed * 1_000_003 + number)
        proposal = self.propose(history, rng, number=number)
        self._planned.append(code_hash(proposal.code))
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
        population = select_population(history, self.settings.population)
        if not population:
            raise NoParentsError(
                f"none of the {len(history)} designs so far finished OK with a fitness; "
                "evolution needs at least one working design (a seed) to start from"
            )
        seen = self._seen(history) | set(self._planned)
        for attempt in range(MAX_ATTEMPTS):
            # Later attempts stack extra mutations: a parent whose close neighbours were all
            # tried already needs a bigger step to reach something new.
            child = self._child(population, rng, extra=attempt // 4)
            if isinstance(child, int):  # no configured operator changes that parent
                population = [d for d in population if d.id != child]
                if not population:
                    raise NoNovelChildError(
                        "no configured mutation operator can change any design of the "
                        "population (see search.evolution.operator_weights)"
                    )
                continue
            if not {code_hash(child.code), code_hash(_normalized(child.code))} & seen:
                return self._proposal(child, history, number)
        raise NoNovelChildError(
            f"{MAX_ATTEMPTS} children in a row duplicated designs already in the run"
        )

    def _child(self, population: list[Design], rng: random.Random, extra: int) -> _Child | int:
        """A child, or the id of the parent drawn when no operator can change it."""
        settings = self.settings
        parent = tournament(population, settings.tournament, rng)
        if len(population) >= 2 and rng.random() < settings.crossover_rate:
            others = [d for d in population if d.id != parent.id]
            other = tournament(others, settings.tournament, rng)
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

    def _proposal(self, child: _Child, history: Sequence[Design], number: int | None) -> Proposal:
        first = child.parents[0]
        # The next id, as the archive will most likely assign it; only used to tell names apart.
        if number is None:
            number = max((d.id for d in history), default=0) + 1
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
        return Proposal(
            name=f"{_base_name(first.name)} ·{suffix}{number}",
            thought=thought,
            code=child.code,
            parents=tuple(d.id for d in child.parents),
            operator="; ".join(f"{m.operator}: {m.description}" for m in child.changes),
            proposer=self.name,
            generation=max(d.generation for d in child.parents) + 1,
        )
