"""Architecture evaluations per hour on the CPU, on one GPU, and with two workers sharing it.

    python benchmarks/gpu_training.py [--samples 50000] [--steps 300] [--cpu-threads 8]
                                      [--search 12]

A larger MNIST-1D (`--samples`, 50,000 by default) and eight designs — MLPs of about 0.3, 1.1
and 3 million parameters and a 1-D CNN of 0.1 million (heavier in compute), each with two seeds
— each trained for the same `--steps` steps of 256 examples in every setting, through the real
sandbox and evaluator:

1. the CPU: one worker with `--cpu-threads` threads (device cpu);
2. one GPU: one worker pinned to it (device cuda);
3. two workers sharing that GPU, each allowed half its memory.

Then the checks a GPU machine allows: a sandboxed child sees exactly its pinned GPU, may open
no other GPU's device node, and cannot allocate past its share of the GPU's memory; a short
digits search (`--search` evaluations, 0 to skip) trains on the GPU, and the best design is
replayed to see whether the GPU gave its fitness back bit for bit.

Where no GPU is visible (or torch is a CPU-only build) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentic_design.config import RunConfig
from agentic_design.records import Evaluation
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.sandbox import Sandbox, SandboxLimits, visible_gpus

MLP = """
from torch import nn

def build_model(input_shape, num_classes):
    width = {width}
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(input_shape[0] * input_shape[1], width), nn.ReLU(),
        nn.Linear(width, width), nn.ReLU(),
        nn.Linear(width, num_classes),
    )

def train_recipe():
    return {{"optimizer": "adam", "lr": 0.001, "epochs": 50, "batch_size": 256}}
"""

CNN = """
from torch import nn

