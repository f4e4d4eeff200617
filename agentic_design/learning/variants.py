"""The parts of the prompt variants that need no LLM: the starting instructions
(`DEFAULT_VARIANTS`), the credit each variant earns from the designs written under it
(`VariantCredit`, a UCB1 bandit on the bandits' reward rule, `model_choice.Improvements`) and
the new instruction a model wrote as a variation on one (`parse_variant`).

A variant is one instruction paragraph added to the propose prompt, which already says the job
(new, mutate or crossover): it says how to go about it. Like the model choice, the credit is
read from the pipeline's fixed snapshot and choices are drawn from a random stream seeded by the
run's seed and the proposal's number, never from timing.
"""

from __future__ import annotations

import ast
import math
import random
import re
import warnings
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from agentic_design.learning.notes import is_code, reply_text, unwrapped, without_chatter
from agentic_design.lenient_json import values_in
from agentic_design.proposers.model_choice import Improvements
from agentic_design.records import Design

__all__ = ["DEFAULT_VARIANTS", "VariantCredit", "VariantStats", "parse_variant"]

#: The population a run starts with: one careful, one bold, one plain.
DEFAULT_VARIANTS: tuple[str, ...] = (
    "Make one well-reasoned change rather than several. Read the scores and the failures above, "
    "name the single weakness that most limits the best designs, and change what addresses it; "
    "say in the thought which evidence points to it.",
    "Be bold: try an idea that is structurally different from what has been tried, not a tuning "
    "of it. A different algorithm, representation or decomposition of the problem can score "
    "far higher where small changes have stopped paying.",
    "Prefer simplicity and robustness. A design with fewer parts, fewer special cases and fewer "
    "ways to fail (errors, timeouts, edge cases) often scores better than a clever fragile one; "
    "remove what does not earn its place and make what remains hard to break.",
)


@dataclass
class VariantStats:
    """What the designs written under one variant have brought so far."""

    proposals: int = 0
    improvements: int = 0  # designs that beat their parent
    reward: float = 0.0  # their total improvement

    @property
    def mean(self) -> float:
        """Reward per proposal (0 before the first)."""
        return self.reward / self.proposals if self.proposals else 0.0


class VariantCredit:
    """Each variant's credit, and the choice of the variant the next proposal is written under.

    Fed the finished designs in id order (each once); a design names its variant
    (`Design.variant`). An unusable proposal and one found not novel count as proposals that
    brought nothing."""

    def __init__(self, seed: int, exploration: float = 1.0) -> None:
        self.seed = seed
        self.exploration = exploration
        self._stats: dict[int, VariantStats] = {}
        self._improvements = Improvements()

    def observe(self, designs: Iterable[Design]) -> None:
        """Credit the variants of `designs` (finished, in id order, each seen once)."""
        for design in designs:
            reward = self._improvements.observe(design)
            if design.variant is None:
                continue
            stats = self._stats.setdefault(design.variant, VariantStats())
            stats.proposals += 1
            if reward > 0:
                stats.improvements += 1
                stats.reward += reward

    def stats(self) -> dict[int, VariantStats]:
        """Each credited variant's stats, by id (a copy)."""
        return {
            v: VariantStats(s.proposals, s.improvements, s.reward)
            for v, s in sorted(self._stats.items())
        }

    def _of(self, variant: int) -> VariantStats:
        return self._stats.get(variant, VariantStats())

    def choose(self, active: Sequence[int], number: int) -> int:
        """The variant proposal `number` is written under: an untried one first (drawn at
        random), else UCB1 on mean reward scaled by the best active mean."""
        if not active:
            raise ValueError("no active variant to choose from")
        rng = random.Random(f"variant {self.seed} {number}")
        ordered = sorted(active)
        untried = [v for v in ordered if self._of(v).proposals == 0]
        if untried:
            return rng.choice(untried)
        scores = self.scores(ordered)
        top = max(scores.values())
        return rng.choice([v for v in ordered if math.isclose(scores[v], top)])

    def scores(self, active: Sequence[int]) -> dict[int, float]:
        """Each active variant's upper confidence bound (all must have been tried)."""
        means = {v: self._of(v).mean for v in active}
        scale = max(means.values())
        total = sum(self._of(v).proposals for v in active)
        return {
            v: (means[v] / scale if scale > 0 else 0.0)
            + self.exploration * math.sqrt(2 * math.log(total) / self._of(v).proposals)
            for v in active
        }

    def best(self, active: Sequence[int]) -> int:
        """The active variant with the highest mean reward among those tried (the smaller id of
        equals); the smallest id when none has been tried."""
        if not active:
            raise ValueError("no active variant")
        tried = [v for v in active if self._of(v).proposals > 0]
        if not tried:
            return min(active)
        return min(tried, key=lambda v: (-self._of(v).mean, v))

    def worst(
        self, active: Sequence[int], protect: Collection[int] = (), min_proposals: int = 3
    ) -> int | None:
        """The active variant to retire: the lowest mean reward among those with at least
        `min_proposals` proposals, `protect` aside (the larger id of equals: the older one
        stays); None when none qualifies."""
        qualified = [
            v for v in active if v not in protect and self._of(v).proposals >= min_proposals
        ]
        if not qualified:
            return None
        return min(qualified, key=lambda v: (self._of(v).mean, -v))


