"""Problem folders written for OpenEvolve and ShinkaEvolve, evaluated by the folder runner as
those systems evaluate them: directly, inside the real sandbox, and with hostile programs; the
shims behave as the real packages do; their configurations map onto ours.

The shims were compared by hand once with OpenEvolve 0.4.1 and ShinkaEvolve 0.0.7 themselves
(the same evaluate.py under both gave the same metrics.json and correct.json, bar timings; the
same cascade gave the same metrics, bar a numpy float32 OpenEvolve drops): the expectations
below are what those packages do. No test reads anything outside the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from agentic_design.config import RunConfig
from agentic_design.sandbox import Sandbox, SandboxLimits
from agentic_design.tasks.folder import runner
from agentic_design.tasks.folder import settings as settings_module
from agentic_design.tasks.folder.runner import (
    EvaluatorFailed,
    EvaluatorNotFound,
    EvaluatorTimedOut,
    run_openevolve,
    run_shinka,
    shims_path,
)
from agentic_design.tasks.folder.settings import FolderSettingsError, folder_settings

from .conftest import REPO

PROBLEMS = REPO / "tests" / "data" / "problems"
CIRCLES = PROBLEMS / "openevolve_circles"
CASCADE = PROBLEMS / "openevolve_cascade"
SHINKA = PROBLEMS / "shinka_circles"
HOSTILE = PROBLEMS / "hostile"
BEST_KNOWN = 2.635
GRID_SUM = 25 * 0.1 + (2**0.5 * 0.1 - 0.1)  # the circles' initial program: 2.5414...

# A local search that passes the cascade's first stage (the initial random search does not).
GOOD_SEARCH = """
import random


def search(f, budget, rng):
    best, best_value, calls = (0.0, 0.0), f(0.0, 0.0), 1
    while calls < budget:
        x, y = rng.uniform(-5, 5), rng.uniform(-5, 5)
        value, step = f(x, y), 1.0
        calls += 1
        while calls + 4 <= budget and step > 1e-6:
            for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step)):
                nx, ny = min(5, max(-5, x + dx)), min(5, max(-5, y + dy))
                candidate = f(nx, ny)
                calls += 1
                if candidate < value:
                    x, y, value = nx, ny, candidate
                    break
            else:
                step /= 2
        if value < best_value:
            best, best_value = (x, y), value
    return best


def run_search(f, budget, seed):
    return search(f, budget, random.Random(seed))
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def program(tmp_path: Path, text: str, name: str = "candidate.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def circles_with(tmp_path: Path, block: str, source: Path = CIRCLES / "initial_program.py") -> str:
    """The circles' initial program with its evolve block replaced by `block`."""
    text = source.read_text()
    start = text.index("# EVOLVE-BLOCK-START")
    end = text.index("# EVOLVE-BLOCK-END")
    body = "# EVOLVE-BLOCK-START\n" + textwrap.dedent(block)
    return program(tmp_path, text[:start] + body + text[end:], name="program.py")


def assert_json_safe(result: dict) -> None:
    json.dumps(result, allow_nan=False)  # raises on NaN, numpy, non-string keys
    assert set(result) == {"metrics", "artifacts", "correct", "error"}
    assert all(isinstance(v, str) for v in result["artifacts"].values())


# -- OpenEvolve: direct --------------------------------------------------------------------------
def test_the_circle_packing_evaluator_scores_the_initial_program():
    result = run_openevolve(str(CIRCLES), str(CIRCLES / "initial_program.py"))
    assert_json_safe(result)
    metrics = result["metrics"]
    assert metrics["sum_radii"] == pytest.approx(GRID_SUM, abs=1e-6)
    assert metrics["combined_score"] == pytest.approx(GRID_SUM / BEST_KNOWN, abs=1e-6)
    assert metrics["validity"] == 1.0
    assert result["correct"] is True and result["error"] is None
    assert "sum of radii 2.541421" in result["artifacts"]["packing"]


def test_an_invalid_packing_is_incorrect_with_the_evaluators_reason(tmp_path):
    path = circles_with(
        tmp_path,
        """
        def construct_packing():
            return np.full((26, 2), 0.5), np.full(26, 0.2)
        """,
    )
    result = run_openevolve(str(CIRCLES), path)
    assert result["correct"] is False
    assert result["error"] == "circles 0 and 1 overlap"
    assert result["metrics"]["combined_score"] == 0.0


def test_the_cascade_stops_below_its_first_threshold():
    # The initial random search scores 0.39 at stage 1, under the threshold 0.5.
    result = run_openevolve(
        str(CASCADE), str(CASCADE / "initial_program.py"), cascade=True, thresholds=[0.5, 0.8]
    )
    assert set(result["metrics"]) == {"stage1_value", "combined_score"}
    assert result["metrics"]["combined_score"] < 0.5
    assert set(result["artifacts"]) == {"stage1"}
    assert result["correct"] is True


def test_the_cascade_goes_on_when_stage1_passes_and_keeps_numbers_as_openevolve_does(tmp_path):
    result = run_openevolve(
        str(CASCADE), program(tmp_path, GOOD_SEARCH), cascade=True, thresholds=[0.5, 0.8]
    )
    assert_json_safe(result)
    metrics = result["metrics"]
    # Stage 2's combined_score replaces stage 1's; its array metric is not a number, dropped.
    assert metrics["combined_score"] > 0.99
    assert {"stage1_value", "stage2_mean_value", "worst_score"} <= set(metrics)
    assert "best_points" not in metrics and "best_points" not in result["artifacts"]
    assert isinstance(metrics["stage2_mean_value"], float)  # a numpy float32, converted
    assert {"stage1", "stage2"} <= set(result["artifacts"])


def test_without_cascade_evaluate_runs_and_an_array_metric_moves_to_the_artifacts():
    result = run_openevolve(str(CASCADE), str(CASCADE / "initial_program.py"))
    assert {"stage1_value", "stage2_mean_value", "combined_score"} <= set(result["metrics"])
    assert json.loads(result["artifacts"]["best_points"])[0] == pytest.approx(
        [2.9866, 1.9787], abs=1e-4
    )
    assert "best_points: array of shape (5, 2)" in result["artifacts"]["metrics_note"]


def test_a_cascade_stage_that_raises_keeps_the_earlier_stages_metrics(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "evaluator.py": """
            def evaluate_stage1(program_path):
                return {"combined_score": 0.9, "note": "stage one"}

            def evaluate_stage2(program_path):
                raise ValueError("stage two broke")
            """
        },
    )
    result = run_openevolve(
        str(folder), program(tmp_path, "x = 1\n"), cascade=True, thresholds=[0.5]
    )
    assert result["metrics"] == {"combined_score": 0.9, "note": "stage one", "stage2_passed": 0.0}
    assert "ValueError: stage two broke" in result["artifacts"]["stage2_traceback"]
    assert result["artifacts"]["failure_stage"] == "stage2"
    assert result["error"] == "evaluate_stage2 raised ValueError: stage two broke"


