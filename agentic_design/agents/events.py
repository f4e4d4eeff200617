"""What the toolkit did on its own while an agent answered one example — asked a model again
for fields its reply lacked, filled an ADAS field with '', answered a question directly when
its plan was unusable — counted per example, for the example's result.

The task's `run` takes an example's counts when its agent is done (`take`) and reports them
with the answer, so that a search can see how often a design was rescued, not only its score.
Counting is keyed by the example the calling thread works on (`channel.current_example`),
which every thread an agent starts inherits.
"""

from __future__ import annotations

import threading
from collections import Counter

from agentic_design.agents.channel import current_example

_lock = threading.Lock()
_counts: dict[str | None, Counter[str]] = {}


def count(event: str) -> None:
    """One more `event` for the example being answered."""
    example = current_example.get()
    with _lock:
        _counts.setdefault(example, Counter())[event] += 1


def take(example: str | None) -> dict[str, int]:
    """The counts of `example`'s events (none: {}), forgotten here."""
    with _lock:
        return dict(_counts.pop(example, Counter()))
