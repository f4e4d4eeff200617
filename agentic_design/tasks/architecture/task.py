"""Architecture tasks: a design is a PyTorch model builder plus an optional training recipe.

Both built-in tasks classify fixed-size inputs with a seeded train / validation / test split and
inputs standardised with the training split's statistics. The data is generated offline (never
downloaded) and cached on disk so that each sandboxed evaluation loads it in milliseconds.

A cheap evaluation trains a quarter of the steps and predicts the whole split: training less,
not scoring less, is what saves the time. A design's fingerprint is its built model and recipe,
untrained (`training.model_fingerprint`).
"""

from __future__ import annotations

import ast
import hashlib
import math
import os
from abc import abstractmethod
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np

from agentic_design.records import Proposal
from agentic_design.resources import shipped_dir
from agentic_design.tasks.architecture.budget import DEVICE_REASONS, TrainBudget
from agentic_design.tasks.base import InvalidOutputs, Score, Split, Task, TaskBudget
from agentic_design.tasks.common import (
    CACHE_DIR,
    bootstrap_interval,
    installed_paths,
    load_seed_designs,
)

if TYPE_CHECKING:
    from agentic_design.mutations.operators import Operators

#: A cheap evaluation trains this share of the steps a full one would.
CHEAP_SHARE = 0.25


