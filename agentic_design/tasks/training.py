"""The trainer every architecture design goes through, inside the sandbox.

Readable top to bottom: check the design, clamp its recipe, train it deterministically within a
budget of epochs and seconds, then predict. Determinism (one thread, seeded generators, the same
batch order) is what lets `replay` get the same accuracy back; a run cut short by its time
budget records how many steps it took, and a replay repeats exactly that many.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from agentic_design.tasks.architecture import TrainBudget
from agentic_design.tasks.base import InvalidDesign

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")

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


def prepare_process() -> None:
    """Process-wide determinism. The first call costs about a second, so the sandbox server
    makes it once (preload `agentic_design.tasks.training:prepare_process`) for all children."""
    if not torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(True, warn_only=True)


def seed_everything(seed: int, threads: int) -> None:
    prepare_process()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


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
    why training stopped, inference latency and the clamped recipe.
    """
    seed_everything(seed, budget.threads)
    input_shape = tuple(x_train.shape[1:])
    model = build_checked(design, input_shape, num_classes, budget.max_params)
    recipe_fn = getattr(design, "train_recipe", None)
    recipe = clamp_recipe(recipe_fn() if callable(recipe_fn) else None, budget.max_epochs)
    optimizer = make_optimizer(model, recipe)
    loss_fn = nn.CrossEntropyLoss()

    xs = torch.as_tensor(x_train, dtype=torch.float32)
    ys = torch.as_tensor(y_train, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(recipe["batch_size"], len(xs))
    curve: list[float] = []
    steps = 0
    stopped_by = "epochs"
    started = time.perf_counter()
    model.train()
    for _epoch in range(recipe["epochs"]):
        order = torch.randperm(len(xs), generator=generator)
        total, batches = 0.0, 0
        for start in range(0, len(xs), batch_size):
            if budget.max_steps is not None and steps >= budget.max_steps:
                stopped_by = "steps"
                break
            if budget.max_steps is None and time.perf_counter() - started > budget.max_seconds:
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
    x_eval_t = torch.as_tensor(x_eval, dtype=torch.float32)
    with torch.no_grad():
        logits = torch.cat([model(x_eval_t[i : i + 512]) for i in range(0, len(x_eval_t), 512)])
        latency_ms = _latency_ms(model, x_eval_t[:1])
    predictions = logits.argmax(dim=1).tolist()
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


def _latency_ms(model: nn.Module, example: torch.Tensor, repeats: int = 15) -> float:
    """Median wall time of one single-example forward pass, in milliseconds."""
    model(example)  # warm-up: first calls pay for lazy allocation
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(example)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)
