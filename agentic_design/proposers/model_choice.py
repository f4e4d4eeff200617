"""Which model writes a proposal, when the meta-agent has several (`llm.models`).

Two strategies behind one interface, `choose(archive, number, upto) -> model`:

- `FixedWeights`: each model's share of proposals is its configured weight.
- `UCB1`: a bandit that shifts proposals towards the model that improves designs most per US
  dollar. A design's reward is how far it beat its parent (the better parent of a crossover;
  for a design with no parent, the best design that came before it), zero if it did not or
  failed (`Improvements`, the rule the prompt variants' credit uses too); a model's value is
  its total reward over its total spend, scaled so that the best model's is 1, and UCB1 adds
  `exploration * sqrt(2 ln N / n)` for a model asked n of N times.

Both decide from the pipeline's fixed snapshot (designs with ids up to `upto`, all finished)
and a random stream seeded by the run's seed and the proposal's number — never from timing — so
a run is reproducible and `replay --search` asks the same model the same question.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from agentic_design.records import Design, Status
from agentic_design.store.archive import Archive


class ModelChoice(Protocol):
    def choose(self, archive: Archive, number: int, upto: int) -> str: ...


def _rng(seed: int, number: int) -> random.Random:
    return random.Random(f"model choice {seed} {number}")


class FixedWeights:
    """Each model with probability proportional to its weight."""

    def __init__(self, weights: dict[str, float], seed: int) -> None:
        self.models = list(weights)
        self.weights = list(weights.values())
        self.seed = seed

    def choose(self, archive: Archive, number: int, upto: int) -> str:
        if len(self.models) == 1:
            return self.models[0]
        return _rng(self.seed, number).choices(self.models, weights=self.weights)[0]


class Improvements:
    """The reward rule the bandits share: how far a design beat its parent (the better parent
    of a crossover; for a design with no parent, the best design counted before it), zero if it
    did not, failed, or has nothing to be measured against.

    Feed it finished designs in id order, each once: it keeps the fitness of the ok ones, for
    their children, and the best so far. To start from the middle of a run, give it what came
    before: the fitness of the parents to come (`fitness`) and the best fitness (`best`)."""

    def __init__(
        self, fitness: Mapping[int, float] | None = None, best: float | None = None
    ) -> None:
        self.fitness: dict[int, float] = dict(fitness or {})  # ok designs' fitness, by id
        self.best = best  # the best fitness among the designs observed

    def observe(self, design: Design) -> float:
        """`design`'s reward, measured against the designs observed before it; then it is
        counted too."""
        reward = self.reward(design)
        if design.status is Status.OK and design.fitness is not None:
            self.fitness[design.id] = design.fitness
            self.best = design.fitness if self.best is None else max(self.best, design.fitness)
        return reward

    def reward(self, design: Design) -> float:
        """`design`'s reward against the designs observed so far, without counting it."""
        if design.status is not Status.OK or design.fitness is None:
            return 0.0
        parents = [self.fitness[p] for p in design.parents if p in self.fitness]
        baseline = max(parents) if parents else self.best
        return max(0.0, design.fitness - baseline) if baseline is not None else 0.0


@dataclass
class Arm:
    """What one model has done so far, in the snapshot."""

    proposals: int = 0
    reward: float = 0.0  # total improvement over parents
    usd: float = 0.0


class UCB1:
    """UCB1 on improvement over the parent per USD (see the module's docstring)."""

    def __init__(self, models: list[str], seed: int, exploration: float = 1.0) -> None:
        self.arms = {model: Arm() for model in models}
        self.seed = seed
        self.exploration = exploration
        self._seen = 0  # designs up to this id are counted
        self._improvements = Improvements()

    def choose(self, archive: Archive, number: int, upto: int) -> str:
        self._observe(archive, upto)
        rng = _rng(self.seed, number)
        untried = [m for m, arm in self.arms.items() if arm.proposals == 0]
        if untried:
            return rng.choice(untried)
        scores = self.scores()
        top = max(scores.values())
        return rng.choice([m for m, s in scores.items() if math.isclose(s, top)])

    def scores(self) -> dict[str, float]:
        """Each model's upper confidence bound (all models must have been tried)."""
        values = {m: arm.reward / max(arm.usd, 1e-12) for m, arm in self.arms.items()}
        scale = max(values.values())
        total = sum(arm.proposals for arm in self.arms.values())
        return {
            m: (values[m] / scale if scale > 0 else 0.0)
            + self.exploration * math.sqrt(2 * math.log(total) / arm.proposals)
            for m, arm in self.arms.items()
        }

    def _observe(self, archive: Archive, upto: int) -> None:
        """Count the designs the snapshot gained since the last call (each exactly once)."""
        if upto <= self._seen:
            return
        for design in archive.designs(after=self._seen, upto=upto):
            reward = self._improvements.observe(design)
            arm = self.arms.get(design.proposer)
            if arm is not None:
                arm.proposals += 1
                arm.usd += design.llm_usd
                arm.reward += reward
        self._seen = upto


def model_choice(
    weights: dict[str, float], strategy: str, seed: int, exploration: float = 1.0
) -> ModelChoice:
    """The configured strategy (`llm.choice`) over the configured models."""
    if strategy == "bandit" and len(weights) > 1:
        return UCB1(list(weights), seed, exploration)
    return FixedWeights(weights, seed)
