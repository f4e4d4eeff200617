"""Examples an LLM call cap decided: how many of a design's examples failed because the broker
refused a call at a cap, read from the errors its evaluation kept, so that `show` and the report
can say when the cap, not the agent, set a score.

The broker refuses a call beyond a cap with "this example's cap of N LLM calls is reached" or
"this evaluation's cap of N LLM calls is reached" (`run/broker.py`); an agent that lets the
refusal through fails its example with that text in its error. A task that meters calls keeps
its examples' errors in its metrics as `errors` (error text -> examples, the most common few)
beside `examples`; a design whose metrics hold no such errors was decided by no cap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The broker's words for a refusal at a call cap; the number as it writes it (no separators).
_REFUSED = re.compile(r"this (example|evaluation)'s cap of (\d{1,12}) LLM calls is reached")

# What raises both caps: the evaluation's is this times the examples.
RAISE = "raise task_budget.max_calls_per_example"


@dataclass(frozen=True)
class CapMet:
    """One cap that failed examples: whose cap ("example" or "evaluation"), its calls, and
    how many examples failed at it."""

    scope: str
    calls: int
    failed: int

    def words(self) -> str:
        if self.scope == "example":
            return f"the cap of {self.calls:,} LLM calls per example"
        return f"the evaluation's cap of {self.calls:,} LLM calls"


@dataclass(frozen=True)
class Capped:
    """The examples of one evaluation that failed at a call cap."""

    failed: int
    examples: int | None  # in the evaluation, where its metrics say
    caps: tuple[CapMet, ...]

    @property
    def share(self) -> str:
        """`12 of 40`, or `12` where the examples are not known."""
        return f"{self.failed} of {self.examples}" if self.examples else str(self.failed)

    def marker(self) -> str:
        """A table cell's worth: `capped 12/40`."""
        return f"capped {self.share.replace(' of ', '/')}"

    def line(self) -> str:
        """`capped: 12 of 40 examples failed at the cap of 24 LLM calls per example; raise
        task_budget.max_calls_per_example`."""
        if len(self.caps) == 1:
            where = self.caps[0].words()
        else:
            where = " and ".join(f"{cap.words()} ({cap.failed})" for cap in self.caps)
        return f"capped: {self.share} examples failed at {where}; {RAISE}"


def capped(metrics: dict[str, Any]) -> Capped | None:
    """The examples of an evaluation that failed at a call cap, from its metrics; None where
    none did. Read with care, as anything stored: values of another shape count for nothing."""
    errors = metrics.get("errors")
    if not isinstance(errors, dict):
        return None
    met: dict[tuple[str, int], int] = {}
    for text, count in errors.items():
        found = _REFUSED.search(str(text))
        if found and isinstance(count, int) and not isinstance(count, bool) and count > 0:
            key = (found[1], int(found[2]))
            met[key] = met.get(key, 0) + count
    if not met:
        return None
    examples = metrics.get("examples")
    caps = tuple(CapMet(scope, calls, failed) for (scope, calls), failed in met.items())
    return Capped(
        failed=sum(cap.failed for cap in caps),
        examples=examples if isinstance(examples, int) and not isinstance(examples, bool) else None,
        caps=caps,
    )
