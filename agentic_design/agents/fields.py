"""Reading an agent's output fields from a model's reply, in the shapes models write it.

An agent asks for a JSON object with named fields. Replies come clean, or in a ```json fence,
after or before prose, with a trailing comma, as a Python dict (single quotes, `True`,
`None`), with comments, with extra fields, with a field's value an object or a list, as
markdown lines (`**answer:** 42`, `Answer: 42`), or after first echoing the format asked for.
`read_fields` reads them all the same way:

1. Every JSON object in the reply, read by the project's one lenient reader
   (`lenient_json`), and the objects nested in them.
2. The *last* object that holds every field wins (a model that drafts, or echoes the format
   and then answers, ends with its answer), except an echo of the format: an object whose
   fields all hold placeholders (the descriptions asked for, "...", "<answer>") never wins.
3. Otherwise the last object holding the most of the fields gives those, and labelled lines
   (`**field:** value`, `field: value`, `"field": value` of broken JSON, a `## Field`
   heading) give the rest.
4. A one-field agent whose reply is not JSON and holds no label takes the whole reply (a
   model asked for a single answer often just gives it, or code with a dict in it). A reply
   that is a JSON object without the field is not an answer: the field is missing.

What is still missing is reported, never guessed (`Read.missing`, `Read.problem`): the
toolkit asks once more and then fails the call, the ADAS adapter fills '' as ADAS does.
Keys are matched without case ("Answer" is "answer"). Values are text: strings as given,
numbers as written, True/False as Python writes them, lists as JSON, objects as
"key: value; ..." lines; `null` counts as missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentic_design.lenient_json import decode_at, values_in

# Failed attempts at reading an object before the rest of a reply's braces are given up:
# each costs up to the reply's length.
MAX_ATTEMPTS = 64
_PLACEHOLDERS = {"", "...", "…", "<...>", "[...]", "string", "str", "text", "value", "todo"}


@dataclass(frozen=True)
class Read:
    """What a reply gave: `values` for the fields found, `missing` those not found (in the
    order asked), and `problem`, a sentence on what was wrong, for the model and the error."""

    values: dict[str, str]
    missing: tuple[str, ...]
    problem: str = ""


def read_fields(text: str, outputs: Mapping[str, str] | Sequence[str]) -> Read:
    """The fields `outputs` names (with their descriptions, when a mapping) from `text`."""
    fields = list(outputs)
    described = dict(outputs) if isinstance(outputs, Mapping) else {}
    spans = _top_level(text)
    objects = [o for value, _, _ in spans for o in _nested(value)]
    answers = [o for o in objects if not _is_echo(o, fields, described)]
    for found in reversed(answers):
        values = _values(found, fields)
        if len(values) == len(fields):
            return Read(values, ())
    best: dict[str, str] = {}
    for found in answers:  # the last of those that hold the most fields
        values = _values(found, fields)
        if len(values) >= len(best) and values:
            best = values
    labelled = _labelled(text, fields, described)
    values = {**{f: v for f, v in labelled.items() if f not in best}, **best}
    if len(fields) == 1 and not labelled and text.strip() and not _is_json(text, spans):
        values = {fields[0]: text.strip()}
    missing = tuple(f for f in fields if f not in values)
    if not missing:
        return Read({f: values[f] for f in fields}, ())
    return Read(values, missing, _problem(text, missing, objects, answers))


def as_text(value: Any) -> str:
    """A field's value (or a context item) as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {as_text(v)}" for k, v in value.items())
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _top_level(text: str) -> list[tuple[Any, int, int]]:
    """Every JSON value read at a `{` of `text` and not inside another: (value, start, end)."""
    return list(values_in(text, "{", MAX_ATTEMPTS))


def _is_json(text: str, spans: list[tuple[Any, int, int]]) -> bool:
    """Whether the reply is JSON objects (at least half of it), not text that holds a few
    braces (code with a dict in it): a one-field agent takes such text as its answer."""
    covered = sum(end - start for value, start, end in spans if isinstance(value, dict))
    return covered >= 0.5 * len(text.strip())


