"""The one normal form of an answer, for telling whether two answers say the same thing: an
agents' vote compares answers in it (inside the sandbox), and scoring compares an answer with
the truth in it (outside). It imports nothing but the standard library.

- A numeric answer — one line, with no brackets or braces — is its last number, written
  plainly: "The answer is $1,234.50." -> "1234.5"; "42.0", "42 km" and "42%" -> "42";
  "007" -> "7"; "-3" -> "-3" (a hyphen between digits, as in "2-3", is no sign); "3/4" and
  "6/8" -> "3/4" (a fraction, in lowest terms). Commas count as thousands separators only in
  groups of three ("1,2" is 1 then 2). Units, currency signs and a percent sign go with the
  words around the number: a question's truth is a plain number, and "50%" to "what percent
  ..." means 50 (a percent is not turned into a fraction: "0.5" and "50%" stay different).
- Anything else is text: lowercased, its spaces folded (line breaks kept, blank lines
  dropped), a trailing "." dropped: "Yes." -> "yes". So are the answers whose last number
  would say nothing about them: a grid ("[[0, 1], [1, 4]]", or rows of digits on several
  lines), a list or a dict, code, a worked solution over several lines (what a vote compares is
  a final answer, not the working; scored against a numeric truth, such an answer is read as
  one line: `same_answer`).
- Anything not a string (an int, a float, None) is first written with `str`.
"""

from __future__ import annotations

import math
import re

_NUMBER = re.compile(
    r"(?P<sign>(?<![\w.-])-)?(?<![\d/])(?P<fraction>\d+)\s*/\s*(?P<over>\d+)(?![\d/.])"
    r"|(?:(?<![\w.-])-)?(?<![\d.])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<![\d.])\.\d+"
)
# What makes an answer more than a number: a grid, a list or a dict, or several lines.
_STRUCTURE = re.compile(r"[\[\]{}\n]")


def normalise_answer(text: object) -> str:
    """`text` in the normal form the module's docstring describes."""
    text = str(text).strip()
    numbers = list(_NUMBER.finditer(text)) if not _STRUCTURE.search(text) else []
    if not numbers:
        lines = (" ".join(line.split()) for line in text.rstrip(".").splitlines())
        return "\n".join(line for line in lines if line).lower()
    last = numbers[-1]
    if last["fraction"] is not None:
        plain = _fraction(int(last["fraction"]), int(last["over"]))
        return plain if plain == "0" or not last["sign"] else "-" + plain
    number = last.group().replace(",", "")
    sign = "-" if number.startswith("-") else ""
    whole, _, fraction = number.lstrip("-").partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    plain = f"{whole}.{fraction}" if fraction else whole
    return plain if plain == "0" else sign + plain


def same_answer(answer: object, truth: object) -> bool:
    """Whether an answer says the truth, in the normal form. Against a numeric truth, an
    answer over several lines (a worked solution ending in its result) is read as one line:
    its last number, as GSM8K-style scoring reads it; a grid, list or dict stays text."""
    expected = normalise_answer(truth)
    if _PLAIN_NUMBER.fullmatch(expected):
        answer = " ".join(str(answer).split())
    return normalise_answer(answer) == expected


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def _fraction(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return f"{numerator}/0"
    common = math.gcd(numerator, denominator) or 1
    numerator, denominator = numerator // common, denominator // common
    return str(numerator) if denominator == 1 else f"{numerator}/{denominator}"
