"""Stand-ins for what a run would show its prompts: a thought, an error, designs at the bounds."""

from __future__ import annotations

from agentic_design.records import Design, Proposal, Status

_THOUGHT = (
    "The parent packs well on the common sizes but wastes room on the large items; scoring each "
    "bin by the space left after the item, with a penalty for nearly full bins, should help. "
)
_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "design.py", line 12, in priority\n'
    "    scores = np.where(bins - item >= 0, -(bins - item), -np.inf)\n"
    "ValueError: operands could not be broadcast together with shapes (17,) (18,)\n"
)


def _tiled(text: str, length: int) -> str:
    """`text` repeated and cut to `length` characters: a stand-in of realistic density."""
    text = text or " "
    return (text * (length // len(text) + 1))[:length]


def _design(number: int, seed: Proposal | None, code: str | None = None) -> Design:
    """An archived design as a prompt shows it: a seed's, or a stand-in at the bounds."""
    return Design(
        id=number,
        run="estimate",
        name=seed.name if seed else "a stand-in design of six words",
        thought=seed.thought if seed else _tiled(_THOUGHT, 300),
        code=code if code is not None else (seed.code if seed else ""),
        code_hash="",
        status=Status.OK,
        fitness=0.123456,
        ci_low=0.1,
        ci_high=0.2,
        summary="" if seed else _tiled(_THOUGHT, 60),
    )


def _failed(number: int) -> Design:
    return Design(
        id=number,
        run="estimate",
        name="a stand-in design of six words",
        thought="",
        code="",
        code_hash="",
        status=Status.ERROR,
        error=_tiled(_ERROR, 400),
    )
