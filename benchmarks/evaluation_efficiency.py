"""Every evaluation counts (issue 22): the figures, one subcommand each.

    python benchmarks/evaluation_efficiency.py duplicates examples/binpack.yaml --evaluations 80
    python benchmarks/evaluation_efficiency.py duplicates examples/tasks/scheduling.yaml
    python benchmarks/evaluation_efficiency.py seeds examples/binpack.yaml --seeds 0-7 \
        --evaluations 250
    python benchmarks/evaluation_efficiency.py fidelity examples/mnist1d.yaml --minutes 10 \
        --seeds 0-2
    python benchmarks/evaluation_efficiency.py control examples/binpack.yaml --seeds 0-2
    python benchmarks/evaluation_efficiency.py control examples/agents.yaml --seeds 0-2

- `duplicates`: the config's search twice, fidelity off in both — "before", with
  `search.behaviour: false`, and "after", with it on — and for each run the share of its full
  evaluations spent on behaviour already evaluated. The share is found after the fact the same
  way for both: every evaluated design's fingerprint (`Task.behaviour`, taken in the sandbox by
  the run's evaluator) is compared with those of the designs evaluated before it. For "after",
  the fingerprints recorded by the search must agree with those taken again (`mismatched`).
- `seeds`: one search per seed; the best design's validation and test fitness against the best
  seed design's (best fit, for bin packing), whose test fitness is scored here as the run's
  final test scores its best (`lifecycle.final_test`).
- `fidelity`: equal wall-clock budgets (`budget.hours`, evaluations unbounded), with and
  without cheap evaluations first (`search.fidelity`); best validation and test fitness.
- `control`: the search against `search.proposer: random_sampling` at equal evaluations; each
  best with its 95% interval, and the gap.

Each prints a table and writes its rows as JSON to OUT/FIGURE-CONFIG.json. Runs go to
OUT/FIGURE/CONFIG-VARIANT-seedS-BUDGET (default OUT: runs/evaluation-efficiency); a finished run
found there is read, not repeated, and one that was stopped is resumed.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from agentic_design.config import RunConfig
from agentic_design.records import Design, Origin, Status
from agentic_design.run.assemble import build_task, local_evaluation
from agentic_design.run.evaluation import Evaluator
from agentic_design.run.search import Search
from agentic_design.store.archive import Archive

QUIET = Console(quiet=True)
UNBOUNDED_EVALUATIONS = 1_000_000  # `fidelity`: the hours stop the search, not the count


# -- runs ------------------------------------------------------------------------------------------
def seed_list(text: str) -> list[int]:
    """`0-7`, `0,2,5` or `3` as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        seeds.extend(range(int(first), int(last) + 1) if dash else [int(first)])
    return seeds


def search(config: RunConfig, run_dir: Path) -> float:
    """Run `config` into `run_dir` (resume a stopped run there; read a finished one); return
    the minutes the search took, as the run recorded them."""
    label = run_dir.relative_to(run_dir.parents[1]) if len(run_dir.parents) > 1 else run_dir
    state = None
    if (run_dir / "run.db").is_file():
        with Archive.open(run_dir, readonly=True) as archive:
            state = archive.meta("state")
    if state == "finished":
        say(f"{label}: finished before, read")
    else:
        say(f"{label}: {'resuming' if state else 'searching'}...")
        started = time.monotonic()
        if state:
            Search.resume(run_dir, console=QUIET, progress=False).run()
        else:
            config = config.with_overrides(run_dir=str(run_dir), **{"search.report": False})
            Search(config, console=QUIET, progress=False).run()
        say(f"{label}: done in {(time.monotonic() - started) / 60:.1f} min")
    with Archive.open(run_dir, readonly=True) as archive:
        return float(archive.meta("searched_s", 0.0)) / 60


def run_dir(out: Path, figure: str, config: Path, variant: str, seed: int, budget: str) -> Path:
    """Where a figure's run goes: OUT/FIGURE/CONFIG-VARIANT-seedS-BUDGET (`e80`, `10min`)."""
    return out / figure / f"{config.stem}-{variant}-seed{seed}-{budget}"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def evaluator_of(run: Path) -> Iterator[Evaluator]:
    """An evaluator of the run's task, as the run's own (its budget, limits and sandbox)."""
    with Archive.open(run, readonly=True) as archive:
        config = archive.run_config()
    task = build_task(config)
    task.prepare()
    with local_evaluation(config, task) as (evaluator, _, _):
        yield evaluator


def evaluated(designs: list[Design]) -> list[Design]:
    """The designs that were evaluated (at some fidelity), in id order."""
    return [d for d in designs if d.status not in (Status.PENDING, Status.DUPLICATE)]


