"""The trainer every architecture design goes through, inside the sandbox.

Readable top to bottom: check the design, clamp its recipe, choose the device, train it
deterministically within a budget of epochs and seconds, then predict. Determinism (one thread,
seeded generators, the same batch order; on a GPU, torch's deterministic kernels) is what lets
`replay` get the same accuracy back; a run cut short by its time budget records how many steps
it took, and a replay repeats exactly that many, on the device it recorded.

A cheap evaluation (`budget.fidelity` below 1) trains that share of the steps the recipe's
epochs plan, within that share of the time: the first steps of the full training, since no
learning rate schedule depends on the total. `model_fingerprint` is the design's behaviour
without training: what it builds, how it starts and the recipe it trains with.
"""

from __future__ import annotations

import hashlib
import math
import platform
import random
import re
import resource
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from agentic_design.tasks.architecture.budget import AUTO_CPU, AUTO_GPU, BUDGET_ASKS, TrainBudget
from agentic_design.tasks.base import InvalidDesign
from agentic_design.tasks.common import share_count

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
#: The optimizers that read the recipe's momentum; the others ignore it.
WITH_MOMENTUM = ("sgd", "rmsprop")
#: Training examples in the fingerprint's one forward and backward pass.
PROBE_EXAMPLES = 32

# Documented bounds for `train_recipe()`; values outside are clamped, not rejected.
RECIPE_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-3,
    "epochs": 15,
    "batch_size": 64,
    "weight_decay": 0.0,
    "momentum": 0.9,
}
RECIPE_BOUNDS: dict[str, tuple[float, float]] = {
    "lr": (1e-5, 1.0),
    "batch_size": (8, 1024),
    "weight_decay": (0.0, 0.1),
    "momentum": (0.0, 0.99),
}


def clamp_recipe(raw: Any, max_epochs: int) -> dict[str, Any]:
    """Validate and clamp a design's `train_recipe()` result to the documented bounds."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidDesign(f"train_recipe() must return a dict, got {type(raw).__name__}")
    unknown = set(raw) - set(RECIPE_DEFAULTS)
    if unknown:
        raise InvalidDesign(
            f"train_recipe() returned unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(RECIPE_DEFAULTS)}"
        )
    recipe = {**RECIPE_DEFAULTS, **raw}
    optimizer = str(recipe["optimizer"]).lower()
    if optimizer not in OPTIMIZERS:
        raise InvalidDesign(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    recipe["optimizer"] = optimizer
    try:
        for key, (low, high) in RECIPE_BOUNDS.items():
            value = float(recipe[key])
            if not math.isfinite(value):
                raise InvalidDesign(f"train_recipe()[{key!r}] is not a finite number")
            recipe[key] = min(max(value, low), high)
        recipe["batch_size"] = int(recipe["batch_size"])
        recipe["epochs"] = min(max(int(recipe["epochs"]), 1), max_epochs)
    except (TypeError, ValueError) as exc:
        raise InvalidDesign(f"train_recipe() holds a value that is not a number: {exc}") from None
    return recipe


# What torch says when it runs a kernel that has no deterministic implementation.
_NONDETERMINISTIC = re.compile(r"does not have a deterministic implementation|not deterministic")


class DeviceUnavailable(RuntimeError):
    """The budget asks for CUDA, and the sandbox sees no CUDA device."""


def prepare_process() -> None:
    """Process-wide determinism. The first call costs about a second, so the sandbox server
    makes it once (preload `agentic_design.tasks.architecture.training:prepare_process`) for all
    children. It never touches CUDA itself: a CUDA driver initialised before the fork is
    unusable after."""
    if not torch.are_deterministic_algorithms_enabled():
        # warn_only: a kernel with no deterministic version still runs, and the trainer notes
        # it (the `deterministic` metric) rather than failing the design for it.
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False  # its timing-based choice of kernels varies


def seed_everything(seed: int, threads: int) -> None:
    prepare_process()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # every CUDA device's generator too
    torch.set_num_threads(threads)


def choose_device(asked: str) -> tuple[torch.device, str]:
    """The device to train on, and why (one of `architecture.DEVICE_REASONS`)."""
    if asked == "cpu":
        return torch.device("cpu"), BUDGET_ASKS
    if torch.cuda.is_available():  # here, in the child: the server never initialises CUDA
        return torch.device("cuda"), BUDGET_ASKS if asked == "cuda" else AUTO_GPU
    if asked == "cuda":
        raise DeviceUnavailable(
            "the budget asks for device cuda, but no CUDA device is visible in the sandbox"
        )
    return torch.device("cpu"), AUTO_CPU


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()[:200] or "cpu"
    except OSError:
        pass
    return platform.machine() or "cpu"


def peak_memory_mb(device: torch.device) -> float:
    """On a GPU, the most memory torch's allocator held for tensors; on the CPU, the peak
    resident memory of the evaluation's process (torch and the data included)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux counts KiB


