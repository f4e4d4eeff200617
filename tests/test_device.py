"""Training devices: GPUs found without CUDA, one sandbox worker pinned to each, the CPU where
there is none (and saying so), and what a replay promises on each.

This machine may have no GPU: the GPUs here are a fake driver table and fake device nodes, and
the real sandbox runs with them pinned; `benchmarks/gpu_training.py` is the check on a real one.
"""

import json
import math
import resource
from pathlib import Path

import pytest
import yaml

from agentic_design.config import ConfigError, RunConfig
from agentic_design.records import Design, Evaluation, Status
from agentic_design.run.assemble import build_task, device_plan, evaluator_for, sandbox_for
from agentic_design.run.evaluation import load_design_module
from agentic_design.run.replay import judge_replay
from agentic_design.sandbox import Sandbox
from agentic_design.sandbox.devices import (
    DeviceError,
    Gpu,
    Pin,
    assign,
    device_files,
    pinned_environment,
    plan_devices,
    visible_gpus,
)
from agentic_design.tasks import InvalidOutputs, load_task
from agentic_design.tasks.architecture.budget import AUTO_CPU, BUDGET_ASKS

from .conftest import cli, small_digits_config

H100 = "GPU-11111111-aaaa-bbbb-cccc-000000000000"
A100 = "GPU-22222222-aaaa-bbbb-cccc-000000000000"


def fake_machine(root: Path, gpus: list[tuple[str, str, str, int]], nodes: list[str]) -> None:
    """A driver table (bus id, model, UUID, minor per GPU) and device nodes under `root`."""
    for bus, model, uuid, minor in gpus:
        folder = root / "proc" / "driver" / "nvidia" / "gpus" / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(
            f"Model: \t\t {model}\nIRQ: \t\t 42\nGPU UUID: \t {uuid}\n"
            f"Bus Location: \t {bus}\nDevice Minor: \t {minor}\nGPU Excluded: \t No\n"
        )
    (root / "dev").mkdir(exist_ok=True)
    for node in nodes:
        (root / "dev" / node).touch()


def gpus_of(root: Path, **environ: str) -> list[Gpu]:
    return visible_gpus(environ, proc=str(root / "proc"), dev=str(root / "dev"))


TWO_GPUS = [
    ("0000:3b:00.0", "NVIDIA A100-SXM4-80GB", A100, 1),  # listed first, but second on the bus
    ("0000:18:00.0", "NVIDIA H100 80GB HBM3", H100, 0),
]


# -- finding GPUs, without CUDA --------------------------------------------------------------