def best_seed(designs: list[Design]) -> Design:
    return max(
        (d for d in designs if d.origin is Origin.SEED and d.fitness is not None),
        key=lambda d: d.fitness or -math.inf,
    )


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def table(headers: list[str], rows: list[list[Any]]) -> None:
    """A markdown table."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def save(out: Path, figure: str, config: Path, data: dict[str, Any]) -> None:
    path = out / f"{figure}-{config.stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"\nsaved {path}")


def mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.mean(finite) if finite else math.nan


# -- duplicates --------------------------------------------------------------------------------
def known_behaviour(run: Path) -> dict[str, Any]:
    """How much of a run's evaluation went to behaviour evaluated before, found after the fact:
    each evaluated design fingerprinted again in the sandbox, in id order."""
    with Archive.open(run, readonly=True) as archive:
        designs = archive.designs()
        spent = archive.spent()
        best = archive.best()
        workers = archive.run_config().sandbox.workers
    done = evaluated(designs)
    with evaluator_of(run) as evaluator, ThreadPoolExecutor(workers) as pool:
        prints = list(pool.map(lambda d: evaluator.behaviour(d.code, seed=d.eval_seed or 0), done))
    seen: set[str] = set()
    full = repeats = mismatched = 0
    for design, behaviour in zip(done, prints, strict=True):
        if design.behaviour is not None and design.behaviour != behaviour:
            mismatched += 1
        if design.fidelity >= 1:
            full += 1
            repeats += behaviour is not None and behaviour in seen
        if behaviour is not None:
            seen.add(behaviour)
    ok = [d.fitness for d in designs if d.status is Status.OK and d.fitness is not None]
    return {
        "designs": len(designs),
        "spent": spent,
        "evaluated": len(done),
        "full_evaluations": full,
        "duplicates_recorded": sum(d.status is Status.DUPLICATE for d in designs),
        "on_known_behaviour": repeats,
        "share_on_known_behaviour": repeats / full if full else math.nan,
        "distinct_behaviours": len(seen),
        "distinct_fitness_values": len(set(ok)),
        "mismatched_fingerprints": mismatched,
        "best_validation": best.fitness if best else None,
        "best_seed_validation": best_seed(designs).fitness,
    }


def duplicates(args: argparse.Namespace) -> None:
    base = RunConfig.from_yaml(args.config)
    n = args.evaluations or base.budget.evaluations
    rows = {}
    for variant, behaviour in (("before", False), ("after", True)):
        config = base.with_overrides(
            seed=args.seed,
            **{
                "budget.evaluations": n,
                "search.behaviour": behaviour,
                "search.fidelity.enabled": False,
            },
        )
        run = run_dir(args.out, "duplicates", args.config, variant, args.seed, f"e{n}")
        minutes = search(config, run)
        rows[variant] = {**known_behaviour(run), "minutes": minutes, "run_dir": str(run)}
    print(f"\n{args.config}, seed {args.seed}, budget {n} evaluations, fidelity off\n")
    table(
        [
            "run",
            "designs",
            "evaluations spent",
            "evaluated",
            "duplicates recorded",
            "share on known behaviour",
            "distinct behaviours",
            "best validation (best seed)",
            "minutes",
        ],
        [
            [
                f"{variant} (behaviour {'on' if variant == 'after' else 'off'})",
                r["designs"],
                f"{r['spent']:g}",
                r["evaluated"],
                r["duplicates_recorded"],
                f"{r['on_known_behaviour']}/{r['full_evaluations']} = "
                f"{100 * r['share_on_known_behaviour']:.0f}%",
                r["distinct_behaviours"],
                f"{number(r['best_validation'])} ({number(r['best_seed_validation'])})",
                f"{r['minutes']:.1f}",
            ]
            for variant, r in rows.items()
        ],
    )
    if rows["after"]["mismatched_fingerprints"]:
        print(
            f"\nwarning: {rows['after']['mismatched_fingerprints']} recorded fingerprints "
            "differ from those taken again: the task's behaviour is not deterministic"
        )
    save(args.out, "duplicates", args.config, {"config": str(args.config), "runs": rows})


# -- seeds -----------------------------------------------------------------------------------------
def seeds(args: argparse.Namespace) -> None:
    base = RunConfig.from_yaml(args.config)
    n = args.evaluations or base.budget.evaluations
    rows = []
    for seed in args.seeds:
        run = run_dir(args.out, "seeds", args.config, "search", seed, f"e{n}")
        minutes = search(base.with_overrides(seed=seed, **{"budget.evaluations": n}), run)
        with Archive.open(run, readonly=True) as archive:
            designs = archive.designs()
            best, test = archive.best(), archive.meta("test") or {}
        reference = best_seed(designs)
        rows.append(
            {
                "seed": seed,
                "run_dir": str(run),
                "designs": len(designs),
                "best": best.name if best else None,
                "best_validation": best.fitness if best else None,
                "best_test": test.get("fitness"),
                "seed_design": reference.name,
                "seed_validation": reference.fitness,
                "seed_code": reference.code,
                "seed_eval_seed": reference.eval_seed or 0,
                "seed_metrics": reference.metrics,
                "minutes": minutes,
            }
        )
    # The best seed design on test, scored once per code and evaluation seed (the same code in
    # every run; the runs differ only in their seeds).
    scored: dict[tuple[str, int], float | None] = {}
    with evaluator_of(Path(rows[0]["run_dir"])) as evaluator:
        for row in rows:
            key = (row.pop("seed_code"), row.pop("seed_eval_seed"))
            metrics = row.pop("seed_metrics")
            if key not in scored:
                test = evaluator.evaluate(key[0], seed=key[1], split="test", recorded=metrics)
                scored[key] = test.fitness
            row["seed_test"] = scored[key]
    for row in rows:
        row["gain_validation"] = gain(row["best_validation"], row["seed_validation"])
        row["gain_test"] = gain(row["best_test"], row["seed_test"])
    print(f"\n{args.config}, {n} evaluations per seed; gains over the best seed design\n")
    table(
        [
            "seed",
            "designs",
            "best (val)",
            "seed design (val)",
            "gain (val)",
            "best (test)",
            "seed design (test)",
            "gain (test)",
            "minutes",
        ],
        [
            [
                r["seed"],
                r["designs"],
                number(r["best_validation"]),
                f"{number(r['seed_validation'])} {r['seed_design']}",
                f"{r['gain_validation']:+.3f}",
                number(r["best_test"]),
                number(r["seed_test"]),
                f"{r['gain_test']:+.3f}",
                f"{r['minutes']:.1f}",
            ]
            for r in rows
        ],
    )
    both = [r for r in rows if min(r["gain_validation"], r["gain_test"]) >= args.target]
    summary = {
        "mean_gain_validation": mean([r["gain_validation"] for r in rows]),
        "mean_gain_test": mean([r["gain_test"] for r in rows]),
        "min_gain_validation": min(r["gain_validation"] for r in rows),
        "min_gain_test": min(r["gain_test"] for r in rows),
        "seeds_gaining_target_on_both": len(both),
        "target": args.target,
    }
    print(
        f"\nmean gain: {summary['mean_gain_validation']:+.3f} (val), "
        f"{summary['mean_gain_test']:+.3f} (test); least: {summary['min_gain_validation']:+.3f}"
        f" (val), {summary['min_gain_test']:+.3f} (test); seeds gaining at least "
        f"{args.target} on both: {len(both)}/{len(rows)}"
    )
    save(args.out, "seeds", args.config, {"config": str(args.config), "rows": rows, **summary})


def gain(found: float | None, reference: float | None) -> float:
    return math.nan if found is None or reference is None else found - reference


# -- fidelity --------------------------------------------------------------------------------------
def fidelity(args: argparse.Namespace) -> None:
    base = RunConfig.from_yaml(args.config)
    name = f"{args.minutes:g}min"
    rows = []
    for seed in args.seeds:
        for variant, enabled in (("full", False), ("cheap-first", True)):
            config = base.with_overrides(
                seed=seed,
                **{
                    "budget.hours": args.minutes / 60,
                    "budget.evaluations": UNBOUNDED_EVALUATIONS,
                    "search.fidelity.enabled": enabled,
                },
            )
            run = run_dir(args.out, "fidelity", args.config, variant, seed, name)
            minutes = search(config, run)
            with Archive.open(run, readonly=True) as archive:
                best, test = archive.best(), archive.meta("test") or {}
                rows.append(
                    {
                        "seed": seed,
                        "fidelity": variant,
                        "run_dir": str(run),
                        "designs": archive.total(),
                        "spent": archive.spent(),
                        "screened_out": archive.counts().get(Status.SCREENED_OUT.value, 0),
                        "best_validation": best.fitness if best else None,
                        "best_test": test.get("fitness"),
                        "minutes": minutes,
                    }
                )
    print(f"\n{args.config}, {args.minutes:g} minutes of searching per run\n")
    table(
        [
            "seed",
            "fidelity",
            "designs",
            "evaluations spent",
            "screened out",
            "best (val)",
            "best (test)",
            "minutes",
        ],
        [
            [
                r["seed"],
                r["fidelity"],
                r["designs"],
                f"{r['spent']:.1f}",
                r["screened_out"],
                number(r["best_validation"]),
                number(r["best_test"]),
                f"{r['minutes']:.1f}",
            ]
            for r in rows
        ],
    )
    means = {
        variant: {
            "validation": mean([r["best_validation"] for r in rows if r["fidelity"] == variant]),
            "test": mean([r["best_test"] for r in rows if r["fidelity"] == variant]),
        }
        for variant in ("full", "cheap-first")
    }
    print()
    for variant, m in means.items():
        print(f"mean of {variant}: {number(m['validation'])} (val), {number(m['test'])} (test)")
    save(args.out, "fidelity", args.config, {"config": str(args.config), "rows": rows, **means})


# -- control ---------------------------------------------------------------------------------------
def control(args: argparse.Namespace) -> None:
    base = RunConfig.from_yaml(args.config)
    n = args.evaluations or base.budget.evaluations
    rows = []
    for seed in args.seeds:
        row: dict[str, Any] = {"seed": seed}
        for variant, proposer in (("search", base.search.proposer), ("control", "random_sampling")):
            config = base.with_overrides(
                seed=seed, **{"budget.evaluations": n, "search.proposer": proposer}
            )
            run = run_dir(args.out, "control", args.config, variant, seed, f"e{n}")
            minutes = search(config, run)
            with Archive.open(run, readonly=True) as archive:
                best = archive.best()
            row[variant] = {
                "run_dir": str(run),
                "best": best.name if best else None,
                "fitness": best.fitness if best else None,
                "ci_low": best.ci_low if best else None,
                "ci_high": best.ci_high if best else None,
                "minutes": minutes,
            }
        row["gap"] = gain(row["search"]["fitness"], row["control"]["fitness"])
        rows.append(row)
    print(f"\n{args.config}, {n} evaluations per run; gap: search minus control\n")

    def shown(r: dict[str, Any]) -> str:
        return f"{number(r['fitness'])} [{number(r['ci_low'], 3)}, {number(r['ci_high'], 3)}]"

    table(
        ["seed", "search: best (val, 95% CI)", "control: best (val, 95% CI)", "gap"],
        [[r["seed"], shown(r["search"]), shown(r["control"]), f"{r['gap']:+.4f}"] for r in rows],
    )
    gaps = [r["gap"] for r in rows if not math.isnan(r["gap"])]
    spread = statistics.stdev(gaps) / math.sqrt(len(gaps)) if len(gaps) > 1 else math.nan
    clear = sum(
        r["search"]["ci_low"] is not None
        and r["control"]["fitness"] is not None
        and r["search"]["ci_low"] > r["control"]["fitness"]
        for r in rows
    )
    print(
        f"\nmean gap {mean(gaps):+.4f} (standard error {number(spread)}); runs whose search "
        f"best's interval lies wholly above the control's best: {clear}/{len(rows)}"
    )
    summary = {"mean_gap": mean(gaps), "standard_error": spread, "clear": clear}
    save(args.out, "control", args.config, {"config": str(args.config), "rows": rows, **summary})


# -- the command line ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/evaluation-efficiency"))
    figures = parser.add_subparsers(dest="figure", required=True)

    def figure(name: str, help: str, seeds: str | None) -> argparse.ArgumentParser:
        sub = figures.add_parser(name, help=help)
        sub.add_argument("config", type=Path)
        sub.add_argument("--out", type=Path, default=argparse.SUPPRESS)
        if seeds is not None:
            sub.add_argument("--seeds", type=seed_list, default=seed_list(seeds))
        return sub

    sub = figure("duplicates", "the share of evaluations on known behaviour", None)
    sub.add_argument("--evaluations", type=int, help="default: the config's budget")
    sub.add_argument("--seed", type=int, default=0)
    sub.set_defaults(run=duplicates)
    sub = figure("seeds", "the gain over the best seed design, per seed", "0-7")
    sub.add_argument("--evaluations", type=int, help="default: the config's budget")
    sub.add_argument("--target", type=float, default=0.3, help="the gain each seed should make")
    sub.set_defaults(run=seeds)
    sub = figure("fidelity", "equal wall-clock budgets, with and without cheap evaluations", "0-2")
    sub.add_argument("--minutes", type=float, required=True)
    sub.set_defaults(run=fidelity)
    sub = figure("control", "the search against a random-sampling control", "0-2")
    sub.add_argument("--evaluations", type=int, help="default: the config's budget")
    sub.set_defaults(run=control)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
