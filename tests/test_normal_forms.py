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


def test_a_worked_solution_is_scored_by_its_result_but_voted_on_as_text():
    worked = "6 boxes of 7 apples.\n6 * 7 = 42\nSo she has 42 apples."
    arithmetic = DATASETS["arithmetic"]({})
    assert same_answer(worked, "42") and arithmetic.same_answer(worked, "42")
    assert not same_answer("41 first,\nthen 43", "42")
    assert not same_answer("[[4, 2]]\n", "42")  # a grid is no number, on any line
    assert normalise_answer(worked) != "42"  # a vote compares final answers only


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
    parts, unusable = _read_plan(plan, 5)
    assert [q for q, _ in parts] == ["How many apples?", "Sum?"] and not unusable


def test_lenient_loads_takes_the_whole_text_and_nothing_else():
    assert lenient_json.loads(' {"a": [1, 2,],} ') == {"a": [1, 2]}
    with pytest.raises(json.JSONDecodeError):
        lenient_json.loads('{"a": 1} and more')
    with pytest.raises(ValueError):
        lenient_json.loads("not json")


def test_the_normal_form_folds_what_an_answer_may_vary_in():
    assert normalise_answer("42 km") == normalise_answer("42.0") == "42"
    assert normalise_answer("  New   York. ") == "new york"


@pytest.mark.parametrize(
    "text, value",
    [
        ("{'a': 'it\\'s', \"b\": \"Let's\"}", {"a": "it's", "b": "Let's"}),  # a Python dict
        ("{'ok': True, 'no': False, 'none': None}", {"ok": True, "no": False, "none": None}),
        ('{"a": 1, // why\n "b": [1, 2,], /* c */ "c": 3} ', {"a": 1, "b": [1, 2], "c": 3}),
        ('{"a": 1, # a note\n "b": "#not a comment"}', {"a": 1, "b": "#not a comment"}),
        ("{answer: 42, thinking: 'x'}", {"answer": 42, "thinking": "x"}),
        ("['a\\d', \"b\"]", ["a\\d", "b"]),
    ],
)
def test_lenient_loads_reads_the_python_flavoured_json_models_write(text, value):
    assert lenient_json.loads(text) == value


def test_what_is_no_json_stays_no_json():
    for text in ["{x}", "[1 2]", "{'a': 1", "{True: 1}", "{'a' 1}"]:
        with pytest.raises(ValueError):
            lenient_json.loads(text)


def test_values_in_text_are_found_outermost_first_and_each_once():
    text = 'Plan {"a": {"b": 1}} then {broken and {"c": [2]} end'
    inner = text.index('{"c"')
    assert list(lenient_json.values_in(text)) == [
        ({"a": {"b": 1}}, 5, 20),
        ({"c": [2]}, inner, inner + len('{"c": [2]}')),
    ]


@pytest.mark.parametrize(
    "given, normal",
    [
        ("The answer is $1,234.50.", "1234.5"),
        ("42%", "42"),
        ("3/4", "3/4"),
        ("6/8 of it", "3/4"),
        ("84/2", "42"),
        ("-1/2", "-1/2"),
        ("12/25/2023", "2023"),  # a date is no fraction
        # answers whose last number says nothing of them are compared as text
        ("[[0, 1], [1, 4]]", "[[0, 1], [1, 4]]"),
        ("0 1\n1 4\n", "0 1\n1 4"),
        ("def f(x):\n    return x + 1", "def f(x):\nreturn x + 1"),
        ('{"value": 4}', '{"value": 4}'),
        ("Step 1: 6*7\nAnswer: 42", "step 1: 6*7\nanswer: 42"),
    ],
)
def test_only_a_numeric_answer_is_reduced_to_its_number(given, normal):
    assert normalise_answer(given) == normal


def test_the_vote_tells_grids_and_code_apart_by_more_than_their_last_number():
    grids = ["[[0, 1], [1, 4]]", "[[4]]", "[[2, 4]]", "[[0,1],[1,4]]"]
    assert vote(grids) == "[[0, 1], [1, 4]]"
    assert vote(["[[4]]", "[[2, 4]]", "[[4]]"]) == "[[4]]"
    code = ["def f():\n    return 1", "def g():\n    return 1", "def g():\n    return 1"]
    assert vote(code) == "def g():\n    return 1"