def test_a_threshold_is_met_by_the_mean_of_numeric_metrics_without_a_combined_score():
    passes = runner.passes_threshold
    assert passes({"a": 0.4, "b": 0.8, "error": 0.0, "flag": True}, 0.6)
    assert not passes({"a": 0.4, "b": 0.6}, 0.6)
    assert not passes({"combined_score": 0.4, "a": 1.0}, 0.5)  # combined_score decides
    assert not passes({}, 0.0) and not passes({"label": "x"}, 0.0)


def test_an_evaluator_that_raises_gives_its_traceback_tail(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "evaluator.py": """
            def check(path):
                raise ValueError(f"cannot score {path.rsplit('/', 1)[-1]}")

            def evaluate(program_path):
                return check(program_path)
            """
        },
    )
    with pytest.raises(EvaluatorFailed) as caught:
        run_openevolve(str(folder), program(tmp_path, "x = 1\n"))
    message = str(caught.value)
    assert message.startswith(
        "evaluator.py's evaluate raised ValueError: cannot score candidate.py"
    )
    assert "in check" in caught.value.traceback_tail and "in check" in message
    assert caught.value.sandbox_status == "error"


def test_an_evaluator_that_fails_on_import_says_so(tmp_path):
    folder = write(tmp_path / "f", {"evaluator.py": "import no_such_module_anywhere\n"})
    with pytest.raises(EvaluatorFailed, match=r"evaluator\.py raised while being imported"):
        run_openevolve(str(folder), program(tmp_path, "x = 1\n"))


def test_a_renamed_evaluate_function_is_named_with_what_the_file_should_define(tmp_path):
    folder = write(tmp_path / "f", {"evaluator.py": "def evaluate_program(path):\n    return {}\n"})
    with pytest.raises(EvaluatorNotFound) as caught:
        run_openevolve(str(folder), program(tmp_path, "x = 1\n"))
    message = str(caught.value)
    assert "evaluator.py defines no function evaluate(program_path)" in message
    assert "it defines evaluate_program" in message
    with pytest.raises(EvaluatorNotFound, match="not found"):
        run_openevolve(str(tmp_path / "nowhere"), program(tmp_path, "x = 1\n"))


def test_an_evaluator_returning_neither_a_dict_nor_a_result_is_an_error(tmp_path):
    folder = write(tmp_path / "f", {"evaluator.py": "def evaluate(path):\n    return 0.5\n"})
    with pytest.raises(EvaluatorFailed, match="returned float; it must return a dict"):
        run_openevolve(str(folder), program(tmp_path, "x = 1\n"))


def test_any_object_with_metrics_and_artifacts_is_a_result(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "evaluator.py": """
            class Outcome:
                def __init__(self):
                    self.metrics = {"combined_score": 0.25}
                    self.artifacts = {"log": b"bytes \\xff come back as text"}

            def evaluate(program_path, scale=1):
                return Outcome()
            """
        },
    )
    result = run_openevolve(str(folder), program(tmp_path, "x = 1\n"), evaluator_args={"scale": 2})
    assert result["metrics"] == {"combined_score": 0.25}
    assert result["artifacts"]["log"] == "bytes \ufffd come back as text"


