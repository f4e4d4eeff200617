"""Reading JSON as models write it by hand: the mistakes they make, repaired where the decoder
stops. Control characters inside strings (raw newlines and tabs in a code string) need no
repair: the decoder is built with `strict=False`.

- `\\d`, `\\s` ... in a regex inside a string: JSON has no such escapes; the model meant a
  backslash and the letter.
- `\\'`: a quote escaped out of habit (`d[\\'key\\']`).
- a trailing comma: `{"a": 1,}`.

The one reader of JSON in model text, on both sides of the sandbox: the meta-agent's answers,
the graph's LLM steps, agents' fields and plans, and answers read for scoring. It imports
nothing but the standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BAD_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_VALID_ESCAPES = set('"\\/bfnrtu')
_MAX_REPAIRS = 20


def decode_at(decoder: json.JSONDecoder, text: str, start: int) -> tuple[Any, int]:
    """The JSON value at `start` and where it ends in `text`, read leniently: the mistakes
    models make in hand-written JSON are repaired one at a time where the decoder stops."""
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
