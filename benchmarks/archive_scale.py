"""The run store at 100,000 designs: insert rate, planning latency, resume start-up.

    python benchmarks/archive_scale.py [--designs 100000] [--small 100]

A store is filled with `--designs` designs (the digits seeds' code, each with a constant of its
own; one in ten failed), each added as a proposal and finished with an evaluation, as a search
does. Then, in the big store and in one of `--small` designs:

- planning one proposal (median of 50): offline evolution with each selection strategy, and
  the meta-agent's planning (its bounded context of the archive); goal at most 50 ms, and the
  same at 100,000 designs as at 100;
- resume start-up: opening the store, finding its pending designs and seeds, checking every
  design has its code file, and the first plan of a fresh proposer (each strategy reads what
  it needs: the recent or best designs, or for MAP-Elites and islands every design's
  skeleton — id, status, fitness, first parent, descriptors — then the designs they keep);
  goal at most 2 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from agentic_design.config import EvolutionConfig, LLMConfig, MetaAgentConfig, SelectionConfig
from agentic_design.llm import LLM
from agentic_design.proposers.evolution import EvolutionProposer
from agentic_design.proposers.meta_agent import MetaAgentProposer
from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.store.archive import Archive
from agentic_design.tasks import load_task

STRATEGIES = ("regularized", "best_k", "map_elites", "islands")


def fill(path: Path, size: int, seeds: list[Proposal]) -> tuple[Archive, float]:
    """A store of `size` finished designs; returns it and the designs recorded per second."""
    archive = Archive.create(path, meta={"config": {}, "cost_metric": "params"})
    rng = random.Random(0)
    started = time.perf_counter()
    for first in range(1, size + 1, 1000):
        batch = []
        for i in range(first, min(first + 1000, size + 1)):
            seed = seeds[i % len(seeds)]
            origin = Origin.SEED if i <= len(seeds) else Origin.SEARCH
            code = seed.code.replace("def build_model", f"VARIANT = {i}\n\n\ndef build_model", 1)
            parents = (rng.randint(1, i - 1),) if i > len(seeds) else ()
            batch.append(Proposal(f"{seed.name} {i}", "", code, parents, origin=origin))
        ids = archive.add_many(batch, eval_seed=0, task_fingerprint="bench")
        for design_id in ids:
            failed = design_id % 10 == 0
            archive.finish(
                design_id,
                Evaluation(
                    status=Status.ERROR if failed else Status.OK,
                    split="validation",
                    seed=0,
                    fitness=None if failed else rng.random(),
                    error="Traceback ...\nValueError: shapes" if failed else None,
                    metrics={} if failed else {"params": rng.randint(1_000, 200_000)},
                    descriptors={}
                    if failed
                    else {"params": float(rng.randint(1_000, 200_000)), "depth": rng.randint(1, 9)},
                ),
            )
    return archive, size / (time.perf_counter() - started)


def median_ms(plan, runs: int = 50) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        plan()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def evolution(task, strategy: str) -> EvolutionProposer:
    """Offline evolution with the default settings and this selection strategy."""
    return EvolutionProposer(
        EvolutionConfig(),
        task.evolution_operators(),
        seed=0,
        selection=SelectionConfig(strategy=strategy),
    )


def planning(archive: Archive, task, total: int) -> dict[str, float]:
    """Median ms to plan one proposal, each proposer warmed up by one plan first."""
    figures = {}
    for strategy in STRATEGIES:
        proposer = evolution(task, strategy)
        proposer.plan(archive, total + 1, total)
        numbers = iter(range(total + 2, total + 10_000))
        figures[f"evolution, {strategy}"] = median_ms(
            lambda p=proposer, n=numbers: p.plan(archive, next(n), total)
        )
    llm = LLM(LLMConfig(model="openai/bench", api_base="http://127.0.0.1:9"))
    meta = MetaAgentProposer(llm, task, MetaAgentConfig(), seed=0)
    meta.plan(archive, total + 1, total)
    number = iter(range(total + 2, total + 10_000))
    figures["meta-agent"] = median_ms(lambda: meta.plan(archive, next(number), total))
    return figures


def resume_start(path: Path, task, total: int, strategy: str) -> float:
    """Seconds from opening the store to a fresh proposer's first plan."""
    started = time.perf_counter()
    archive = Archive.open(path)
    archive.pending()
    archive.seed_ids()
    archive.restore_code_files()
    evolution(task, strategy).plan(archive, total + 1, total)
    seconds = time.perf_counter() - started
    archive.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--designs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    args = parser.parse_args()
    task = load_task("digits")
    seeds = task.seeds()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for size in (args.small, args.designs):
            archive, rate = fill(Path(tmp) / str(size), size, seeds)
            results[size] = (rate, planning(archive, task, size))
            archive.close()
            starts = ", ".join(
                f"{strategy} {resume_start(Path(tmp) / str(size), task, size, strategy):.2f} s"
                for strategy in STRATEGIES
            )
            print(f"{size:>7,} designs: recorded {rate:,.0f} designs/s; resume start-up: {starts}")
        sizes = f"{args.small:,} vs {args.designs:,} designs"
        print(f"\nplanning one proposal (median of 50), {sizes}:")
        for name in results[args.small][1]:
            small, big = results[args.small][1][name], results[args.designs][1][name]
            print(f"  {name:<24} {small:7.2f} ms  {big:7.2f} ms  ({big / small:.2f}x)")
        print("goals: planning at most 50 ms and flat with size; resume start-up at most 2 s")


if __name__ == "__main__":
    main()
