"""ADAS's archive format (Meta Agent Search, Hu et al. 2024), read and checked: the file within
limits, each entry's shape, and each fitness string as numbers.

ADAS keeps its archive as a JSON list of entries `{thought, name, code, generation, fitness,
test_fitness}`, and in its transfer archives a `test_fitness_<set>` for each other data set an
agent was tested on; every fitness is a string "95% Bootstrap Confidence Interval: (L%, U%),
Median: M%", read here as fractions with the interval flagged when it cannot hold its median.

An archive is untrusted input, so it is read within limits (MAX_*, below, and in
docs/howto/import.md):
every real ADAS archive fits them many times over. A file beyond one is refused, naming the file
and the limit; its size, nesting and numbers are checked before or while the JSON is parsed, so
no parser ever recurses 100,000 deep or reads 10 million digits.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate, repeat
from pathlib import Path
from typing import Any

# ADAS's domains, as its result files are named (`drop_gpt3.5_results.json`).
DOMAINS = ("arc", "drop", "mgsm", "gpqa", "mmlu", "humaneval", "gsm8k", "gsm_hard", "math")

_NUMBER = r"([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)"
_SCORE = re.compile(
    rf"\s*95% Bootstrap Confidence Interval:\s*\(\s*{_NUMBER}%\s*,\s*{_NUMBER}%\s*\)\s*,"
    rf"\s*Median:\s*{_NUMBER}%\s*"
)


# The limits an archive is read within. ADAS's published archives hold at most 36 entries in
# 138 KB, nest 4 deep, and their largest code is 5.5 KB, thought 1.6 KB, name 43 characters.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64  # nested lists and objects; the archive's own list is depth 1
MAX_NUMBER_CHARS = 100  # a number literal, sign and exponent included; read before int() is
MAX_GENERATION = 2**63 - 1  # the largest integer SQLite stores
MAX_ENTRIES = 10_000
# The most characters each field of an entry may hold. A value that is not a string (a thought
# written as an object, a generation as a number) is measured as its JSON text.
MAX_FIELD_CHARS = {
    "code": 1_000_000,
    "thought": 100_000,
    "name": 1_000,
    "fitness": 1_000,
    "test_fitness": 1_000,
    "generation": 100,
}
# A transfer archive's scores on other data sets: `test_fitness_<set>`, each read as
# `test_fitness` is and within its size. ADAS's has 7 such fields an entry, named up to 7 long.
TEST_SET_PREFIX = "test_fitness_"
MAX_TEST_SETS = 100  # distinct <set>s in one archive
MAX_TEST_SET_NAME_CHARS = 100  # the <set> of one

# For the depth scan: a string once its escaped quotes are gone, and every ASCII character
# but a bracket or a quote (for str.translate to drop).
_STRING = re.compile(r'"[^"]*"')
_NOT_A_BRACKET = dict.fromkeys(c for c in range(128) if chr(c) not in '[]{}"')
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class RunImportError(ValueError):
    """Another system's archive or run cannot be imported, or the run directory is taken: the
    command line answers it with its message and exit code 2."""


class ImportLimitError(RunImportError):
    """A file is beyond one of the limits an import reads within."""


class AdasImportError(RunImportError):
    """The file is not an ADAS archive we can import, or the run directory is taken."""


class AdasLimitError(AdasImportError, ImportLimitError):
    """The file is beyond one of the limits an archive is read within (MAX_*)."""


class ScoreFormatError(ValueError):
    """A fitness string is not in ADAS's form."""


@dataclass(frozen=True)
class AdasScore:
    """One ADAS fitness string, read as fractions. `problem` says why the interval is not
    trusted (then `ci` is None); the median is kept either way."""

    median: float
    low: float
    high: float
    problem: str | None = None

    @property
    def ci(self) -> tuple[float, float] | None:
        return None if self.problem else (self.low, self.high)


@dataclass(frozen=True)
class AdasEntry:
    """One entry of an ADAS archive, checked for shape but not yet scored."""

    index: int  # 1-based, as messages name it
    name: str
    thought: str
    code: str
    generation: int  # 0 for ADAS's hand-written "initial" agents
    adas_generation: str | int | None  # as the file has it (None: not given)
    fitness: Any
    test_fitness: Any
    # ADAS's scores on other data sets' test splits, by set, in the file's order
    # (`test_fitness_gsm8k` -> "gsm8k"); unread, as `test_fitness` is.
    test_sets: dict[str, Any] = field(default_factory=dict)


def guess_domain(path: str | Path) -> str:
    """The ADAS domain a result file is named for, or "unknown"."""
    stem = Path(path).name.lower()
    for domain in DOMAINS:
        if re.search(rf"(?<![a-z0-9]){domain}(?![a-z])", stem):
            return domain
    return "unknown"


