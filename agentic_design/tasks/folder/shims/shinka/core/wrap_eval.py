"""`run_shinka_eval`: run a program's experiment function several times, validate each result,
aggregate the metrics, and write `metrics.json` and `correct.json` into the results folder.

Its signature, results and files follow ShinkaEvolve 0.0.7's; keyword arguments of later
releases are accepted and ignored. Where it differs, it does on purpose:

- The program runs in a child process of its own, forked once and called once per run, in
  order; only plain data (numbers, strings, lists, tuples, dicts, sets, numpy arrays and
  scalars) comes back. So a program cannot patch `validate_fn` or `aggregate_metrics_fn`,
  nor write the results this process reports. (A program's global state still lasts from run
  to run, as in Shinka's sequential mode.) Each run's time is measured from this side.
- When the folder runner started the script, the final result also goes to it through a pipe
  the program never holds (the file descriptor named by `AGENTIC_DESIGN_RESULT_FD`, closed in
  the child), so that files the program writes cannot stand in for it.
- `run_workers` above 1 still runs one run after another (same results, same order).
- Early stopping is not done: every one of `num_runs` runs is made.
- `plotting_fn` is not called; `extra_data` is saved to `extra.pkl`, as Shinka does.
- numpy numbers in the metrics are written as numbers (Shinka's json.dump fails on some).

Standard library only (numpy is used when the program returns numpy data).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import pickle
import signal
import statistics
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

#: The metrics written when the evaluation fails; `default_metrics_on_error` may change their
#: values (only these keys are kept, as in Shinka).
DEFAULT_METRICS_ON_ERROR: dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}

#: The environment variable through which the folder runner hands over its result pipe.
RESULT_FD_VARIABLE = "AGENTIC_DESIGN_RESULT_FD"
#: Frames on that pipe: START when an evaluation begins, RESULT + length + JSON at its end.
START, RESULT = b"S", b"R"

# Frames between this process and the program's: a kind byte, then a length, then data.
_LOADED, _VALUE, _FAILED = b"L", b"V", b"F"
_LENGTH = struct.Struct(">Q")

# What a result from the program may be made of: the globals an honest pickle of plain data
# and numpy arrays names (protocol 4). Anything else could run code here when unpickled.
_PLAIN_GLOBALS = frozenset(
    {
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "slice"),
        ("builtins", "range"),
        ("builtins", "bytearray"),
        ("collections", "OrderedDict"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }
)


def _take_result_fd() -> int | None:
    """The runner's result pipe, if it gave one; kept from any program this process execs."""
    raw = os.environ.pop(RESULT_FD_VARIABLE, None)
    if raw is None:
        return None
    try:
        fd = int(raw)
        os.set_inheritable(fd, False)
    except (ValueError, OSError):
        return None
    return fd


_result_fd = _take_result_fd()


