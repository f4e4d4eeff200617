"""One reader of JSON in model text and one normal form of an answer, on both sides of the
sandbox: what an agent's vote counts as one answer, scoring counts as one answer too."""

from __future__ import annotations

import json

import pytest

from agentic_design import lenient_json
from agentic_design.agents.decompose import _read_plan
from agentic_design.agents.toolkit import parse_fields, vote
from agentic_design.normalise import normalise_answer, same_answer
from agentic_design.tasks.agent.datasets import DATASETS


def test_the_vote_counts_equivalent_answers_as_one():
    assert vote(["41", "42 km", "42.0"]) == "42 km"  # two say 42, the first of them wins
    assert vote(["$1,234.50", "1234.5", "1,000"]) == "$1,234.50"
    assert vote(["Yes.", "no", "  YES "]) == "Yes."


def test_the_vote_and_the_scorer_agree_on_what_is_the_same():
    arithmetic = DATASETS["arithmetic"]({})
    for left, right in [("42.0", "42"), ("The answer is 7.", "7"), ("Paris.", "paris")]:
        assert same_answer(left, right)
        assert arithmetic.same_answer(left, right)
        assert vote([left, "something else", right]) == left
    assert not arithmetic.same_answer("41", "42")


@pytest.mark.parametrize(
    "reply",
    [
        '{"thinking": "6 times 7", "answer": "42",}',  # a trailing comma
        '```json\n{"thinking": "d[\\\'x\\\'] is 6*7", "answer": "42"}\n```',  # \\' escapes
        'Sure.\n{"thinking": "a regex \\d+ finds it", "answer": "42"}',  # \\d in a string
    ],
)
def test_an_agents_fields_are_read_as_leniently_as_the_meta_agents_answers(reply):
    assert parse_fields(reply, ["thinking", "answer"])["answer"] == "42"


def test_a_plan_with_a_trailing_comma_is_read():
    plan = '[{"question": "How many apples?", "uses": []}, {"question": "Sum?", "uses": [0]},]'
    assert [q for q, _ in _read_plan(plan, 5)] == ["How many apples?", "Sum?"]


def test_lenient_loads_takes_the_whole_text_and_nothing_else():
    assert lenient_json.loads(' {"a": [1, 2,],} ') == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        lenient_json.loads('{"a": 1} and more')
    with pytest.raises(ValueError):
        lenient_json.loads("not json")


def test_the_normal_form_folds_what_an_answer_may_vary_in():
    assert normalise_answer("42 km") == normalise_answer("42.0") == "42"
    assert normalise_answer("  New   York. ") == "new york"
