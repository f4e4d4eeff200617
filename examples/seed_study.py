"""Run one example search under several seeds and tabulate what the search found.

    python examples/seed_study.py examples/mnist1d.yaml --seeds 1 2 3 4 5 --out runs/study

For each seed: the best hand-written seed design's validation fitness, the best discovered
design's validation fitness with its 95% interval, and that design's test fitness (scored once,
at the end of its run). Runs already present in --out are read, not re-run.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

from agentic_design import Archive, RunConfig, Search
from agentic_design.records import Origin


def study(config_path: Path, seeds: list[int], out: Path) -> list[dict[str, float]]:
    rows = []
    for seed in seeds:
        run_dir = out / f"seed{seed}"
        if not (run_dir / "run.db").exists():
            config = RunConfig.from_yaml(config_path).with_overrides(
                seed=seed, run_dir=str(run_dir)
            )
            Search(config, progress=False).run()
        archive = Archive.open(run_dir, readonly=True)
        designs = archive.designs()
        seed_best = max(d.fitness or -math.inf for d in designs if d.origin is Origin.SEED)
        best = archive.best()
        assert best is not None and best.fitness is not None
        test = archive.meta("test") or {}
        rows.append(
            {
                "seed": seed,
                "designs": len(designs),
                "best_seed_val": seed_best,
                "best_val": best.fitness,
                "ci_low": best.ci_low or 0.0,
                "ci_high": best.ci_high or 0.0,
                "best_test": test.get("fitness", float("nan")),
                "searched_min": float(archive.meta("searched_s", 0.0)) / 60,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, default=Path("runs/seed-study"))
    args = parser.parse_args()
    rows = study(args.config, args.seeds, args.out)
    print(
        "| seed | designs | best seed design (val) | best found (val, 95% CI) | "
        "best found (test) | minutes |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['designs']} | {r['best_seed_val']:.3f} | {r['best_val']:.3f} "
            f"({r['ci_low']:.3f}-{r['ci_high']:.3f}) | {r['best_test']:.3f} | "
            f"{r['searched_min']:.1f} |"
        )
    gains = [r["best_val"] - r["best_seed_val"] for r in rows]
    clear = sum(r["ci_low"] > r["best_seed_val"] for r in rows)
    print(
        f"\nmean gain over the best seed design: {statistics.mean(gains):+.3f}; "
        f"runs whose best's 95% CI lies wholly above the best seed: {clear}/{len(rows)}"
    )


if __name__ == "__main__":
    main()
