"""Problem folders written for OpenEvolve or ShinkaEvolve, searched as they are.

A folder holds a starting program whose evolve blocks (`evolve_block`) are what proposals
change, an evaluator that scores a program's file, and perhaps a config. Nothing in it is
rewritten for us: inside the sandbox the task writes the candidate to a file and calls the
folder's own evaluator on it (`runner`: OpenEvolve's `evaluate(program_path)`, in-process as
OpenEvolve does, or Shinka's `evaluate.py` as a process of its own, whose
`shinka.core.run_shinka_eval` our shim provides). The evaluator may start the candidate as a
further process (OpenEvolve's circle-packing evaluator does); every process of an evaluation
inherits the sandbox's confinement, so the host is protected whatever the candidate does.

The score is only as trustworthy as the folder's evaluator: it runs beside the candidate, in
the same sandbox, as it does in those systems, so a candidate can reach it (patch its checks,
write the results file it reads). The built-in reference tasks (`circle_packing`,
`autocorrelation`) verify outside the sandbox instead.

Outside, `score` takes the evaluator's `combined_score` as the fitness (else, as OpenEvolve
does, the mean of its numeric metrics), records every other metric, and turns what the evaluator
reports as wrong — Shinka's `correct: false`, an `error` metric — into an invalid design with
that text, so the proposer sees it in its repair loop.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Literal

from agentic_design.mutations.generic import generic_operators
from agentic_design.mutations.operators import Operators
from agentic_design.records import Origin, Proposal
from agentic_design.tasks.base import (
    InvalidDesign,
    InvalidOutputs,
    Score,
    Split,
    Task,
    TaskBudget,
    params_fingerprint,
)
from agentic_design.tasks.common import ast_nodes
from agentic_design.tasks.folder.evolve_block import Template, block_operators, cut

Format = Literal["openevolve", "shinka"]

#: Each system's files: (starting program, evaluator).
FILES: dict[str, tuple[str, str]] = {
    "openevolve": ("initial_program.py", "evaluator.py"),
    "shinka": ("initial.py", "evaluate.py"),
}
#: Folders a run or an editor leaves in a problem folder, which do not decide a score.
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".git", "openevolve_output", "results", "runs", ".ipynb_checkpoints"}
)
#: The fingerprint reads at most this much of the folder; past it, names and sizes only.
FINGERPRINT_BYTES = 64 * 1024 * 1024
#: The most metrics shown in a design's summary line, and the feedback text's length there.
SUMMARY_METRICS = 6
SUMMARY_FEEDBACK_CHARS = 300
#: How many processes one evaluation may run at once: the evaluator, a candidate process it
#: starts, and their threads.
PROCESS_CAP = 64
#: Metric names whose values depend on the machine's speed: kept, but never shown in the
#: summary line prompts are built from (a replay must ask the same questions).
TIMING_WORDS = ("time", "duration", "seconds", "elapsed", "latency", "runtime")


#: The task's parameters a folder's own settings give (`settings.TASK_PARAMS`), and their
#: defaults where neither the run's config nor the folder's gives one.
SETTING_DEFAULTS: dict[str, Any] = {
    "cascade": False,
    "thresholds": [],
    "feature_dimensions": [],
    "system_message": "",
    "timeout_s": None,
    "evaluator_args": {},
    "extra_args": {},
}
FOLDER_SETTINGS = frozenset({*SETTING_DEFAULTS, "evaluator"})


class FolderError(ValueError):
    """A problem folder that cannot be searched: not found, or without its program or
    evaluator. The message names the folder and what is missing."""


def detect_format(folder: Path) -> Format:
    """Which system's folder this is, from the files it holds."""
    found = [
        name
        for name, (program, evaluator) in FILES.items()
        if (folder / program).is_file() and (folder / evaluator).is_file()
    ]
    if len(found) == 1:
        return found[0]  # type: ignore[return-value]
    expected = " or ".join(
        f"{program} and {evaluator} ({name})" for name, (program, evaluator) in FILES.items()
    )
    if not found:
        raise FolderError(f"{folder} is not a problem folder: it should hold {expected}")
    raise FolderError(
        f"{folder} holds both an OpenEvolve and a Shinka problem: name one "
        "with task: {openevolve: FOLDER} or {shinka: FOLDER}"
    )


