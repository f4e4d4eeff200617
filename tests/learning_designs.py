"""A scripted meta-agent model for the learning features (`agentic_design.learning`), on the
curve-fitting task: it answers design, notes, judge, variant and embedding requests in the
shapes real models write, and repeats ideas on purpose so that novelty checks have something to
catch. Used by tests/test_learning.py and benchmarks/learning_cost.py."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from agentic_design import RunConfig

from .curve_designs import ImprovingModel, curve_config, is_preflight, prompt_of
from .llm_server import ScriptedLLM

NOTES_REPLY = """Here are the updated notes:

## What helped
- Moving the slope `a` towards 2.5 in small steps improved every time.
- Raising the wave `b` towards 1 helped too.

## What hurt
- Repeating a design already tried, with the same coefficients, taught nothing.

## Untried
- Changing the wave's frequency.

Let me know if you want more detail!"""

VARIANT_REPLY = (
    "Here is the new variant:\n\n"
    '"Change one coefficient at a time, by a step guided by the scores so far, and say in '
    'your thought which score you expect."'
)

COEFFICIENTS = re.compile(r"return ([\d.]+) \* x \+ ([\d.]+) \* math\.sin")


def _pairs(text: str) -> list[tuple[str, str]]:
    """The (a, b) coefficients of every curve design in a text."""
    return COEFFICIENTS.findall(text.replace("y = ", "return "))


class LearningModel:
    """Designs that improve (ImprovingModel), except every third proposal, which repeats its
    parent's coefficients in other words; sent back, it answers a new design, except every
    second time, when it repeats itself again; asked to review, it stands by its proposal.
    Notes, judgements and variants as models write them. Thread-safe: the search asks several
    things at once."""

    def __init__(self) -> None:
        self.designer = ImprovingModel()
        self.proposals = 0
        self.retries = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        if is_preflight(request):
            return "ok"
        prompt = prompt_of(request)
        if "You keep the notes of this design search" in prompt:
            return NOTES_REPLY
        if "The instruction to vary" in prompt:
            return VARIANT_REPLY
        if prompt.startswith("Review your proposal"):
            return str(request["messages"][-2]["content"])  # it stands by its proposal
        if "Judge whether the proposed design" in prompt:
            return self._judge(prompt)
        if "Your proposal is too close" in prompt:
            with self._lock:
                self.retries += 1
                again = self.retries % 2 == 0
            if again:
                return self._repeat(request["messages"][1]["content"])
            return self.designer(request)
        with self._lock:
            self.proposals += 1
            repeat = self.proposals % 3 == 0
        return self._repeat(prompt) if repeat else self.designer(request)

    @staticmethod
    def _repeat(prompt: str) -> str:
        """A parent's (or the best design's) coefficients again, written another way."""
        a, b = (_pairs(prompt) or [("1.0", "0.5")])[0]
        code = f"import math\n\n\ndef predict(x):\n    y = {a} * x + {b} * math.sin(3 * x)\n"
        return f"NAME: same again\nTHOUGHT: keep a at {a}\n```python\n{code}    return y\n```"

    @staticmethod
    def _judge(prompt: str) -> str:
        proposal, _, closest = prompt.partition("## The closest designs already tried")
        mine = _pairs(proposal.partition("## The proposal")[2])
        if mine and mine[0] in _pairs(closest):
            return "**Verdict:** NOT NOVEL — it repeats the coefficients of a design tried."
        return "NOVEL\nIt moves the coefficients to values not tried yet."


def learning_config(run_dir: Path, server: ScriptedLLM, evaluations: int = 24) -> RunConfig:
    data = curve_config(
        run_dir,
        evaluations,
        {"model": "openai/m", "api_base": server.url},
        notes_every=4,
        variants={"enabled": True, "mutate_every": 6, "population": 3},
    )
    data["search"]["novelty"] = {
        "embedding": "openai/embed",
        "api_base": server.url,
        "threshold": 0.9,
        "judge": True,
    }
    return RunConfig.from_dict(data)
