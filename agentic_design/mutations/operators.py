"""Evolution operators: how offline evolution changes a design's code.

A task hands evolution an `Operators` bundle (`Task.evolution_operators`): mutation operators
by name, the weights they are drawn with, and a crossover. `generic.generic_operators()` works
on any Python code; tasks add operators that know their own kind of design (torch layers, recipes).

An operator parses the code with `ast`, changes one thing and emits the result with
`ast.unparse` (comments are lost; docstrings kept). It returns None when it has nothing to act
on, never raises on code it cannot handle, and is deterministic given its `random.Random`: nodes
are visited in `ast.walk` order, never through a set. A change may still break the design (the
square root of a negative number): the evaluator records such a child as invalid, and evolution
moves on. The generic operators live in `point` (constants, operators, functions), `term`
(terms of arithmetic expressions) and `crossover` (functions of two parents); `generic` bundles
them. This module is the contract they all build on, and imports none of them.
"""

from __future__ import annotations

import ast
import math
import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace


class MutationError(ValueError):
    """No operator can change the design (for instance, its code does not parse)."""


@dataclass(frozen=True)
class Mutation:
    """A changed design: its new code, a one-line description of the change, and the operator."""

    code: str
    description: str
    operator: str = ""


#: (code, rng) -> a changed design, or None when the operator has nothing to act on.
Operator = Callable[[str, random.Random], Mutation | None]
#: (code_a, code_b, rng, (label_a, label_b)) -> a child of both parents, or None.
Crossover = Callable[[str, str, random.Random, tuple[str, str]], Mutation | None]


def check_weights(weights: Mapping[str, float], known: Collection[str]) -> None:
    """Raise ValueError naming the problem when `weights` are not usable weights of the
    operators named `known`: an unknown name, a negative or non-finite weight, none positive."""
    unknown = [name for name in weights if name not in known]
    if unknown:
        raise ValueError(f"unknown mutation operator(s) {unknown}; known: {sorted(known)}")
    bad = {
        name: w
        for name, w in weights.items()
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < math.inf
    }
    if bad:
        raise ValueError(f"mutation operator weights must be finite numbers >= 0, got {bad}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one mutation operator needs a positive weight")


@dataclass(frozen=True)
class Operators:
    """What a task hands to offline evolution: mutation operators by name, the weight each is
    drawn with (a name left out is never drawn), and the crossover of two parents."""

    mutations: Mapping[str, Operator]
    weights: Mapping[str, float]
    crossover: Crossover

    def __post_init__(self) -> None:
        check_weights(self.weights, self.mutations)

    def with_weights(self, overrides: Mapping[str, float]) -> Operators:
        """A copy whose named operators have the weights in `overrides` (a config's choice);
        ValueError for an unknown name or a bad weight."""
        merged = {**self.weights, **overrides}
        check_weights(merged, self.mutations)
        return replace(self, weights=merged)


def _normalized(code: str) -> str | None:
    try:
        return ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError):  # ValueError: null bytes in the source
        return None


def mutate(code: str, rng: random.Random, operators: Operators) -> Mutation:
    """Apply one operator drawn by weight, falling back to the others (by weight) while the
    drawn one has nothing to act on. The result parses and differs from `code` beyond
    formatting; its `operator` is the name it was drawn under. MutationError when no operator
    applies or `code` does not parse."""
    before = _normalized(code)
    if before is None:
        raise MutationError("cannot mutate a design whose code does not parse")
    remaining = {name: w for name, w in operators.weights.items() if w > 0}
    while remaining:
        name = rng.choices(list(remaining), weights=list(remaining.values()))[0]
        del remaining[name]
        result = operators.mutations[name](code, rng)
        if result is not None and _normalized(result.code) not in (None, before):
            return replace(result, operator=name)
    raise MutationError("no mutation operator applies to this design")