def load_program(program_path: str) -> Any:
    """Import the program at `program_path` as a module named `program`."""
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Could not load a module from {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_json_results(
    results_dir: str, metrics: dict[str, Any], correct: bool, error: str | None = None
) -> None:
    """Write `correct.json` ({"correct", "error"}) and `metrics.json` into `results_dir`."""
    os.makedirs(results_dir, exist_ok=True)
    correct_file = os.path.join(results_dir, "correct.json")
    with open(correct_file, "w") as f:
        json.dump({"correct": correct, "error": error}, f, indent=4)
    print(f"Correctness and error written to {correct_file}")
    metrics_file = os.path.join(results_dir, "metrics.json")
    with open(metrics_file, "w") as f:
        json.dump(metrics, f, indent=4, default=_plain)
    print(f"Metrics written to {metrics_file}")


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Callable[[int], dict[str, Any]] | None = None,
    aggregate_metrics_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[Any], tuple[bool, str | None]] | None = None,
    plotting_fn: Callable[[Any], list[Any]] | None = None,
    default_metrics_on_error: dict[str, Any] | None = None,
    early_stop_method: Any = None,
    early_stop_threshold: float | None = None,
    early_stop_score_fn: Callable[[Any], float] | None = None,
    early_stop_kwargs: dict[str, Any] | None = None,
    run_workers: int = 1,
    max_workers_cap: int | None = None,
    **later_options: Any,
) -> tuple[dict[str, Any], bool, str | None]:
    """Run `experiment_fn_name(**kwargs)` of the program `num_runs` times (kwargs from
    `get_experiment_kwargs(run_index)`, else `{"seed": run_index + 1}`), check each result with
    `validate_fn(result) -> (valid, message)`, aggregate all results with
    `aggregate_metrics_fn(results) -> metrics`, add execution-time metrics (and validation
    counts), write metrics.json and correct.json, and return (metrics, correct, first error).

    Any failure (the program does not load, a run raises, aggregation fails) gives the default
    metrics, correct False and the failure's message."""
    del plotting_fn, early_stop_score_fn, early_stop_kwargs, later_options  # see the module doc
    if run_workers < 1:
        raise ValueError("run_workers must be >= 1")
    if max_workers_cap is not None and max_workers_cap < 1:
        raise ValueError("max_workers_cap must be >= 1 when provided")
    if early_stop_method is not None and early_stop_threshold is None:
        raise ValueError("early_stop_threshold is required when early_stop_method is set")
    _announce_start()

    correct = True
    first_error: str | None = None
    validation_errors: list[str] = []
    valid_runs = invalid_runs = 0
    results: list[Any] = []
    times: list[float] = []
    try:
        with _ProgramProcess(program_path, experiment_fn_name) as program:
            for index in range(num_runs):
                print(f"--- run {index + 1}/{num_runs} ---")
                kwargs = (
                    get_experiment_kwargs(index) if get_experiment_kwargs else {"seed": index + 1}
                )
                started = time.perf_counter()
                result = program.call(kwargs)
                times.append(time.perf_counter() - started)
                results.append(result)
                if validate_fn is not None:
                    valid, message = validate_fn(result)
                    if valid:
                        valid_runs += 1
                    else:
                        invalid_runs += 1
                        correct = False
                        if message:
                            first_error = first_error or f"Validation failed: {message}"
                            if message not in validation_errors:
                                validation_errors.append(message)
                print(f"--- run {index + 1}/{num_runs} done in {times[-1]:.2f} s ---")

        if aggregate_metrics_fn is not None:
            metrics = aggregate_metrics_fn(results)
        else:
            metrics = {
                "num_successful_runs": len(results),
                "first_run_result_type": str(type(results[0])) if results else "N/A",
                "raw_results_preview": str(results[:2]) if results else "N/A",
            }
        metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
        metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
        if validate_fn is not None:
            metrics["num_valid_runs"] = valid_runs
            metrics["num_invalid_runs"] = invalid_runs
            metrics["all_validation_errors"] = validation_errors
        if "combined_score" in metrics:
            score = float(metrics["combined_score"])
            if not math.isfinite(score):
                correct = False
                first_error = first_error or f"combined_score is {score}"
    except Exception as exc:
        print(f"Evaluation error: {exc}")
        overrides = default_metrics_on_error or {}
        metrics = {
            key: overrides.get(key, value) for key, value in DEFAULT_METRICS_ON_ERROR.items()
        }
        metrics["all_validation_errors"] = list(metrics["all_validation_errors"])
        first_error, correct = str(exc), False

    if "extra_data" in metrics:
        _save_extra_data(results_dir, metrics.pop("extra_data"))
    save_json_results(results_dir, metrics, correct, first_error)
    _report(metrics, correct, first_error)
    return metrics, correct, first_error


class _ProgramError(Exception):
    """The program failed in its own process; the message is its exception's message."""