class ProblemFolderTask(Task):
    """An OpenEvolve or ShinkaEvolve problem folder, run unchanged."""

    name: ClassVar[str] = "problem_folder"
    kind: ClassVar[str] = "program"
    # The runner (and with it this module) once in the server, not in every evaluation.
    preload: ClassVar[tuple[str, ...]] = ("numpy", "agentic_design.tasks.folder.runner")
    fitness_name: ClassVar[str] = "combined_score"
    fitness_meaning: ClassVar[str] = (
        "the folder's evaluator's combined_score (else the mean of its numeric metrics, as "
        "OpenEvolve does); higher is better"
    )
    accepted_params: ClassVar[frozenset[str] | None] = frozenset(
        {
            "folder",
            "format",
            "program",
            "evaluator",
            "cascade",
            "thresholds",
            "feature_dimensions",
            "system_message",
            "timeout_s",
            "evaluator_args",
            "extra_args",
        }
    )
    loads_design: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # TypeError, like an unknown parameter: load_task reports it as a bad task_params.
        folder = params.get("folder")
        if not isinstance(folder, str) or not folder:
            raise TypeError("folder must name the problem folder (a path)")
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise TypeError(f"folder {folder!r} is not a directory")
        fmt = params.get("format", "auto")
        if fmt == "auto":
            try:
                fmt = detect_format(self.folder)
            except FolderError as exc:
                raise TypeError(str(exc)) from None
        if fmt not in FILES:
            raise TypeError(f"format must be one of {sorted(FILES)} or auto, not {fmt!r}")
        self.format: Format = fmt
        params = self._with_folder_settings(params)
        # The folder absolute and the format settled: the sandbox builds the task again, in a
        # working directory of its own, and a resume or a replay reads the folder the same way.
        self.params = {**params, "folder": str(self.folder), "format": fmt}
        program, evaluator = FILES[fmt]
        self.program_file = self.folder / _file_name(params, "program", program)
        self.evaluator_file = _file_name(params, "evaluator", evaluator)
        for path in (self.program_file, self.folder / self.evaluator_file):
            if not path.is_file():
                raise TypeError(f"{path} not found: a {fmt} problem folder needs it")
        self.cascade = params.get("cascade", False)
        if not isinstance(self.cascade, bool):
            raise TypeError(f"cascade must be true or false, not {self.cascade!r}")
        self.thresholds = _numbers(params.get("thresholds", []), "thresholds")
        self.feature_dimensions = _names(params.get("feature_dimensions", []))
        message = params.get("system_message")
        if message is not None and not isinstance(message, str):
            raise TypeError("system_message must be text")
        self.system_message = message or ""
        timeout = params.get("timeout_s")
        if timeout is not None and not (_number(timeout) and timeout > 0):
            raise TypeError(f"timeout_s must be a number of seconds > 0, not {timeout!r}")
        # The evaluation script's own limit (Shinka's job.time); else the sandbox's bounds it.
        self.timeout_s = float(timeout) if timeout is not None else math.inf
        self.evaluator_args = _mapping(params.get("evaluator_args", {}), "evaluator_args")
        self.extra_args = _mapping(params.get("extra_args", {}), "extra_args")
        self._template: Template | None = None

    def _with_folder_settings(self, params: dict[str, Any]) -> dict[str, Any]:
        """`params`, each one of the folder's settings they leave out taken from the folder's
        own configuration (OpenEvolve's config.yaml, Shinka's shinka.yaml), else its default:
        a config of ours that names the folder runs it as `run FOLDER` does. Read once, where
        the task is first built: the whole set is what the run saves and the sandbox gets."""
        if set(params) >= FOLDER_SETTINGS:
            return params
        from agentic_design.tasks.folder.settings import FolderSettingsError, folder_settings

        try:
            settings = folder_settings(self.folder, self.format)
        except FolderSettingsError as exc:
            raise TypeError(str(exc)) from None
        defaults = {**SETTING_DEFAULTS, "evaluator": FILES[self.format][1]}
        return {**defaults, **settings.task_params, **params}

    @property
    def template(self) -> Template:
        """The starting program cut at its evolve blocks (read once)."""
        if self._template is None:
            try:
                self._template = cut(self.program_file.read_text())
            except InvalidDesign as exc:
                raise FolderError(f"{self.program_file}: {exc}") from None
        return self._template

    # -- the contract ---------------------------------------------------------------------------
    def describe(self) -> str:
        from agentic_design.prompts import render  # jinja: the search's side only

        return render(
            "tasks/problem_folder.j2",
            system={"openevolve": "OpenEvolve", "shinka": "ShinkaEvolve"}[self.format],
            folder=self.folder.name,
            system_message=self.system_message.strip(),
            program_file=self.program_file.name,
            evaluator_file=self.evaluator_file,
            blocks=len(self.template.blocks),
            marked=self.template.marked,
            fitness_meaning=self.fitness_meaning,
        )

    def seeds(self) -> list[Proposal]:
        return [
            Proposal(
                name=f"{self.folder.name}: {self.program_file.name}",
                thought=f"the starting program of the {self.format} problem folder",
                code=self.template.program(),
                operator="seed",
                proposer="seed",
                origin=Origin.SEED,
            )
        ]

    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        from agentic_design.tasks.folder import runner

        code = getattr(design, "SOURCE", None)
        if not isinstance(code, str):
            raise InvalidDesign("no program to evaluate")
        # As those systems do: the candidate is a file of its own, named as a program.
        workdir = Path(tempfile.mkdtemp(prefix="candidate-"))
        program = workdir / self.program_file.name
        program.write_text(code)
        if self.format == "openevolve":
            return runner.run_openevolve(
                str(self.folder),
                str(program),
                cascade=self.cascade,
                thresholds=self.thresholds,
                evaluator=self.evaluator_file,
                evaluator_args=self.evaluator_args,
            )
        results = workdir / "results"
        results.mkdir()
        return runner.run_shinka(
            str(self.folder),
            str(program),
            str(results),
            timeout_s=self.timeout_s,
            evaluator=self.evaluator_file,
            extra_args=self.extra_args,
        )

    def score(self, outputs: dict[str, Any], split: Split) -> Score:
        metrics = _checked_metrics(outputs)
        artifacts = _checked_artifacts(outputs)
        error = outputs.get("error")
        error = error.strip() if isinstance(error, str) else ""
        if outputs.get("correct") is False:
            raise InvalidOutputs(
                f"the evaluator judged the program wrong: {error or 'no reason given'}"
            )
        reported = metrics.get("error")
        if isinstance(reported, str) and reported.strip():
            raise InvalidOutputs(f"the evaluator reported an error: {reported.strip()}")
        fitness = self._fitness(metrics)
        kept = dict(metrics)
        if error:  # judged right all the same: a later cascade stage failed, earlier ones stand
            kept["evaluator_error"] = error
        feedback = _feedback(metrics, artifacts)
        if feedback:
            kept["feedback"] = feedback
        if artifacts:
            kept["artifacts"] = artifacts
        return Score(fitness=fitness, ci_low=fitness, ci_high=fitness, metrics=kept)

    def _fitness(self, metrics: dict[str, Any]) -> float:
        if "combined_score" in metrics:
            value = metrics["combined_score"]
            if isinstance(value, (int, float)) and _number(value):
                return float(value)
            # NaN and infinity arrive as None (JSON has neither): not a score, and no other
            # number stands in for it.
            raise InvalidOutputs(f"the evaluator's combined_score is not a number: {value!r}")
        numbers = [
            float(v) for k, v in metrics.items() if k not in self.feature_dimensions and _number(v)
        ]
        if not numbers:
            raise InvalidOutputs(
                "the evaluator returned no combined_score and no numeric metric to average"
            )
        return sum(numbers) / len(numbers)

    # -- optional hooks -------------------------------------------------------------------------
    def complete(self, code: str) -> str:
        return self.template.complete(code)

    def evolution_operators(self) -> Operators:
        return block_operators(generic_operators())

    def sandbox_readable(self) -> list[str]:
        return [str(self.folder)]

    def process_cap(self) -> int | None:
        return PROCESS_CAP

    def fingerprint(self) -> str:
        return params_fingerprint(
            type(self).__qualname__, {**self.params, "files": folder_digest(self.folder)}
        )

    def summarize(self, metrics: dict[str, Any]) -> str:
        shown = [
            f"{key} {_short(value)}"
            for key, value in metrics.items()
            if key != "combined_score" and _number(value) and not _timing(key)
        ][:SUMMARY_METRICS]
        feedback = metrics.get("feedback")
        if isinstance(feedback, str) and feedback:
            shown.append(f"feedback: {feedback[:SUMMARY_FEEDBACK_CHARS]}")
        return ", ".join(shown)

    def reflect_checklist(self) -> list[str]:
        return [
            *super().reflect_checklist(),
            "Is every change inside the evolve blocks? The rest of the program is restored "
            "as the folder wrote it, so a change outside them is lost.",
            "Does the block still define every name the fixed part of the program calls, with "
            "the same signature?",
        ]

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        return {"ast_nodes": ast_nodes(code)}


