"""What the tasks whose verifier runs outside the sandbox share (`circle_packing`,
`autocorrelation`): inside, a design's one construction called within a time limit and its
result checked for its author; outside, strict checks of the untrusted JSON it came back as,
and of a value the design claims beside its data."""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import Any

import numpy as np
from pydantic import Field

from agentic_design.tasks.base import InvalidDesign, InvalidOutputs, TaskBudget

#: The one absolute tolerance of the verifiers' checks: a circle packing's containment and
#: disjointness, and a claimed value against the verifier's own. A packing may thus gain at
#: most n times this over an exact one: 2.6e-8 for n=26, far below the digits records are
#: quoted with.
TOLERANCE = 1e-9


class ConstructionBudget(TaskBudget):
    """The limits of one evaluation of a design that constructs one object (the config's
    `task_budget:` block). The sandbox's `wall_s` stays the hard stop: set it above this."""

    max_seconds: float = Field(
        30.0, gt=0, description="wall-clock seconds the design's function may take to return"
    )


class DesignTooSlow(Exception):
    """The design's function returned after its time limit."""

    sandbox_status = "timeout"


def construct(design: ModuleType, function: str, budget: TaskBudget, *args: Any) -> Any:
    """Inside the sandbox: call the design's `function(*args)` and return what it returned;
    InvalidDesign when it is missing, DesignTooSlow when it returns after the budget's
    `max_seconds` (the sandbox's wall limit stops one that never returns)."""
    built = getattr(design, function, None)
    if not callable(built):
        raise InvalidDesign(f"the design must define a function {function}")
    # A plain TaskBudget (a caller that knows no better) gets the default limit.
    limits = (
        budget
        if isinstance(budget, ConstructionBudget)
        else ConstructionBudget.model_validate(budget.model_dump())
    )
    started = time.monotonic()
    value = built(*args)
    elapsed = time.monotonic() - started
    if elapsed > limits.max_seconds:
        raise DesignTooSlow(f"{function} took {elapsed:.1f} s, over the {limits.max_seconds:g} s")
    return value


def design_array(value: Any, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """Inside: the design's `value` as a finite float64 array of `shape` (None: a dimension of
    any size), or InvalidDesign saying what is wrong (for the design's author: the verifier
    outside checks again)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidDesign(f"{what} must be an array of numbers: {exc}") from None
    if array.dtype.kind not in "iuf":
        raise InvalidDesign(f"{what} must hold numbers, got an array of dtype {array.dtype}")
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        wanted = tuple("any" if want is None else want for want in shape)
        raise InvalidDesign(f"{what} must have shape {wanted}, got {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidDesign(f"{what} holds a NaN or infinite value")
    return array


def design_number(value: Any, what: str) -> float:
    """Inside: the design's single finite number `value`, or InvalidDesign."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise InvalidDesign(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidDesign(f"{what} is not finite")
    return number


def checked_number(value: Any, where: str) -> float:
    """Outside: an untrusted JSON value as a finite float; a JSON number only (an int or a
    float: never a bool, a string or a container), else InvalidOutputs naming `where`."""
    if type(value) is not float and type(value) is not int:
        raise InvalidOutputs(f"{where} must be a number, not {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidOutputs(f"{where} is too large for a float") from None
    if not math.isfinite(number):
        raise InvalidOutputs(f"{where} is not finite")
    return number


def checked_numbers(
    value: Any, where: str, *, length: int | None = None, max_length: int | None = None
) -> np.ndarray:
    """Outside: an untrusted JSON list of numbers (`checked_number`) as a float64 array, of
    exactly `length` of them or of 1 to `max_length`; its length is checked before anything in
    it is read."""
    if type(value) is not list:
        raise InvalidOutputs(f"{where} must be a list, not {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidOutputs(f"{where} must hold {length} numbers, not {len(value)}")
    if max_length is not None and not 1 <= len(value) <= max_length:
        raise InvalidOutputs(f"{where} must hold 1 to {max_length:,} numbers, not {len(value):,}")
    return np.array([checked_number(v, f"{where}[{i}]") for i, v in enumerate(value)])


def checked_claim(outputs: dict[str, Any], key: str, computed: float, what: str) -> None:
    """Outside: InvalidOutputs when `outputs` claims under `key` a value that differs from the
    verifier's own `computed` by more than TOLERANCE (no claim is no check)."""
    if key not in outputs:
        return
    claimed = checked_number(outputs[key], key)
    if abs(claimed - computed) > TOLERANCE:
        raise InvalidOutputs(
            f"the design claims {what} {claimed!r}, but its outputs make {computed!r}: "
            "a design that reports what it did not compute scores nothing"
        )
