"""Agents under realistic replies: what the toolkit cannot read, and what it costs the seeds.

    python benchmarks/agent_replies.py [--config examples/agents.yaml] [--examples N]

The seed agents shipped with the project, and four ADAS-format agents of our own, are scored
on the config's arithmetic questions (its examples per evaluation, call cap, simulated
`p_correct` and seed) through the real sandbox and broker, twice: against the realistic
loopback model of `tests/realistic_model.py` (fifteen reply shapes, equally likely) and
against its clean variant (clean JSON only, the same answers). Printed:

1. Per reply shape: the replies served, those the reader got wrong (a value not the one
   meant, or a field found missing that the reply holds — goal 0 for every shape), and those
   that lacked a field by design (asked again by our toolkit; '' in the ADAS adapter).
2. Per agent: accuracy clean and realistic (goal: within 0.02 for every seed), examples
   failed because a reply could not be read (goal 0), and calls per example.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from agentic_design.config import RunConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.realistic_model import (  # the test model, reused
    ADAS_AGENTS,
    SHAPES,
    agent_task,
    misread,
    parse_failures,
    score_on_loopback,
    seed_agents,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="examples/agents.yaml")
    parser.add_argument("--examples", type=int, help="instead of the config's")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    config = RunConfig.from_yaml(args.config)
    budget = config.task_budget
    examples = args.examples or int(budget.get("examples", 40))
    cap = int(budget.get("max_calls_per_example", 24))
    p_correct, seed = config.simulated.p_correct, config.seed
    print(
        f"{args.config}: {examples} questions, {cap} calls per example, "
        f"p_correct {p_correct}, seed {seed}"
    )
    task = agent_task(examples, cap)
    codes = {**seed_agents(), **ADAS_AGENTS}
    started = time.perf_counter()
    runs = {
        clean: score_on_loopback(
            task, codes, clean=clean, seed=seed, p_correct=p_correct, workers=args.workers
        )
        for clean in (True, False)
    }
    print(f"scored {len(codes)} agents twice in {time.perf_counter() - started:.0f} s\n")

    served = [s for _, model in runs[False].values() for s in model.served if not s.again]
    total, wrong, lacking = Counter[str](), Counter[str](), Counter[str]()
    for reply in served:
        total[reply.shape] += 1
        wrong[reply.shape] += misread(reply)
        lacking[reply.shape] += bool(reply.left_out)
    print(f"{'reply shape':<20}{'served':>8}{'misread':>9}{'share':>8}{'lacking':>9}")
    for shape in SHAPES:
        share = wrong[shape] / total[shape] if total[shape] else 0.0
        print(f"{shape:<20}{total[shape]:>8}{wrong[shape]:>9}{share:>8.3f}{lacking[shape]:>9}")
    all_wrong = sum(wrong.values())
    print(f"{'all':<20}{len(served):>8}{all_wrong:>9}{all_wrong / max(1, len(served)):>8.3f}\n")

    print(
        f"{'agent':<24}{'clean':>7}{'realistic':>10}{'diff':>7}{'unread':>8}{'failed':>8}{'calls':>7}"
    )
    worst = 0.0
    for name in codes:
        (calm, _), (rough, _) = runs[True][name], runs[False][name]
        diff = (rough.fitness or 0.0) - (calm.fitness or 0.0)
        if name not in ADAS_AGENTS:
            worst = max(worst, abs(diff))
        print(
            f"{name:<24}{calm.fitness or 0:>7.3f}{rough.fitness or 0:>10.3f}{diff:>+7.3f}"
            f"{parse_failures(rough):>8}{rough.metrics.get('failed_examples', 0):>8}"
            f"{rough.metrics.get('calls_per_example', 0):>7.2f}"
        )
    unread = sum(parse_failures(rough) for rough, _ in runs[False].values())
    print(
        f"\ngoals: misread replies 0 (got {all_wrong}); examples failed from parsing 0 "
        f"(got {unread}); seeds within 0.02 of clean (worst {worst:.3f})"
    )
    return 0 if all_wrong == 0 and unread == 0 and worst <= 0.02 else 1


if __name__ == "__main__":
    raise SystemExit(main())
