"""A simulated LLM for free, offline dry runs of agent designs: a noise model, not a language model.

It knows the correct answer to each question it was given (`answers`: full question text ->
answer) and nothing else. A call is answered like this:

- **Which question.** The known question whose full text occurs in the call's messages (the
  longest, if several do). No known question -> "answer" (and a critic's "correct") is
  "unknown", and every other field is filler.
- **Output format.** The agent toolkit ends the system message with its `FIELDS_LINE` ("Reply
  with a single JSON object ... these fields:") and, on the next line, a JSON object of the
  fields to reply with. The reply is one JSON object with exactly those fields, all strings:
  "answer" holds the answer, "correct" a critic's verdict, "feedback" a sentence that follows
  the verdict, and any other field the filler "(simulated) <field>". A call without that line
  (or with no JSON object after it) gets a sentence: "The answer is X."
- **Answers.** With probability `p_correct` the answer is right. Otherwise it is drawn
  uniformly from the integers truth - `spread` .. truth + `spread`, leaving out the truth itself
  and, when the truth is not negative, anything below zero; a truth that is not an integer (a
  grid, a function) gets one of 2*`spread` distinct placeholders instead, which hold nothing
  of the truth. Wrong answers therefore scatter over up to
  2*`spread` values, so a majority vote over independent samples tends to the truth once
  `p_correct` is well above 1/(2*`spread`).
- **Critics.** When the fields include "correct", the call is a critic's: what follows the
  last line start `Answer to check:`, to the end of its message (a grid or a function spans
  lines), is compared with the truth by `same` (by default: equal through `normalise_answer`;
  a task gives its own, e.g. grids compared cell by cell), and the verdict ("yes" or "no")
  is right with probability `p_correct`, wrong otherwise. The feedback only restates the
  verdict; it never holds the truth.
- **Randomness.** Every draw is a sha256 of a canonical JSON of what it depends on, never
  Python's `hash`. At temperature 0 that is the seed and the messages only: the same prompt
  always gets the same reply, whatever its `sample` index. At any temperature above 0 it is the
  seed, the messages, `sample`, and how many times this model object was asked that exact
  (messages, sample) before (a counter under a lock): repeated calls differ, yet a run that asks
  the same prompts in the same order, per prompt, gets the same replies, whatever the threads'
  interleaving across different prompts.

What it does not model: reasoning (no work is done, "thinking" is filler), question difficulty
(every question is equally hard), the wording of roles, instructions or prompts (none change the
odds; only the exact bytes of the messages change which draw is made), context length or what
the context holds (a debate's second round or a refinement after feedback is a fresh draw, no
likelier to be right than the first), the size of the temperature (any value above 0 is the
same independent sampling), tokens, cost or latency, and the correlated mistakes of real
models: errors are independent across calls at temperature > 0 and fully correlated at
temperature 0 (an identical prompt gets an identical reply; any change to it is a fresh draw),
and a critic is right with the same probability whichever answer it checks, independently of
where the answer came from. A design that beats another under simulation is better at
aggregating independent noisy votes: a check of its plumbing and a bound on what voting can
do, not evidence about real LLMs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from agentic_design.agents.toolkit import FIELDS_LINE
from agentic_design.normalise import normalise_answer

ANSWER_TO_CHECK = re.compile(r"^Answer to check:[ \t]*", re.MULTILINE)
UNKNOWN = "unknown"
FEEDBACK = {
    "yes": "The answer looks right.",
    "no": "Recheck the arithmetic: the answer seems off.",
}


class Draws(NamedTuple):
    """The uniforms in [0, 1) one call is answered with, each deciding one thing."""

    right: float  # is the answer right (below p_correct)
    which: float  # which wrong answer, when it is wrong
    verdict: float  # is a critic's verdict right (below p_correct)


def describe() -> str:
    """One paragraph on what the simulated model is, for the docs (docs/concepts/tasks.md) and
    the command line."""
    return (
        "The simulated model is a noise model, not a language model: it knows the correct "
        "answer to each dataset question and, on each call, gives it with probability "
        "p_correct, otherwise the correct number moved by a random 1..spread either way (a "
        "grid or a function gets a placeholder that holds nothing of the truth). A "
        "critic's yes/no verdict is right with the same probability. At temperature 0 the "
        "same prompt always gets the same reply; above 0 every call is an independent, "
        "seeded draw, so runs replay exactly. It models nothing else: not reasoning, question "
        "difficulty, prompt or role wording, context, or the correlated mistakes of real "
        "models. Use it to check that an agent's plumbing works and to see what voting over "
        "independent samples can gain, never to rank designs for real LLMs."
    )


class SimulatedModel:
    """Answers chat calls about known questions, right with probability `p_correct`.

    `answers` maps each question's full text to its correct answer; `seed` picks one of many
    reproducible runs; `spread` is the largest offset of a wrong numeric answer. It keeps one
    counter per distinct (messages, sample) asked above temperature 0, for the life of the object.
    """

    def __init__(
        self,
        answers: Mapping[str, str],
        p_correct: float = 0.6,
        seed: int = 0,
        spread: int = 12,
        same: Callable[[str, str], bool] | None = None,
    ) -> None:
        if not 0.0 <= p_correct <= 1.0:
            raise ValueError(f"p_correct must be in [0, 1], not {p_correct}")
        if spread < 1:
            raise ValueError(f"spread must be at least 1, not {spread}")
        self.p_correct = float(p_correct)
        self.seed = seed
        self.spread = spread
        self.same = same or _same_normalised
        self._answers = {q: str(a) for q, a in answers.items() if q}  # "" is in every prompt
        # Longest first, so that the first question found in a prompt is the longest match.
        self._questions = sorted(self._answers, key=len, reverse=True)
        self._asked: dict[str, int] = {}
        self._lock = threading.Lock()

    def complete(self, messages: list[dict[str, str]], temperature: float, sample: int = 0) -> str:
        """The model's reply to one chat call: a JSON object with the fields the call asks for,
        or a sentence when it asks for none."""
        if temperature < 0:
            raise ValueError(f"temperature must be at least 0, not {temperature}")
        if sample < 0:
            raise ValueError(f"sample must be at least 0, not {sample}")
        texts = [str(message.get("content", "")) for message in messages]
        draws = self._draws(messages, temperature, sample)
        truth = self._truth("\n".join(texts))
        fields = _requested_fields(texts)
        if fields is None:
            return f"The answer is {self._answer(truth, draws)}."
        reply: dict[str, str] = {}
        verdict = self._verdict(truth, texts, draws) if "correct" in fields else None
        for field in fields:
            if field == "answer":
                reply[field] = self._answer(truth, draws)
            elif field == "correct" and verdict is not None:
                reply[field] = verdict
            elif field == "feedback" and verdict in FEEDBACK:
                reply[field] = FEEDBACK[verdict]
            else:
                reply[field] = f"(simulated) {field}"
        return json.dumps(reply)

    def fresh(self) -> SimulatedModel:
        """The same model with no calls counted: one per evaluation, so that what a design
        is answered depends on its own calls only, never on other evaluations running beside
        it — and a replay of the evaluation gets the very same answers."""
        twin = copy.copy(self)
        twin._asked = {}
        twin._lock = threading.Lock()
        return twin

    def times_asked(self, messages: list[dict[str, str]], sample: int = 0) -> int:
        """How many calls above temperature 0 asked exactly these messages with this sample."""
        with self._lock:
            return self._asked.get(_digest({"messages": messages, "sample": sample}), 0)

    def _draws(self, messages: list[dict[str, str]], temperature: float, sample: int) -> Draws:
        if temperature == 0:
            key: dict[str, Any] = {"seed": self.seed, "messages": messages}
        else:
            prompt = _digest({"messages": messages, "sample": sample})
            with self._lock:
                count = self._asked.get(prompt, 0)
                self._asked[prompt] = count + 1
            key = {"seed": self.seed, "prompt": prompt, "count": count}
        digest = hashlib.sha256(_canonical(key)).digest()
        return Draws(*(int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in (0, 8, 16)))

    def _truth(self, text: str) -> str | None:
        return next((self._answers[q] for q in self._questions if q in text), None)

    def _answer(self, truth: str | None, draws: Draws) -> str:
        if truth is None:
            return UNKNOWN
        if draws.right < self.p_correct:
            return truth
        wrong = self._wrong_answers(truth)
        return wrong[int(draws.which * len(wrong))]

    def _wrong_answers(self, truth: str) -> list[str]:
        try:
            value = int(truth.strip())
        except ValueError:
            return [f"(wrong answer {k})" for k in range(1, 2 * self.spread + 1)]
        offsets = range(1, self.spread + 1)
        candidates = [value + d for d in offsets] + [value - d for d in offsets]
        return [str(c) for c in candidates if c >= 0 or value < 0]

    def _verdict(self, truth: str | None, texts: list[str], draws: Draws) -> str:
        if truth is None:
            return UNKNOWN
        checked = [
            text[marks[-1].end() :].strip()
            for text in texts
            if (marks := list(ANSWER_TO_CHECK.finditer(text)))
        ]
        is_right = bool(checked) and self.same(checked[-1], truth)
        judged_right = is_right if draws.verdict < self.p_correct else not is_right
        return "yes" if judged_right else "no"


def _same_normalised(answer: str, truth: str) -> bool:
    return normalise_answer(answer) == normalise_answer(truth)


def _requested_fields(texts: list[str]) -> list[str] | None:
    """The fields a call asks for: the JSON object after the last `FIELDS_LINE`, or None when
    there is none (or what follows it is not an object), as a model would then answer in prose."""
    for text in reversed(texts):
        at = text.rfind(FIELDS_LINE)
        if at < 0:
            continue
        rest = text[at + len(FIELDS_LINE) :]
        try:
            fields, _ = json.JSONDecoder().raw_decode(rest, len(rest) - len(rest.lstrip()))
        except ValueError:
            return None
        return [str(name) for name in fields] if isinstance(fields, dict) and fields else None
    return None


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def _digest(value: object) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()
