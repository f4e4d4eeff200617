"""Run a problem folder's own evaluator on a program, inside the sandbox.

Problem folders written for OpenEvolve (an `evaluator.py` whose `evaluate(program_path)`
returns metrics) and for ShinkaEvolve (an `evaluate.py` script that calls
`shinka.core.run_shinka_eval`) run here unchanged: import shims (`shims/`) stand in for the
`openevolve` and `shinka` packages. Both runners return the same JSON data:

    {"metrics": {name: float | int | str | bool | None}, "artifacts": {name: str},
     "correct": bool, "error": str | None}

`metrics` are flat and bounded (see `json_safe`). `correct` says whether the metrics score the
program (Shinka's correct.json; for OpenEvolve, whether the evaluator's metrics carry no text
`error`, its convention for a failed program); `error` says what went wrong, when something did
(also when the metrics still stand: a later cascade stage that raised). An evaluator that
raises, hangs or writes no result raises `EvaluatorFailed` (or `EvaluatorTimedOut`), whose
`sandbox_status` the sandbox records.

Runs inside the sandbox: standard library only (numpy values are recognised, not imported).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

#: The most metrics a result keeps (`combined_score` always among them).
MAX_METRICS = 64
#: Nested dicts of metrics are flattened with dots this many levels deep; deeper ones become
#: text in the artifacts.
MAX_DEPTH = 3
#: Metric names are cut to this many characters.
MAX_KEY_CHARS = 120
#: A text metric longer than this moves to the artifacts (metrics stay short labels).
MAX_METRIC_TEXT = 200
#: Each artifact is cut to this many characters (its end kept), and at most MAX_ARTIFACTS are
#: kept, MAX_ARTIFACT_TOTAL characters in all.
MAX_ARTIFACT_CHARS = 8000
MAX_ARTIFACTS = 32
MAX_ARTIFACT_TOTAL = 64_000
#: The end of an evaluator's traceback kept in an error message (the sandbox keeps 2,000
#: characters of a message, from its start).
MAX_TRACEBACK_CHARS = 1500
#: The end of a Shinka evaluation's stdout and stderr kept as artifacts.
OUTPUT_TAIL_CHARS = 4000
#: The most bytes read back from a Shinka evaluation's result pipe or metrics.json.
MAX_RESULT_BYTES = 8_000_000

#: The artifact that lists what `json_safe` changed (NaN made None, arrays moved, ...).
NOTES_ARTIFACT = "metrics_note"

#: What the folder runner's result pipe is called in a Shinka evaluation's environment, and
#: its frames (the shim `shinka.core.wrap_eval` writes them).
RESULT_FD_VARIABLE = "AGENTIC_DESIGN_RESULT_FD"
_START, _RESULT = b"S", b"R"
_LENGTH_BYTES = 8


class EvaluatorFailed(Exception):
    """The folder's evaluator raised, returned something unusable, or wrote no result.

    The message starts with what failed and ends with the tail of the evaluator's traceback
    (or its stderr); `traceback_tail` holds that tail alone."""

    sandbox_status = "error"

    def __init__(self, message: str, traceback_tail: str = "") -> None:
        super().__init__(f"{message}\n{traceback_tail}" if traceback_tail else message)
        self.traceback_tail = traceback_tail


class EvaluatorNotFound(EvaluatorFailed):
    """The folder lacks the evaluator file, or the file lacks the function it must define."""


class EvaluatorTimedOut(EvaluatorFailed):
    """A Shinka evaluation script ran past its time limit and was killed with its processes."""

    sandbox_status = "timeout"


def shims_path() -> str:
    """The folder holding the `openevolve` and `shinka` stand-ins, for `sys.path`."""
    return str(Path(__file__).resolve().parent / "shims")


# -- OpenEvolve --------------------------------------------------------------------------------
def run_openevolve(
    folder: str,
    program_path: str,
    *,
    cascade: bool = False,
    thresholds: Sequence[float] = (),
    evaluator: str = "evaluator.py",
    evaluator_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `program_path` with the folder's OpenEvolve evaluator, in this process.

    Direct: `evaluate(program_path, **evaluator_args)`. Cascade (when `cascade` and the
    evaluator defines `evaluate_stage1`), as OpenEvolve runs it: stage 1; stage 2 only if the
    metrics so far reach `thresholds[0]`, stage 3 only if they reach `thresholds[1]` (a stage
    without a threshold does not run). A metric reaches a threshold by `combined_score`, else
    by the mean of its numeric metrics but `error`. Stages after the first merge into the
    numeric metrics so far; one that raises keeps them, with `stageN_passed: 0.0` and its
    traceback among the artifacts. The evaluator may return a dict of metrics or an
    `EvaluationResult` (any object with `metrics` and `artifacts`)."""
    with _evaluator_module(Path(folder), evaluator) as module:
        stage1 = getattr(module, "evaluate_stage1", None)
        if cascade and callable(stage1):
            metrics, artifacts, error = _cascade(module, program_path, thresholds, evaluator)
        else:
            evaluate = _function(module, "evaluate", evaluator)
            raw = _call(evaluate, evaluator, program_path, **dict(evaluator_args or {}))
            metrics, artifacts = _metrics_and_artifacts(raw, f"{evaluator}'s evaluate")
            error = None
    # Evaluators' convention for a program that failed: a text `error` among the metrics.
    text_error = metrics.get("error")
    failed = isinstance(text_error, str) and bool(text_error)
    result = json_safe(metrics, artifacts)
    result["correct"] = not failed
    result["error"] = str(text_error)[:MAX_ARTIFACT_CHARS] if failed else error
    return result