class _ProgramProcess:
    """The program, loaded in a forked child process that calls its experiment function once
    per request and sends back plain data."""

    def __init__(self, program_path: str, fn_name: str) -> None:
        self._status: int | None = None
        self._requests_read, self._requests = os.pipe()
        self._replies, replies_write = os.pipe()
        sys.stdout.flush()  # or what this process printed would be printed twice
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            os.close(self._requests)
            os.close(self._replies)
            _serve(program_path, fn_name, self._requests_read, replies_write)
        os.close(self._requests_read)
        os.close(replies_write)
        try:
            self._expect(_LOADED, "while being loaded")
        except BaseException:
            self.__exit__()
            raise

    def __enter__(self) -> _ProgramProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._reap()

    def _reap(self) -> int | None:
        """The child's wait status, once it has ended: a moment to leave on its own (its
        requests pipe is closed), then it is killed. None if it was reaped already."""
        if self._status is None:
            deadline = time.monotonic() + 2.0
            try:
                while time.monotonic() < deadline:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                    if pid:
                        self._status = status
                        return status
                    time.sleep(0.01)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                self._status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:
                return None
        return self._status

    def call(self, kwargs: dict[str, Any]) -> Any:
        """The experiment function's result for `kwargs`; raises what it raised (by message)."""
        _write_frame(self._requests, _VALUE, pickle.dumps(kwargs))
        return self._expect(_VALUE, "during a run")

    def _expect(self, kind: bytes, when: str) -> Any:
        frame = _read_frame(self._replies)
        if frame is None:
            raise RuntimeError(f"the program's process ended {when} ({self._exit_status()})")
        got, data = frame
        if got == _FAILED:
            raise _ProgramError(json.loads(data)["message"])
        if got != kind:
            raise RuntimeError(f"the program's process sent a {got!r} frame {when}")
        return _PlainUnpickler(io.BytesIO(data)).load() if kind == _VALUE else None

    def _exit_status(self) -> str:
        status = self._reap()
        if status is None:
            return "its status is unknown"
        if os.WIFSIGNALED(status):
            return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        return f"exit code {os.WEXITSTATUS(status)}"


def _serve(program_path: str, fn_name: str, requests: int, replies: int) -> None:
    """The child: load the program, then answer each request until the pipe closes."""
    if _result_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_result_fd)
    try:
        try:
            module = load_program(program_path)
            if not hasattr(module, fn_name):
                raise AttributeError(f"Experiment function '{fn_name}' not found in {program_path}")
            function = getattr(module, fn_name)
            _write_frame(replies, _LOADED, b"")
            while (frame := _read_frame(requests)) is not None:
                kwargs = pickle.loads(frame[1])  # from the evaluation script, not the program
                try:
                    data = _plain_pickle(function(**kwargs), fn_name)
                except Exception as exc:
                    traceback.print_exc()
                    _write_failure(replies, exc)
                else:
                    _write_frame(replies, _VALUE, data)
        except Exception as exc:
            traceback.print_exc()
            _write_failure(replies, exc)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _plain_pickle(result: Any, fn_name: str) -> bytes:
    try:
        return pickle.dumps(result, protocol=4)
    except Exception as exc:
        raise TypeError(
            f"the result of {fn_name} cannot be sent back ({exc}): a run's result may hold "
            "only plain data and numpy arrays"
        ) from exc


def _write_failure(fd: int, exc: BaseException) -> None:
    _write_frame(fd, _FAILED, json.dumps({"message": str(exc)}).encode())


def _write_frame(fd: int, kind: bytes, data: bytes) -> None:
    view = memoryview(kind + _LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read_frame(fd: int) -> tuple[bytes, bytes] | None:
    header = _read_exactly(fd, 1 + _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header[1:])
    data = _read_exactly(fd, length)
    return None if data is None else (header[:1], data)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data and numpy arrays only: a program's pickle names no other global."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PLAIN_GLOBALS:
            raise pickle.UnpicklingError(
                f"a run's result may hold only plain data and numpy arrays, not {module}.{name}"
            )
        return super().find_class(module, name)


def _plain(value: Any) -> Any:
    """json.dump's fallback: numpy numbers and arrays as Python ones, anything else as text."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _save_extra_data(results_dir: str, extra: Any) -> None:
    os.makedirs(results_dir, exist_ok=True)
    try:
        with open(os.path.join(results_dir, "extra.pkl"), "wb") as f:
            pickle.dump(extra, f)
    except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
        print(f"extra_data not saved: {exc}")


def _announce_start() -> None:
    if _result_fd is not None:
        with contextlib.suppress(OSError):
            os.write(_result_fd, START)


def _report(metrics: dict[str, Any], correct: bool, error: str | None) -> None:
    """Hand the result to the folder runner, once, through its pipe."""
    global _result_fd
    if _result_fd is None:
        return
    data = json.dumps({"metrics": metrics, "correct": correct, "error": error}, default=_plain)
    with contextlib.suppress(OSError):
        _write_frame(_result_fd, RESULT, data.encode())
        os.close(_result_fd)
    _result_fd = None
