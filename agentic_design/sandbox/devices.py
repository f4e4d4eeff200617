"""GPUs for the sandbox: which ones this machine has, and which sandbox worker gets which.

The GPUs are found from the NVIDIA driver's own files — `/proc/driver/nvidia/gpus/*/information`
(model, UUID, device minor) and the `/dev/nvidia<minor>` device nodes — filtered by the caller's
`CUDA_VISIBLE_DEVICES`. Not with torch: the search process never imports it, and a fork server
must not touch CUDA before it forks (`torch.cuda.device_count()` initialises the driver, and a
CUDA driver does not survive fork), so only the forked child, pinned and confined, ever does.

Each sandbox worker is pinned to one GPU before its server starts (`CUDA_VISIBLE_DEVICES` in
the server's environment, by UUID where the driver tells it), and its children may open that
GPU's device node and no other GPU's (Landlock). Several workers share a GPU when
`gpu_memory_fraction` leaves room for them; unset, the workers split each GPU's memory evenly.
"""

from __future__ import annotations

import glob
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The `device:` a task's budget may ask for: a GPU where the sandbox sees one, or always one.
DEVICES = ("auto", "cpu", "cuda")

_GPU_NODE = re.compile(r"nvidia\d+")
# What cuBLAS needs to be deterministic (torch.use_deterministic_algorithms asks for it).
_CUBLAS_WORKSPACE = ":4096:8"


class DeviceError(ValueError):
    """A device setting this machine cannot honour; `setting` names it (for the message)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Gpu:
    """One GPU a sandbox worker can be pinned to."""

    selector: str  # its CUDA_VISIBLE_DEVICES entry: the UUID where the driver tells it
    name: str = ""  # the model, where the driver tells it
    # Its /dev/nvidia<minor>; None where unknown, and then every GPU's node is let through.
    device_file: str | None = None

    def label(self) -> str:
        return f"{self.name or 'GPU'} ({self.selector})"


@dataclass(frozen=True)
class Pin:
    """What one sandbox worker runs on: a GPU and its share of that GPU's memory, or no GPU."""

    gpu: Gpu | None = None
    memory_fraction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        gpu = self.gpu
        return {
            "gpu": None if gpu is None else [gpu.selector, gpu.name, gpu.device_file],
            "memory_fraction": self.memory_fraction,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pin:
        gpu = data.get("gpu")
        return cls(None if gpu is None else Gpu(*gpu), data.get("memory_fraction"))


@dataclass(frozen=True)
class DevicePlan:
    """Where a run's evaluations may train: `gpus` for the sandbox (None: the task asks for no
    device, and the sandbox keeps its own rule), and one line saying so for people."""

    gpus: tuple[Gpu, ...] | None
    note: str


# -- finding the GPUs --------------------------------------------------------------------------


def visible_gpus(
    environ: Mapping[str, str] | None = None, proc: str = "/proc", dev: str = "/dev"
) -> list[Gpu]:
    """The NVIDIA GPUs this process may use, in PCI bus order, found without CUDA."""
    environ = os.environ if environ is None else environ
    found = _driver_gpus(proc, dev)
    if not found:  # no driver table (a masked /proc): the device nodes, with no names
        nodes = sorted(
            (
                p
                for p in glob.glob(os.path.join(dev, "nvidia*"))
                if _GPU_NODE.fullmatch(Path(p).name)
            ),
            key=lambda p: int(Path(p).name.removeprefix("nvidia")),
        )
        # Which node is which CUDA device is unknown here: each pin lets every node through.
        found = [Gpu(selector=str(i)) for i in range(len(nodes))]
    wanted = environ.get("CUDA_VISIBLE_DEVICES")
    if wanted is None or not found:
        return found
    chosen: list[Gpu] = []
    for entry in (e.strip() for e in wanted.split(",")):
        if not entry or entry == "-1":
            break  # CUDA, too, stops at the first entry it cannot use
        if entry.isdigit():
            if int(entry) >= len(found):
                break
            gpu = found[int(entry)]
            # Without a UUID the caller's own entry is what CUDA understands.
            chosen.append(gpu if gpu.device_file else Gpu(selector=entry))
        else:  # a UUID (or its prefix), or a MIG instance: opaque, passed on as it is
            match = [g for g in found if g.selector.startswith(entry) and g.device_file]
            chosen.append(match[0] if len(match) == 1 else Gpu(selector=entry))
    return chosen


def _driver_gpus(proc: str, dev: str) -> list[Gpu]:
    """The driver's table, one folder per GPU named by its PCI bus id (so sorted, PCI order);
    a GPU whose device node is absent (a container given other GPUs) is not ours."""
    gpus = []
    for info in sorted(
        glob.glob(os.path.join(proc, "driver", "nvidia", "gpus", "*", "information"))
    ):
        fields = {}
        try:
            text = Path(info).read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        minor, uuid = fields.get("Device Minor", ""), fields.get("GPU UUID", "")
        node = os.path.join(dev, f"nvidia{minor}")
        if not minor.isdigit() or not uuid.startswith("GPU-") or not os.path.exists(node):
            continue
        if fields.get("GPU Excluded", "No").lower().startswith("yes"):
            continue
        gpus.append(Gpu(selector=uuid, name=fields.get("Model", ""), device_file=node))
    return gpus


# -- pinning -----------------------------------------------------------------------------------


def assign(workers: int, gpus: Sequence[Gpu], memory_fraction: float | None) -> list[Pin]:
    """Each worker's device: round robin over `gpus`, so that the load spreads evenly.

    `memory_fraction` is each evaluation's share of its GPU's memory: the GPUs hold
    floor(1 / share) workers each, and more workers than that is an error. Unset, the workers
    are spread as evenly as they go and split each GPU's memory equally."""
    if not gpus:
        return [Pin() for _ in range(workers)]
    per_gpu = math.ceil(workers / len(gpus))
    if memory_fraction is None:
        return [Pin(gpus[i % len(gpus)], 1.0 / per_gpu) for i in range(workers)]
    room = math.floor(1.0 / memory_fraction + 1e-9)
    if workers > room * len(gpus):
        raise DeviceError(
            "gpu_memory_fraction",
            f"{workers} workers cannot share {len(gpus)} GPU(s) at {memory_fraction:g} of a "
            f"GPU's memory each ({room} per GPU): lower it to {1.0 / per_gpu:.3g} or use fewer "
            "workers",
        )
    return [Pin(gpus[i % len(gpus)], memory_fraction) for i in range(workers)]


def pinned_environment(env: Mapping[str, str], gpu: Gpu | None) -> dict[str, str]:
    """A server's environment, pinned before it starts (and so before it imports torch): its
    one GPU, or none at all (an empty CUDA_VISIBLE_DEVICES hides every GPU from CUDA)."""
    pinned = dict(env)
    pinned["CUDA_VISIBLE_DEVICES"] = "" if gpu is None else gpu.selector
    if gpu is not None:
        pinned.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # the caller's numbering, if any
        pinned.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_WORKSPACE)
    return pinned