def test_non_json_metrics_come_back_json_safe_and_bounded(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "evaluator.py": """
            import numpy as np

            def evaluate(program_path):
                metrics = {f"m{i:03d}": i for i in range(100)}
                metrics.update({
                    "nan": float("nan"), "inf": np.float64(np.inf), "count": np.int64(3),
                    "half": np.float32(0.5), "flag": np.bool_(True), 7: 1.5,
                    "nested": {"a": {"b": 1.0, "c": {"d": 2}}}, "one": np.array([7.0]),
                    "many": np.arange(4), "long": "x" * 500, "huge": 2**70, "empty": [],
                    "combined_score": np.float64(0.75),
                })
                return metrics
            """
        },
    )
    result = run_openevolve(str(folder), program(tmp_path, "x = 1\n"))
    assert_json_safe(result)
    metrics, artifacts = result["metrics"], result["artifacts"]
    assert len(metrics) == runner.MAX_METRICS and metrics["combined_score"] == 0.75
    assert next(iter(metrics)) == "combined_score"  # kept first, whatever its place
    note = artifacts["metrics_note"]
    assert "metrics dropped past the first 64" in note
    # The rest, as they would be had they fitted: the same rules, checked on a smaller set.
    small = runner.json_safe(
        {
            "nan": float("nan"),
            "count": _np().int64(3),
            "half": _np().float32(0.5),
            "flag": _np().bool_(True),
            7: 1.5,
            "nested": {"a": {"b": 1.0, "c": {"d": 2}}},
            "one": _np().array([7.0]),
            "many": _np().arange(4),
            "long": "x" * 500,
            "huge": 2**70,
            "empty": [],
        },
        {"big": "y" * 20_000},
    )
    assert small["metrics"] == {
        "nan": None,
        "count": 3,
        "half": 0.5,
        "flag": True,
        "7": 1.5,
        "nested.a.b": 1.0,
        "one": 7.0,
        "huge": float(2**70),
    }
    assert type(small["metrics"]["count"]) is int and type(small["metrics"]["flag"]) is bool
    assert small["artifacts"]["many"] == "[0, 1, 2, 3]"
    assert small["artifacts"]["nested.a.c"] == '{"d": 2}'  # deeper than three levels
    assert small["artifacts"]["long"] == "x" * 500
    assert len(small["artifacts"]["big"]) == runner.MAX_ARTIFACT_CHARS
    assert small["artifacts"]["big"].startswith("[...]")
    note = small["artifacts"]["metrics_note"]
    assert "nan: nan is not JSON, recorded as None" in note
    assert "many: array of shape (4,), moved to artifacts" in note
    assert "long: text of 500 characters" in note and "empty" not in note


def _np():
    import numpy

    return numpy


def test_an_evaluator_finds_its_sibling_files_and_each_folder_its_own_helper(tmp_path):
    for value in ("first", "second"):
        write(
            tmp_path / value,
            {
                "helper.py": f"VALUE = {value!r}\n",
                "data.txt": value.upper(),
                "evaluator.py": """
                import os
                from helper import VALUE

                def evaluate(program_path):
                    with open(os.path.join(os.path.dirname(__file__), "data.txt")) as f:
                        return {"combined_score": 1.0, "helper": VALUE, "data": f.read()}
                """,
            },
        )
    candidate = program(tmp_path, "x = 1\n")
    first = run_openevolve(str(tmp_path / "first"), candidate)["metrics"]
    second = run_openevolve(str(tmp_path / "second"), candidate)["metrics"]
    assert (first["helper"], first["data"]) == ("first", "FIRST")
    assert (second["helper"], second["data"]) == ("second", "SECOND")


# -- ShinkaEvolve: direct ------------------------------------------------------------------------
def test_the_shinka_evaluation_scores_the_initial_program(tmp_path):
    result = run_shinka(str(SHINKA), str(SHINKA / "initial.py"), str(tmp_path / "r"), timeout_s=120)
    assert_json_safe(result)
    metrics, artifacts = result["metrics"], result["artifacts"]
    assert result["correct"] is True and result["error"] is None
    assert metrics["combined_score"] == pytest.approx(1.4967, abs=1e-3)
    assert metrics["public.num_circles"] == 26 and metrics["num_valid_runs"] == 3
    assert {"execution_time_mean", "execution_time_std"} <= set(metrics)
    assert artifacts["text_feedback"].startswith("sums of radii over 3 seeds")
    assert artifacts["result_source"] == "run_shinka_eval"
    assert "correct: True" in artifacts["stdout"]
    # Shinka's files are written as Shinka writes them.
    written = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert written["public"] == {
        "best_sum_of_radii": pytest.approx(1.5052, abs=1e-3),
        "num_circles": 26,
    }
    assert written["all_validation_errors"] == []
    assert json.loads((tmp_path / "r" / "correct.json").read_text()) == {
        "correct": True,
        "error": None,
    }


def test_a_packing_that_fails_validation_is_incorrect_with_the_message(tmp_path):
    text = (SHINKA / "initial.py").read_text()
    bad = text.replace("largest_radii(centers)\n", "largest_radii(centers) * 1.5\n", 1)
    assert bad != text
    result = run_shinka(str(SHINKA), program(tmp_path, bad), str(tmp_path / "r"), timeout_s=120)
    assert result["correct"] is False
    assert result["error"] == "Validation failed: a circle reaches outside the unit square"
    assert result["metrics"]["num_invalid_runs"] == 3
    assert json.loads(result["artifacts"]["all_validation_errors"]) == [
        "a circle reaches outside the unit square"
    ]


