"""Designs that end badly or send back something other than a plain JSON result."""

import pytest


def test_a_huge_return_value_hits_the_output_limit(hostile):
    result = hostile.run("return 'x' * 3_000_000", result_bytes=1_000_000)
    assert result.status == "output_limit"


def test_an_unserialisable_return_value_is_an_error(hostile):
    result = hostile.run("return {1, 2, 3}")
    assert result.status == "error" and "not JSON data" in result.error


def test_an_object_whose_unpickling_runs_code_is_never_unpickled(hostile, tmp_path):
    marker = tmp_path / "unpickled"
    body = f"""
import pickle
class Evil:
    def __reduce__(self):
        return (open, ({str(marker)!r}, "w"))
return {{"payload": pickle.dumps(Evil()).hex()}}
"""
    result = hostile.run(body)
    assert result.status == "ok" and isinstance(result.value["payload"], str)
    direct = hostile.run(body.replace('{"payload": pickle.dumps(Evil()).hex()}', "Evil()"))
    assert direct.status == "error" and "not JSON data" in direct.error
    assert not marker.exists()


@pytest.mark.parametrize("value", ["float('nan')", "float('inf')", "{'loss': -float('inf')}"])
def test_nan_and_infinite_metrics_are_errors_not_numbers(hostile, value):
    result = hostile.run(f"return {value}")
    assert result.status == "error" and "not JSON data" in result.error


def test_a_segfault_is_reported_as_killed(hostile):
    result = hostile.run("import ctypes\nctypes.string_at(0)")
    assert result.status == "killed" and "SIGSEGV" in result.error


def test_os_exit_without_a_result_is_an_error(hostile):
    result = hostile.run("os._exit(0)")
    assert result.status == "error" and "without returning a result" in result.error


def test_sys_exit_without_a_result_is_an_error(hostile):
    result = hostile.run("sys.exit(3)")
    assert result.status == "error" and "SystemExit" in result.error


def test_closing_its_own_file_descriptors_is_an_error(hostile):
    result = hostile.run("os.closerange(0, 1024)\nreturn 'unsent'")
    assert result.status == "error" and "without returning a result" in result.error


def test_a_forged_reply_frame_is_rejected(hostile):
    body = """
import json, struct
data = json.dumps({"status": "ok", "value": 1, "wall_s": -1}).encode()
os.write(3, struct.pack("!Q", len(data)) + data)
os._exit(0)
"""
    result = hostile.run(body)
    assert result.status == "error" and "not a valid result frame" in result.error


def test_a_design_cannot_change_how_it_is_scored(tmp_path):
    from agentic_design.config import RunConfig
    from agentic_design.records import Status
    from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for

    # It patches the scorer inside the sandbox and returns a useless model.
    code = """
import torch
from torch import nn
import agentic_design.tasks.architecture as arch
from agentic_design.tasks.base import Score
arch.ArchitectureTask.score = lambda self, outputs, split: Score(1.0, 1.0, 1.0, {})
def build_model(input_shape, num_classes):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))
def train_recipe():
    return {"lr": 1e-5, "epochs": 1}
"""
    config = RunConfig.from_dict({"task": "digits"})
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task, workers=1) as sandbox:
        result = evaluator_for(config, task, sandbox).evaluate(code, seed=0)
    assert result.status is Status.OK
    assert result.fitness < 0.5