def _cascade(
    module: ModuleType, program_path: str, thresholds: Sequence[float], evaluator: str
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    stage1 = _function(module, "evaluate_stage1", evaluator)
    metrics, artifacts = _metrics_and_artifacts(
        _call(stage1, evaluator, program_path), f"{evaluator}'s evaluate_stage1"
    )
    for stage in (2, 3):
        if len(thresholds) < stage - 1 or not passes_threshold(metrics, thresholds[stage - 2]):
            break
        function = getattr(module, f"evaluate_stage{stage}", None)
        if not callable(function):
            break
        try:
            raw = function(program_path)
        except Exception as exc:
            artifacts.update(
                {
                    f"stage{stage}_stderr": str(exc),
                    f"stage{stage}_traceback": _traceback_tail(),
                    "failure_stage": f"stage{stage}",
                }
            )
            metrics[f"stage{stage}_passed"] = 0.0
            # As in OpenEvolve, the earlier stages' metrics stand: `error` says what failed.
            return metrics, artifacts, f"evaluate_stage{stage} raised {_describe(exc)}"
        more, more_artifacts = _metrics_and_artifacts(raw, f"{evaluator}'s evaluate_stage{stage}")
        # OpenEvolve keeps only numbers once stages merge: flags stay bools, the rest floats.
        metrics = {
            name: value if isinstance(value, bool) else float(value)
            for name, value in [*metrics.items(), *more.items()]
            if _is_number(value) and name != "error"
        }
        artifacts.update(more_artifacts)
    return metrics, artifacts, None


def passes_threshold(metrics: Mapping[str, Any], threshold: float) -> bool:
    """OpenEvolve's cascade test: `combined_score` (when a number) reaches `threshold`, else the
    mean of the numeric metrics other than `error` (flags not counted) does."""
    score = _score_value(metrics.get("combined_score"))
    if score is not None:
        return score >= threshold
    values = [
        v
        for k, v in ((k, _score_value(v)) for k, v in metrics.items())
        if k != "error" and v is not None
    ]
    return bool(values) and sum(values) / len(values) >= threshold


@contextlib.contextmanager
def _evaluator_module(folder: Path, evaluator: str) -> Iterator[ModuleType]:
    """The evaluator module, imported from its file as OpenEvolve does (as
    `evaluation_module`), with the shims and then the folder first on `sys.path` (and on
    PYTHONPATH, for the processes it starts). Afterwards all of that is undone, and the
    modules it imported from the folder or the shims forgotten, so that the next folder's
    evaluator meets its own `utils.py`; libraries stay (numpy cannot load twice)."""
    path = (folder / evaluator).resolve()
    if not path.is_file():
        raise EvaluatorNotFound(
            f"{path} not found: an OpenEvolve problem folder has an evaluator file "
            "defining evaluate(program_path)"
        )
    entries = [shims_path(), str(path.parent)]
    saved_path, saved_env = list(sys.path), os.environ.get("PYTHONPATH")
    before = set(sys.modules)
    sys.path[:0] = entries
    os.environ["PYTHONPATH"] = os.pathsep.join(entries + ([saved_env] if saved_env else []))
    try:
        spec = importlib.util.spec_from_file_location("evaluation_module", path)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        module = importlib.util.module_from_spec(spec)
        sys.modules["evaluation_module"] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise EvaluatorFailed(
                f"{evaluator} raised while being imported: {_describe(exc)}", _traceback_tail()
            ) from exc
        yield module
    finally:
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_env
        roots = tuple(os.path.join(root, "") for root in entries)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if name == "evaluation_module" or os.path.abspath(file).startswith(roots):
                del sys.modules[name]


def _function(module: ModuleType, name: str, evaluator: str) -> Any:
    function = getattr(module, name, None)
    if callable(function):
        return function
    near = sorted(n for n, v in vars(module).items() if callable(v) and "eval" in n.lower())
    found = f"; it defines {', '.join(near)}" if near else ""
    raise EvaluatorNotFound(
        f"{evaluator} defines no function {name}(program_path){found}. An OpenEvolve "
        "evaluator must define evaluate(program_path) returning a dict of metrics or an "
        "EvaluationResult (and may define evaluate_stage1/2/3 for cascade evaluation)."
    )


def _call(function: Any, evaluator: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except (Exception, SystemExit) as exc:
        raise EvaluatorFailed(
            f"{evaluator}'s {function.__name__} raised {_describe(exc)}", _traceback_tail()
        ) from exc


def _metrics_and_artifacts(raw: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dict, or an EvaluationResult (ours or any object with `metrics` and `artifacts`)."""
    if isinstance(raw, Mapping):
        return dict(raw), {}
    metrics = getattr(raw, "metrics", None)
    if isinstance(metrics, Mapping):
        artifacts = getattr(raw, "artifacts", None)
        return dict(metrics), dict(artifacts) if isinstance(artifacts, Mapping) else {}
    raise EvaluatorFailed(
        f"{where} returned {type(raw).__name__}; it must return a dict of metrics or an "
        "EvaluationResult(metrics=..., artifacts=...)"
    )


# -- ShinkaEvolve ------------------------------------------------------------------------------
def run_shinka(
    folder: str,
    program_path: str,
    results_dir: str,
    *,
    timeout_s: float,
    evaluator: str = "evaluate.py",
    extra_args: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate `program_path` as ShinkaEvolve does: run `python evaluate.py --program_path P
    --results_dir D` (then `--KEY VALUE` for each of `extra_args`, Shinka's
    `job.extra_cmd_args`) in a process group of its own, with the shims and then the folder on
    PYTHONPATH and the current directory as its working directory; kill the group at
    `timeout_s`; read its result.

    The result is what `run_shinka_eval` handed back through a pipe of ours (a program cannot
    forge it); from a script that does not call it, metrics.json and correct.json in
    `results_dir`. Artifacts carry the ends of the script's stdout and stderr, and the metrics'
    `text_feedback`."""
    script = (Path(folder) / evaluator).resolve()
    if not script.is_file():
        raise EvaluatorNotFound(
            f"{script} not found: a ShinkaEvolve problem folder has an evaluate.py script "
            "taking --program_path and --results_dir"
        )
    os.makedirs(results_dir, exist_ok=True)
    for name in ("metrics.json", "correct.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(results_dir, name))
    command = [
        sys.executable,
        str(script),
        "--program_path",
        str(program_path),
        "--results_dir",
        str(results_dir),
    ]
    for key, value in (extra_args or {}).items():
        command += [f"--{key}", str(value)]

    reader, writer = os.pipe()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([shims_path(), str(script.parent)]),
        "PYTHONUNBUFFERED": "1",
        "PYTHONIOENCODING": "utf-8",
        RESULT_FD_VARIABLE: str(writer),
    }
    out_path = os.path.join(results_dir, "job_log.out")
    err_path = os.path.join(results_dir, "job_log.err")
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                pass_fds=(writer,),
                start_new_session=True,  # its own process group, killed whole
            )
        os.close(writer)
        writer = -1
        received, finished = _collect(process, reader, timeout_s)
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)
    artifacts = {
        "stdout": _tail(out_path, OUTPUT_TAIL_CHARS),
        "stderr": _tail(err_path, OUTPUT_TAIL_CHARS),
    }
    if not finished:
        raise EvaluatorTimedOut(
            f"{evaluator} ran past its time limit of {timeout_s:g} s and was killed",
            artifacts["stderr"][-MAX_TRACEBACK_CHARS:],
        )
    return _shinka_result(received, process.returncode, results_dir, evaluator, artifacts)


def _collect(process: subprocess.Popen[bytes], reader: int, timeout_s: float) -> tuple[bytes, bool]:
    """What came through the result pipe, and whether the script ended in time. Its process
    group is killed either way: nothing it started outlives the evaluation."""
    deadline = time.monotonic() + timeout_s
    received = bytearray()
    pipe_open = True
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(received), False
            if pipe_open:
                ready, _, _ = select.select([reader], [], [], min(left, 0.2))
                if ready:
                    chunk = os.read(reader, 1 << 16)
                    pipe_open = bool(chunk)
                    if len(received) < MAX_RESULT_BYTES:
                        received += chunk
                    continue
            if process.poll() is not None:
                break
            if not pipe_open:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=min(left, 0.2))
        # Ended: what is still in the pipe (a grandchild holding it open must not stall us).
        while pipe_open and select.select([reader], [], [], 0)[0]:
            chunk = os.read(reader, 1 << 16)
            pipe_open = bool(chunk)
            if len(received) < MAX_RESULT_BYTES:
                received += chunk
        return bytes(received), True
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _shinka_result(
    received: bytes, returncode: int, results_dir: str, evaluator: str, artifacts: dict[str, str]
) -> dict[str, Any]:
    started = received.startswith(_START)
    frame = received[1:] if started else b""
    stderr_tail = artifacts["stderr"][-MAX_TRACEBACK_CHARS:]
    ended = (
        f"exited with code {returncode}"
        if returncode >= 0
        else (f"was killed by {_signal_name(-returncode)}")
    )
    if frame[:1] == _RESULT and len(frame) >= 1 + _LENGTH_BYTES:
        length = int.from_bytes(frame[1 : 1 + _LENGTH_BYTES], "big")
        body = frame[1 + _LENGTH_BYTES : 1 + _LENGTH_BYTES + length]
        if len(body) < length:
            raise EvaluatorFailed(f"{evaluator}'s result was cut short ({evaluator} {ended})")
        reported = _json_object(body, "run_shinka_eval's result")
        metrics = reported.get("metrics")
        correct, error = reported.get("correct", False), reported.get("error")
        source = "run_shinka_eval"
    elif started:
        raise EvaluatorFailed(
            f"{evaluator} started run_shinka_eval but {ended} before it returned", stderr_tail
        )
    else:  # a script of its own: the files it wrote are its result, as Shinka reads them
        if returncode != 0:
            raise EvaluatorFailed(f"{evaluator} {ended}", stderr_tail)
        metrics = _read_json(results_dir, "metrics.json", evaluator, stderr_tail)
        verdict = _read_json(results_dir, "correct.json", evaluator, stderr_tail)
        correct, error = verdict.get("correct", False), verdict.get("error")
        source = "metrics.json"
    if not isinstance(metrics, dict):
        raise EvaluatorFailed(f"{evaluator}'s metrics are {type(metrics).__name__}, not a dict")
    metrics = dict(metrics)
    feedback = metrics.pop("text_feedback", None)
    if feedback:
        artifacts["text_feedback"] = feedback if isinstance(feedback, str) else str(feedback)
    artifacts["result_source"] = source
    if returncode != 0:
        artifacts["exit"] = f"{evaluator} {ended}"
    result = json_safe(metrics, artifacts)
    result["correct"] = correct is True
    result["error"] = None if error is None else str(error)[:MAX_ARTIFACT_CHARS]
    return result