def test_a_program_that_raises_gets_the_default_metrics_and_its_message(tmp_path):
    text = (SHINKA / "initial.py").read_text()
    failing = text.replace("rng = np.random.default_rng(seed)", "raise ValueError('boom')")
    result = run_shinka(str(SHINKA), program(tmp_path, failing), str(tmp_path / "r"), timeout_s=120)
    assert result["correct"] is False and result["error"] == "boom"
    assert result["metrics"] == {
        "combined_score": 0.0,
        "execution_time_mean": 0.0,
        "execution_time_std": 0.0,
        "num_successful_runs": 0,
        "num_valid_runs": 0,
        "num_invalid_runs": 0,
    }
    assert "ValueError: boom" in result["artifacts"]["stderr"]  # the program's traceback


def test_a_script_of_its_own_is_read_from_the_files_it_writes(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "evaluate.py": """
            import argparse, json, os
            parser = argparse.ArgumentParser()
            parser.add_argument("--program_path")
            parser.add_argument("--results_dir")
            parser.add_argument("--level")
            args = parser.parse_args()
            with open(os.path.join(args.results_dir, "metrics.json"), "w") as f:
                json.dump({"combined_score": float(args.level), "private": {"x": 1}}, f)
            with open(os.path.join(args.results_dir, "correct.json"), "w") as f:
                json.dump({"correct": True, "error": None}, f)
            """
        },
    )
    result = run_shinka(
        str(folder),
        program(tmp_path, "x = 1\n"),
        str(tmp_path / "r"),
        timeout_s=120,
        extra_args={"level": 0.5},
    )
    assert result["metrics"] == {"combined_score": 0.5, "private.x": 1}
    assert result["correct"] is True and result["artifacts"]["result_source"] == "metrics.json"


def test_a_script_that_crashes_is_an_error_with_its_stderr(tmp_path):
    folder = write(tmp_path / "f", {"evaluate.py": "raise SystemExit('no arguments I like')\n"})
    with pytest.raises(EvaluatorFailed) as caught:
        run_shinka(str(folder), program(tmp_path, "x = 1\n"), str(tmp_path / "r"), timeout_s=120)
    assert "evaluate.py exited with code 1" in str(caught.value)
    assert "no arguments I like" in caught.value.traceback_tail


def test_a_script_past_its_time_limit_is_killed_with_its_whole_process_group(tmp_path):
    marker = f"agentic-test-{uuid.uuid4().hex}"
    folder = write(
        tmp_path / "f",
        {
            "evaluate.py": f"""
            import subprocess, sys, time
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "{marker}"])
            print("started", flush=True)
            time.sleep(300)
            """
        },
    )
    with pytest.raises(EvaluatorTimedOut) as caught:
        run_shinka(str(folder), program(tmp_path, "x = 1\n"), str(tmp_path / "r"), timeout_s=2)
    assert "ran past its time limit of 2 s" in str(caught.value)
    assert caught.value.sandbox_status == "timeout"
    deadline = time.monotonic() + 30
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == []


