"""Reading the meta-agent's answers as models actually write them.

A model asked for a design answers in one of a handful of shapes, whatever the prompt said:

- a short labelled header (`NAME:`, `THOUGHT:`, or markdown sections `### Name`) and the module
  in a ```python fence — the shape we ask for;
- a JSON object `{"thought", "name", "code"}`, often with literal newlines, tabs or invalid
  escapes (`"\\d"`, `\\'`) inside the code string or a trailing comma, sometimes in a ```json
  fence, sometimes after prose;
- a JSON object with the short fields, and the code in a separate fence;
- SEARCH/REPLACE edits against the parent (see `edits.py`);
- any of these after a reasoning preamble (`<think>...</think>`, full of braces and fences);
- the bare module with no decoration at all.

`parse_answer` finds the design in all of them. Where several code blocks are offered (a draft
and a final version, a usage example), it takes the one that defines the task's interface — the
last such. An answer it cannot use raises `MalformedAnswer` with a message meant for the model:
the meta-agent quotes it back when it asks again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from agentic_design.lenient_json import decode_at
from agentic_design.proposers.answer_code import (
    MalformedAnswer,
    check_interface,
    choose,
    dedented,
    defined,
    fallback_code,
    parses,
    with_separate_imports,
)
from agentic_design.proposers.edits import (
    Edit,
    EditError,
    apply_edits,
    find_edits,
    unified_diff,
    without_edits,
)

UNTITLED = "untitled"


@dataclass(frozen=True)
class Answer:
    """A design read from an answer. `form` says which shape it came in; `diff` is set when it
    was made by edits to the parent (the change, in unified form)."""

    name: str
    thought: str
    code: str
    form: str
    diff: str | None = None


REASONING = re.compile(
    r"<(think|thinking|thought|reasoning|reflection)>.*?</\1>", re.DOTALL | re.IGNORECASE
)
# Some servers strip the opening tag and send the reasoning and a lone closing tag.
CLOSING_ONLY = re.compile(r"\A.*</(?:think|thinking|reasoning)>", re.DOTALL | re.IGNORECASE)
UNCLOSED = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
FENCE = re.compile(
    r"^[ \t]*(?P<mark>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.-]*)[^\n]*\n"
    r"(?P<body>.*?)^[ \t]*(?P=mark)[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
_OPEN_FENCE = re.compile(
    r"^[ \t]*(?:`{3,}|~{3,})[ \t]*(?P<lang>[\w+.-]*)[^\n]*\n(?P<body>.*)\Z",
    re.DOTALL | re.MULTILINE,
)
_CODE_LANGS = {"", "python", "py", "python3", "py3", "python-code"}
_LABEL = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(?P<heading>#{1,6}[ \t]*)?(?P<bold>\*\*|__)?[ \t]*"
    r"(?P<label>thoughts?|reasoning|rationale|ideas?|explanation|design[ \t]+name|name|title)"
    r"\b[ \t]*(?P<colon1>[:：])?[ \t]*(?:\*\*|__)?[ \t]*(?P<colon2>[:：])?[ \t]*(?P<rest>.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+\S")
# A bold label of another kind (`**Code:**`, `- **Implementation**:`), which ends a section.
_OTHER_LABEL = re.compile(
    r"^[ \t]*(?:(?:[-*+]|\d+[.)])[ \t]+)?(?:\*\*|__)[^*_\n]{1,40}"
    r"(?:[:：](?:\*\*|__)|(?:\*\*|__)[ \t]*[:：])"
)
_QUOTED_NAME = re.compile(r"""[ \t]*(?:\*\*|__)?[ \t]*(?P<q>[`"'])(?P<name>[^`"'\n]+)(?P=q)""")
_FILE_NAME = re.compile(r"[ \t]*`?[\w./-]+\.py`?[ \t]*$")
_JSON_START = re.compile(r'\s*\{\s*"')
_KEYS = {
    "thought": ("thought", "thoughts", "reasoning", "rationale", "idea", "explanation"),
    "name": ("name", "title", "design_name"),
    "code": ("code", "program", "module", "source", "implementation", "python"),
}


def parse_answer(
    text: str, *, interface: Collection[str] = (), parent: str | None = None
) -> Answer:
    """The design in `text`. `interface`: names the code must define at top level (the code
    block that defines them is chosen among several); `parent`: the code SEARCH/REPLACE edits
    apply to. Raise MalformedAnswer saying what is wrong."""
    if not text.strip():
        raise MalformedAnswer("the answer was empty")
    # Some servers pass Windows line endings through; every pattern below expects "\n".
    body, unclosed = _without_reasoning(text.replace("\r\n", "\n"))
    if not body.strip():
        raise MalformedAnswer(
            "the answer holds only reasoning (<think> ... </think>) and no design after it"
        )
    try:
        return _parse_body(body, interface, parent)
    except MalformedAnswer as exc:
        if not unclosed:
            raise
        # Reasoning cut off at max_tokens, braces and all: say so rather than only what the
        # half-finished reasoning lacks.
        raise MalformedAnswer(
            f"the reasoning (<think>) was never closed, so the answer may have been cut off at "
            f"max_tokens; {exc}"
        ) from None


def _parse_body(body: str, interface: Collection[str], parent: str | None) -> Answer:
    fences = list(FENCE.finditer(body))
    opened = _open_fence(body, fences)
    # The bare module (no fence at all) may hold dict literals with "name" or "code" keys:
    # they are code, not the answer's metadata. A JSON answer parses as Python too, but as an
    # expression that defines nothing.
    bare = not fences and opened is None and parses(body) and bool(defined(body))
    objects, cut_off = ([], False) if bare else _json_objects(_blank_code(body, fences, opened))
    fields = _fields(objects, without_edits(_outside_fences(body, fences, opened), "\n\x00\n"))
    name = _clean_name(fields.get("name", "")) or UNTITLED
    thought = fields.get("thought", "").strip()

    edits = _edits(body, objects)
    if edits:
        if parent is None:
            raise MalformedAnswer(
                "the answer holds SEARCH/REPLACE edits, but there is no parent design to apply "
                "them to: answer with the complete module"
            )
        try:
            code = apply_edits(parent, edits)
        except EditError as exc:
            raise MalformedAnswer(str(exc)) from None
        check_interface(code, interface)
        return Answer(name, thought, code, "edits", diff=unified_diff(parent, code))

    code_fences = [m for m in fences if _is_code_fence(m)]
    candidates = [(f"json {key}", c) for key, c in _json_code(objects)]
    candidates += [("fence", m["body"]) for m in code_fences]
    if not candidates:
        if cut_off:  # an answer object still open at the end, and nothing else to use
            raise MalformedAnswer(
                "the JSON object is not closed: the answer may have been cut off at "
                "max_tokens (answer with the code in a ```python block instead)"
            )
        candidates = fallback_code(body, opened, bare)
    candidates = [(form, dedented(code)) for form, code in candidates]
    chosen = choose(candidates, interface)
    form, code = candidates[chosen]
    if form == "fence":  # candidates[:chosen] are the fences before it (after any JSON code)
        before = [c for f, c in candidates[:chosen] if f == "fence"]
        code = with_separate_imports(code, before)
    check_interface(code, interface)
    return Answer(name, thought, code, form)


# -- the parts of an answer ----------------------------------------------------------------------


def _without_reasoning(text: str) -> tuple[str, bool]:
    """The answer without its reasoning, and whether a reasoning tag was left open."""
    body = REASONING.sub("", text)
    body = CLOSING_ONLY.sub("", body)
    opened = UNCLOSED.search(body)
    if opened is None:
        return body, False
    if not FENCE.search(body, opened.end()) and "{" not in body[opened.end() :]:
        return body[: opened.start()], True  # never closed, with nothing usable after it
    return UNCLOSED.sub("", body), True


def _is_code_fence(match: re.Match[str]) -> bool:
    lang = match["lang"].lower()
    if lang not in _CODE_LANGS or _edits_in(match["body"]):
        return False
    # A fence (unlabelled, or even labelled python) that opens with `{"` holds the JSON answer
    # or its metadata, broken escapes and trailing commas included: no module starts that way.
    return not _JSON_START.match(match["body"])


def _open_fence(body: str, fences: list[re.Match[str]]) -> re.Match[str] | None:
    """A code fence opened after the last closed one and never closed (a cut-off answer, or a
    model that stops without the closing mark)."""
    opened = _OPEN_FENCE.search(body, fences[-1].end() if fences else 0)
    if (
        opened
        and opened["lang"].lower() in _CODE_LANGS
        and not _edits_in(opened["body"])
        and not _JSON_START.match(opened["body"])
    ):
        return opened
    return None


def _blank_code(body: str, fences: list[re.Match[str]], opened: re.Match[str] | None) -> str:
    """`body` with python fences blanked, so that a dict literal in code is not taken for the
    answer's JSON (positions kept)."""
    spans = [m.span("body") for m in fences if _is_code_fence(m)]
    if opened is not None:
        spans.append(opened.span("body"))
    parts, last = [], 0
    for start, end in spans:
        parts += [body[last:start], " " * (end - start)]
        last = end
    parts.append(body[last:])
    return "".join(parts)


def _outside_fences(body: str, fences: list[re.Match[str]], opened: re.Match[str] | None) -> str:
    """The prose: fences (an unclosed last one included) replaced by a mark that ends the
    section before them."""
    parts, last = [], 0
    for m in fences:
        parts.append(body[last : m.start()])
        parts.append("\n\x00\n")
        last = m.end()
    parts.append(body[last : opened.start() if opened else len(body)])
    return "".join(parts)


def _json_objects(text: str) -> tuple[list[dict[str, Any]], bool]:
    """Every JSON object in `text` whose keys say it is (part of) an answer, and whether an
    answer object was left open at the end (cut off). Control characters in strings are
    accepted; invalid escapes and trailing commas are repaired."""
    decoder = json.JSONDecoder(strict=False)
    found: list[dict[str, Any]] = []
    cut_off = False
    position = 0
    while True:
        start = text.find("{", position)
        if start < 0:
            return found, cut_off
        position = start + 1
        if not _JSON_START.match(text, start):
            continue
        try:
            value, end = decode_at(decoder, text, start)
        except json.JSONDecodeError as exc:
            # Only an error for the answer if nothing else in it is usable: a half object in
            # the prose must not hide a complete fenced design.
            cut_off = cut_off or _cut_off(text, start, exc)
            continue
        except RecursionError:  # absurdly deep nesting: not an answer
            continue
        if isinstance(value, dict) and _answer_keys(value):
            found.append(value)
            position = end


def _cut_off(text: str, start: int, exc: json.JSONDecodeError) -> bool:
    """An answer object that starts here and is still open where the text ends."""
    head = text[start : start + 400].lower()
    if not any(f'"{key}"' in head for key in _KEYS["code"]):
        return False
    # exc.doc is the repaired copy when a repair was tried, and exc.pos a position in it.
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip()) - 1