def _read_json(results_dir: str, name: str, evaluator: str, stderr_tail: str) -> dict[str, Any]:
    path = os.path.join(results_dir, name)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_RESULT_BYTES + 1)
    except FileNotFoundError:
        raise EvaluatorFailed(
            f"{evaluator} ended without writing {name} in its results folder", stderr_tail
        ) from None
    return _json_object(data, f"{evaluator}'s {name}")


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_RESULT_BYTES:
        raise EvaluatorFailed(f"{what} is larger than {MAX_RESULT_BYTES} bytes")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvaluatorFailed(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise EvaluatorFailed(f"{what} is {type(value).__name__}, not a JSON object")
    return value


# -- JSON-safe results -------------------------------------------------------------------------
def json_safe(metrics: Mapping[Any, Any], artifacts: Mapping[Any, Any]) -> dict[str, Any]:
    """{"metrics", "artifacts"} that JSON carries and the archive stores, whatever came in:

    - metric names become strings (cut to MAX_KEY_CHARS); nested dicts flatten with dots,
      MAX_DEPTH levels deep (deeper ones become text artifacts);
    - numpy scalars and one-element arrays become Python numbers; NaN and infinities (which
      JSON cannot carry) become None, and the artifact `metrics_note` says which;
    - lists, tuples, sets, arrays, bytes, text longer than MAX_METRIC_TEXT and other objects
      move to the artifacts as text (cut), named like the metric; `metrics_note` says so
      (empty lists are dropped);
    - at most MAX_METRICS metrics are kept (`combined_score` first, then in order), the rest
      counted in `metrics_note`;
    - artifacts become text (bytes decoded), each cut to MAX_ARTIFACT_CHARS keeping its end,
      at most MAX_ARTIFACTS of them and MAX_ARTIFACT_TOTAL characters in all."""
    notes: list[str] = []
    moved: dict[str, str] = {}
    flat: dict[str, Any] = {}
    for name, value in _flatten(metrics, "", 1, moved, notes):
        flat.setdefault(name, value)
    ordered = sorted(flat, key=lambda name: name != "combined_score")
    if len(ordered) > MAX_METRICS:
        notes.append(f"{len(ordered) - MAX_METRICS} metrics dropped past the first {MAX_METRICS}")
    kept = {name: flat[name] for name in ordered[:MAX_METRICS]}

    texts: dict[str, str] = {}
    for key, value in [*artifacts.items(), *moved.items()]:
        name = str(key)[:MAX_KEY_CHARS]
        texts.setdefault(name, _as_text(value))
    if notes:
        texts[NOTES_ARTIFACT] = "; ".join(notes)
    return {"metrics": kept, "artifacts": _bounded_artifacts(texts)}


def _flatten(
    metrics: Mapping[Any, Any], prefix: str, depth: int, moved: dict[str, str], notes: list[str]
) -> Iterator[tuple[str, Any]]:
    for key, value in metrics.items():
        name = (prefix + str(key))[:MAX_KEY_CHARS]
        if isinstance(value, Mapping):
            if depth < MAX_DEPTH:
                yield from _flatten(value, name + ".", depth + 1, moved, notes)
            else:
                moved[name] = _as_text(value)
                notes.append(f"{name}: nested deeper than {MAX_DEPTH} levels, moved to artifacts")
            continue
        value = _scalar(value)
        if value is None or isinstance(value, (bool, int)):
            yield name, value
        elif isinstance(value, float):
            if math.isfinite(value):
                yield name, value
            else:
                notes.append(f"{name}: {value} is not JSON, recorded as None")
                yield name, None
        elif isinstance(value, str) and len(value) <= MAX_METRIC_TEXT:
            yield name, value
        elif isinstance(value, (list, tuple, set, frozenset)) and not value:
            continue  # an empty list (no validation errors) says nothing worth a note
        else:
            moved[name] = _as_text(value)
            what = f"text of {len(value)} characters" if isinstance(value, str) else _kind(value)
            notes.append(f"{name}: {what}, moved to artifacts")


def _scalar(value: Any) -> Any:
    """A numpy scalar or one-element array as the Python number it holds; ints too large for
    the archive's integers as floats; anything else unchanged."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        size = getattr(value, "size", 1)
        if size == 1:
            with contextlib.suppress(Exception):  # an object array's item can be anything
                value = value.item()
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    return value


def _kind(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"array of shape {tuple(shape)}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "tolist"):
        with contextlib.suppress(Exception):
            value = value.tolist()
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


def _bounded_artifacts(texts: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    total = 0
    # The note on what was changed goes first: it must survive the bounds.
    names = sorted(texts, key=lambda name: name != NOTES_ARTIFACT)
    for name in names[:MAX_ARTIFACTS]:
        text = texts[name]
        if len(text) > MAX_ARTIFACT_CHARS:
            text = "[...]" + text[-(MAX_ARTIFACT_CHARS - 5) :]
        room = MAX_ARTIFACT_TOTAL - total
        if room <= 0:
            break
        kept[name] = text if len(text) <= room else "[...]" + text[-max(room - 5, 0) :]
        total += len(kept[name])
    return kept


# -- small helpers -----------------------------------------------------------------------------
def _score_value(value: Any) -> float | None:
    """A number that can be a score (not a flag), as a float; None for anything else."""
    if isinstance(value, bool) or not _is_number(value):
        return None
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) or (
        type(value).__module__ == "numpy" and isinstance(_scalar(value), (int, float))
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _traceback_tail() -> str:
    """The end of the traceback being handled: the frames nearest the error."""
    text = traceback.format_exc()
    return text if len(text) <= MAX_TRACEBACK_CHARS else "[...]" + text[-MAX_TRACEBACK_CHARS:]


def _tail(path: str, chars: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars * 4))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text[-chars:]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
