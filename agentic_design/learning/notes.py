"""The parts of the insight notes that need no LLM: what the notes call reads (`notes_material`,
the variables of `meta/notes.j2`) and what it wrote, read as models write it (`parse_notes`),
bounded for the prompts that show it (`bounded`).

A design "improved" by the bandits' rule (`model_choice.Improvements`): it beat its better
parent, or, without parents, the best design before it. The replies `parse_notes` reads come in
a handful of shapes: the notes as asked, after a reasoning block (`<think>...</think>`) or a
preamble ("Here are the updated notes:"), wrapped whole in a ```markdown fence, as JSON
(`{"notes": "..."}` or `{"helped": [...], "hurt": [...], "untried": [...]}`), followed by
chatter ("Let me know if..."), or no notes at all (a design, in a ```python fence).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentic_design.lenient_json import values_in
from agentic_design.proposers.answers import CLOSING_ONLY, FENCE, REASONING, UNCLOSED
from agentic_design.proposers.edits import unified_diff
from agentic_design.proposers.model_choice import Improvements
from agentic_design.records import FAILURES, Design, Status

__all__ = [
    "bounded",
    "is_code",
    "notes_material",
    "parse_notes",
    "reply_text",
    "unwrapped",
    "without_chatter",
]

SECTIONS = ("What helped", "What hurt", "Untried")
CUT_MARK = "[... cut to fit]"


# -- what the notes call reads -------------------------------------------------------------------


def notes_material(
    designs: Sequence[Design],
    parents: Mapping[int, Design],
    best_before: float | None,
    fitness_name: str,
    *,
    limit: int = 12,
    diff_chars: int = 1500,
    error_chars: int = 400,
) -> dict[str, Any]:
    """The variables of `meta/notes.j2` (all but task_description, previous and limit) for the
    finished `designs` since the last notes, in id order. `parents` holds their parents by id
    (designs among `designs` may be there too); `best_before` is the best fitness before them.

    The improved designs are listed largest gain first, the failed ones newest first, each list
    bounded to `limit` entries; `improved_more` and `failed_more` count those left out."""
    ordered = sorted(designs, key=lambda d: d.id)
    ids = {d.id for d in ordered}
    known = {**{d.id: d for d in ordered}, **parents}
    improvements = Improvements(
        fitness={
            i: p.fitness
            for i, p in parents.items()
            if i not in ids and p.status is Status.OK and p.fitness is not None
        },
        best=best_before,
    )
    improved: list[tuple[float, dict[str, Any]]] = []
    failed: list[dict[str, Any]] = []
    unchanged = 0
    for design in ordered:
        baseline = improvements.best
        gain = improvements.observe(design)
        if gain > 0:
            improved.append(
                (gain, _improved(design, known, baseline, gain, fitness_name, diff_chars))
            )
        elif design.status is Status.OK:
            unchanged += 1
        elif design.status in FAILURES:
            failed.append(_failed(design, error_chars))
    improved.sort(key=lambda item: (-item[0], item[1]["id"]))
    failed.reverse()  # newest first
    ok = [d for d in ordered if d.status is Status.OK and d.fitness is not None]
    best = max(ok, key=lambda d: (d.fitness, -d.id), default=None)
    return {
        "improved": [entry for _, entry in improved[:limit]],
        "improved_more": max(0, len(improved) - limit),
        "failed": failed[:limit],
        "failed_more": max(0, len(failed) - limit),
        "unchanged": unchanged,
        "best": None
        if best is None
        else {"id": best.id, "name": best.name, "summary": _summary(best, fitness_name)},
        "since": len(ordered),
    }


def _summary(design: Design, fitness_name: str) -> str:
    if design.fitness is None:
        summary = design.status.value
    else:
        summary = f"{fitness_name} {design.fitness:.4f}"
    return f"{summary}, {design.summary}" if design.summary else summary


def _improved(
    design: Design,
    known: Mapping[int, Design],
    baseline: float | None,
    gain: float,
    fitness_name: str,
    diff_chars: int,
) -> dict[str, Any]:
    candidates = [
        known[p]
        for p in design.parents
        if p in known and known[p].status is Status.OK and known[p].fitness is not None
    ]
    # The parent it is measured against: the better one (the first of equals).
    parent = max(candidates, key=lambda p: p.fitness or 0.0, default=None)
    if parent is not None:
        parent_summary = f"#{parent.id} {parent.name}: {_summary(parent, fitness_name)}"
    else:  # measured against the best before it (`Improvements`, which saw a baseline)
        parent = next((known[p] for p in design.parents if p in known), None)
        which = (
            f"its parent #{parent.id} {parent.name}: {parent.status.value}"
            if parent is not None  # one that never scored: its change is shown all the same
            else "it has no parent"
        )
        parent_summary = (
            f"the best design before it ({fitness_name} {baseline or 0.0:.4f}; {which})"
        )
    if design.diff:
        diff = design.diff
    elif parent is not None:
        diff = unified_diff(parent.code, design.code, f"#{parent.id}")
    else:
        diff = ""
    return {
        "id": design.id,
        "name": design.name,
        "summary": _summary(design, fitness_name),
        "gain": f"{gain:+.4f}",
        "parent_id": parent.id if parent is not None else None,
        "parent_summary": parent_summary,
        "thought": design.thought[:300],
        "diff": _cut(diff, diff_chars, "[... diff cut]"),
    }


def _failed(design: Design, error_chars: int) -> dict[str, Any]:
    lines = [line.strip() for line in (design.error or "").splitlines() if line.strip()]
    error = " / ".join(lines[:1] + lines[-2:]) if len(lines) > 3 else " / ".join(lines)
    if len(error) > error_chars:
        error = error[: max(0, error_chars - 4)] + " ..."
    return {
        "id": design.id,
        "name": design.name,
        "status": design.status.value,
        "thought": design.thought[:300],
        "error": error,
    }


def _cut(text: str, limit: int, mark: str) -> str:
    """`text` within `limit` characters (the mark's line included), cut after a whole line."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(mark) - 1)
    end = text.rfind("\n", 0, room + 1)
    kept = text[: end + 1] if end >= 0 else ""
    return kept + mark + "\n"


# -- bounding ------------------------------------------------------------------------------------


def bounded(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, cut after a whole line, with a marker line saying
    it was cut. When not even the first line fits, it is cut at a word, the marker after it."""
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    room = max(0, limit - len(CUT_MARK) - 1)
    end = text.rfind("\n", 0, room + 1)
    if end > 0:
        return text[:end].rstrip() + "\n" + CUT_MARK
    space = text.rfind(" ", 0, room + 1)
    head = text[:space].rstrip() if space > 0 else ""
    return (head + "\n" + CUT_MARK) if head else CUT_MARK[:limit]


# -- reading a reply -----------------------------------------------------------------------------

_CODE_LANGS = {"python", "py", "python3", "py3"}
# A line a Python module starts a definition or an import with (at its left margin).
_CODE_LINE = re.compile(
    r"^(?:(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(|class[ \t]+\w+[ \t]*[(:]|import[ \t]+\w"
    r"|from[ \t]+[\w.]+[ \t]+import[ \t])",
    re.MULTILINE,
)
_PREAMBLE = re.compile(
    r"^[ \t]*(?:\*\*)?(?:(?:sure|certainly|of course|okay|ok|alright|great|absolutely)[!,.]|"
    r"here(?:'s|’s| is| are| you go)|below (?:is|are)|i(?:'ve| have) (?:updated|revised|written)|"
    r"(?:the )?(?:updated|revised|new) (?:run )?notes|notes)(?:\b|(?<=[!,.]))[^\n]{0,160}$",
    re.IGNORECASE,
)
_CHATTER = re.compile(
    r"^[ \t]*(?:\*\*)?(?:let me know|i hope|hope (?:this|these|that)|feel free|"
    r"if you(?:'d| would)? (?:like|want|need)|would you like|happy to|these (?:updated )?notes|"
    r"this (?:should|keeps|captures)|shall i|do you want|\(?(?:word|character|char) count)\b",
    re.IGNORECASE,
)
_STRUCTURE = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)]|#{1,6}|`{3,}|~{3,}|\|)")
_BARE_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*$")
_FENCE_MARK = re.compile(r"^[ \t]*(?:`{3,}|~{3,})[ \t]*[\w+.-]*[ \t]*$")
_RULE = re.compile(r"^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
_SECTION_KEYS = {
    "What helped": ("helped", "what helped", "worked", "what worked", "helps", "good"),
    "What hurt": ("hurt", "what hurt", "failed", "hurts", "bad", "what failed", "did not work"),
    "Untried": ("untried", "to try", "ideas", "next", "worth trying", "try next", "not tried"),
}
_NONE = "(nothing yet)"
_TEXT_KEYS = ("notes", "note", "text", "content", "insights", "updated notes")


def reply_text(text: str) -> str | None:
    """A reply without its reasoning blocks; None when a reasoning block is left open with
    nothing after it (the answer was cut off while thinking)."""
    body = REASONING.sub("", text)
    body = CLOSING_ONLY.sub("", body)
    opened = UNCLOSED.search(body)
    if opened is not None:
        return None if not body[: opened.start()].strip() else body[: opened.start()]
    return body


def unwrapped(text: str) -> str:
    """The inside of the one fence that holds the whole reply (a ```markdown or ```text block,
    chatter around it aside), else the reply as it is. A python fence stays: it is code."""
    fences = list(FENCE.finditer(text))
    if len(fences) != 1 or fences[0]["lang"].lower() in _CODE_LANGS:
        return text
    fence = fences[0]
    outside = text[: fence.start()] + text[fence.end() :]
    if not all(_chatter_line(line) for line in outside.splitlines()):
        return text  # prose outside it: the fence is a quotation inside the notes
    return fence["body"]


def _chatter_line(line: str) -> bool:
    return not line.strip() or bool(_PREAMBLE.match(line) or _CHATTER.match(line))


def is_code(text: str) -> bool:
    """Whether `text` is (or holds) Python code rather than prose: a python fence, a fence or
    lines at the left margin that define a function or a class or import a module, or a design
    as JSON (an object with its code or edits)."""
    if "{" in text and any(
        isinstance(value, dict) and ("code" in value or "edits" in value)
        for value, _, _ in values_in(text)
    ):
        return True
    for fence in FENCE.finditer(text):
        lang = fence["lang"].lower()
        if lang in _CODE_LANGS or (not lang and _CODE_LINE.search(fence["body"])):
            return True
    return bool(_CODE_LINE.search(FENCE.sub("", text)))


def without_chatter(text: str) -> str:
    """`text` without the lines models put before and after what was asked: a preamble
    ("Here are the updated notes:"), closing chatter ("Let me know if...") with the plain lines
    after it, rules around them."""
    lines = text.strip("\n").splitlines()
    while lines and (not lines[0].strip() or _RULE.match(lines[0]) or _PREAMBLE.match(lines[0])):
        lines.pop(0)
    cut = len(lines)
    for i in range(len(lines) - 1, -1, -1):
        if _STRUCTURE.match(lines[i]):
            break  # chatter comes after the last bullet, heading or fence
        if _CHATTER.match(lines[i]):
            cut = i
    del lines[cut:]
    while lines and (not lines[-1].strip() or _RULE.match(lines[-1])):
        lines.pop()
    if sum(bool(_FENCE_MARK.match(line)) for line in lines) % 2:  # a mark without its pair
        if lines and _BARE_FENCE.match(lines[-1]):
            lines.pop()
        elif lines and _BARE_FENCE.match(lines[0]):
            lines.pop(0)
    return "\n".join(lines).strip("\n")


def _json_notes(text: str) -> str | None:
    """The notes of a JSON reply: the notes string, or the three lists as headed bullets."""
    for value, _, _ in values_in(text):
        if not isinstance(value, dict):
            continue
        keys = {_key(k): v for k, v in value.items()}
        for key in _TEXT_KEYS:
            inner = keys.get(key)
            if isinstance(inner, str) and inner.strip():
                return inner
            if isinstance(inner, list) and _items(inner):
                return "\n".join(f"- {item}" for item in _items(inner))
            if isinstance(inner, dict):
                keys = {_key(k): v for k, v in inner.items()}
                break
        sections = {
            title: _items(keys[alias])
            for title, aliases in _SECTION_KEYS.items()
            for alias in aliases
            if alias in keys
        }
        if sections:
            return "\n\n".join(
                f"## {title}\n" + "\n".join(f"- {item}" for item in sections.get(title) or [_NONE])
                for title in SECTIONS
            )
    return None


def _key(key: object) -> str:
    return re.sub(r"[\s_-]+", " ", str(key)).strip().lower()


def _items(value: Any) -> list[str]:
    """A JSON section's items as one-line strings."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [line.lstrip("-*• ").strip() for line in value.splitlines()]
    elif isinstance(value, dict):
        value = [f"{k}: {v}" for k, v in value.items()]
    elif not isinstance(value, list):
        value = [value]
    items = []
    for item in value:
        if isinstance(item, dict):
            item = " — ".join(str(v) for v in item.values() if v not in (None, ""))
        line = " ".join(str(item).split())
        if line:
            items.append(line)
    return items


def parse_notes(text: str, limit: int) -> str | None:
    """The notes in a model's reply, cleaned of what models write around them and bounded to
    `limit` characters (`bounded`); None when nothing usable is left: an empty reply, only
    chatter, or code instead of notes."""
    body = reply_text(text)
    if body is None:
        return None
    notes = _json_notes(body) if "{" in body else None
    if notes is None:
        body = without_chatter(body)
        body = unwrapped(body)
        if is_code(body):
            return None
        notes = body
    notes = without_chatter(notes)
    lines = [line.rstrip() for line in notes.splitlines()]
    notes = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    if not re.search(r"\w", notes):
        return None
    return bounded(notes, limit)
