"""Scripted meta-agent models for the curve-fitting user task (`data/curve_task.py`): each
answers in the shapes real models write, with designs of known quality.

A curve design is `predict(x) = a * x + b * sin(3x)`; the target is a = 2.5, b = 1, so a design's
quality is how close its coefficients are, and a model that moves them closer improves on its
parent.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CURVE_TASK = Path(__file__).parent / "data" / "curve_task.py"

CODE = "import math\n\n\ndef predict(x):\n\treturn {a} * x + {b} * math.sin(3 * x)\n"


def curve_code(a: float, b: float) -> str:
    return CODE.format(a=a, b=b)


def curve_config(run_dir: Path, evaluations: int, llm: dict[str, Any], **meta: Any) -> dict:
    return {
        "name": run_dir.name,
        "task": f"{CURVE_TASK}:CurveFit",
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "sandbox": {"workers": 2, "wall_s": 30},
        "llm": {"timeout_s": 10, "concurrency": 2, **llm},
        "search": {"meta_agent": {"reflexion_rounds": 0, **meta}},
    }


def prompt_of(request: dict[str, Any]) -> str:
    return request["messages"][-1]["content"]


def parent_code(prompt: str) -> str | None:
    """The first parent's code as the propose or repair prompt shows it."""
    found = re.search(r"(?:## Parent 1:|## The design:).*?```python\n(.*?)```", prompt, re.DOTALL)
    return found.group(1) if found else None


def is_preflight(request: dict[str, Any]) -> bool:
    return "Reply with the word ok" in prompt_of(request)


# -- the shapes models answer in -----------------------------------------------------------------

THINK = (
    '<think>\nThe user wants {"thought", "name", "code"}. Maybe a dict like {\'a\': 1} or '
    "a set {1, 2}? Let me draft:\n```python\ndef predict(x):\n    return x\n```\nNo — "
    + "tune the slope {a} and the wave {b}. " * 40
    + "\n</think>\n\n"
)


def _json_literal(name: str, thought: str, code: str) -> str:
    # The code string with its newlines and tabs written raw, as many models do.
    return '{"thought": "' + thought + '", "name": "' + name + '", "code": "' + code + '"}'


SHAPES: list[Callable[[str, str, str], str]] = [
    _json_literal,
    lambda n, t, c: f"### Thought\n{t}\n\n### Name\n{n}\n\n### Code\n```python\n{c}```\n",
    lambda n, t, c: json.dumps({"thought": t, "name": n}, indent=2) + f"\n\n```python\n{c}```",
    lambda n, t, c: THINK + json.dumps({"thought": t, "name": n, "code": c}),
    lambda n, t, c: f"**Name:** {n}\n\n**Thought:** {t}\n\n```py\n{c}```\n\nLet me know!",
    lambda n, t, c: f"NAME: {n}\nTHOUGHT: {t}\n```python\n{c}```",
    lambda n, t, c: "Here is my proposal:\n\n```json\n" + _json_literal(n, t, c) + "\n```",
    lambda n, t, c: (
        f"NAME: {n}\nTHOUGHT: {t}\nA first draft:\n```python\ndef helper(x):\n    return x\n```\n"
        f"and the final module:\n```python\n{c}```\nUsage:\n```python\nprint(predict(0.5))\n```"
    ),
    lambda n, t, c: c,
    lambda n, t, c: (
        "the slope needs {work} and so does the wave</think>\n"
        + f"## Name: {n}\n\n## Thought\n{t}\n\n```python\n{c}```"
    ),
]


def edits_answer(name: str, thought: str, parent: str, a: float, b: float) -> str:
    """SEARCH/REPLACE edits turning the parent into the design (a, b): its return line
    replaced (indented as the parent is), and `import math` added where it lacks it."""
    old = next(line for line in parent.splitlines() if "return" in line)
    indent = old[: len(old) - len(old.lstrip())]
    blocks = [(old, f"{indent}return {a} * x + {b} * math.sin(3 * x)")]
    if "import math" not in parent:
        blocks.insert(0, ("def predict(x):", "import math\n\n\ndef predict(x):"))
    edits = "".join(
        f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"
        for search, replace in blocks
    )
    return f"NAME: {name}\nTHOUGHT: {thought}\n\n{edits}"


class ImprovingModel:
    """Answers every proposal with a design closer to the target than the one before, in the
    shapes above by turn (or SEARCH/REPLACE edits where the prompt asks for them)."""

    def __init__(self, shapes: list[Callable[[str, str, str], str]] = SHAPES) -> None:
        self.shapes = shapes
        self.answers = 0
        self._lock = threading.Lock()

    def design(self) -> tuple[int, float, float]:
        with self._lock:
            self.answers += 1
            k = self.answers
        return k, round(2.5 - 2.0 * 0.85**k, 4), round(1.0 - 0.9 * 0.85**k, 4)

    def __call__(self, request: dict[str, Any]) -> str:
        if is_preflight(request):
            return "ok"
        prompt = prompt_of(request)
        k, a, b = self.design()
        name, thought = f"curve {k}", f"move a to {a} and b to {b}"
        parent = parent_code(prompt)
        if "<<<<<<< SEARCH" in prompt and parent is not None:
            return edits_answer(name, thought, parent, a, b)
        return self.shapes[k % len(self.shapes)](name, thought, curve_code(a, b))
