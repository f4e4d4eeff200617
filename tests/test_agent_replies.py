"""Agents' replies, in the shapes real models write them.

Each case is a reply to an agent that asked for JSON fields, written the way some model answers
(fenced, after prose, as a Python dict, with comments, as markdown lines, echoing the format
first...), and the exact fields the toolkit must read from it, or the exact fields it must find
missing. The same cases then go through an `Agent` (a missing field is asked for once more, then
fails the call) and through the ADAS adapter (a missing field is '', as in ADAS).

At the end, the seed agents and ADAS-format agents of our own are scored through the real
sandbox and broker against `RealisticModel` on a loopback server: no example fails because a
reply could not be read, and the seeds score as they do under clean replies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from agentic_design.agents import adas, events, toolkit
from agentic_design.agents.channel import CallFailed, Pending, Reply, current_example
from agentic_design.agents.decompose import PLAN_EVENTS, solve_in_parts
from agentic_design.agents.fields import read_fields
from agentic_design.agents.toolkit import (
    FIELDS_LINE,
    REASKED,
    Agent,
    AgentError,
    MissingFields,
    parse_fields,
    sample,
)

SOLVER = {
    "thinking": "your step-by-step reasoning",
    "answer": "the final answer only, with no words or units",
}
CRITIC = {"feedback": "what is wrong and how to fix it", "correct": "yes or no"}
ONE = {"answer": "the final answer only"}
CODE = {"code": "the complete Python function"}

# (id, reply, the fields asked, the fields read, the fields missing)
CASES: list[tuple[str, str, dict[str, str], dict[str, str], tuple[str, ...]]] = []


def case(
    case_id: str,
    reply: str,
    read: dict[str, str],
    missing: tuple[str, ...] = (),
    asked: dict[str, str] = SOLVER,
) -> None:
    CASES.append((case_id, reply, asked, read, missing))


SIX_SEVENS = {"thinking": "6 times 7", "answer": "42"}

# -- JSON, as JSON-mode models write it -------------------------------------------------------
case("clean", '{"thinking": "6 times 7", "answer": "42"}', SIX_SEVENS)
case("pretty", '{\n  "thinking": "6 times 7",\n  "answer": "42"\n}', SIX_SEVENS)
case("key-order", '{"answer": "42", "thinking": "6 times 7"}', SIX_SEVENS)
case("keys-in-capitals", '{"Thinking": "6 times 7", "ANSWER": "42"}', SIX_SEVENS)
case("number", '{"thinking": "6 times 7", "answer": 42}', SIX_SEVENS)
case(
    "float",
    '{"thinking": "half of 85", "answer": 42.5}',
    {"thinking": "half of 85", "answer": "42.5"},
)
case(
    "grid-as-a-list",
    '{"thinking": "flip it", "answer": [[1, 2], [3, 4]]}',
    {"thinking": "flip it", "answer": "[[1, 2], [3, 4]]"},
)
case(
    "nested-thinking-object",
    '{"thinking": {"step 1": "6 times 7", "step 2": "is 42"}, "answer": "42"}',
    {"thinking": "step 1: 6 times 7; step 2: is 42", "answer": "42"},
)
case(
    "thinking-that-holds-an-answer-object",
    '{"thinking": "not {\\"answer\\": \\"41\\"}", "answer": "42"}',
    {"thinking": 'not {"answer": "41"}', "answer": "42"},
)
case(
    "extra-fields",
    '{"thinking": "6 times 7", "answer": "42", "confidence": "high", "notes": "none"}',
    SIX_SEVENS,
)
case(
    "raw-control-characters",
    '{"thinking": "6 times 7,\n\tchecked", "answer": "42"}',
    {"thinking": "6 times 7,\n\tchecked", "answer": "42"},
)
case(
    "regex-escapes",
    '{"thinking": "\\d+ finds 42", "answer": "42"}',
    {"thinking": "\\d+ finds 42", "answer": "42"},
)
case(
    "unicode",
    '{"thinking": "6×7 — d’après ✓ 数字", "answer": "42"}',
    {"thinking": "6×7 — d’après ✓ 数字", "answer": "42"},
)
case(
    "unicode-escapes",
    '{"thinking": "d\\u2019apr\\u00e8s", "answer": "42"}',
    {"thinking": "d’après", "answer": "42"},
)
LONG = "Then I check every quantity again. " * 300
case(
    "long-thinking",
    json.dumps({"thinking": LONG, "answer": "42"}),
    {"thinking": LONG, "answer": "42"},
)
case(
    "wrapped-in-another-object",
    '{"response": {"thinking": "6 times 7", "answer": "42"}}',
    SIX_SEVENS,
)

# -- JSON with the mistakes of hand-written JSON ------------------------------------------------
case("trailing-comma", '{"thinking": "6 times 7", "answer": "42",}', SIX_SEVENS)
case("trailing-comma-pretty", '{\n  "thinking": "6 times 7",\n  "answer": "42",\n}', SIX_SEVENS)
case(
    "trailing-comma-in-a-list",
    '{"thinking": ["6", "times 7",], "answer": "42",}',
    {"thinking": '["6", "times 7"]', "answer": "42"},
)
case("python-dict", "{'thinking': '6 times 7', 'answer': '42'}", SIX_SEVENS)
case(
    "python-dict-with-an-apostrophe",
    "{'thinking': \"Let's multiply\", 'answer': '42'}",
    {"thinking": "Let's multiply", "answer": "42"},
)
case(
    "python-dict-escaped-quote",
    "{'thinking': 'it\\'s 6 times 7', 'answer': '42'}",
    {"thinking": "it's 6 times 7", "answer": "42"},
)
case(
    "python-literals",
    '{"thinking": "6 times 7", "answer": "42", "verified": True, "notes": None}',
    SIX_SEVENS,
)
case(
    "a-verdict-as-a-python-bool",
    "{'feedback': 'Right.', 'correct': True}",
    {"feedback": "Right.", "correct": "True"},
    asked=CRITIC,
)
case(
    "a-verdict-as-a-json-bool",
    '{"feedback": "Off by one.", "correct": false}',
    {"feedback": "Off by one.", "correct": "False"},
    asked=CRITIC,
)
case(
    "line-comments",
    '{\n  // reasoning first\n  "thinking": "6 times 7",\n  "answer": "42" // final\n}',
    SIX_SEVENS,
)
case(
    "block-and-hash-comments",
    '{/* mine */ "thinking": "6 times 7", # why\n "answer": "42"}',
    SIX_SEVENS,
)
case("keys-without-quotes", '{thinking: "6 times 7", answer: 42}', SIX_SEVENS)

# -- JSON among prose ----------------------------------------------------------------------------
case("fenced", '```json\n{"thinking": "6 times 7", "answer": "42"}\n```', SIX_SEVENS)
case("fenced-no-language", '```\n{"thinking": "6 times 7", "answer": "42"}\n```', SIX_SEVENS)
case(
    "prose-then-json",
    'Let me work it out.\nSix sevens.\n\n{"thinking": "6 times 7", "answer": "42"}',
    SIX_SEVENS,
)
case(
    "json-then-prose",
    '{"thinking": "6 times 7", "answer": "42"}\n\nI hope this helps! Ask if unclear.',
    SIX_SEVENS,
)
case(
    "prose-with-braces-first",
    'In set notation {x | x = 6*7}, so:\n{"thinking": "6 times 7", "answer": "42"}',
    SIX_SEVENS,
)
case(
    "draft-then-final",
    'Draft: {"thinking": "6 times 6", "answer": "36"}\n'
    'Wait, that is wrong.\nFinal: {"thinking": "6 times 7", "answer": "42"}',
    SIX_SEVENS,
)
case(
    "echo-of-the-format-then-the-answer",
    f"You asked for:\n{json.dumps(SOLVER)}\n\nMy reply:\n" + json.dumps(SIX_SEVENS),
    SIX_SEVENS,
)
case(
    "echo-with-ellipses-then-the-answer",
    '{"thinking": "...", "answer": "..."}\n{"thinking": "6 times 7", "answer": "42"}',
    SIX_SEVENS,
)
case(
    "the-answer-then-an-echo",
    '{"thinking": "6 times 7", "answer": "42"}\n(format: {"thinking": "...", "answer": "..."})',
    SIX_SEVENS,
)
case(
    "one-field-echo-then-answer",
    '{"answer": "..."}\n\n{"answer": "42"}',
    {"answer": "42"},
    asked=ONE,
)

# -- markdown and labelled lines -------------------------------------------------------------------
case("bold-labels", "**Thinking:** 6 times 7\n**Answer:** 42", SIX_SEVENS)
case("bold-names-colon-outside", "**Thinking**: 6 times 7\n\n**Answer**: 42", SIX_SEVENS)
case("plain-labels", "Thinking: 6 times 7\nAnswer: 42", SIX_SEVENS)
case("bullets", "- thinking: 6 times 7\n- answer: 42\n\nThat's all.", SIX_SEVENS)
case("headings", "## Thinking\n6 times 7\n\n## Answer\n42\n", SIX_SEVENS)
case(
    "multi-line-thinking",
    "**Thinking:** six sevens\nmake 42\n\n**Answer:** **42**\n\nHope this helps!",
    {"thinking": "six sevens\nmake 42", "answer": "42"},
)
case(
    "an-object-and-a-label",
    '{"thinking": "6 times 7"}\nAnswer: 42',
    SIX_SEVENS,
)
case(
    "json-cut-off",
    '{"thinking": "6 times 7",\n "answer": "42"',
    SIX_SEVENS,
)
case(
    "a-labelled-code-block",
    "**Code:**\n```python\ndef f(x):\n\n    return x + 1\n```",
    {"code": "```python\ndef f(x):\n\n    return x + 1\n```"},
    asked=CODE,
)

# -- one field: the reply may be the answer itself ----------------------------------------------
case("one-field-plain-text", "42", {"answer": "42"}, asked=ONE)
case("one-field-sentence", "  The answer is 42.\n", {"answer": "The answer is 42."}, asked=ONE)
case("one-field-fenced-json", '```json\n{"answer": "42"}\n```', {"answer": "42"}, asked=ONE)
case("one-field-a-grid", "[[1, 2], [3, 4]]", {"answer": "[[1, 2], [3, 4]]"}, asked=ONE)
CODE_WITH_A_DICT = 'def count(words):\n    seen = {"a": 0}\n    return len(words)'
case("one-field-code-with-a-dict", CODE_WITH_A_DICT, {"code": CODE_WITH_A_DICT}, asked=CODE)

# -- fields missing: reported, never guessed ------------------------------------------------------
case("missing-answer", '{"thinking": "6 times 7"}', {"thinking": "6 times 7"}, ("answer",))
case(
    "null-answer",
    '{"thinking": "6 times 7", "answer": null}',
    {"thinking": "6 times 7"},
    ("answer",),
)
case("empty-reply", "", {}, ("thinking", "answer"))
case("prose-only", "It is 42, I think.", {}, ("thinking", "answer"))
case("one-field-json-without-it", '{"result": "42"}', {}, ("answer",), asked=ONE)
case("one-field-only-the-format", '{"answer": "the final answer only"}', {}, ("answer",), asked=ONE)
case("only-the-format-echoed", json.dumps(SOLVER), {}, ("thinking", "answer"))
case("the-other-field-only", '{"correct": "yes"}', {"correct": "yes"}, ("feedback",), asked=CRITIC)


def test_the_corpus_is_large_and_its_cases_distinct():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    assert len({c[1] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    "reply, asked, read, missing", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_reply_is_read_exactly(reply, asked, read, missing):
    found = read_fields(reply, asked)
    assert found.values == read
    assert found.missing == missing
    if missing:
        assert all(json.dumps(f) in found.problem for f in missing)
        with pytest.raises(MissingFields) as raised:
            parse_fields(reply, asked)
        assert raised.value.missing == missing
    else:
        assert parse_fields(reply, asked) == read


def test_the_problem_says_what_was_wrong():
    problem = read_fields
    assert problem("", SOLVER).problem == (
        'the reply was empty: it lacked the fields "thinking", "answer"'
    )
    assert problem('{"thinking": "x"}', SOLVER).problem == (
        'the reply\'s JSON object lacked the field "answer"'
    )
    assert problem(json.dumps(SOLVER), SOLVER).problem.startswith(
        "the reply only repeated the format asked for"
    )
    assert problem("It is 42.", SOLVER).problem.startswith("the reply held no JSON object")


# -- the toolkit and the ADAS adapter, over a scripted channel ------------------------------------


class ScriptedChannel:
    """Stands for the broker channel in this process: each call's reply is the next of a script
    (a reply, or an Exception to fail the call with); every call is kept."""

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def submit(self, messages, temperature=0.0, sample=0, **asked: Any) -> Pending:
        with self.lock:
            self.calls.append({"messages": messages, "sample": sample, **asked})
            reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise CallFailed(str(reply))
        done = threading.Event()
        done.set()
        return Pending(str(len(self.calls)), done, [{"text": reply}])

    def wait(self, pending: Pending, timeout=None) -> Reply:
        return Reply(text=pending.box[0]["text"])

    def _forget(self, call_id: str) -> None:
        pass


@pytest.fixture
def channel(monkeypatch) -> Callable[..., ScriptedChannel]:
    def script(*replies: str | Exception) -> ScriptedChannel:
        scripted = ScriptedChannel(*replies)
        monkeypatch.setattr(toolkit, "client", lambda: scripted)
        return scripted

    current_example.set("example-1")
    events.take("example-1")
    return script


@pytest.mark.parametrize(
    "reply, asked, read", [c[1:4] for c in CASES if not c[4]], ids=[c[0] for c in CASES if not c[4]]
)
def test_an_agent_reads_each_readable_reply_in_one_call(channel, reply, asked, read):
    scripted = channel(reply)
    assert Agent("a solver", outputs=asked)("What is 6 times 7?") == read
    assert len(scripted.calls) == 1 and not events.take("example-1")


@pytest.mark.parametrize(
    "reply, asked, read, missing", [c[1:] for c in CASES if c[4]], ids=[c[0] for c in CASES if c[4]]
)
def test_an_agent_asks_once_more_for_what_a_reply_lacked(channel, reply, asked, read, missing):
    complete = {field: f"the {field}" for field in asked}
    scripted = channel(reply, json.dumps(complete))
    assert Agent("a solver", outputs=asked)("What is 6 times 7?", sample=3) == complete
    first, again = scripted.calls
    # the same conversation, the reply shown back, and what it lacked said exactly
    assert again["messages"][:2] == first["messages"]
    assert again["messages"][2] == {"role": "assistant", "content": reply}
    follow_up = again["messages"][3]["content"]
    assert follow_up == (
        f"Your last reply could not be used: {read_fields(reply, asked).problem}.\n\n"
        f"{FIELDS_LINE}\n{json.dumps(asked)}"
    )
    assert again["sample"] == first["sample"] == 3  # a replay asks the same again
    assert events.take("example-1") == {REASKED: 1}


def test_a_partial_reply_is_completed_by_the_answer_to_the_follow_up(channel):
    channel('{"thinking": "6 times 7"}', '{"answer": "42"}')
    assert Agent("a solver")("What is 6 times 7?") == SIX_SEVENS


def test_a_field_still_missing_after_asking_again_fails_the_call_naming_it(channel):
    scripted = channel('{"thinking": "6 times 7"}', "Sorry, I cannot answer that.")
    with pytest.raises(MissingFields) as raised:
        Agent("a solver")("What is 6 times 7?")
    assert raised.value.missing == ("answer",)
    assert isinstance(raised.value, AgentError)
    assert str(raised.value).startswith(
        "the model's reply lacked fields even when asked again: the reply held no JSON object "
        'that could be read: it lacked the fields "thinking", "answer": '
        "'Sorry, I cannot answer that.'"
    )
    assert len(scripted.calls) == 2  # asked again once, not more


def test_samples_are_asked_again_under_their_own_sample_number(channel):
    scripted = channel(
        '{"thinking": "a", "answer": "42"}',
        '{"thinking": "b"}',
        '{"thinking": "c", "answer": "42"}',
        '{"answer": "41"}',
    )
    answers = sample(Agent("a solver", temperature=0.8), "What is 6 times 7?", n=3)
    assert [a["answer"] for a in answers] == ["42", "41", "42"]
    assert [c["sample"] for c in scripted.calls] == [0, 1, 2, 1]


def test_a_failed_call_is_an_agent_error_not_a_missing_field(channel):
    channel(RuntimeError("the evaluation's cap of 10 LLM calls is reached"))
    with pytest.raises(AgentError, match="cap of 10") as raised:
        Agent("a solver")("What is 6 times 7?")
    assert not isinstance(raised.value, MissingFields)


ADAS_SOLVER = ["thinking", "answer"]


def adas_call(fields: list[str]) -> list[adas.Info]:
    agent = adas.LLMAgentBase(fields, "Solver")
    return agent([adas.task_info("What is 6 times 7?")], "Solve it.")


@pytest.mark.parametrize(
    "reply, asked, read, missing", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_adas_adapter_fills_what_is_missing_with_empty_text(
    channel, reply, asked, read, missing
):
    for field, description in asked.items():  # the format ADAS's agents ask in
        reply = reply.replace(json.dumps(description), json.dumps(adas.describe(field)))
    scripted = channel(reply)
    infos = adas_call(list(asked))
    assert [info.name for info in infos] == list(asked)
    assert {info.name: info.content for info in infos} == {f: read.get(f, "") for f in asked}
    assert len(scripted.calls) == 1  # never asked again, never an error
    counted = events.take("example-1")
    assert counted == ({adas.FILLED: 1} if missing else {})


def test_the_adas_adapter_keeps_the_fields_asked_in_their_order(channel):
    channel('{"answer": "42", "confidence": "high", "thinking": "6 times 7"}')
    thinking, answer = adas_call(ADAS_SOLVER)
    assert (thinking.name, thinking.content, answer.content) == ("thinking", "6 times 7", "42")
    assert answer.author == thinking.author and answer.iteration_idx == -1


def test_the_adas_adapter_still_fails_on_a_refused_call(channel):
    channel(RuntimeError("the example's cap of 24 LLM calls is reached"))
    with pytest.raises(AgentError, match="cap of 24"):
        adas_call(ADAS_SOLVER)


# -- solve_in_parts: a bad plan is answered directly ----------------------------------------------

QUESTION = "Ana has 3 bags of 4 apples and eats 2. How many apples are left?"
DIRECT = '{"thinking": "12 - 2", "answer": "10"}'


def plan(*parts: Any) -> str:
    return json.dumps({"parts": json.dumps(list(parts))})


@pytest.mark.parametrize(
    "planner_replies, event",
    [
        (
            [
                plan(
                    {"question": "How many at first?", "uses": []},
                    {"question": QUESTION, "uses": [0]},
                )
            ],
            "restated",
        ),
        ([plan("How many at first?", "Answer this: " + QUESTION.lower())], "restated"),
        ([plan()], "empty"),
        ([plan("How many apples are left?")], "one part"),
        ([json.dumps({"parts": "first count, then subtract"})], "unreadable"),
        ([json.dumps({"parts": "[1, 2]"})], "unreadable"),
        (['{"steps": []}', "I would rather not plan."], "unreadable"),
    ],
    ids=[
        "restates-the-question",
        "holds-the-question",
        "empty",
        "one-part",
        "prose",
        "not-questions",
        "no-parts-field",
    ],
)
def test_a_bad_plan_is_answered_directly_and_counted(channel, planner_replies, event):
    scripted = channel(*planner_replies, DIRECT)
    assert solve_in_parts(QUESTION) == "10"
    assert scripted.calls[-1]["messages"][-1]["content"] == f"Question:\n{QUESTION}"
    assert len(scripted.calls) == len(planner_replies) + 1  # the plan, then one answer
    counted = events.take("example-1")
    assert counted.pop(PLAN_EVENTS[event]) == 1
    assert counted == ({REASKED: 1} if len(planner_replies) == 2 else {})


def test_a_good_plan_is_followed(channel):
    good = plan(
        {"question": "How many at first?", "uses": []}, {"question": "After eating?", "uses": [0]}
    )
    scripted = channel(
        good, '{"thinking": "", "answer": "12"}', '{"thinking": "", "answer": "10"}', DIRECT
    )
    assert solve_in_parts(QUESTION) == "10"
    assert len(scripted.calls) == 4 and not events.take("example-1")


def test_a_failed_call_in_a_part_still_fails_the_example(channel):
    good = plan({"question": "How many at first?"}, {"question": "After eating?", "uses": [0]})
    channel(good, RuntimeError("the example's cap of 2 LLM calls is reached"))
    with pytest.raises(AgentError, match="cap of 2"):
        solve_in_parts(QUESTION)


# -- end to end: agents scored against realistic replies ------------------------------------------


@pytest.mark.slow
def test_agents_score_under_realistic_replies_as_under_clean_ones():
    from .realistic_model import (
        ADAS_AGENTS,
        SHAPES,
        agent_task,
        misread,
        parse_failures,
        score_on_loopback,
        seed_agents,
    )

    task = agent_task(examples=6)
    codes = {**seed_agents(), **ADAS_AGENTS}
    clean = score_on_loopback(task, codes, clean=True)
    realistic = score_on_loopback(task, codes, clean=False)
    served = [s for _, model in realistic.values() for s in model.served]
    assert {s.shape for s in served} == set(SHAPES)  # every shape was met
    assert not [s for s in served if misread(s)]
    for name in codes:
        (calm, _), (rough, model) = clean[name], realistic[name]
        assert rough.status is calm.status, (name, rough.error)
        assert parse_failures(rough) == 0, (name, rough.metrics.get("errors"))
        if name in ADAS_AGENTS:
            assert rough.metrics["failed_examples"] == 0, (name, rough.metrics.get("errors"))
        else:  # our toolkit asks again: nothing lost, the very same answers
            assert rough.metrics["failed_examples"] == calm.metrics["failed_examples"]
            assert abs(rough.fitness - calm.fitness) <= 0.02, name
        counted = rough.metrics.get("agent_events", {})
        if any(s.left_out for s in model.served):  # what the toolkit did about them, counted
            assert counted.get(adas.FILLED if name in ADAS_AGENTS else REASKED), name
        if name == "decompose":  # the simulated planner's plan is no plan
            assert counted[PLAN_EVENTS["unreadable"]] == 6
            assert calm.metrics["agent_events"] == {PLAN_EVENTS["unreadable"]: 6}
    asked_again = [s for s in served if s.again]
    assert asked_again and all(
        s.shape in ("clean", "fence", "prose_then_json") for s in asked_again
    )


def test_the_events_of_each_example_are_summed_in_the_metrics_and_forgeries_left_out():
    from .realistic_model import agent_task

    task = agent_task(examples=3)
    forged = {"x" * 81: 1, "a bool": True, "negative": -2, "a string": "3"}
    results = [
        {"id": e.id, "answer": e.answer, "events": events_}
        for e, events_ in zip(
            task.examples("validation"),
            [{REASKED: 2, "plan empty, answered directly": 1}, {REASKED: 1}, forged],
            strict=True,
        )
    ]
    score = task.score({"results": results}, "validation")
    assert score.metrics["agent_events"] == {REASKED: 3, "plan empty, answered directly": 1}