def _processes_with(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_text():
                found.append(entry.name)
        except OSError:
            continue
    return found


# -- the shims, against the real packages' behaviour ----------------------------------------------
@pytest.fixture(scope="module")
def wrap_eval():
    """Our shinka.core.wrap_eval, loaded under a private name (no `shinka` in sys.modules)."""
    path = Path(shims_path()) / "shinka" / "core" / "wrap_eval.py"
    spec = importlib.util.spec_from_file_location("_test_shim_wrap_eval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPERIMENT = """
import numpy as np
CALLS = []

def run(seed=0, fail=False, value=None):
    CALLS.append(seed)
    if fail:
        raise RuntimeError(f"run {seed} failed")
    return {"seed": seed, "calls": len(CALLS), "array": np.arange(3), "value": value}

class Custom:
    pass

def custom(**kwargs):
    return Custom()
"""


def test_run_shinka_eval_defaults_as_shinka_does(tmp_path, wrap_eval):
    path = program(tmp_path, EXPERIMENT)
    metrics, correct, error = wrap_eval.run_shinka_eval(
        path, str(tmp_path / "r"), "run", num_runs=2, some_later_option=True
    )
    assert correct is True and error is None
    # No get_experiment_kwargs: each run gets seed = index + 1. No aggregate_metrics_fn: counts.
    assert metrics["num_successful_runs"] == 2
    assert metrics["first_run_result_type"] == "<class 'dict'>"
    assert (
        "'seed': 1" in metrics["raw_results_preview"]
        and "'seed': 2" in metrics["raw_results_preview"]
    )
    assert "'calls': 2" in metrics["raw_results_preview"]  # one process: state lasts, as in Shinka
    assert set(metrics) == {
        "num_successful_runs",
        "first_run_result_type",
        "raw_results_preview",
        "execution_time_mean",
        "execution_time_std",
    }
    assert json.loads((tmp_path / "r" / "correct.json").read_text()) == {
        "correct": True,
        "error": None,
    }


def test_run_shinka_eval_validates_each_run_and_keeps_each_message_once(tmp_path, wrap_eval):
    verdicts = iter([(False, "too small"), (True, None), (False, "too small"), (False, "")])
    metrics, correct, error = wrap_eval.run_shinka_eval(
        program(tmp_path, EXPERIMENT),
        str(tmp_path / "r"),
        "run",
        num_runs=4,
        get_experiment_kwargs=lambda i: {"seed": 10 * i, "value": 1.5},
        validate_fn=lambda result: next(verdicts),
        aggregate_metrics_fn=lambda results: {
            "combined_score": sum(r["value"] for r in results),
            "seeds": [r["seed"] for r in results],
            "array_sum": int(sum(r["array"].sum() for r in results)),
        },
    )
    assert correct is False and error == "Validation failed: too small"
    assert metrics["num_valid_runs"] == 1 and metrics["num_invalid_runs"] == 3
    assert metrics["all_validation_errors"] == ["too small"]
    assert metrics["combined_score"] == 6.0 and metrics["seeds"] == [0, 10, 20, 30]
    assert metrics["array_sum"] == 12  # numpy arrays come back from the program's process


def test_run_shinka_eval_on_a_failure_writes_the_default_metrics(tmp_path, wrap_eval):
    metrics, correct, error = wrap_eval.run_shinka_eval(
        program(tmp_path, EXPERIMENT),
        str(tmp_path / "r"),
        "run",
        num_runs=3,
        get_experiment_kwargs=lambda i: {"seed": i, "fail": i == 1},
        validate_fn=lambda result: (True, None),
        default_metrics_on_error={"combined_score": -1.0, "not_a_default_key": 5},
    )
    assert correct is False and error == "run 1 failed"
    # Only Shinka's default keys are written, with the caller's values where given.
    assert metrics == {
        "combined_score": -1.0,
        "execution_time_mean": 0.0,
        "execution_time_std": 0.0,
        "num_successful_runs": 0,
        "num_valid_runs": 0,
        "num_invalid_runs": 0,
        "all_validation_errors": [],
    }
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == metrics


@pytest.mark.parametrize(
    "fn, kwargs, message",
    [
        ("missing", {}, "Experiment function 'missing' not found in"),
        ("custom", {}, "may hold only plain data and numpy arrays"),
        (
            "run",
            {"aggregate_metrics_fn": lambda r: {"combined_score": float("nan")}},
            "combined_score is nan",
        ),
    ],
)
def test_run_shinka_eval_failures_are_reported_not_raised(tmp_path, wrap_eval, fn, kwargs, message):
    _, correct, error = wrap_eval.run_shinka_eval(
        program(tmp_path, EXPERIMENT), str(tmp_path / "r"), fn, num_runs=1, **kwargs
    )
    assert correct is False and message in error


def test_run_shinka_eval_saves_extra_data_and_refuses_bad_worker_counts(tmp_path, wrap_eval):
    metrics, correct, _ = wrap_eval.run_shinka_eval(
        program(tmp_path, EXPERIMENT),
        str(tmp_path / "r"),
        "run",
        num_runs=1,
        run_workers=4,
        aggregate_metrics_fn=lambda r: {"combined_score": 1.0, "extra_data": {"raw": [1, 2]}},
    )
    assert correct is True and "extra_data" not in metrics
    assert pickle.loads((tmp_path / "r" / "extra.pkl").read_bytes()) == {"raw": [1, 2]}
    with pytest.raises(ValueError, match="run_workers must be >= 1"):
        wrap_eval.run_shinka_eval(
            program(tmp_path, EXPERIMENT), str(tmp_path / "r"), "run", 1, run_workers=0
        )


def test_the_evaluation_result_shim_behaves_as_openevolves():
    spec = importlib.util.spec_from_file_location(
        "_test_shim_result", Path(shims_path()) / "openevolve" / "evaluation_result.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass's module must be importable by its name
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    result = module.EvaluationResult(metrics={"a": 1.0}, artifacts={"s": "héllo", "b": b"\x00\x01"})
    assert module.EvaluationResult.from_dict({"x": 2}).artifacts == {}
    assert result.to_dict() is result.metrics and result.has_artifacts()
    assert result.get_artifact_keys() == ["s", "b"]
    assert (result.get_artifact_size("s"), result.get_artifact_size("b")) == (6, 2)
    assert result.get_artifact_size("missing") == 0 and result.get_total_artifact_size() == 8


# -- inside the real sandbox -----------------------------------------------------------------------
SANDBOXED = """
import os
from agentic_design.tasks.folder import runner

def main(kind, folder, program, **options):
    path = os.path.join(os.getcwd(), "program.py")
    with open(path, "w") as f:
        f.write(program)
    if kind == "shinka":
        results = os.path.join(os.getcwd(), "results")
        return runner.run_shinka(folder, path, results, **options)
    return runner.run_openevolve(folder, path, **options)
"""


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1, preload=["numpy"]) as sb:
        yield sb


def in_sandbox(sandbox, kind: str, folder: Path, text: str, wall_s: float = 120, **options):
    return sandbox.run(
        SANDBOXED,
        entry="main",
        args={"kind": kind, "folder": str(folder), "program": text, **options},
        limits=SandboxLimits(wall_s=wall_s, memory_mb=2048, readable=(str(folder),)),
    )


def without_timings(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if "time" not in k}


@pytest.mark.parametrize(
    "kind, folder, name, options",
    [
        ("openevolve", CIRCLES, "initial_program.py", {}),
        ("openevolve", CASCADE, "initial_program.py", {"cascade": True, "thresholds": [0.5, 0.8]}),
        ("shinka", SHINKA, "initial.py", {"timeout_s": 120}),
    ],
)
def test_each_folder_scores_the_same_inside_the_sandbox(
    sandbox, tmp_path, kind, folder, name, options
):
    inside = in_sandbox(sandbox, kind, folder, (folder / name).read_text(), **options)
    assert inside.status == "ok", inside.error
    if kind == "shinka":
        outside = run_shinka(str(folder), str(folder / name), str(tmp_path / "r"), **options)
    else:
        outside = run_openevolve(str(folder), str(folder / name), **options)
    assert without_timings(inside.value["metrics"]) == without_timings(outside["metrics"])
    assert inside.value["correct"] == outside["correct"] is True


def test_an_evaluator_that_raises_in_the_sandbox_is_an_error_with_its_traceback(sandbox, tmp_path):
    folder = write(
        tmp_path / "f",
        {"evaluator.py": "def evaluate(program_path):\n    return {'x': 1} / 2\n"},
    )
    result = in_sandbox(sandbox, "openevolve", folder, "x = 1\n")
    assert result.status == "error"
    assert "EvaluatorFailed: evaluator.py's evaluate raised TypeError" in result.error
    assert 'evaluator.py", line 2, in evaluate' in result.error


def test_a_shinka_script_past_its_limit_in_the_sandbox_times_out(sandbox, tmp_path):
    folder = write(tmp_path / "f", {"evaluate.py": "import time\ntime.sleep(300)\n"})
    result = in_sandbox(sandbox, "shinka", folder, "x = 1\n", timeout_s=2)
    assert result.status == "timeout"
    assert "evaluate.py ran past its time limit of 2 s" in result.error


def test_a_program_cannot_forge_shinkas_result_files(sandbox):
    # It writes metrics.json (combined_score 1000) and correct.json, and leaves a process
    # rewriting them; the result comes from run_shinka_eval, through a pipe it never holds.
    text = (HOSTILE / "shinka_write_results.py").read_text()
    result = in_sandbox(sandbox, "shinka", SHINKA, text, timeout_s=120)
    assert result.status == "ok", result.error
    assert result.value["metrics"]["combined_score"] == pytest.approx(26 / 12)
    assert result.value["artifacts"]["result_source"] == "run_shinka_eval"


def test_a_program_cannot_patch_shinkas_validation(sandbox):
    text = (HOSTILE / "shinka_patch_validate.py").read_text()
    result = in_sandbox(sandbox, "shinka", SHINKA, text, timeout_s=120)
    assert result.status == "ok", result.error
    assert result.value["correct"] is False
    assert result.value["error"].startswith("Validation failed: circles 0 and 1 overlap")


@pytest.mark.parametrize("name", ["circles_forge_validation.py", "circles_forge_result_file.py"])
def test_a_program_cannot_forge_the_circle_evaluators_verdict(sandbox, name):
    result = in_sandbox(sandbox, "openevolve", CIRCLES, (HOSTILE / name).read_text())
    assert result.status == "ok", result.error
    assert result.value["correct"] is False and result.value["metrics"]["combined_score"] == 0.0


def test_each_hostile_program_keeps_the_fixed_part_of_its_folders_program():
    def outside_block(text: str) -> str:
        start, end = text.index("# EVOLVE-BLOCK-START"), text.index("# EVOLVE-BLOCK-END")
        return text[text.index('"""', 3) : start] + text[end:]

    for path in sorted(HOSTILE.glob("*.py")):
        base = (
            CIRCLES / "initial_program.py"
            if path.name.startswith("circles")
            else SHINKA / "initial.py"
        )
        assert outside_block(path.read_text()) == outside_block(base.read_text()), path.name


# -- settings ------------------------------------------------------------------------------------
def test_openevolves_circle_config_maps_onto_ours():
    settings = folder_settings(CIRCLES, "openevolve")
    assert settings.config == {
        "budget": {"evaluations": 41},  # the initial program, then 40 iterations
        "seed": 7,
        "search": {
            "meta_agent": {"edit_format": "diff", "context_best": 3, "context_diverse": 2},
            "selection": {"strategy": "islands", "islands": 4, "migrate_every": 15},
        },
        "llm": {
            "models": [
                {"model": "openai/gpt-4o-mini", "weight": 0.8},
                {"model": "openai/o3-mini", "weight": 0.2},
            ],
            "choice": "weights",
            "temperature": 0.7,
            "max_tokens": 8192,
            "timeout_s": 90.0,
            "retries": 3,  # OpenEvolve's retries: 2, after the first attempt
        },
        "sandbox": {"wall_s": 70.0, "workers": 2},
    }
    assert settings.task_params["cascade"] is False
    assert settings.task_params["feature_dimensions"] == ["complexity", "diversity"]
    assert settings.task_params["system_message"].startswith("You are an expert")
    ignored = {line.split(":")[0] for line in settings.ignored}
    assert {
        "llm.top_p",
        "database.population_size",
        "evaluator.max_retries",
        "log_level",
        "checkpoint_interval",
        "max_code_length",
    } <= ignored
    assert settings.source == str(CIRCLES / "config.yaml")
    RunConfig.model_validate({"task": "x", **settings.config})


def test_the_cascade_config_gives_one_openai_compatible_model_and_the_cascade():
    settings = folder_settings(CASCADE, "openevolve")
    assert settings.config["llm"] == {
        "model": "openai/qwen2.5-coder:7b",
        "api_base": "http://127.0.0.1:11434/v1",
        "api_key_env": "OLLAMA_API_KEY",  # from ${OLLAMA_API_KEY}: a name, not a key
        "temperature": 0.4,
    }
    assert settings.task_params == {"cascade": True, "thresholds": [0.5, 0.8]}
    assert settings.config["sandbox"] == {"wall_s": 50.0}  # two stages of 20 s, and a margin
    assert settings.config["search"] == {"meta_agent": {"edit_format": "full"}}
    assert settings.ignored == []


def test_shinkas_config_maps_onto_ours():
    settings = folder_settings(SHINKA, "shinka")
    assert settings.config == {
        "sandbox": {"workers": 2, "wall_s": 130.0},
        "search": {
            "meta_agent": {"in_flight": 3, "edit_format": "auto"},
            "selection": {"strategy": "islands", "islands": 2, "migrate_every": 10},
        },
        "budget": {"evaluations": 30, "usd": 2.5},
        "llm": {
            "models": [
                {"model": "openai/gpt-4.1-mini"},
                {"model": "anthropic/claude-3-5-haiku-20241022"},
                {"model": "openai/qwen2.5-coder", "api_base": "http://127.0.0.1:8000/v1"},
            ],
            "choice": "bandit",
            "exploration": 0.5,
            "temperature": 0.5,  # the mean of Shinka's [0.0, 0.5, 1.0]
            "max_tokens": 8192,
        },
    }
    assert settings.task_params["system_message"].startswith("You are an expert")
    ignored = {line.split(":")[0] for line in settings.ignored}
    assert {
        "evo.llm_kwargs.temperatures",
        "evo.embedding_model",
        "db.archive_size",
        "verbose",
        "evo.patch_types",
    } <= ignored
    RunConfig.model_validate({"task": "x", **settings.config})


def test_a_literal_api_key_is_never_copied(tmp_path):
    key = "sk-live-0123456789abcdef"
    folder = write(
        tmp_path / "f",
        {
            "config.yaml": f"""
            llm:
              api_key: "{key}"
              api_base: "https://openrouter.ai/api/v1"
              models:
                - name: "google/gemini-2.0-flash"
                  weight: 1
                  api_key: "{key}"
                - name: "openai/gpt-4o"
                  weight: 0.5
            """
        },
    )
    settings = folder_settings(folder, "openevolve")
    assert key not in repr(settings) and key not in json.dumps(settings.config)
    assert any(
        line.startswith("llm.api_key: a literal API key is never copied")
        for line in settings.ignored
    )
    assert any(line.startswith("llm.models[0].api_key:") for line in settings.ignored)
    # OpenEvolve sends every name as it is to an OpenAI-compatible server: so does litellm here.
    assert [m["model"] for m in settings.config["llm"]["models"]] == [
        "openai/google/gemini-2.0-flash",
        "openai/openai/gpt-4o",
    ]


def test_without_a_config_openevolves_cascade_defaults_apply(tmp_path):
    settings = folder_settings(write(tmp_path / "f", {}), "openevolve")
    assert settings.config == {} and settings.source is None
    assert settings.task_params == {"cascade": True, "thresholds": [0.5, 0.75, 0.9]}


@pytest.mark.parametrize(
    "kind, name, text, message",
    [
        ("openevolve", "config.yaml", "max_iterations: [1\n", "YAML syntax error at line 2"),
        ("openevolve", "config.yaml", "- a list\n", "the top level must be a mapping"),
        (
            "openevolve",
            "config.yaml",
            "max_iterations: many\n",
            "max_iterations: must be an integer",
        ),
        (
            "openevolve",
            "config.yaml",
            "llm:\n  model: gpt-4o\n",
            "llm.model: not an OpenEvolve setting",
        ),
        (
            "openevolve",
            "config.yaml",
            "llm:\n  models: [{weight: 1}]\n",
            "llm.models[0].name: must be text",
        ),
        (
            "openevolve",
            "config.yaml",
            "evaluator:\n  parallel_evaluations: 100\n",
            "evaluator.parallel_evaluations: Input should be less than or equal to 64",
        ),
        ("openevolve", "config.yaml", "language: rust\n", "language: only Python programs"),
        ("shinka", "shinka.yaml", "job:\n  time: 2 minutes\n", "job.time: must be a time hh:mm:ss"),
        ("shinka", "shinka.yaml", "evo: {}\nevo_config: {}\n", "evo_config: given with 'evo'"),
        ("shinka", "shinka.yaml", "evo: [1]\n", "evo: must be a mapping"),
    ],
)
def test_a_malformed_config_names_the_file_and_the_key(tmp_path, kind, name, text, message):
    folder = write(tmp_path / "f", {name: text})
    with pytest.raises(FolderSettingsError) as caught:
        folder_settings(folder, kind)
    assert str(folder / name) in str(caught.value) and message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_several_shinka_configs_must_be_named(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "shinka_small.yaml": "max_evaluation_jobs: 1\n",
            "shinka_large.yaml": "max_evaluation_jobs: 8\n",
        },
    )
    with pytest.raises(FolderSettingsError, match="several Shinka configuration files"):
        folder_settings(folder, "shinka")
    named = folder_settings(folder, "shinka", config_file=Path("shinka_large.yaml"))
    assert named.config == {"sandbox": {"workers": 8}}


def test_a_hydra_variant_reads_with_targets_and_interpolations_skipped(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "config.yaml": """
            defaults:
              - override /database@_global_: island_large
            evo_config:
              _target_: shinka.core.EvolutionConfig
              num_generations: 20
              llm_models: ["gemini-2.5-flash"]
              llm_dynamic_selection: null
              results_dir: ${output_dir}
            job_config:
              _target_: shinka.launch.LocalJobConfig
              eval_program_path: ${distributed_job_config.eval_program_path}
            """
        },
    )
    settings = folder_settings(folder, "shinka")
    assert settings.config == {
        "budget": {"evaluations": 20},
        "llm": {"model": "gemini/gemini-2.5-flash"},
    }
    ignored = {line.split(":")[0] for line in settings.ignored}
    assert {"defaults", "evo_config.results_dir", "job_config.eval_program_path"} <= ignored