def test_gpus_come_from_the_driver_table_in_pci_bus_order(tmp_path):
    fake_machine(tmp_path, TWO_GPUS, ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"])
    gpus = gpus_of(tmp_path)
    assert [g.selector for g in gpus] == [H100, A100]  # pinned by UUID: no numbering to agree on
    assert gpus[0].name == "NVIDIA H100 80GB HBM3"
    assert gpus[0].device_file == str(tmp_path / "dev" / "nvidia0")


def test_a_containers_gpus_are_those_whose_device_node_it_was_given(tmp_path):
    fake_machine(tmp_path, TWO_GPUS, ["nvidia1", "nvidiactl"])
    assert [g.selector for g in gpus_of(tmp_path)] == [A100]


@pytest.mark.parametrize(
    "wanted, selectors",
    [
        ("1", [A100]),
        ("1,0", [A100, H100]),
        (A100[:12], [A100]),  # a UUID prefix, as CUDA accepts it
        ("", []),
        ("-1", []),
        ("0,-1,1", [H100]),  # CUDA stops at the first entry it cannot use
        ("MIG-3f2e", ["MIG-3f2e"]),  # a MIG instance: passed on as it is
    ],
)
def test_cuda_visible_devices_chooses_among_them(tmp_path, wanted, selectors):
    fake_machine(tmp_path, TWO_GPUS, ["nvidia0", "nvidia1", "nvidiactl"])
    assert [g.selector for g in gpus_of(tmp_path, CUDA_VISIBLE_DEVICES=wanted)] == selectors


def test_without_a_driver_table_the_device_nodes_count_but_which_is_which_is_unknown(tmp_path):
    fake_machine(tmp_path, [], ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"])
    gpus = gpus_of(tmp_path)
    assert [(g.selector, g.device_file) for g in gpus] == [("0", None), ("1", None)]
    # so a worker pinned to one may open every GPU's node: CUDA_VISIBLE_DEVICES alone pins it
    assert len(device_files(gpus[0], dev=str(tmp_path / "dev"))) == 4


def test_a_machine_without_nvidia_files_has_no_gpu(tmp_path):
    fake_machine(tmp_path, [], ["null"])
    assert gpus_of(tmp_path) == [] == gpus_of(tmp_path, CUDA_VISIBLE_DEVICES="0")


# -- pinning workers -------------------------------------------------------------------------

ONE, OTHER = Gpu(H100, "H100", "/dev/nvidia0"), Gpu(A100, "A100", "/dev/nvidia1")


def test_workers_are_pinned_round_robin_and_share_a_gpus_memory_evenly():
    assert assign(2, [ONE], None) == [Pin(ONE, 0.5), Pin(ONE, 0.5)]
    assert assign(2, [ONE, OTHER], None) == [Pin(ONE, 1.0), Pin(OTHER, 1.0)]
    assert [p.gpu for p in assign(4, [ONE, OTHER], None)] == [ONE, OTHER, ONE, OTHER]
    assert {p.memory_fraction for p in assign(3, [ONE, OTHER], None)} == {0.5}
    assert assign(2, [], None) == [Pin(), Pin()]  # no GPU: the CPU, and no share of anything


def test_a_memory_fraction_that_leaves_room_lets_workers_share_a_gpu():
    assert assign(2, [ONE], 0.45) == [Pin(ONE, 0.45), Pin(ONE, 0.45)]
    assert len(assign(3, [ONE], 1 / 3)) == 3  # no float rounding away the third worker


def test_a_memory_fraction_too_large_for_the_workers_is_refused_with_one_that_fits():
    with pytest.raises(DeviceError, match=r"2 workers cannot share 1 GPU.*lower it to 0\.5"):
        assign(2, [ONE], 0.6)


def test_a_pinned_worker_may_open_the_drivers_nodes_and_its_own_gpus_not_another_gpus(
    tmp_path,
):
    fake_machine(tmp_path, [], ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null"])
    dev = tmp_path / "dev"
    mine = Gpu(H100, "H100", str(dev / "nvidia1"))
    assert device_files(mine, dev=str(dev)) == tuple(
        str(dev / name) for name in ("nvidia-uvm", "nvidia1", "nvidiactl")
    )
    assert device_files(None, dev=str(dev)) == ()


def test_a_server_is_pinned_in_its_environment_and_an_unpinned_one_sees_no_gpu():
    env = pinned_environment({"PATH": "/bin"}, ONE)
    assert env["CUDA_VISIBLE_DEVICES"] == H100
    assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"  # cuBLAS's deterministic workspace
    assert pinned_environment({"PATH": "/bin"}, None)["CUDA_VISIBLE_DEVICES"] == ""


ENVIRONMENT = """
import os, resource

def main():
    return {
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "cublas": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "address_space": resource.getrlimit(resource.RLIMIT_AS)[0],
    }
"""


def test_each_sandbox_worker_runs_pinned_to_its_own_gpu_in_a_real_sandbox():
    fakes = [Gpu(H100, "fake H100"), Gpu(A100, "fake A100")]
    with Sandbox(workers=2, preload=[], gpus=fakes) as sandbox:
        assert [s["pin"]["gpu"][0] for s in sandbox.servers()] == [H100, A100]
        # an idle worker goes to the back of the queue: two calls, one on each
        seen = [sandbox.run(ENVIRONMENT).value for _ in range(2)]
        report = {p["name"]: p for p in sandbox.protections}
    assert sorted(s["visible"] for s in seen) == sorted([H100, A100])
    assert all(s["cublas"] == ":4096:8" for s in seen)
    # CUDA reserves far more address space than it uses: no RLIMIT_AS on a GPU worker (its
    # memory cgroup still bounds host memory), and its pinned share caps torch's allocator.
    assert all(s["address_space"] == resource.RLIM_INFINITY for s in seen)
    assert "pinned by CUDA_VISIBLE_DEVICES" in report["device files"]["detail"]


def test_a_cpu_sandbox_hides_every_gpu_and_keeps_its_address_space_limit():
    with Sandbox(workers=1, preload=[]) as sandbox:
        seen = sandbox.run(ENVIRONMENT).value
        report = {p["name"]: p for p in sandbox.protections}
    assert seen["visible"] == "" and seen["address_space"] == 4096 * 1024 * 1024
    assert report["device files"]["detail"].startswith("only /dev/null")


# -- a run's plan ----------------------------------------------------------------------------


def test_the_plan_says_where_evaluations_train():
    assert plan_devices(None, [ONE], 2, None).gpus is None  # a task that names no device
    assert plan_devices("cpu", [ONE], 2, None).gpus == ()  # the GPU hidden from the sandbox
    fallback = plan_devices("auto", [], 2, None)
    assert fallback.gpus == () and "the CPU, as device auto falls back to" in fallback.note
    on_gpu = plan_devices("auto", [ONE], 2, None)
    assert on_gpu.gpus == (ONE,) and "2 worker(s) on 1 GPU(s)" in on_gpu.note
    assert "0.5 of its GPU's memory" in on_gpu.note
    with pytest.raises(DeviceError, match="cuda is asked for, but no NVIDIA GPU is visible"):
        plan_devices("cuda", [], 2, None)


def test_config_errors_name_the_file_and_the_field(monkeypatch):
    monkeypatch.setattr("agentic_design.run.assemble.visible_gpus", lambda: [])
    config = RunConfig.from_dict({"task": "digits", "train": {"device": "cuda"}}, "my.yaml")
    with pytest.raises(ConfigError, match=r"^my\.yaml: train\.device: cuda is asked for"):
        device_plan(config, build_task(config))
    monkeypatch.setattr("agentic_design.run.assemble.visible_gpus", lambda: [ONE])
    config = RunConfig.from_dict(
        {"task": "digits", "sandbox": {"workers": 2, "gpu_memory_fraction": 0.7}}, "my.yaml"
    )
    with pytest.raises(ConfigError, match=r"^my\.yaml: sandbox\.gpu_memory_fraction: 2 workers"):
        device_plan(config, build_task(config))


def test_an_unknown_device_is_a_config_error():
    config = RunConfig.from_dict({"task": "digits", "train": {"device": "tpu"}}, "my.yaml")
    with pytest.raises(ConfigError, match=r"my\.yaml: train\.device: Input should be 'auto'"):
        build_task(config)


@pytest.mark.parametrize(
    "device, where",
    [
        ("cpu", "deterministically on\n1 CPU thread(s)."),
        ("cuda", "deterministically on\na GPU."),
        ("auto", "deterministically on\na GPU where there is one, else 1 CPU thread(s)."),
    ],
)
def test_the_prompt_says_where_training_runs(device, where):
    task = build_task(RunConfig.from_dict({"task": "digits", "train": {"device": device}}))
    assert where in task.describe()


# -- the trainer -----------------------------------------------------------------------------


def train(budget: dict, code: str | None = None):
    """The trainer in this process, on the digits task, for a few steps."""
    from agentic_design.tasks.architecture.training import train_and_predict

    task = load_task("digits")
    task.configure({"max_epochs": 1, **budget})
    data = task.inputs()
    design = load_design_module(code or task.seeds()[0].code)
    return train_and_predict(
        design,
        x_train=data["x_train"][:256],
        y_train=data["y_train"][:256],
        x_eval=data["x_validation"],
        num_classes=10,
        seed=0,
        budget=task.budget,
    )


def test_device_cpu_trains_on_the_cpu_and_says_the_budget_asked_for_it():
    outputs = train({"device": "cpu"})
    assert (outputs["device"], outputs["device_reason"]) == ("cpu", BUDGET_ASKS)
    assert outputs["deterministic"] is True and outputs["peak_memory_mb"] > 0


def test_device_cuda_without_one_in_the_sandbox_fails_rather_than_train_on_the_cpu(
    monkeypatch,
):
    import torch

    from agentic_design.tasks.architecture.training import DeviceUnavailable

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailable, match="no CUDA device is visible in the sandbox"):
        train({"device": "cuda"})
    assert train({"device": "auto"})["device_reason"] == AUTO_CPU


NONDETERMINISTIC = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        # put_ without accumulate has no deterministic kernel: torch warns, the trainer notes it
        x.flatten().put_(torch.tensor([0]), torch.tensor([0.0]))
        return self.fc(x.flatten(1))

def build_model(input_shape, num_classes):
    return Net()
"""


def test_a_kernel_without_a_deterministic_version_is_noted_and_its_warning_still_shown():
    with pytest.warns(UserWarning, match="does not have a deterministic implementation"):
        assert train({"device": "cpu"}, NONDETERMINISTIC)["deterministic"] is False


# -- the untrusted report, replays -----------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    task = load_task("digits")
    task.prepare()
    return task


@pytest.mark.parametrize(
    "field, value",
    [
        ("device", "tpu"),
        ("device_name", "\x1b[2J a terminal escape"),
        ("device_name", "x" * 201),
        ("device_name", ""),
        ("device_reason", "because the design said so"),
        ("peak_memory_mb", -1.0),
        ("peak_memory_mb", math.inf),
        ("deterministic", "yes"),
    ],
)
def test_a_malformed_device_report_is_rejected(digits, field, value):
    predictions = digits.labels("validation").tolist()
    with pytest.raises(InvalidOutputs, match=field):
        digits.score({"predictions": predictions, field: value}, "validation")


def test_a_replay_trains_on_the_device_the_evaluation_recorded(digits):
    on_gpu = digits.replay_budget(digits.budget, {"steps": 40, "device": "cuda"})
    assert (on_gpu.max_steps, on_gpu.device) == (40, "cuda")
    # a record from before there was a choice trained on the CPU
    assert digits.replay_budget(digits.budget, {"steps": 40}).device == "cpu"
    assert digits.replay_budget(digits.budget, {}).device == "auto"  # nothing to repeat


GPU = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "deterministic": True}


def test_what_a_replay_promises_on_each_device(digits):
    assert digits.replay_inexact({"device": "cpu"}, {"device": "cpu"}) is None
    assert digits.replay_inexact(GPU, GPU) is None  # deterministic kernels, the same GPU
    racy = {**GPU, "deterministic": False}
    assert "no deterministic version" in digits.replay_inexact(racy, racy)
    other = {**GPU, "device_name": "NVIDIA A100-SXM4-80GB"}
    assert "and the replay on NVIDIA A100" in digits.replay_inexact(GPU, other)


def design(fitness: float | None, status: Status = Status.OK) -> Design:
    return Design(
        id=3, run="r", name="n", thought="", code="", code_hash="", status=status,
        fitness=fitness, ci_low=0.80, ci_high=0.90,
    )  # fmt: skip


def measured(fitness: float | None, status: Status = Status.OK) -> Evaluation:
    return Evaluation(status=status, split="validation", seed=0, fitness=fitness)


def test_a_replay_matches_exactly_or_where_it_cannot_inside_the_recorded_interval():
    exact = judge_replay(design(0.85), measured(0.85), None)
    assert exact.matches and exact.exact and exact.tolerance is None
    assert not judge_replay(design(0.85), measured(0.86), None).matches
    close = judge_replay(design(0.85), measured(0.86), "a GPU's kernels")
    assert close.matches and not close.exact and close.tolerance == (0.80, 0.90)
    assert not judge_replay(design(0.85), measured(0.91), "a GPU's kernels").matches
    failed = measured(None, Status.ERROR)
    assert not judge_replay(design(0.85), failed, "a GPU's kernels").matches


# -- through the command line ----------------------------------------------------------------


@pytest.mark.slow
def test_device_cuda_on_a_machine_without_a_gpu_exits_2_before_anything_starts(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever this machine has
    config = small_digits_config(tmp_path / "run", train={"max_epochs": 2, "device": "cuda"})
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("run", str(path), "--no-progress")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}: train.device: cuda is asked for, but no NVIDIA GPU" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_auto_falls_back_to_the_cpu_says_so_and_show_prints_where_it_trained(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    config = small_digits_config(tmp_path / "run", evaluations=2, train={"max_epochs": 2})
    config["sandbox"]["workers"] = 1
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("run", str(path), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "devices: the CPU, as device auto falls back to: no NVIDIA GPU" in result.stderr
    shown = cli("show", str(tmp_path / "run"), "--id", "1")
    assert shown.returncode == 0
    assert '"device": "cpu"' in shown.stdout and "peak_memory_mb" in shown.stdout
    assert AUTO_CPU in shown.stdout
    metrics = json.loads(cli("show", str(tmp_path / "run"), "--json").stdout)["designs"][0]
    assert metrics["metrics"]["peak_memory_mb"] > 0
    replayed = cli("replay", str(tmp_path / "run"), "1")
    assert "reproduced exactly" in replayed.stdout, replayed.stdout + replayed.stderr


def test_sandbox_info_lists_the_device_files_it_lets_through():
    result = cli("sandbox-info")
    assert result.returncode == 0
    assert "device files" in result.stdout and "/dev/null, /dev/zero" in result.stdout


def test_an_evaluation_in_the_real_sandbox_records_where_it_trained(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    config = RunConfig.from_dict(
        {"task": "digits", "train": {"max_epochs": 1}, "sandbox": {"workers": 1}}
    )
    task = build_task(config)
    task.prepare()
    with sandbox_for(config, task) as sandbox:
        evaluation = evaluator_for(config, task, sandbox).evaluate(task.seeds()[0].code, seed=0)
    assert evaluation.status is Status.OK, evaluation.error
    metrics = evaluation.metrics
    assert (metrics["device"], metrics["device_reason"]) == ("cpu", AUTO_CPU)
    assert metrics["device_name"] and metrics["peak_memory_mb"] > 0
    assert metrics["deterministic"] is True