class ArchitectureTask(Task):
    """Classification of fixed-size inputs by a model the design builds and the trainer trains."""

    kind: ClassVar[str] = "architecture"
    budget_model: ClassVar[type[TaskBudget]] = TrainBudget
    cost_metric: ClassVar[str | None] = "params"
    # The trainer's imports and torch's process-wide set-up, paid once per sandbox server.
    preload: ClassVar[tuple[str, ...]] = (
        "torch",
        "numpy",
        "agentic_design.tasks.architecture.training:prepare_process",
    )
    fitness_name: ClassVar[str] = "accuracy"
    interface: ClassVar[tuple[str, ...]] = ("build_model",)
    fitness_meaning: ClassVar[str] = (
        "the share of held-out examples classified correctly (0 to 1), with a bootstrap 95% "
        "interval"
    )
    input_shape: ClassVar[tuple[int, ...]]
    num_classes: ClassVar[int]
    summary: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    # Where installed packages keep what the data (labels included) is made from, relative to
    # site-packages: hidden from designs, which could otherwise rebuild the held-out labels.
    data_sources: ClassVar[tuple[str, ...]] = ()

    # The task_params a subclass understands; anything else is a typo to report, not ignore.
    accepted_params: ClassVar[frozenset[str] | None] = frozenset({"split_seed"})

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._inputs: dict[str, np.ndarray] | None = None
        self._labels: dict[str, np.ndarray] | None = None

    # -- data ---------------------------------------------------------------------------------
    @abstractmethod
    def generate(self) -> dict[str, np.ndarray]:
        """Raw arrays: x_train, y_train, x_validation, y_validation, x_test, y_test."""

    def _cache_paths(self) -> tuple[Path, Path]:
        """(inputs, labels): what a sandboxed run may read, and what only the scorer reads."""
        key = hashlib.sha256(repr(sorted(self.params.items())).encode()).hexdigest()[:12]
        stem = CACHE_DIR / f"{self.name}-{key}"
        return stem.with_suffix(".inputs.npz"), stem.with_suffix(".labels.npz")

    def prepare(self) -> None:
        """Generate the data once and cache it: the inputs (and training labels) in one file,
        the held-out labels in another that the sandbox cannot read."""
        inputs_path, labels_path = self._cache_paths()
        if inputs_path.exists() and labels_path.exists():
            return
        arrays = standardise(self.generate())
        inputs = {k: v for k, v in arrays.items() if k not in HELD_OUT}
        labels = {k: arrays[k] for k in HELD_OUT}
        try:
            _write_cache(labels_path, labels, mode=0o600)
            _write_cache(inputs_path, inputs, mode=0o644)
        except OSError as exc:
            raise OSError(
                f"cannot write the {self.name} data cache in {CACHE_DIR} ({exc.strerror}); "
                "set AGENTIC_DESIGN_CACHE to a writable directory"
            ) from None

    def inputs(self) -> dict[str, np.ndarray]:
        """x_train, y_train, x_validation, x_test: everything a design may see."""
        if self._inputs is None:
            inputs_path = self._cache_paths()[0]
            # In the sandbox the labels file may not even be visible (a cache under a private
            # /tmp keeps only the inputs), so the inputs alone are enough once they exist.
            if not inputs_path.exists():
                self.prepare()
            self._inputs = _load(inputs_path)
        return self._inputs

    def labels(self, split: str) -> np.ndarray:
        """The held-out labels of `split`; only the scorer, outside the sandbox, calls this."""
        if self._labels is None:
            self.prepare()
            self._labels = _load(self._cache_paths()[1])
        return self._labels[f"y_{split}"]

    def sandbox_readable(self) -> list[str]:
        return [str(self._cache_paths()[0])]

    def sandbox_hidden(self) -> list[str]:
        return [str(self._cache_paths()[1]), *installed_paths(self.data_sources)]

    def fingerprint(self) -> str:
        digest = hashlib.sha256(super().fingerprint().encode())
        arrays = {**self.inputs(), **{f"y_{s}": self.labels(s) for s in ("validation", "test")}}
        for key, value in sorted(arrays.items()):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        return digest.hexdigest()[:16]

    # -- the contract ---------------------------------------------------------------------------
    @property
    def train_budget(self) -> TrainBudget:
        return cast(TrainBudget, self.budget)

    def describe(self) -> str:
        from agentic_design.prompts import render  # jinja: the search's side only

        data = self.inputs()
        return render(
            "tasks/architecture.j2",
            task=self.name,
            summary=self.summary,
            reference=self.reference,
            input_shape=list(self.input_shape),
            num_classes=self.num_classes,
            n_train=len(data["y_train"]),
            n_validation=len(data["x_validation"]),
            budget=self.train_budget,
            where=_where(self.train_budget),
        )

    def seeds(self) -> list[Proposal]:
        return load_seed_designs(shipped_dir("archive") / "architecture" / self.name)

    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        # Imported here: torch is heavy, and the search process only needs it inside the sandbox.
        from agentic_design.tasks.architecture.training import train_and_predict

        data = self.inputs()
        return train_and_predict(
            design,
            x_train=data["x_train"],
            y_train=data["y_train"],
            x_eval=data[f"x_{split}"],
            num_classes=self.num_classes,
            seed=seed,
            budget=cast(TrainBudget, budget),
        )

    def score(self, outputs: dict[str, Any], split: Split, fidelity: float = 1.0) -> Score:
        # Every share predicts the whole split: a cheap evaluation only trains less.
        labels = self.labels(split)
        predictions = _checked_predictions(outputs, len(labels), self.num_classes)
        correct = (predictions == labels).astype(np.float64)
        low, high = bootstrap_interval(correct)
        metrics = {"accuracy": float(correct.mean()), **_checked_report(outputs)}
        return Score(fitness=float(correct.mean()), ci_low=low, ci_high=high, metrics=metrics)

    def fidelities(self) -> tuple[float, ...]:
        return (CHEAP_SHARE,)

    def behaviour(self, design: ModuleType, *, seed: int, budget: TaskBudget) -> Any:
        from agentic_design.tasks.architecture.training import model_fingerprint

        data = self.inputs()
        return model_fingerprint(
            design,
            x_train=data["x_train"],
            y_train=data["y_train"],
            num_classes=self.num_classes,
            seed=seed,
            budget=cast(TrainBudget, budget),
        )

    def summarize(self, metrics: dict[str, Any]) -> str:
        parts = []
        if isinstance(metrics.get("params"), int):
            parts.append(f"{metrics['params']:,} parameters")
        if isinstance(metrics.get("steps"), int):
            parts.append(f"{metrics['steps']:,} training steps")
        return ", ".join(parts)

    def design_parts(self) -> list[str]:
        return [
            "the stem: the first layers, from the input to features",
            "the blocks: the repeated body of the network (a block class or function)",
            "the head: from features to one score per class",
            "the training recipe: train_recipe(), if the design sets one",
            "build_model(input_shape, num_classes), assembling stem, blocks and head",
        ]

    def reflect_checklist(self) -> list[str]:
        b = self.train_budget
        return [
            "Will the code run as it is? Check every import, the shapes through each layer for "
            "inputs of the stated shape, and that build_model returns logits of shape "
            "(batch, num_classes).",
            f"Does it stay within this run's limits: at most {b.max_params:,} trainable "
            f"parameters, at most {b.max_epochs} epochs, training stopped after "
            f"{b.max_seconds:g} seconds on {_where(b)}? Does train_recipe use only the allowed "
            "keys?",
        ]

    def evolution_operators(self) -> Operators:
        from agentic_design.tasks.architecture.mutations import torch_operators

        return torch_operators()

    def replay_budget(self, budget: TaskBudget, metrics: dict[str, Any]) -> TaskBudget:
        # A cheap evaluation's record too: the evaluator sets its share afterwards, and the
        # trainer takes the recorded steps over the share's (`training.step_and_time_limits`).
        steps = metrics.get("steps")
        if type(steps) is not int:
            return budget
        # On the device it trained on: the CPU, for records from before there was a choice.
        device = metrics.get("device", "cpu")
        return budget.model_copy(
            update={"max_steps": steps, "device": device if device in ("cpu", "cuda") else "cpu"}
        )

    def replay_inexact(self, recorded: dict[str, Any], measured: dict[str, Any]) -> str | None:
        # On the CPU, one thread and seeded generators repeat a training bit for bit. On a GPU
        # so do torch's deterministic kernels (cuDNN's included), on the same model of GPU;
        # not a kernel that has none (its floating-point sums come in any order), nor
        # another model of GPU, whose kernels differ.
        if recorded.get("device") != "cuda":
            return None
        why = []
        if recorded.get("deterministic") is not True or measured.get("deterministic") is False:
            why.append("it trained on a GPU with kernels that have no deterministic version")
        name, now = recorded.get("device_name"), measured.get("device_name")
        if now is not None and now != name:
            why.append(f"it trained on {name}, and the replay on {now}")
        return "; ".join(why) or None

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        # Training cost in steps, not seconds: the seconds differ with the machine's load,
        # and the diverse designs shown to the meta-agent (and the parents drawn) follow the
        # descriptors, so a replay on a busy machine would be asked another question. The
        # steps repeat exactly in a replay (`replay_budget`).
        params, steps = metrics.get("params"), metrics.get("steps")
        return {
            "log10_params": math.log10(params) if isinstance(params, int) and params > 0 else 0.0,
            "layers": float(count_layer_calls(code)),
            "log10_steps": math.log10(steps + 1) if isinstance(steps, int) and steps >= 0 else 0.0,
        }

    def export_module(self, code: str, name: str) -> str:
        from agentic_design.prompts import render

        return render(
            "export/architecture.py.j2",
            name=name,
            task=self.name,
            code=code.rstrip(),
            input_shape=list(self.input_shape),
            num_classes=self.num_classes,
        )


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _seconds(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value >= 0


def _name(value: Any) -> bool:
    """A short, printable line: it is shown on consoles (no escape sequences)."""
    return type(value) is str and 0 < len(value) <= 200 and value.isprintable()


def _where(budget: TrainBudget) -> str:
    """Where training runs, in the words of the prompt and the checklist."""
    cpu = f"{budget.threads} CPU thread(s)"
    return {"cpu": cpu, "cuda": "a GPU"}.get(budget.device, f"a GPU where there is one, else {cpu}")


# What the trainer reports beside the predictions, and how each must look: the sandbox's
# answer is untrusted, and these numbers flow into metrics, descriptors and prompts.
_REPORTED: dict[str, Any] = {
    "params": _count,
    "steps": _count,
    "epochs_done": _count,
    "train_seconds": _seconds,
    "latency_ms": _seconds,
    "stopped_by": lambda v: v in ("epochs", "time", "steps"),
    "curve": lambda v: type(v) is list and len(v) <= 10_000 and all(map(_seconds, v)),
    "recipe": lambda v: type(v) is dict and len(v) <= 20,
    "device": lambda v: v in ("cpu", "cuda"),
    "device_name": _name,
    "device_reason": lambda v: v in DEVICE_REASONS,
    "peak_memory_mb": _seconds,
    "deterministic": lambda v: type(v) is bool,
}


def _checked_report(outputs: dict[str, Any]) -> dict[str, Any]:
    report = {}
    for key, valid in _REPORTED.items():
        if key in outputs:
            if not valid(outputs[key]):
                raise InvalidOutputs(f"the reported {key!r} is malformed")
            report[key] = outputs[key]
    return report


def _checked_predictions(outputs: Any, n: int, num_classes: int) -> np.ndarray:
    """The sandbox's answer is untrusted data: check it fully before comparing with labels."""
    if not isinstance(outputs, dict) or not isinstance(outputs.get("predictions"), list):
        raise InvalidOutputs("outputs must be a dict with a list of predictions")
    predictions = outputs["predictions"]
    if len(predictions) != n:
        raise InvalidOutputs(f"expected {n} predictions, got {len(predictions)}")
    if not all(type(p) is int and 0 <= p < num_classes for p in predictions):
        raise InvalidOutputs(f"predictions must be integers in [0, {num_classes})")
    return np.asarray(predictions, dtype=np.int64)


def count_layer_calls(code: str) -> int:
    """How many `nn.Something(...)` constructors the code calls: a rough depth descriptor."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return 0
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "nn"
        and node.func.attr[:1].isupper()
    )


def standardise(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale every split's inputs by the training split's mean and standard deviation."""
    mean = float(arrays["x_train"].mean())
    std = float(arrays["x_train"].std()) or 1.0
    out = dict(arrays)
    for split in ("train", "validation", "test"):
        out[f"x_{split}"] = ((arrays[f"x_{split}"] - mean) / std).astype(np.float32)
        out[f"y_{split}"] = arrays[f"y_{split}"].astype(np.int64)
    return out


HELD_OUT = ("y_validation", "y_test")


def _write_cache(path: Path, arrays: dict[str, np.ndarray], mode: int) -> None:
    """Write atomically, so that concurrent processes never read a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
        np.savez(f, **cast(dict[str, Any], arrays))
    os.replace(tmp, path)


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _split_off(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A seeded random split: (x_kept, y_kept, x_split_off, y_split_off)."""
    order = np.random.default_rng(seed).permutation(len(y))
    cut = round(len(y) * fraction)
    held, kept = order[:cut], order[cut:]
    return x[kept], y[kept], x[held], y[held]


class MNIST1DTask(ArchitectureTask):
    """MNIST-1D (Greydanus 2020): ten 1-D digit templates, shifted, scaled, sheared and noised."""

    data_sources: ClassVar[tuple[str, ...]] = ("mnist1d",)

    name: ClassVar[str] = "mnist1d"
    accepted_params: ClassVar[frozenset[str] | None] = frozenset(
        {"split_seed", "num_samples", "data_seed", "validation_fraction"}
    )
    input_shape: ClassVar[tuple[int, ...]] = (1, 40)
    num_classes: ClassVar[int] = 10
    summary: ClassVar[str] = (
        "Classify MNIST-1D sequences: each input is a length-40 one-channel signal made from one "
        "of ten digit templates, randomly padded, translated, scaled, sheared and noised."
    )
    reference: ClassVar[str] = (
        "Published test accuracies: logistic regression 32%, MLP 68%, CNN 94%, GRU 91%, human 96%."
    )

    def generate(self) -> dict[str, np.ndarray]:
        from mnist1d.data import get_dataset_args, make_dataset  # never get_dataset: it downloads

        args = get_dataset_args()
        args.num_samples = int(self.params.get("num_samples", 5000))
        args.seed = int(self.params.get("data_seed", 42))
        data = make_dataset(args)
        x_train, y_train, x_val, y_val = _split_off(
            data["x"],
            data["y"],
            float(self.params.get("validation_fraction", 0.25)),
            int(self.params.get("split_seed", 0)),
        )
        return {
            "x_train": x_train[:, None, :],
            "y_train": y_train,
            "x_validation": x_val[:, None, :],
            "y_validation": y_val,
            "x_test": data["x_test"][:, None, :],
            "y_test": data["y_test"],
        }


class DigitsTask(ArchitectureTask):
    """scikit-learn's bundled 8x8 handwritten digits: the quickest task, for tests."""

    data_sources: ClassVar[tuple[str, ...]] = ("sklearn/datasets/data",)

    name: ClassVar[str] = "digits"
    input_shape: ClassVar[tuple[int, ...]] = (1, 8, 8)
    num_classes: ClassVar[int] = 10
    summary: ClassVar[str] = (
        "Classify 8x8 grey-scale images of handwritten digits (scikit-learn's load_digits) "
        "into ten classes."
    )
    reference: ClassVar[str] = "A linear model reaches about 95% and a small CNN about 98%."

    def generate(self) -> dict[str, np.ndarray]:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = x.reshape(-1, 1, 8, 8)
        seed = int(self.params.get("split_seed", 0))
        x_rest, y_rest, x_test, y_test = _split_off(x, y, 0.2, seed)
        x_train, y_train, x_val, y_val = _split_off(x_rest, y_rest, 0.25, seed + 1)
        return {
            "x_train": x_train,
            "y_train": y_train,
            "x_validation": x_val,
            "y_validation": y_val,
            "x_test": x_test,
            "y_test": y_test,
        }