# -- reading a new variant -----------------------------------------------------------------------

_VARIANT_KEYS = ("instruction", "variant", "text", "paragraph", "prompt", "new instruction")
# A label before the paragraph, on its own line or leading it: "**New instruction:**".
_LABEL = re.compile(
    r"\A[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*(?:the[ \t]+)?(?:new|revised|mutated|improved)?"
    r"[ \t]*(?:instruction|variant|variation|paragraph|prompt)(?:[ \t]+\w+){0,2}[ \t]*"
    r"(?:\*\*|__)?[ \t]*[:：][ \t]*(?:\*\*|__)?[ \t]*",
    re.IGNORECASE,
)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("«", "»"), ("`", "`"))
# A closing paragraph about the paragraph rather than part of it.
_COMMENTARY = re.compile(
    r"^[ \t]*(?:\*\*|\*|__|_)?(?:(?:this|the above|these|it)[ \t]+(?:new[ \t]+)?"
    r"(?:variant|variation|version|instruction|paragraph|change|encourages|keeps|pushes|"
    r"should|builds|shifts|combines|adds)\b|(?:why|rationale|reasoning|explanation|note)"
    r"[ \t]*(?:\*\*|\*|__|_)?[ \t]*[:：])",
    re.IGNORECASE,
)
# A title line before the paragraph: a markdown heading, or a line in bold.
_TITLE = re.compile(r"^[ \t]*(?:#{1,6}[ \t].*|(?:\*\*|__)[^*_\n]+(?:\*\*|__)[ \t]*[:：]?)[ \t]*$")


def parse_variant(text: str, limit: int = 1200) -> str | None:
    """The instruction paragraph in a model's reply: without reasoning, preamble, label,
    quotes, fence or JSON around it, bounded to `limit` characters at a sentence or line end.
    None when nothing is left, when it is over three times `limit` (not a paragraph), or when it
    is code rather than an instruction."""
    body = reply_text(text)
    if body is None:
        return None
    found = _json_variant(body) if "{" in body else None
    if found is None:
        body = unwrapped(without_chatter(body))
        if is_code(body):
            return None
        found = body
    found = _without_commentary(without_chatter(found))
    lines = found.strip().splitlines()
    while len(lines) > 1 and _TITLE.match(lines[0]):
        lines.pop(0)
    found = "\n".join(lines)
    found = _unquoted(_LABEL.sub("", _unquoted(found.strip()), count=1).strip())
    found = "\n".join(line.strip() for line in found.splitlines()).strip()
    found = re.sub(r"\n{3,}", "\n\n", found)
    if not re.search(r"[A-Za-z]{2,}", found) or len(found) > 3 * limit or _python(found):
        return None
    return _sentences(found, limit)


def _json_variant(text: str) -> str | None:
    for value, _, _ in values_in(text):
        if not isinstance(value, dict):
            continue
        keys = {re.sub(r"[\s_-]+", " ", str(k)).strip().lower(): v for k, v in value.items()}
        for key in _VARIANT_KEYS:
            inner = keys.get(key)
            if isinstance(inner, dict):  # {"variant": {"text": ...}}
                inner = next(
                    (inner[k] for k in ("text", "instruction", "paragraph") if k in inner), None
                )
            if isinstance(inner, str) and inner.strip():
                return inner
    return None


def _without_commentary(text: str) -> str:
    paragraphs = re.split(r"\n[ \t]*\n", text.strip())
    while len(paragraphs) > 1 and _COMMENTARY.match(paragraphs[-1]):
        paragraphs.pop()
    return "\n\n".join(paragraphs)


def _unquoted(text: str) -> str:
    text = text.strip()
    if text.startswith(">"):  # a markdown quotation
        text = "\n".join(re.sub(r"^[ \t]*>[ \t]?", "", line) for line in text.splitlines())
    for left, right in _QUOTES:
        if len(text) > 2 and text.startswith(left) and text.endswith(right):
            inner = text[1:-1]
            if left not in inner and right not in inner:
                return inner.strip()
    return text.strip()


def _python(text: str) -> bool:
    """Whether `text` parses as Python that does something (an instruction in prose does not:
    at most it reads as a bare name or a string)."""
    try:
        with warnings.catch_warnings():  # prose with a backslash would warn of an escape
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Name | ast.Constant))
        for node in tree.body
    )


def _sentences(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut after a sentence or a line (a word if need be)."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)|\n", head)]
    ends = [e for e in ends if e <= limit]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]].strip()
    space = head.rfind(" ", 0, limit)
    return head[:space].rstrip(" ,;:") + "." if space > 0 else head[:limit]