def test_shinkas_run_evo_script_is_read_for_its_literal_settings(tmp_path):
    folder = write(
        tmp_path / "f",
        {
            "run_evo.py": """
            from shinka.core import EvolutionConfig, ShinkaEvolveRunner
            from shinka.database import DatabaseConfig
            from shinka.launch import LocalJobConfig

            SYSTEM = "Pack circles."
            job_config = LocalJobConfig(eval_program_path="evaluate.py", time="00:05:00")
            db_config = DatabaseConfig(num_islands=3, migration_interval=12, archive_size=40)
            evo_config = EvolutionConfig(
                task_sys_msg=SYSTEM,
                num_generations=15,
                llm_models=["claude-sonnet-4", "azure-gpt-4.1", "headless/codex",
                            "local/qwen@http://127.0.0.1:9000/v1?api_key_env=LOCAL_KEY"],
                llm_dynamic_selection="fixed",
                llm_dynamic_selection_kwargs=dict(prior_probs=[0.5, 0.3, 0.1, 0.1]),
                llm_kwargs=dict(temperatures=0.3, max_tokens=4096),
                patch_types=["diff"],
                results_dir=make_dir(),
            )

            def main():
                ShinkaEvolveRunner(evo_config=evo_config, job_config=job_config,
                                   db_config=db_config, max_evaluation_jobs=4).run()
            """
        },
    )
    settings = folder_settings(folder, "shinka")
    assert settings.source == str(folder / "run_evo.py")
    assert settings.config == {
        "sandbox": {"wall_s": 310.0, "workers": 4},
        "search": {
            "selection": {"strategy": "islands", "islands": 3, "migrate_every": 12},
            "meta_agent": {"edit_format": "diff"},
        },
        "budget": {"evaluations": 15},
        "llm": {
            "models": [
                {"model": "anthropic/claude-sonnet-4", "weight": 0.5},
                {"model": "azure/gpt-4.1", "weight": 0.3},
                {
                    "model": "openai/qwen",
                    "api_base": "http://127.0.0.1:9000/v1",
                    "api_key_env": "LOCAL_KEY",
                    "weight": 0.1,
                },
            ],
            "choice": "weights",
            "temperature": 0.3,
            "max_tokens": 4096,
        },
    }
    assert settings.task_params == {"system_message": "Pack circles.", "timeout_s": 300.0}
    assert any(
        line.startswith("evo.results_dir: not a literal in run_evo.py") for line in settings.ignored
    )
    assert any(line.startswith("evo.llm_models[2]: headless/codex") for line in settings.ignored)


def test_the_settings_give_the_folder_task_only_parameters_it_takes():
    from agentic_design.tasks.folder import FOLDER_SETTINGS, ProblemFolderTask

    assert ProblemFolderTask.accepted_params >= settings_module.TASK_PARAMS
    assert settings_module.TASK_PARAMS == FOLDER_SETTINGS  # each has its default there


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown problem folder kind"):
        folder_settings(CIRCLES, "funsearch")


def test_the_shims_sit_where_the_runner_says_and_only_there():
    shims = Path(shims_path())
    assert (shims / "openevolve" / "evaluation_result.py").is_file()
    assert (shims / "shinka" / "core" / "__init__.py").is_file()
    # Not a package of ours: no top-level `openevolve` or `shinka` appears by importing us.
    assert not (shims / "__init__.py").exists()
    assert os.path.isdir(shims) and "openevolve" not in os.listdir(REPO / "agentic_design")