def parse_score(text: Any) -> AdasScore:
    """Read "95% Bootstrap Confidence Interval: (L%, U%), Median: M%" as fractions, and flag
    an interval that is impossible: a number outside 0-100%, L > U, or M outside [L, U]."""
    match = _SCORE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ScoreFormatError(
            f"fitness {text!r} is not ADAS's form "
            "'95% Bootstrap Confidence Interval: (L%, U%), Median: M%'"
        )
    low, high, median = (_fraction(number) for number in match.groups())
    return AdasScore(median, low, high, _interval_problem(median, low, high))


def _fraction(percent: str) -> float:
    # Through Decimal, so that "30.5" becomes 0.305 exactly as written, not 0.30500000000000005.
    return float(Decimal(percent) / 100)


def _interval_problem(median: float, low: float, high: float) -> str | None:
    outside = [x for x in (low, high, median) if not 0.0 <= x <= 1.0]
    if outside:
        return f"{outside[0]:g} lies outside 0 to 1 (0% to 100%)"
    if low > high:
        return f"the interval's low end {low:g} exceeds its high end {high:g}"
    if not low <= median <= high:
        return f"median {median:g} lies outside the interval [{low:g}, {high:g}]"
    return None


def read_entries(path: str | Path) -> list[AdasEntry]:
    """Read and check an ADAS archive file: a JSON list of objects, each with code, within the
    limits (MAX_*)."""
    path = Path(path)
    data = _parse(_text(path), path)
    if not isinstance(data, list):
        raise AdasImportError(
            f"{path} holds a JSON {_kind(data)}, not a list: an ADAS archive is a "
            "list of entries with thought, name, code, generation and fitness"
        )
    if not data:
        raise AdasImportError(f"{path} holds an empty list: there is nothing to import")
    if len(data) > MAX_ENTRIES:
        raise AdasLimitError(f"{path}: {len(data):,} entries; the limit is {MAX_ENTRIES:,}")
    entries = [_entry(item, i, len(data), path) for i, item in enumerate(data, start=1)]
    # Counted over the archive, not each entry: every set is listed in the import's summary.
    sets = {name for entry in entries for name in entry.test_sets}
    if len(sets) > MAX_TEST_SETS:
        raise AdasLimitError(
            f"{path}: {len(sets):,} test sets ({TEST_SET_PREFIX}<set> fields); "
            f"the limit is {MAX_TEST_SETS}"
        )
    return entries


def _text(path: Path) -> str:
    """The file's text, read no further than the size limit: a device or a pipe may not end."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise AdasImportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AdasImportError(f"{path} is a directory, not an ADAS archive file") from None
    except OSError as exc:
        raise AdasImportError(f"{path} cannot be read: {exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise AdasLimitError(
            f"{path}: more than {MAX_FILE_BYTES:,} bytes; the limit is {MAX_FILE_BYTES:,}"
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdasImportError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start:,}); "
            "an ADAS archive is JSON"
        ) from None


def _parse(text: str, path: Path) -> Any:
    """The JSON in `text`, its depth checked before parsing and each number as it is read."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise AdasLimitError(f"{path}: nested {depth:,} deep; the limit is {MAX_DEPTH}")
    try:
        return strict_loads(text)
    except json.JSONDecodeError as exc:
        raise AdasImportError(
            f"{path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "an ADAS archive is a JSON list of entries"
        ) from None
    except AdasImportError as exc:  # from a number hook, which does not know the file
        raise type(exc)(f"{path}: {exc}") from None


def strict_loads(text: str) -> Any:
    """`json.loads` of an untrusted file's text, each number checked as it is read: at most
    MAX_NUMBER_CHARS long and within a float's range (ImportLimitError), and NaN or infinity
    refused (RunImportError); the messages name no file, the caller adds it. Check
    `nesting_depth` first: the parser recurses."""
    return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_not_a_number)


def nesting_depth(text: str) -> int:
    """How deep the JSON in `text` nests, counted without parsing it: the parser recurses, and
    100,000 nested lists would end it in a RecursionError. Linear, and every step in C."""
    # Escaped backslashes first, then escaped quotes: what is left of a string holds no quote.
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    brackets = _STRING.sub("", unescaped).translate(_NOT_A_BRACKET)
    # A quote left over opens a string that never ends: the parser will say so, and what
    # follows it is text, not nesting.
    brackets = brackets.partition('"')[0]
    steps = map(_DEPTH_STEP.get, brackets, repeat(0))  # 0: a character JSON has no place for
    return max(accumulate(steps), default=0)


def _int(literal: str) -> int:
    _check_number_size(literal)
    return int(literal)  # short enough for Python's limit on digits too (4,300 by default)


def _float(literal: str) -> float:
    _check_number_size(literal)
    number = float(literal)
    if not math.isfinite(number):  # 1e999: parsed as inf, which no score or metric can hold
        raise AdasLimitError(f"the number {literal} lies beyond a float's range")
    return number