def _nested(value: Any) -> Iterator[dict[str, Any]]:
    """The objects in `value`, each after those nested in it (in order of where they end)."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _nested(inner)
        yield value
    elif isinstance(value, list):
        for inner in value:
            yield from _nested(inner)


def _values(found: dict[str, Any], fields: list[str]) -> dict[str, str]:
    keys = {_key(k): v for k, v in found.items()}
    return {f: as_text(keys[_key(f)]) for f in fields if keys.get(_key(f)) is not None}


def _key(name: object) -> str:
    return re.sub(r"[\s_-]+", "_", str(name).strip().lower())


def _fold(text: str) -> str:
    return " ".join(text.strip().rstrip(".").split()).lower()


def _is_placeholder(value: Any, field: str, description: str) -> bool:
    if not isinstance(value, str):
        return False
    folded = _fold(value)
    return (
        folded in _PLACEHOLDERS
        or bool(re.fullmatch(r"[.…]+", folded))
        or folded in (_fold(description), f"<{_key(field)}>", f"<{_fold(description)}>")
        or folded == f"your {_fold(field)}"
    )


def _is_echo(found: dict[str, Any], fields: list[str], described: dict[str, str]) -> bool:
    """An object that only repeats the format asked for: every field it holds a
    placeholder, and at least one of them not just empty."""
    keys = {_key(k): v for k, v in found.items()}
    held = [(f, keys[_key(f)]) for f in fields if _key(f) in keys]
    return (
        bool(held)
        and all(_is_placeholder(v, f, described.get(f, "")) for f, v in held)
        and any(str(v).strip() for _, v in held)
    )


def _labelled(text: str, fields: list[str], described: dict[str, str]) -> dict[str, str]:
    """Fields given as labelled lines: `**answer:** 42`, `- Answer: 42`, `"answer": "42",`
    or a `## Answer` heading over its value; a value runs on over the following lines up to
    the next label or a blank line outside a ``` fence. Also the `"field": value` pairs of
    JSON too broken to read (cut off, unbalanced). The last that holds more than a
    placeholder gives a field."""
    names = "|".join(re.escape(f).replace("_", "[ _-]") for f in fields)
    label = re.compile(
        rf"^[ \t>{{]*(?:[-*+][ \t]+|\d+\.[ \t]+)?(?:(?P<hashes>#{{1,6}})[ \t]*)?"
        rf"(?P<open>\*\*|__|\*|_|\"|')?(?P<name>{names})(?P=open)?[ \t]*"
        rf"(?:(?P<colon>[:：])|(?=[ \t]*$))[ \t]*(?:\*\*|__)?",
        re.IGNORECASE | re.MULTILINE,
    )
    pair = re.compile(
        rf"\"(?P<name>{names})\"\s*:\s*(?P<value>\"(?:[^\"\\]|\\.)*\"|-?\d+(?:\.\d+)?)",
        re.IGNORECASE,
    )
    found: list[tuple[int, str, str]] = []  # (where, field, value)
    lines = [m for m in label.finditer(text) if m["colon"] or m["hashes"]]
    for i, m in enumerate(lines):
        end = lines[i + 1].start() if i + 1 < len(lines) else len(text)
        value = _clean(_up_to_blank_line(text[m.end() : end]), quoted=m["open"] in ('"', "'"))
        found.append((m.start(), m["name"], value))
    for m in pair.finditer(text):
        found.append((m.start(), m["name"], _clean(m["value"], quoted=True)))
    values: dict[str, str] = {}
    for _, name, value in sorted(found):
        field = next(f for f in fields if _key(f) == _key(name))
        if value and not _is_placeholder(value, field, described.get(field, "")):
            values[field] = value
    return values


def _up_to_blank_line(text: str) -> str:
    lines: list[str] = []
    fenced = False
    for number, line in enumerate(text.split("\n")):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not line.strip() and not fenced and number > 0 and any(x.strip() for x in lines):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def _clean(value: str, quoted: bool) -> str:
    """A labelled value without the marks around it: bold, or a JSON string's quotes and what
    follows them (a comma, a brace)."""
    value = value.strip()
    for mark in ("**", "__"):
        if value.startswith(mark) and value.endswith(mark) and len(value) > 2 * len(mark):
            value = value[len(mark) : -len(mark)].strip()
    if quoted and value[:1] == '"':
        try:
            string, _ = decode_at(json.JSONDecoder(strict=False), value, 0)
        except ValueError:
            return value.rstrip(",").strip().strip('"')
        return as_text(string)
    if quoted:
        return value.rstrip(",").strip()
    return value


def _problem(
    text: str,
    missing: tuple[str, ...],
    objects: list[dict[str, Any]],
    answers: list[dict[str, Any]],
) -> str:
    named = ", ".join(json.dumps(f) for f in missing)
    lacks = f"the field{'s' if len(missing) > 1 else ''} {named}"
    if not text.strip():
        return f"the reply was empty: it lacked {lacks}"
    if objects and not answers:
        return f"the reply only repeated the format asked for: it gave no value for {lacks}"
    if not objects:
        return f"the reply held no JSON object that could be read: it lacked {lacks}"
    return f"the reply's JSON object lacked {lacks}"
