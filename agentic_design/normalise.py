"""The one normal form of an answer, for telling whether two answers say the same thing: an
agents' vote compares answers in it (inside the sandbox), and scoring compares an answer with
the truth in it (outside). It imports nothing but the standard library.

- A number, alone or the last one in a sentence, written plainly: "The answer is $1,234.50."
  -> "1234.5"; "42.0" and "42 km" -> "42"; "007" -> "7"; "-3" -> "-3" (a hyphen between
  digits, as in "2-3", is no sign). Commas count as thousands separators only in groups of
  three ("1,2" is 1 then 2).
- Text with no number: lowercased, its spaces folded, a trailing "." dropped: "Yes." -> "yes".
- Anything not a string (an int, a float, None) is first written with `str`.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(
    r"(?:(?<![\w.-])-)?(?<![\d.])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<![\d.])\.\d+"
)


def normalise_answer(text: object) -> str:
    """`text` in the normal form the module's docstring describes."""
    text = str(text).strip()
    numbers = _NUMBER.findall(text)
    if not numbers:
        return " ".join(text.rstrip(".").split()).lower()
    number = numbers[-1].replace(",", "")
    sign = "-" if number.startswith("-") else ""
    whole, _, fraction = number.lstrip("-").partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    plain = f"{whole}.{fraction}" if fraction else whole
    return plain if plain == "0" else sign + plain


def same_answer(answer: object, truth: object) -> bool:
    """Whether two answers are the same in the normal form."""
    return normalise_answer(answer) == normalise_answer(truth)