def folder_digest(folder: Path) -> str:
    """A hash of the folder's files (names and contents; past FINGERPRINT_BYTES, names and
    sizes), leaving out what runs and editors leave behind."""
    digest = hashlib.sha256()
    budget = FINGERPRINT_BYTES
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not path.is_file() or path.is_symlink():
                continue
            size = path.stat().st_size
            digest.update(f"{path.relative_to(folder)}\0{size}\0".encode())
            if size <= budget:
                budget -= size
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _file_name(params: dict[str, Any], key: str, default: str) -> str:
    value = params.get(key, default)
    if not isinstance(value, str) or not value or Path(value).name != value:
        raise TypeError(f"{key} must be a file name in the folder, not {value!r}")
    return value


def _numbers(value: Any, key: str) -> list[float]:
    if not isinstance(value, list) or not all(_number(v) for v in value):
        raise TypeError(f"{key} must be a list of numbers, not {value!r}")
    return [float(v) for v in value]


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{key} must be a mapping of names to values, not {value!r}")
    return dict(value)


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"feature_dimensions must be a list of metric names, not {value!r}")
    return list(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _timing(key: str) -> bool:
    return any(word in key.lower() for word in TIMING_WORDS)


def _short(value: float) -> str:
    return f"{value:.6g}"


def _checked_metrics(outputs: Any) -> dict[str, Any]:
    """The evaluator's metrics after checking the untrusted data field by field."""
    if not isinstance(outputs, dict) or not isinstance(outputs.get("metrics"), dict):
        raise InvalidOutputs("outputs must be a dict holding the evaluator's metrics")
    metrics = outputs["metrics"]
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise InvalidOutputs(f"metric names must be text, got {key!r}")
        if value is not None and not isinstance(value, (int, float, str, bool)):
            raise InvalidOutputs(f"metric {key!r} is a {type(value).__name__}, not a value")
    return dict(metrics)


def _checked_artifacts(outputs: dict[str, Any]) -> dict[str, str]:
    artifacts = outputs.get("artifacts", {})
    if not isinstance(artifacts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in artifacts.items()
    ):
        raise InvalidOutputs("artifacts must map names to text")
    return dict(artifacts)


def _feedback(metrics: dict[str, Any], artifacts: dict[str, str]) -> str:
    """What the evaluator said in words, for the proposer: Shinka's text_feedback, else an
    OpenEvolve artifact named as feedback."""
    for source, key in (
        (artifacts, "text_feedback"),
        (metrics, "text_feedback"),
        (artifacts, "feedback"),
    ):
        text = source.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return ""
