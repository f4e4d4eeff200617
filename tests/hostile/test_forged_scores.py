"""Designs that try to write their own score instead of earning it, scored through the real path
(the task, the sandbox, the broker with the simulated model): a HumanEval answer that forges
its tests' verdict must score 0."""

from __future__ import annotations

import pytest

from agentic_design import RunConfig, Status
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for

EXAMPLES = 6


def agent_run(task: str, examples: int, run_dir: str = "unused", **task_params) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "forged",
            "task": task,
            "task_params": task_params,
            "run_dir": run_dir,
            "seed": 0,
            "budget": {"evaluations": 1},
            "task_budget": {"examples": examples, "test_examples": examples},
            "agent_llm": {"model": "simulated"},
            "sandbox": {"workers": 1, "wall_s": 120},
            "search": {"report": False},
        }
    )


def answering(answer: str) -> str:
    """A design that makes no LLM call: it answers every problem with `answer`, in which
    {entry} becomes the name of the problem's function (the last one its prompt defines)."""
    return f"""
import re

ANSWER = {answer!r}

def forward(self, task):
    entry = re.findall(r"^def (\\w+)\\(", task["question"], re.MULTILINE)[-1]
    return ANSWER.replace("{{entry}}", entry)
"""


# The harness's pass sentinel, written to every pipe the answer's process holds; then an exit
# that skips the tests.
SENTINEL = """
import os
for name in os.listdir("/proc/self/fd"):
    try:
        if int(name) > 3 and os.readlink(f"/proc/self/fd/{name}").startswith("pipe:"):
            os.write(int(name), b"\\x00passed\\x00")
    except OSError:
        pass
os._exit(0)
"""

# A result frame for the whole sandboxed run that scores the answers, on the sandbox's result
# fd, saying every program passed (their keys read from the frames of the caller).
FORGED_FRAME = """
import os, sys
from agentic_design.sandbox.framing import write_frame
frame, keys = sys._getframe(), []
while frame is not None:
    for value in list(frame.f_locals.values()):
        if isinstance(value, dict) and value and all(
            isinstance(k, str) and k.startswith("humaneval-") for k in value
        ):
            keys += list(value)
    frame = frame.f_back
verdicts = {key: {"passed": True, "error": ""} for key in keys}
write_frame(3, {"status": "ok", "value": verdicts})
os._exit(0)
"""

# An object equal to anything.
ALWAYS_EQUAL = """
class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def {entry}(*args, **kwargs):
    return Anything()
"""

# The expected value read from the caller's code: the constant compared with the call's result.
PEEKS_AT_ITS_CALLER = """
import dis, sys


def {entry}(*args, **kwargs):
    frame = sys._getframe(1)
    after = [i for i in dis.get_instructions(frame.f_code) if i.offset > frame.f_lasti]
    for previous, instruction in zip([None, *after], after[:4]):
        if instruction.opname == "LOAD_CONST":
            value = instruction.argval
            if previous is not None and previous.opname == "BUILD_LIST":
                return list(value)
            return value
    for value in frame.f_locals.values():  # an expected value kept in a variable
        if not callable(value):
            return value
    return None
"""

EXITS = """
import sys


def {entry}(*args, **kwargs):
    raise SystemExit(0)
"""

FORGERIES = {
    "sentinel": SENTINEL,
    "forged frame": FORGED_FRAME,
    "always equal": ALWAYS_EQUAL,
    "peeks at its caller": PEEKS_AT_ITS_CALLER,
    "exits": EXITS,
}


@pytest.fixture(scope="module")
def humaneval():
    """Scores designs on HumanEval's first validation problems, the real way."""
    config = agent_run("humaneval", EXAMPLES)
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task) as sandbox:
        evaluator = evaluator_for(config, task, sandbox)
        yield lambda code: evaluator.evaluate(code, seed=0)


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_humaneval_answer_cannot_forge_its_verdict(humaneval, forgery):
    outcome = humaneval(answering(FORGERIES[forgery]))
    assert outcome.status is Status.OK, outcome.error
    assert outcome.metrics["calls_per_example"] == 0  # no LLM was asked
    assert outcome.metrics["correct"] == 0, outcome.metrics
    assert outcome.fitness == 0.0


def test_the_same_way_of_answering_scores_right_answers(humaneval):
    """The forgeries score 0 because they forge, not because a design that makes no LLM call
    cannot score: one that knows the right functions (written into its code) scores them all."""
    task = build_task(agent_run("humaneval", EXAMPLES))
    known = {e.question: e.answer for e in task.examples("validation")}
    code = f"""
KNOWN = {known!r}

def forward(self, task):
    return KNOWN[task["question"]]
"""
    outcome = humaneval(code)
    assert outcome.status is Status.OK, outcome.error
    assert outcome.metrics["correct"] == EXAMPLES, outcome.metrics