def device_files(gpu: Gpu | None, dev: str = "/dev") -> tuple[str, ...]:
    """The NVIDIA device nodes a child pinned to `gpu` may open: the driver's shared ones
    (nvidiactl, nvidia-uvm, ...) and its own GPU's, not another GPU's; none without a GPU."""
    if gpu is None:
        return ()
    nodes = sorted(glob.glob(os.path.join(dev, "nvidia*")))
    if gpu.device_file is None:
        return tuple(nodes)
    return tuple(n for n in nodes if not _GPU_NODE.fullmatch(Path(n).name) or n == gpu.device_file)


# -- a run's plan ------------------------------------------------------------------------------


def requested_device(budget: object) -> str | None:
    """The device a task's budget asks for (its `device` field), None for a budget without."""
    value = getattr(budget, "device", None)
    return value if value in DEVICES else None


def plan_devices(
    requested: str | None, found: Sequence[Gpu], workers: int, memory_fraction: float | None
) -> DevicePlan:
    """Where a run's evaluations will train; DeviceError for what this machine cannot do."""
    if requested is None:
        return DevicePlan(None, "")
    if requested == "cpu":
        return DevicePlan((), "the CPU (device: cpu)")
    if not found:
        why = (
            "no NVIDIA GPU is visible here (no /dev/nvidia* device, or CUDA_VISIBLE_DEVICES "
            "hides them)"
        )
        if requested == "cuda":
            raise DeviceError(
                "device",
                f"cuda is asked for, but {why}; use device auto (the CPU where there is no GPU) "
                "or cpu",
            )
        return DevicePlan((), f"the CPU, as device auto falls back to: {why}")
    pins = assign(workers, found, memory_fraction)
    used = list(dict.fromkeys(p.gpu for p in pins if p.gpu is not None))
    share = pins[0].memory_fraction or 1.0
    return DevicePlan(
        tuple(found),
        f"{workers} worker(s) on {len(used)} GPU(s), each evaluation allowed {share:.3g} of its "
        f"GPU's memory: " + ", ".join(g.label() for g in used),
    )
