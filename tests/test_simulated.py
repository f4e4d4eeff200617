"""The simulated model: a seeded noise model that is right with probability p_correct, replies
in the toolkit's JSON format, and replays exactly."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest

from agentic_design.agents.toolkit import FIELDS_LINE, Agent, parse_fields
from agentic_design.tasks.agent.data import arithmetic_examples
from agentic_design.tasks.agent.simulated import SimulatedModel, describe

SOLVER = {"thinking": "your step-by-step reasoning", "answer": "the final answer only"}
CRITIC = {"feedback": "what is wrong, or why it is right", "correct": "yes or no"}
QUESTION = "Ana has 3 bags with 4 apples in each. She eats 2 apples. How many apples are left?"


@pytest.fixture(scope="module")
def problems():
    return arithmetic_examples("validation", 1000)


def model_for(problems, **kwargs) -> SimulatedModel:
    return SimulatedModel({e.question: e.answer for e in problems}, **kwargs)


def call(question: str, fields: dict[str, str] = SOLVER, checked: str | None = None):
    """A call formatted as the toolkit formats it: fields in the system message."""
    user = f"Question:\n{question}"
    if checked is not None:
        user += f"\n\nAnswer to check: {checked}"
    return [
        {"role": "system", "content": f"You are a tutor.\n\n{FIELDS_LINE}\n{json.dumps(fields)}"},
        {"role": "user", "content": user},
    ]


def answer(model: SimulatedModel, messages, temperature: float = 0.7, sample: int = 0) -> str:
    return json.loads(model.complete(messages, temperature, sample))["answer"]


def test_the_reply_has_exactly_the_requested_fields_as_strings():
    model = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    fields = {"plan": "a plan", "answer": "the answer", "confidence": "low, medium or high"}
    reply = json.loads(model.complete(call(QUESTION, fields), temperature=0.0))
    assert list(reply) == ["plan", "answer", "confidence"]
    assert reply == {
        "plan": "(simulated) plan",
        "answer": "10",
        "confidence": "(simulated) confidence",
    }


def test_the_toolkits_own_prompts_are_understood():
    model = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    solver = Agent("a careful solver")
    reply = model.complete(solver.messages(QUESTION), 0.0)
    assert parse_fields(reply, ["thinking", "answer"])["answer"] == "10"
    critic = Agent("a strict reviewer", outputs=CRITIC)  # as `critique` builds it
    verdict = model.complete(critic.messages(f"{QUESTION}\n\nAnswer to check: $10."), 0.0)
    assert parse_fields(verdict, ["feedback", "correct"])["correct"] == "yes"


@pytest.mark.parametrize("p", [0.25, 0.6, 0.9])
def test_samples_are_right_with_probability_p(p):
    model = SimulatedModel({QUESTION: "10"}, p_correct=p)
    answers = [answer(model, call(QUESTION), 0.7, sample=i) for i in range(2000)]
    assert abs(answers.count("10") / 2000 - p) < 0.04
    wrong = Counter(int(a) for a in answers if a != "10")
    # offsets 1..12 either way, but never below zero: 0..9 and 11..22
    assert set(wrong) == set(range(23)) - {10}


def test_temperature_zero_is_greedy_and_right_on_a_fraction_p_of_questions(problems):
    model = model_for(problems, p_correct=0.6)
    right = 0
    for example in problems:
        replies = {model.complete(call(example.question), 0.0, sample=s) for s in (0, 0, 1, 7)}
        assert len(replies) == 1  # the same prompt, whatever the sample index
        right += json.loads(replies.pop())["answer"] == example.answer
    assert abs(right / len(problems) - 0.6) < 0.05
    assert model.times_asked(call(problems[0].question)) == 0  # greedy calls count nothing


def test_a_majority_of_five_samples_beats_one(problems):
    model = model_for(problems, p_correct=0.6)
    single = vote = 0
    for example in problems[:400]:
        answers = [answer(model, call(example.question), 0.8, sample=s) for s in range(5)]
        single += answers[0] == example.answer
        vote += Counter(answers).most_common(1)[0][0] == example.answer
    single_rate, vote_rate = single / 400, vote / 400
    assert vote_rate > single_rate + 0.1, (single_rate, vote_rate)
    assert vote_rate > 0.85  # plurality of 5 at p=0.6 with 24 ways to be wrong: about 0.9


def test_a_critic_is_right_with_probability_p_whichever_answer_it_checks(problems):
    model = model_for(problems, p_correct=0.7)
    for offered in ("truth", "wrong"):
        right = 0
        for example in problems:
            checked = example.answer if offered == "truth" else str(int(example.answer) + 1)
            reply = json.loads(model.complete(call(example.question, CRITIC, checked), 0.7))
            assert reply["correct"] in ("yes", "no")
            right += reply["correct"] == ("yes" if offered == "truth" else "no")
            if reply["correct"] == "no":
                assert example.answer not in reply["feedback"]  # feedback never leaks the truth
        assert abs(right / len(problems) - 0.7) < 0.05, offered


def test_p_one_and_p_zero_are_always_right_and_always_wrong():
    sure = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    contrary = SimulatedModel({QUESTION: "10"}, p_correct=0.0)
    for s in range(50):
        assert answer(sure, call(QUESTION), sample=s) == "10"
        assert answer(contrary, call(QUESTION), sample=s) != "10"
    # the checked answer is compared normalised: "$10." is the truth
    assert json.loads(sure.complete(call(QUESTION, CRITIC, "$10."), 0.0)) == {
        "feedback": "The answer looks right.",
        "correct": "yes",
    }
    assert json.loads(contrary.complete(call(QUESTION, CRITIC, "10"), 0.0)) == {
        "feedback": "Recheck the arithmetic: the answer seems off.",
        "correct": "no",
    }


def test_a_critic_asked_for_an_answer_too_gives_both():
    model = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    fields = {**CRITIC, "answer": "the corrected answer"}
    assert json.loads(model.complete(call(QUESTION, fields, "12"), 0.0)) == {
        "feedback": "Recheck the arithmetic: the answer seems off.",
        "correct": "no",
        "answer": "10",
    }


def test_an_unknown_question_is_answered_unknown():
    model = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    fields = {**CRITIC, **SOLVER}
    assert json.loads(model.complete(call("What is 2 + 2?", fields, "4"), 0.7)) == {
        "feedback": "(simulated) feedback",
        "correct": "unknown",
        "thinking": "(simulated) thinking",
        "answer": "unknown",
    }


def test_the_longest_known_question_in_the_prompt_wins():
    short = "How many apples are left?"
    model = SimulatedModel({short: "1", QUESTION: "10"}, p_correct=1.0)
    assert answer(model, call(QUESTION)) == "10"
    assert answer(model, call(f"Bo has 3 apples and eats 2. {short}")) == "1"


def test_a_call_without_a_fields_line_gets_a_sentence():
    model = SimulatedModel({QUESTION: "10"}, p_correct=1.0)
    assert model.complete([{"role": "user", "content": QUESTION}], 0.7) == "The answer is 10."
    broken = [
        {"role": "system", "content": f"{FIELDS_LINE}\nnot json"},
        {"role": "user", "content": QUESTION},
    ]
    assert model.complete(broken, 0.0) == "The answer is 10."
    assert model.complete([{"role": "user", "content": "Hi"}], 0.0) == "The answer is unknown."


def test_a_non_numeric_truth_has_wrong_answers_that_are_not_it():
    model = SimulatedModel({QUESTION: "Paris"}, p_correct=0.0, spread=3)
    wrong = {answer(model, call(QUESTION), sample=s) for s in range(200)}
    assert len(wrong) == 6 and "Paris" not in wrong


def test_repeated_calls_differ_but_a_fresh_model_replays_them():
    def run(model: SimulatedModel) -> list[str]:
        return [answer(model, call(QUESTION), 1.0) for _ in range(40)]

    model = SimulatedModel({QUESTION: "10"})
    first = run(model)
    assert len(set(first)) > 3  # the same prompt, asked again, is a fresh sample
    assert model.times_asked(call(QUESTION)) == 40
    assert run(SimulatedModel({QUESTION: "10"})) == first
    assert run(SimulatedModel({QUESTION: "10"}, seed=1)) != first
    # Pinned once: the draws are sha256 of canonical JSON, the same on every machine.
    assert first[:8] == ["3", "10", "12", "10", "16", "10", "10", "11"]


def test_replay_holds_per_prompt_whatever_the_interleaving():
    other = "Ben has 5 pens and buys 4 more. How many pens does he have?"
    answers = {QUESTION: "10", other: "9"}
    together, apart = SimulatedModel(answers), SimulatedModel(answers)
    mixed = [(q, answer(together, call(q))) for _ in range(30) for q in (QUESTION, other)]
    for question in (other, QUESTION):  # asked in the other order, one after the other
        alone = [answer(apart, call(question)) for _ in range(30)]
        assert alone == [a for q, a in mixed if q == question]


def test_concurrent_calls_each_get_their_own_count():
    model, serial = SimulatedModel({QUESTION: "10"}), SimulatedModel({QUESTION: "10"})
    replies: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(100):
            reply = answer(model, call(QUESTION), sample=3)
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.times_asked(call(QUESTION), sample=3) == 800
    expected = [answer(serial, call(QUESTION), sample=3) for _ in range(800)]
    assert Counter(replies) == Counter(expected)  # each count 0..799 used exactly once


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="p_correct"):
        SimulatedModel({}, p_correct=1.5)
    with pytest.raises(ValueError, match="p_correct"):
        SimulatedModel({}, p_correct=-0.1)
    with pytest.raises(ValueError, match="spread"):
        SimulatedModel({}, spread=0)
    with pytest.raises(ValueError, match="temperature"):
        SimulatedModel({}).complete(call(QUESTION), temperature=-1.0)


def test_describe_is_one_paragraph_that_names_its_limits():
    text = describe()
    assert "\n" not in text and "p_correct" in text and "not" in text
