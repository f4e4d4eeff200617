"""Rendered proposal-prompt size against archive size: it must not grow with the archive.

    python benchmarks/prompt_size.py [--sizes 10 100 1000 10000]

For each size, a run store is filled with that many designs (the digits seeds' code under
varied names, fitness and descriptors; one in ten failed with a long traceback), and the
meta-agent's proposal prompt (system + propose message, mode `mutate`, default context sizes)
is rendered from it. Characters and tokens (litellm's counter, gpt-4o-mini's tokenizer) are
printed; the goal is the 10,000-design prompt at most 1.2x the 10-design one.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

from agentic_design.config import LLMConfig, MetaAgentConfig
from agentic_design.llm import LLM
from agentic_design.proposers.meta_agent import MetaAgentProposer
from agentic_design.records import Evaluation, Proposal, Status
from agentic_design.store.archive import Archive
from agentic_design.tasks import load_task

TRACEBACK = "Traceback (most recent call last):\n" + '  File "<design>", line 9\n' * 30


def fill(archive: Archive, size: int, seeds: list[Proposal], rng: random.Random) -> None:
    proposals = []
    for i in range(size):
        seed = seeds[i % len(seeds)]
        proposals.append(
            Proposal(
                name=f"{seed.name} variant {i}",
                thought=f"{seed.thought} Variation {i} widens layer {i % 7}.",
                code=f"{seed.code}\n# variant {i}\n",
                operator="llm mutate",
                proposer="openai/gpt-4o-mini",
            )
        )
    ids = archive.add_many(proposals, eval_seed=0, task_fingerprint="bench")
    for design_id in ids:
        if rng.random() < 0.1:
            result = Evaluation(
                Status.ERROR, "validation", 0, error=f"ValueError: bad\n{TRACEBACK}"
            )
        else:
            fitness = rng.uniform(0.5, 0.99)
            params = rng.randint(500, 90_000)
            result = Evaluation(
                Status.OK,
                "validation",
                0,
                fitness=fitness,
                ci_low=fitness - 0.02,
                ci_high=fitness + 0.02,
                metrics={"params": params},
                descriptors={"log10_params": rng.uniform(2.5, 5), "layers": rng.randint(2, 12)},
                summary=f"{params:,} parameters, {rng.randint(100, 9000):,} training steps",
            )
        archive.finish(design_id, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    task = load_task("digits")
    task.prepare()
    settings = MetaAgentConfig(modes={"mutate": 1.0}, repair_attempts=0)
    proposer = MetaAgentProposer(LLM(LLMConfig(model="openai/gpt-4o-mini")), task, settings, 0)
    system = proposer._render("meta/system.j2")
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as archive:
            fill(archive, size, task.seeds(), random.Random(size))
            plan = proposer.plan(archive, archive.total() + 1, upto=archive.total())
            prompt = system + proposer.propose_prompt(plan)
            tokens = litellm.token_counter(model="gpt-4o-mini", text=prompt)
            rows.append((size, len(prompt), tokens))
            print(f"{size:>6} designs: {len(prompt):>7,} characters, {tokens:>6,} tokens")
    first, last = rows[0], rows[-1]
    print(
        f"{last[0]:,} vs {first[0]:,} designs: {last[1] / first[1]:.2f}x characters, "
        f"{last[2] / first[2]:.2f}x tokens (goal <= 1.2x)"
    )


if __name__ == "__main__":
    main()