def build_checked(
    design: ModuleType, input_shape: tuple[int, ...], num_classes: int, max_params: int
) -> nn.Module:
    """Build the design's model and reject it quickly if it cannot work."""
    build = getattr(design, "build_model", None)
    if not callable(build):
        raise InvalidDesign("the design defines no function build_model(input_shape, num_classes)")
    model = build(tuple(input_shape), num_classes)
    if not isinstance(model, nn.Module):
        raise InvalidDesign(f"build_model returned {type(model).__name__}, not a torch.nn.Module")
    params = count_parameters(model)
    if params == 0:
        raise InvalidDesign("the model has no trainable parameters")
    if params > max_params:
        raise InvalidDesign(f"the model has {params:,} parameters, over the cap of {max_params:,}")
    model.eval()
    dummy = torch.zeros(2, *input_shape)
    try:
        with torch.no_grad():
            out = model(dummy)
    except Exception as exc:  # any failure of the dummy pass means the design cannot work
        raise InvalidDesign(
            f"shape check failed: a batch of shape {tuple(dummy.shape)} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise InvalidDesign(f"the model's forward returned {type(out).__name__}, not a Tensor")
    if tuple(out.shape) != (2, num_classes):
        raise InvalidDesign(
            f"shape check failed: a batch of shape {(2, *input_shape)} gave output "
            f"{tuple(out.shape)}, expected {(2, num_classes)}"
        )
    return model


def model_fingerprint(
    design: ModuleType,
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    num_classes: int,
    seed: int,
    budget: TrainBudget,
) -> dict[str, Any]:
    """What decides a design's training, found without training it (`Task.behaviour`): the
    shapes of its parameters in order, their count, the recipe as the trainer reads it, and
    digests of the initial weights and of one forward and backward pass in training mode on
    the first training examples (outputs, gradients, and buffers such as batch norm's running
    statistics). Built as `train_and_predict` builds it, after the same seeding, so two designs
    that differ only in code that changes nothing (an unused variable, a renamed layer) share
    it, and a changed width, activation, connection or initialisation does not."""
    seed_everything(seed, budget.threads)
    model = build_checked(design, tuple(x_train.shape[1:]), num_classes, budget.max_params)
    recipe_fn = getattr(design, "train_recipe", None)
    recipe = clamp_recipe(recipe_fn() if callable(recipe_fn) else None, budget.max_epochs)
    # As the trainer reads it: a batch larger than the data is all of it, and momentum is
    # read by two optimizers only.
    recipe["batch_size"] = min(recipe["batch_size"], len(x_train))
    if recipe["optimizer"] not in WITH_MOMENTUM:
        del recipe["momentum"]
    parameters = [p for p in model.parameters() if p.requires_grad]
    weights = _digest(parameters)
    model.train()
    xs = torch.as_tensor(x_train[:PROBE_EXAMPLES], dtype=torch.float32)
    ys = torch.as_tensor(y_train[:PROBE_EXAMPLES], dtype=torch.long)
    logits = model(xs)
    nn.CrossEntropyLoss()(logits, ys).backward()
    gradients = [p.grad for p in parameters if p.grad is not None]
    return {
        "params": count_parameters(model),
        "shapes": [list(p.shape) for p in parameters],
        "recipe": recipe,
        "weights": weights,
        "probe": _digest([logits, *gradients, *model.buffers()]),
    }


def _digest(tensors: Sequence[torch.Tensor]) -> str:
    """A hash of the tensors' values, in order, bit for bit."""
    digest = hashlib.sha256()
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_optimizer(model: nn.Module, recipe: dict[str, Any]) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    lr, wd = recipe["lr"], recipe["weight_decay"]
    name = recipe["optimizer"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe["momentum"], weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, momentum=recipe["momentum"], weight_decay=wd)


def train_and_predict(
    design: ModuleType,
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray,
    num_classes: int,
    seed: int,
    budget: TrainBudget,
) -> dict[str, Any]:
    """Train the design on (x_train, y_train) and return its predictions on x_eval.

    Returns JSON data: predictions, parameter count, per-epoch training loss, steps, seconds,
    why training stopped, inference latency, the clamped recipe, and where it trained: the
    device, its name, why it was chosen, the peak memory and whether every kernel that ran was
    deterministic.
    """
    seed_everything(seed, budget.threads)
    device, reason = choose_device(budget.device)
    input_shape = tuple(x_train.shape[1:])
    # Built and checked on the CPU, so that its initial weights are the same on every device.
    model = build_checked(design, input_shape, num_classes, budget.max_params).to(device)
    recipe_fn = getattr(design, "train_recipe", None)
    recipe = clamp_recipe(recipe_fn() if callable(recipe_fn) else None, budget.max_epochs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # once per place: a warning each step would pile up
        outputs = _train_and_predict(model, recipe, x_train, y_train, x_eval, seed, budget, device)
    for w in caught:  # still shown, in the evaluation's stderr
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return {
        **outputs,
        "device": device.type,
        "device_name": device_name(device),
        "device_reason": reason,
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "deterministic": not any(_NONDETERMINISTIC.search(str(w.message)) for w in caught),
    }


def _train_and_predict(
    model: nn.Module,
    recipe: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray,
    seed: int,
    budget: TrainBudget,
    device: torch.device,
) -> dict[str, Any]:
    optimizer = make_optimizer(model, recipe)
    loss_fn = nn.CrossEntropyLoss()

    xs = torch.as_tensor(x_train, dtype=torch.float32, device=device)
    ys = torch.as_tensor(y_train, dtype=torch.long, device=device)
    # On the CPU whatever the device: the same batch order everywhere.
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(recipe["batch_size"], len(xs))
    max_steps, max_seconds = step_and_time_limits(budget, recipe["epochs"], len(xs), batch_size)
    curve: list[float] = []
    steps = 0
    stopped_by = "epochs"
    started = time.perf_counter()
    model.train()
    for _epoch in range(recipe["epochs"]):
        order = torch.randperm(len(xs), generator=generator).to(device)
        total, batches = 0.0, 0
        for start in range(0, len(xs), batch_size):
            if max_steps is not None and steps >= max_steps:
                stopped_by = "steps"
                break
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                stopped_by = "time"
                break
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[index]), ys[index])
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training diverged: loss is {loss.item()} at step {steps}"
                )
            loss.backward()
            optimizer.step()
            total += loss.item()
            batches += 1
            steps += 1
        if batches:
            curve.append(round(total / batches, 6))
        if stopped_by != "epochs":
            break
    train_seconds = time.perf_counter() - started

    model.eval()
    x_eval_t = torch.as_tensor(x_eval, dtype=torch.float32, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else _no_sync
    with torch.no_grad():
        logits = torch.cat([model(x_eval_t[i : i + 512]) for i in range(0, len(x_eval_t), 512)])
        latency_ms = _latency_ms(model, x_eval_t[:1], sync)
    predictions = logits.argmax(dim=1).cpu().tolist()
    return {
        "predictions": predictions,
        "params": count_parameters(model),
        "curve": curve,
        "steps": steps,
        "epochs_done": len(curve),
        "stopped_by": stopped_by,
        "train_seconds": round(train_seconds, 4),
        "latency_ms": round(latency_ms, 4),
        "recipe": recipe,
    }


def step_and_time_limits(
    budget: TrainBudget, epochs: int, examples: int, batch_size: int
) -> tuple[int | None, float | None]:
    """The most steps and seconds to train (None: no such limit). A replay repeats the steps
    it recorded, whatever the time; a cheap evaluation of share f takes f of the steps the
    epochs plan, within f of the time, so that it trains about f of what a full one would,
    whether the epochs or the clock would stop that."""
    if budget.max_steps is not None:
        return budget.max_steps, None
    if budget.fidelity < 1:
        planned = epochs * math.ceil(examples / batch_size)
        return share_count(planned, budget.fidelity), budget.max_seconds * budget.fidelity
    return None, budget.max_seconds


def _no_sync() -> None:
    pass


def _latency_ms(
    model: nn.Module, example: torch.Tensor, sync: Callable[[], None], repeats: int = 15
) -> float:
    """Median wall time of one single-example forward pass, in milliseconds (a GPU's queued
    work waited for: `sync`)."""
    model(example)  # warm-up: first calls pay for lazy allocation
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(example)
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