def _answer_keys(value: dict[str, Any]) -> set[str]:
    keys = {str(k).lower() for k in value}
    return {field for field, names in _KEYS.items() if keys & set(names)} | (
        {"edits"} if "edits" in keys else set()
    )


def _get(value: dict[str, Any], field: str) -> Any:
    lowered = {str(k).lower(): v for k, v in value.items()}
    for key in _KEYS[field]:
        if key in lowered:
            return lowered[key]
    return None


def _json_code(objects: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for value in objects:
        code = _get(value, "code")
        if isinstance(code, list) and all(isinstance(line, str) for line in code):
            # The module as a list of lines: a file's lines, so it ends with a newline.
            code = "".join(line if line.endswith("\n") else line + "\n" for line in code)
        if isinstance(code, str) and code.strip():
            inner = FENCE.search(code)
            yield "code", inner["body"] if inner else code


def _fields(objects: list[dict[str, Any]], prose: str) -> dict[str, str]:
    """Name and thought: from the JSON object if there is one, else the labelled header."""
    found: dict[str, str] = {}
    for value in objects:
        for field in ("name", "thought"):
            item = _get(value, field)
            if isinstance(item, str) and item.strip() and field not in found:
                found[field] = item
    if len(found) == 2:
        return found
    for field, text in _sections(prose).items():
        found.setdefault(field, text)
    return found


def _sections(prose: str) -> dict[str, str]:
    """`NAME: x`, `**Thought:** ...`, `### Name` followed by its paragraph, ..."""
    lines = prose.splitlines()
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        m = _LABEL.match(line)
        if m and (m["heading"] or m["bold"] or m["colon1"] or m["colon2"]):
            label = m["label"].lower()
            named = label in ("name", "title") or label.startswith("design")
            field = "name" if named else "thought"
            if field in sections and current is sections[field]:
                # `- Idea: ...` inside the thought it belongs to: a line of it, kept whole.
                current.append(line)
                continue
            if field not in sections:
                current = sections[field] = []
            else:
                current = None  # a second section of the same name: the first one counts
            if current is not None and m["rest"].strip():
                current.append(m["rest"].strip())
            continue
        if line == "\x00" or _HEADING.match(line) or _OTHER_LABEL.match(line):
            current = None  # a fence, a heading or another label (`**Code:**`) ends a section
            continue
        if current is not None:
            current.append(line)
    found = {field: "\n".join(text).strip() for field, text in sections.items()}
    if "thought" in found:
        found["thought"] = _without_lead_in(found["thought"])
    return found


def _without_lead_in(thought: str) -> str:
    """The thought without a last line that only introduces the code after it (`Here is the
    implementation:`, or the file name aider-style edits put above their fence), which is no
    part of the idea."""
    head, _, last = thought.rpartition("\n")
    if head.strip() and (last.rstrip().endswith(":") or _FILE_NAME.match(last)):
        return head.strip()
    return thought


def _clean_name(name: str) -> str:
    first = next((line for line in name.splitlines() if line.strip()), "")
    # `best_fit` — a short description: the quoted part is the name.
    quoted = _QUOTED_NAME.match(first)
    if quoted:
        return quoted["name"].strip()[:120]
    return first.strip().strip("*_`\"'").strip()[:120]


def _edits_in(text: str) -> bool:
    return "SEARCH" in text and "REPLACE" in text and "=======" in text


def _edits(body: str, objects: list[dict[str, Any]]) -> list[Edit]:
    for value in objects:  # structured output: {"edits": [{"search", "replace"}, ...]}
        edits = {str(k).lower(): v for k, v in value.items()}.get("edits")
        if isinstance(edits, list) and edits:
            try:
                return [Edit(str(e["search"]), str(e["replace"])) for e in edits]
            except (KeyError, TypeError):
                raise MalformedAnswer(
                    'each of "edits" must be an object {"search": ..., "replace": ...}'
                ) from None
    texts = [body, *(code for _, code in _json_code(objects) if _edits_in(code))]
    try:
        return next((edits for edits in map(find_edits, texts) if edits), [])
    except EditError as exc:
        raise MalformedAnswer(str(exc)) from None