def _check_number_size(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise AdasLimitError(
            f"a number of {len(literal):,} characters; the limit is {MAX_NUMBER_CHARS}"
        )


def _not_a_number(constant: str) -> Any:
    raise AdasImportError(f"{constant} is not JSON (JSON has no NaN or infinite numbers)")


def _entry(item: Any, index: int, total: int, path: Path) -> AdasEntry:
    where = f"{path}: entry {index} of {total}"
    if not isinstance(item, dict):
        raise AdasImportError(f"{where} is a JSON {_kind(item)}, not an object")
    _check_fields(item, where)
    test_sets = _test_sets(item, where)
    name, thought, code = item.get("name"), item.get("thought", ""), item.get("code")
    if not isinstance(code, str) or not code.strip():
        label = f" ({name})" if isinstance(name, str) else ""
        raise AdasImportError(f"{where}{label} has no code: every entry needs its agent's code")
    if name is not None and not isinstance(name, str):
        raise AdasImportError(f"{where}: its name is a JSON {_kind(name)}, not a string")
    raw_generation = item.get("generation")
    return AdasEntry(
        index=index,
        name=name or f"ADAS entry {index}",
        thought=_thought_text(thought),
        code=code,
        generation=_generation(raw_generation, where),
        adas_generation=raw_generation,
        fitness=item.get("fitness"),
        test_fitness=item.get("test_fitness"),
        test_sets=test_sets,
    )


def _check_fields(item: dict[str, Any], where: str) -> None:
    """Refuse an entry whose fields are beyond their sizes, or that holds a string no text
    file or database can: half of a UTF-16 surrogate pair, which JSON's escapes can write."""
    for key, limit in MAX_FIELD_CHARS.items():
        value = item.get(key)
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size > limit:
            raise AdasLimitError(
                f"{where}: its {key} holds {size:,} characters; the limit is {limit:,}"
            )
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        half = exc.object[exc.start]
        raise AdasImportError(
            f"{where} holds {half!r}, half of a UTF-16 surrogate pair: not text"
        ) from None


def _test_sets(item: dict[str, Any], where: str) -> dict[str, Any]:
    """The entry's `test_fitness_<set>` fields by set, within their limits (MAX_TEST_SET*)."""
    found = {
        key.removeprefix(TEST_SET_PREFIX): value
        for key, value in item.items()
        if key.startswith(TEST_SET_PREFIX) and len(key) > len(TEST_SET_PREFIX)
    }
    if len(found) > MAX_TEST_SETS:
        raise AdasLimitError(
            f"{where}: {len(found):,} test sets ({TEST_SET_PREFIX}<set> fields); "
            f"the limit is {MAX_TEST_SETS}"
        )
    limit = MAX_FIELD_CHARS["test_fitness"]
    for name, value in found.items():
        if len(name) > MAX_TEST_SET_NAME_CHARS:
            raise AdasLimitError(
                f"{where}: a {TEST_SET_PREFIX}<set> field whose set name holds {len(name):,} "
                f"characters; the limit is {MAX_TEST_SET_NAME_CHARS}"
            )
        size = len(value) if isinstance(value, str) else len(json.dumps(value))
        if size > limit:
            raise AdasLimitError(
                f"{where}: its {TEST_SET_PREFIX}{name} holds {size:,} characters; "
                f"the limit is {limit:,}"
            )
    return found


def _thought_text(thought: Any) -> str:
    """A thought as text. Most ADAS thoughts are markdown ("**Insights:**\n..."); a few are
    objects of those sections (an implementation as a list of steps): render them the same way."""
    if isinstance(thought, str):
        return thought
    if not isinstance(thought, dict):
        return json.dumps(thought)
    sections = []
    for heading, body in thought.items():
        title = heading if heading.startswith("**") else f"**{heading}:**"
        if isinstance(body, list):
            text = "\n".join(map(str, body))
        else:
            text = body if isinstance(body, str) else json.dumps(body)
        sections.append(f"{title}\n{text}")
    return "\n\n".join(sections)


def _kind(value: Any) -> str:
    """A JSON value's kind, as JSON names it."""
    kinds = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def _generation(raw: Any, where: str) -> int:
    if raw is None or raw == "initial":  # none given: counted with the hand-written agents
        return 0
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        generation = raw
    elif isinstance(raw, str) and re.fullmatch(r"\s*[0-9]+\s*", raw):
        generation = int(raw)  # short: its field's size is checked first
    else:
        raise AdasImportError(
            f"{where}: generation {raw!r} is neither 'initial' nor a whole number"
        )
    if generation > MAX_GENERATION:
        raise AdasLimitError(
            f"{where}: generation {generation:,} is beyond the limit {MAX_GENERATION:,}"
        )
    return generation