def build_model(input_shape, num_classes):
    c = {width}
    return nn.Sequential(
        nn.Conv1d(input_shape[0], c, 5, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 5, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 5, stride=2, padding=2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c * input_shape[1] // 2, num_classes),
    )

def train_recipe():
    return {{"optimizer": "adam", "lr": 0.001, "epochs": 50, "batch_size": 256}}
"""

# About 0.3M, 1.1M and 3M parameters (MLPs) and 0.1M (the CNN, with far more compute a weight).
DESIGNS = [MLP.format(width=512), MLP.format(width=1024), MLP.format(width=1700)]
DESIGNS.append(CNN.format(width=96))

PROBE = """
import glob
import os

import torch

def main():
    count = torch.cuda.device_count()
    found = {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"), "count": count}
    found["name"] = torch.cuda.get_device_name(0) if count else None
    nodes = {}
    for node in sorted(glob.glob("/dev/nvidia[0-9]*")):
        try:
            os.close(os.open(node, os.O_RDWR))
            nodes[node] = "opened"
        except OSError as exc:
            nodes[node] = exc.strerror
    found["nodes"] = nodes
    total = torch.cuda.get_device_properties(0).total_memory
    try:
        torch.empty(int(total * 0.9), dtype=torch.uint8, device="cuda")
        found["90% of the memory"] = "allocated"
    except torch.OutOfMemoryError:
        found["90% of the memory"] = "refused"
    return found
"""


def config(samples: int, steps: int, device: str, workers: int, threads: int) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": "gpu-benchmark",
            "task": "mnist1d",
            "task_params": {"num_samples": samples},
            "train": {
                "device": device,
                "threads": threads,
                "max_steps": steps,  # the same work in every setting, whatever its speed
                "max_epochs": 50,
                "max_params": 5_000_000,
            },
            "sandbox": {"workers": workers, "wall_s": 600, "memory_mb": 8192},
        },
        source="benchmark",
    )


def throughput(cfg: RunConfig, label: str) -> list[Evaluation]:
    """Evaluate every design twice (seeds 0 and 1) and print evaluations per hour."""
    task = build_task(cfg)
    task.prepare()
    jobs = [(code, seed) for seed in (0, 1) for code in DESIGNS]
    with sandbox_for(cfg, task) as sandbox:  # started (warm) before the clock starts
        evaluator = evaluator_for(cfg, task, sandbox)
        started = time.perf_counter()
        with ThreadPoolExecutor(cfg.sandbox.workers) as pool:
            results = list(pool.map(lambda job: evaluator.evaluate(job[0], seed=job[1]), jobs))
        elapsed = time.perf_counter() - started
    failed = [r for r in results if r.fitness is None]
    if failed:
        print(f"{label}: {len(failed)} evaluation(s) failed: {failed[0].error}")
        sys.exit(1)
    train = statistics.mean(r.metrics["train_seconds"] for r in results)
    peak = max(r.metrics["peak_memory_mb"] for r in results)
    where = {f"{r.metrics['device']} ({r.metrics['device_name']})" for r in results}
    print(
        f"{label:34s} {len(jobs) / elapsed * 3600:8.0f} evaluations/hour  "
        f"({elapsed:6.1f} s for {len(jobs)}; training {train:5.2f} s each on average; "
        f"peak memory {peak:,.0f} MB; on {', '.join(sorted(where))})",
        flush=True,
    )
    return results


def probe(gpus: list[Any]) -> None:
    """What a child pinned to the first GPU, sharing it with another worker, can reach."""
    limits = SandboxLimits(wall_s=120, memory_mb=8192)
    with Sandbox(workers=2, preload=["torch"], limits=limits, gpus=gpus[:1]) as sandbox:
        result = sandbox.run(PROBE)
        report = {p["name"]: p["detail"] for p in sandbox.protections}
    print(f"sandbox device files: {report.get('device files')}")
    if not result.ok:
        print(f"the pinned child failed: {result.error}\n{result.traceback or ''}")
        sys.exit(1)
    found = result.value
    print(f"pinned child: {found}")
    ok = found["count"] == 1 and found["visible"] == gpus[0].selector
    ok = ok and found["90% of the memory"] == "refused"  # two workers: half the memory each
    if gpus[0].device_file is not None:  # its own node, and no other GPU's
        opened = [node for node, state in found["nodes"].items() if state == "opened"]
        ok = ok and opened == [gpus[0].device_file]
    print(f"pinning and confinement: {'as expected' if ok else 'NOT as expected'}", flush=True)


def search(evaluations: int) -> None:
    """A short digits search trained on the GPU, and a replay of its best design."""
    from agentic_design.run.search import Search
    from agentic_design.store.archive import Archive

    with tempfile.TemporaryDirectory() as folder:
        cfg = RunConfig.from_dict(
            {
                "name": "digits-gpu",
                "task": "digits",
                "run_dir": os.path.join(folder, "run"),
                "budget": {"evaluations": evaluations},
                "train": {"max_epochs": 10, "max_seconds": 5, "device": "cuda"},
                "sandbox": {"workers": 2, "wall_s": 120, "memory_mb": 8192},
            },
            source="benchmark",
        )
        started = time.perf_counter()
        result = Search(cfg, progress=False).run()
        elapsed = time.perf_counter() - started
        best = result.best
        if best is None:
            print(f"digits search on the GPU: no design succeeded ({result.counts})")
            sys.exit(1)
        m = best.metrics
        print(
            f"digits search on the GPU: {result.total} designs in {elapsed:.1f} s; best "
            f"#{best.id} {best.name}: accuracy {best.fitness:.4f} on {m['device']} "
            f"({m['device_name']}), deterministic kernels: {m['deterministic']}"
        )
        replay = Archive.open(cfg.resolved_run_dir).replay(best.id)
        verdict = (
            "bit for bit"
            if replay.exact
            else f"within the recorded interval ({replay.inexact})"
            if replay.matches
            else "NOT reproduced"
        )
        print(
            f"replay on the GPU: {replay.recorded!r} recorded, {replay.measured!r} measured: "
            f"{verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cpu-threads", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--search", type=int, default=12, help="evaluations; 0 skips it")
    args = parser.parse_args()

    gpus = visible_gpus()
    if not gpus:
        print(
            "gpu_training: skipped: no NVIDIA GPU is visible here (no /dev/nvidia* device "
            "files, or CUDA_VISIBLE_DEVICES hides them). Run it on a machine with one."
        )
        return
    import torch  # after the check: a machine without a GPU need not load it

    if torch.version.cuda is None:
        print(f"gpu_training: skipped: torch {torch.__version__} here is a CPU-only build.")
        return
    print(f"GPUs: {', '.join(g.label() for g in gpus)}; the benchmark uses the first", flush=True)
    probe(gpus)
    print(
        f"MNIST-1D, {args.samples:,} samples; {len(DESIGNS) * 2} designs of "
        f"{args.steps} steps of 256 examples each",
        flush=True,
    )
    cpu = throughput(
        config(args.samples, args.steps, "cpu", 1, args.cpu_threads),
        f"CPU, 1 worker x {args.cpu_threads} threads",
    )
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0].selector  # one GPU for both GPU settings
    gpu = throughput(config(args.samples, args.steps, "cuda", 1, 1), "1 GPU, 1 worker")
    shared = throughput(
        config(args.samples, args.steps, "cuda", 2, 1), "1 GPU, 2 workers sharing it"
    )
    agree = sum(abs(a.fitness - b.fitness) <= 0.01 for a, b in zip(cpu, gpu, strict=True))
    same = sum(a.fitness == b.fitness for a, b in zip(gpu, shared, strict=True))
    print(
        f"accuracy within 1 point of the CPU's: {agree} of {len(cpu)} designs; "
        f"1 GPU worker and 2 sharing gave the same accuracy: {same} of {len(gpu)}"
    )
    if args.search:
        search(args.search)


if __name__ == "__main__":
    main()
