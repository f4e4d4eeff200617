"""Evaluation in the real sandbox: broken designs get a clear status, good ones replay exactly."""

from dataclasses import replace

import pytest

from agentic_design.config import RunConfig
from agentic_design.records import Status
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for

LINEAR = """
from torch import nn
def build_model(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))
def train_recipe():
    return {"optimizer": "adam", "lr": 0.01, "epochs": 3, "batch_size": 64}
"""


@pytest.fixture(scope="module")
def evaluator():
    config = RunConfig.from_dict(
        {"task": "digits", "train": {"max_epochs": 5, "max_seconds": 5, "max_params": 10_000}}
    )
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task, workers=1) as sandbox:
        yield evaluator_for(config, task, sandbox)


def test_a_good_design_is_scored_with_its_training_record(evaluator):
    result = evaluator.evaluate(LINEAR, seed=0)
    assert result.status is Status.OK, result.error
    assert 0.8 < result.fitness <= 1.0 and result.ci_low <= result.fitness <= result.ci_high
    metrics = result.metrics
    assert metrics["params"] == 650 and metrics["epochs_done"] == 3
    assert len(metrics["curve"]) == 3 and metrics["curve"][-1] < metrics["curve"][0]
    assert metrics["stopped_by"] == "epochs" and metrics["latency_ms"] > 0
    assert result.descriptors["log10_params"] == pytest.approx(2.8129, abs=1e-3)


def test_training_is_deterministic_and_a_step_limited_rerun_matches(evaluator):
    first = evaluator.evaluate(LINEAR, seed=5)
    again = evaluator.evaluate(LINEAR, seed=5, recorded=first.metrics)
    other_seed = evaluator.evaluate(LINEAR, seed=6)
    assert first.fitness == again.fitness
    assert first.metrics["curve"] == again.metrics["curve"]
    assert other_seed.metrics["curve"] != first.metrics["curve"]


@pytest.mark.parametrize(
    "code, status, message",
    [
        ("x = 1\n", Status.INVALID, "defines no function build_model"),
        ("def build_model(:\n", Status.INVALID, "syntax error at line 1"),
        ("def build_model(s, n):\n    return 3\n", Status.INVALID, "not a torch.nn.Module"),
        (
            "from torch import nn\ndef build_model(s, n):\n"
            "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 7))\n",
            Status.INVALID,
            "shape check failed",
        ),
        (
            "from torch import nn\ndef build_model(s, n):\n"
            "    return nn.Sequential(nn.Flatten(), nn.Linear(64, 500), nn.Linear(500, n))\n",
            Status.INVALID,
            "over the cap of 10,000",
        ),
        (
            LINEAR + "def train_recipe():\n    return {'optimizer': 'lbfgs'}\n",
            Status.INVALID,
            "unknown optimizer",
        ),
        ("def build_model(s, n):\n    return 1 / 0\n", Status.ERROR, "ZeroDivisionError"),
    ],
)
def test_broken_designs_are_recorded_with_a_status_and_a_reason(evaluator, code, status, message):
    result = evaluator.evaluate(code, seed=0)
    assert result.status is status
    assert message in result.error
    assert result.fitness is None


def test_a_design_that_loops_forever_times_out_and_the_pool_keeps_serving(evaluator):
    looping = "def build_model(s, n):\n    while True:\n        pass\n"
    normal = evaluator.limits
    evaluator.limits = replace(normal, wall_s=2)
    try:
        result = evaluator.evaluate(looping, seed=0)
    finally:
        evaluator.limits = normal
    assert result.status is Status.TIMEOUT
    assert evaluator.evaluate(LINEAR, seed=0).status is Status.OK


def test_error_traceback_quotes_the_designs_own_lines_not_the_frameworks(evaluator):
    code = "def build_model(s, n):\n    values = []\n    return values[3]\n"
    result = evaluator.evaluate(code, seed=0)
    assert result.status is Status.ERROR
    assert "IndexError" in result.error and "return values[3]" in result.error
    assert 'File "<design>", line 3, in build_model' in result.error
    assert "agentic_design" not in result.error.split("Traceback", 1)[1]


def test_a_forward_pass_that_raises_fails_the_shape_check_as_invalid(evaluator):
    code = (
        "from torch import nn\ndef build_model(s, n):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(256, n))\n"
    )
    result = evaluator.evaluate(code, seed=0)
    assert result.status is Status.INVALID
    assert "shape check failed" in result.error and "mat1 and mat2" in result.error
    assert "_call_impl" not in result.error


def test_a_sandboxed_evaluation_does_not_load_the_orchestrator():
    # The worker imports the evaluation entry point and the task; the search's own stack
    # (console, templates, the LLM client, the run store) has no business there.
    from agentic_design.sandbox import Sandbox

    code = (
        "import sys\n"
        "def main(names):\n"
        "    return [name for name in names if name in sys.modules]\n"
    )
    names = ["rich", "jinja2", "litellm", "openai", "typer", "yaml", "agentic_design.run.search"]
    names += ["agentic_design.store.archive", "agentic_design.llm", "agentic_design.config"]
    with Sandbox(workers=1, preload=["agentic_design.run.evaluation"]) as sandbox:
        result = sandbox.run(code, entry="main", args={"names": names})
    assert result.status == "ok", result.error
    assert result.value == []
