"""Reading JSON as models write it by hand: the mistakes they make, repaired where the decoder
stops. Control characters inside strings (raw newlines and tabs in a code string) need no
repair: the decoder is built with `strict=False`.

- `\\d`, `\\s` ... in a regex inside a string: JSON has no such escapes; the model meant a
  backslash and the letter.
- `\\'`: a quote escaped out of habit (`d[\\'key\\']`).
- a trailing comma: `{"a": 1,}`.

Where that is not enough, the value is read once more as the Python-flavoured JSON models also
write (`_relaxed`): strings in single quotes (a Python dict printed with `str`), `True`,
`False` and `None`, comments (`// ...`, `/* ... */`, `# ...`) and keys without quotes.

The one reader of JSON in model text, on both sides of the sandbox: the meta-agent's answers,
the graph's LLM steps, agents' fields and plans, and answers read for scoring. It imports
nothing but the standard library.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_BAD_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALID_ESCAPES = set('"\\/bfnrtu')
_MAX_REPAIRS = 20


def decode_at(decoder: json.JSONDecoder, text: str, start: int) -> tuple[Any, int]:
    """The JSON value at `start` and where it ends in `text`, read leniently: the mistakes
    models make in hand-written JSON are repaired one at a time where the decoder stops, and
    an object or list that is still no JSON is read as Python-flavoured JSON (`_relaxed`).
    Where neither reads, the error raised is the first reading's (where it stopped in `text`,
    or in its repaired copy)."""
    try:
        return _repaired(decoder, text, start)
    except json.JSONDecodeError as error:
        relaxed = _relaxed(text, start) if text[start : start + 1] in ("{", "[") else None
        if relaxed is None:
            raise
        source, end = relaxed
        try:
            value, used = decoder.raw_decode(source)
        except json.JSONDecodeError:
            raise error from None
        if used != len(source):
            raise error from None
        return value, end


def _repaired(decoder: json.JSONDecoder, text: str, start: int) -> tuple[Any, int]:
    """The JSON value at `start`, with invalid escapes and trailing commas repaired."""
    try:
        return decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        error = exc
    source = text[start:]
    where = error.pos - start  # where the decoder stopped, in `source`
    escapes_repaired = False
    edits: list[tuple[int, int]] = []  # (position in the copy at the time, characters added)
    for _ in range(_MAX_REPAIRS):
        if "Invalid \\escape" in error.msg and not escapes_repaired:
            source = _repair_escapes(source, edits)
            escapes_repaired = True
        elif (comma := _trailing_comma(source, where)) is not None:  # `{"a": 1,}`
            source = source[:comma] + source[comma + 1 :]
            edits.append((comma, -1))
        else:
            raise error
        try:
            value, end = decoder.raw_decode(source)
        except json.JSONDecodeError as exc:
            error, where = exc, exc.pos
            continue
        for position, added in reversed(edits):  # back to a position in the original text
            if position < end:
                end -= added
        return value, start + max(1, end)
    raise error


def values_in(
    text: str, opener: str = "{", max_failures: int = 64
) -> Iterator[tuple[Any, int, int]]:
    """Each JSON value in `text` that starts with `opener` ("{" or "[") and lies inside no
    other one read before it, read as `decode_at` reads: (value, start, end). A value nested in
    another is part of it, not yielded apart. After `max_failures` openers that start no value
    (each costs up to the rest of the text) the rest is not searched."""
    decoder = json.JSONDecoder(strict=False)
    position = failures = 0
    while failures < max_failures and (start := text.find(opener, position)) >= 0:
        try:
            value, end = decode_at(decoder, text, start)
        except (ValueError, RecursionError):
            failures += 1
            position = start + 1
            continue
        yield value, start, end
        position = end


def loads(text: str) -> Any:
    """The JSON value that is the whole of `text` (surrounding white space aside), read as
    leniently as `decode_at` reads; json.JSONDecodeError (a ValueError) where it is none."""
    decoder = json.JSONDecoder(strict=False)
    start = len(text) - len(text.lstrip())
    value, end = decode_at(decoder, text, start)
    if text[end:].strip():
        raise json.JSONDecodeError("extra data after the value", text, end)
    return value


def _trailing_comma(source: str, where: int) -> int | None:
    """Where the comma is in `{"a": 1,}` or `[1, 2,]`, if that is what stopped the decoder at
    `where`."""
    if where >= len(source) or source[where] not in "}]":
        return None
    before = source[:where].rstrip()
    return len(before) - 1 if before.endswith(",") else None


def _repair_escapes(source: str, edits: list[tuple[int, int]]) -> str:
    """`source` with the escapes JSON lacks read as the model meant them, all in one pass (code
    full of them costs one retry): `\\d`, `\\s` ... in a regex are a backslash and the letter;
    `\\'` is a quote escaped out of habit (`d[\\'key\\']`). Each change is added to `edits`."""
    parts: list[str] = []
    last = shift = 0
    for m in _BAD_ESCAPE.finditer(source):
        if m[1] in _VALID_ESCAPES:
            continue
        fixed = "'" if m[1] == "'" else "\\\\" + m[1]
        parts += [source[last : m.start()], fixed]
        last = m.end()
        edits.append((m.start() + shift, len(fixed) - 2))
        shift += len(fixed) - 2
    parts.append(source[last:])
    return "".join(parts)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}
_KEY_AFTER = re.compile(r"\s*:")


def _relaxed(text: str, start: int) -> tuple[str, int] | None:
    """The object or list at `start` rewritten as JSON, and where it ends in `text`; None
    where its brackets never close. Strings in single or double quotes become JSON strings
    (escapes JSON lacks kept as the model meant them), Python's `True`/`False`/`None` become
    JSON's, comments go, a key without quotes gets them, and a trailing comma is dropped.
    Anything else is copied for the decoder to judge."""
    out: list[str] = []
    depth, i, n = 0, start, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            string = _string(text, i)
            if string is None:
                return None
            i, literal = string
            out.append(literal)
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            while out and out[-1].isspace():
                out.pop()
            if out and out[-1] == ",":  # `{"a": 1,}`
                out.pop()
            depth -= 1
            out.append(c)
            if depth == 0:
                return "".join(out), i + 1
            i += 1
            continue
        elif text.startswith("//", i) or c == "#":
            newline = text.find("\n", i)
            i = n if newline < 0 else newline
            continue
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close < 0:
                return None
            i = close + 2
            continue
        elif c.isalpha() or c == "_":
            word = _WORD.match(text, i)
            assert word is not None
            name = word.group()
            if name in _PYTHON_WORDS:
                out.append(_PYTHON_WORDS[name])
            elif _KEY_AFTER.match(text, word.end()) and _last(out) in ("{", ","):
                out.append(json.dumps(name))  # {answer: 42}
            else:
                out.append(name)
            i = word.end()
            continue
        if not c.isspace() or (out and not out[-1].isspace()):
            out.append(c)
        i += 1
    return None


def _last(out: list[str]) -> str:
    """The last piece written that is not white space."""
    return next((piece for piece in reversed(out) if not piece.isspace()), "")


def _string(text: str, start: int) -> tuple[int, str] | None:
    """The string literal opened at `start` (by ' or "): where it ends, and it as a JSON
    string. None where it never closes."""
    quote, parts, i, n = text[start], ['"'], start + 1, len(text)
    while i < n:
        c = text[i]
        if c == quote:
            parts.append('"')
            return i + 1, "".join(parts)
        if c == "\\" and i + 1 < n:
            after = text[i + 1]
            if after in _VALID_ESCAPES:
                parts.append(c + after)
            elif after == "'":
                parts.append("'")
            else:  # `\d` in a regex: a backslash and the letter
                parts.append("\\\\" + after)
            i += 2
            continue
        parts.append('\\"' if c == '"' else c)
        i += 1
    return None
