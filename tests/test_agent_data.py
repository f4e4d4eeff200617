"""The generated arithmetic word problems: the same everywhere, disjoint splits, and answers that
an independent reading of each question's numbers recomputes."""

from __future__ import annotations

import itertools
import re

import pytest

from agentic_design.normalise import normalise_answer
from agentic_design.tasks.agent.data import (
    SPLITS,
    TEMPLATES,
    Example,
    arithmetic_examples,
)

N = 2000


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Example]]:
    return {split: arithmetic_examples(split, N) for split in SPLITS}


# One reading per template: the numbers a question states, and the answer they make. Written
# apart from the generator, so that a template whose arithmetic drifts from its story fails here.
def _exact(numerator: int, denominator: int) -> int:
    assert numerator % denominator == 0, "the story divides with a remainder"
    return numerator // denominator


READINGS = {
    r"buys (\d+) \w+ that cost \$(\d+) each .* \$(\d+) bill": lambda n, p, b: b - n * p,
    r"sells (\d+) \w+ on \w+ and (\d+) .* at \$(\d+) each": lambda a, b, p: (a + b) * p,
    r"collects (\d+) .* and (\d+) more .* into (\d+) boxes": lambda a, b, k: _exact(a + b, k),
    r"cycles at (\d+) \D+ for (\d+) hours .* and (\d+) hours": lambda v, a, b: v * (a + b),
    r"reads (\d+) pages a day .* has (\d+) pages\. After (\d+) days": lambda r, n, d: n - r * d,
    r"orders (\d+) boxes .* holds (\d+) packs, and each pack has (\d+)": lambda a, b, c: a * b * c,
    r"has (\d+) \w+\. \w+ gives (\d+) of them .* buys (\d+) more": lambda a, b, c: a - b + c,
    r"has (\d+) \w+\. \w+ has (\d+) times as many": lambda a, k: a * k - a,
    r"is (\d+) years old, .* is (\d+) times as old .* (\d+) years ago": lambda a, k, y: a * k - y,
    r"saves \$(\d+) every week for (\d+) weeks\. .* spends \$(\d+)": lambda s, w, c: s * w - c,
    r"makes (\d+) \w+ with (\d+) cups .* to make (\d+) \w+\?": lambda n, c, m: _exact(c * m, n),
    r"goes (\d+) \D+ for (\d+) hours, then (\d+) \D+ for (\d+)": lambda v, h, w, g: v * h + w * g,
    r"costs \$(\d+)\. .* with (\d+)% off": lambda p, pct: _exact(p * (100 - pct), 100),
}


def test_the_same_call_gives_the_same_problems_on_every_machine():
    first = arithmetic_examples("validation", 50)
    assert first == arithmetic_examples("validation", 50)
    assert first[:10] == arithmetic_examples("validation", 10)  # more never changes the first
    # Pinned once: a change here changes every stored result on this dataset.
    assert first[0] == Example(
        id="arith-validation-0000",
        question="Emeka has 71 oranges. He gives 37 of them to Lucas and then buys 17 more. "
        "How many oranges does Emeka have now?",
        answer="51",
    )
    assert [e.id for e in first[:3]] == [f"arith-validation-000{i}" for i in range(3)]


def test_a_salt_draws_another_set_that_only_the_same_salt_makes_again():
    plain = arithmetic_examples("validation", 200)
    salted = arithmetic_examples("validation", 200, salt="a secret of a search")
    assert salted == arithmetic_examples("validation", 200, salt="a secret of a search")
    assert salted[:20] == arithmetic_examples("validation", 20, salt="a secret of a search")
    other = arithmetic_examples("validation", 200, salt="another secret")
    questions = {e.question for e in salted}
    assert len(questions & {e.question for e in plain}) <= 2  # a coincidence, at most
    assert len(questions & {e.question for e in other}) <= 2
    assert arithmetic_examples("validation", 50, salt="") == plain[:50]  # no salt: as always
    owned = {s: {e.question for e in arithmetic_examples(s, 500, salt="x")} for s in SPLITS}
    assert not owned["train"] & owned["validation"] and not owned["validation"] & owned["test"]


def test_splits_are_disjoint_and_questions_unique(splits):
    questions = {split: [e.question for e in examples] for split, examples in splits.items()}
    for split, listed in questions.items():
        assert len(listed) == N
        assert len(set(listed)) == N, f"a question repeats within {split}"
    train, validation, test = (set(questions[s]) for s in SPLITS)
    assert not train & validation and not train & test and not validation & test


def test_no_question_hides_inside_another(splits):
    """A prompt is matched to its question by substring search, so no question may contain
    another. Each has one "?", at its end: one inside another would be a suffix of it, and
    suffixes sort next to each other once the strings are reversed."""
    questions = [e.question for examples in splits.values() for e in examples]
    assert all(q.count("?") == 1 and q.endswith("?") for q in questions)
    backwards = sorted(q[::-1] for q in questions)
    for shorter, longer in itertools.pairwise(backwards):
        assert not longer.startswith(shorter), shorter[::-1]


def test_every_answer_is_what_the_question_states(splits):
    seen = dict.fromkeys(READINGS, 0)
    for example in (e for examples in splits.values() for e in examples):
        assert example.answer == str(int(example.answer)) and int(example.answer) >= 0
        assert normalise_answer(example.answer) == example.answer
        matches = [
            (pattern, m) for pattern in READINGS if (m := re.search(pattern, example.question))
        ]
        assert len(matches) == 1, f"{len(matches)} readings fit {example.question!r}"
        pattern, match = matches[0]
        numbers = [int(g) for g in match.groups()]
        assert READINGS[pattern](*numbers) == int(example.answer), example.question
        seen[pattern] += 1
    assert len(TEMPLATES) == len(READINGS) >= 8
    assert min(seen.values()) > 3 * N / len(READINGS) / 2, seen  # every template is used


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown split"):
        arithmetic_examples("dev", 3)
    with pytest.raises(ValueError, match="n must be"):
        arithmetic_examples("train", -1)
    assert arithmetic_examples("test", 0) == []


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("42", "42"),
        ("  42 \n", "42"),
        ("$42", "42"),
        ("42.", "42"),
        ("1,234", "1234"),
        ("$1,234,567.00", "1234567"),
        ("42.0", "42"),
        ("42.50", "42.5"),
        ("007", "7"),
        (".5", "0.5"),
        ("-3", "-3"),
        ("-0", "0"),
        ("The answer is 42.", "42"),
        ("From 12 apples, 5 are left: 7", "7"),
        ("pages 2-3", "3"),  # a hyphen between numbers is no minus sign
        ("1,2", "2"),  # not a thousands separator
        ("42 apples", "42"),
        ("Yes.", "yes"),
        ("  No idea ", "no idea"),
        ("", ""),
        (42, "42"),
        (42.0, "42"),
        (None, "none"),
    ],
)
def test_normalise_answer(given, normal):
    assert normalise_answer(given) == normal
