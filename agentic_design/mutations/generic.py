"""The operators for any Python code: point mutations (constants, operators, calls), new and
dropped terms of arithmetic expressions, and function-level crossover."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from agentic_design.mutations.crossover import function_crossover
from agentic_design.mutations.operators import Operators
from agentic_design.mutations.point import mutate_constant, swap_call, swap_operator
from agentic_design.mutations.term import drop_term, insert_term

#: The generic operators' weights: tuned by offline evolution on online bin packing, where new
#: terms are what finds better heuristics and constants tune them.
GENERIC_WEIGHTS: Mapping[str, float] = {
    "constant": 2.0,
    "swap_operator": 1.0,
    "swap_call": 0.5,
    "insert_term": 4.0,
    "drop_term": 1.0,
}


def generic_operators(scale: float = 1.0) -> Operators:
    """The operators for any Python code (`GENERIC_WEIGHTS`) and function-level crossover.
    `scale` is the typical magnitude of the design's numbers (a bin's capacity), where the task
    knows it: new terms' coefficients and thresholds are drawn around it."""
    return Operators(
        mutations={
            "constant": mutate_constant,
            "swap_operator": swap_operator,
            "swap_call": swap_call,
            "insert_term": functools.partial(insert_term, scale=scale),
            "drop_term": drop_term,
        },
        weights=dict(GENERIC_WEIGHTS),  # a copy: the bundle's weights are its own
        crossover=function_crossover,
    )
