"""The cost estimate against what a loopback-model search actually spent, for three budgets.

    python benchmarks/cost_estimate.py [--evaluations 5 15 40] [--learning]

For each budget, `estimate_cost` is asked first (no network), then a real bin-packing search
(400 items, two instances: seconds an evaluation) runs against a loopback OpenAI-protocol server
whose model answers like a real one: a NAME/THOUGHT header and a priority heuristic of 20 to 60
lines, revised on review, one proposal in five broken (its reviews miss it, so repairs happen),
a reasoning preamble now and then. Prices: 3 USD per million prompt tokens, 15 per million answer
tokens (`llm.prices`). The spend is the store's `llm_calls` summed; the table says whether it
lies in the estimated range. The server counts tokens as characters / 4; the estimate uses litellm's
tokenizer, as it would for a real model. With `--learning`, the meta-agent also learns: insight
notes every 5 designs, prompt variants (a new one every 8 designs), and novelty checks (the
server's embeddings, priced at 0.02 USD per million tokens, and the judge); this model answers
those requests with code, as a model that ignores them would, and their calls are paid all the
same.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentic_design import RunConfig, Search
from agentic_design.run.estimate import estimate_cost
from agentic_design.store.archive import Archive
from tests.llm_server import ScriptedLLM

PRICES = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}

TERMS = [
    "    fit = bins - item\n    score = -fit\n",
    "    fit = bins - item\n    score = -fit ** {p}\n",
    "    fit = bins - item\n    score = -np.log1p(fit) * {a}\n",
    "    ratio = item / np.maximum(bins, 1e-9)\n    score += {a} * ratio\n",
    "    score = np.where(fit < {b}, score - {a} * (fit - {b}) ** 2, score)\n",
    "    tight = fit <= {b}\n    score = np.where(tight, score + {a}, score)\n",
    "    score -= {a} * np.abs(fit - np.median(fit))\n",
    "    score += {a} * (bins == bins.max())\n",
]
THOUGHTS = [
    "Best fit wastes the large gaps on small items; penalising near-full bins after the item "
    "keeps room for the large items that come later.",
    "Scoring by the share of the bin the item fills favours tight fits without the sharp "
    "threshold of best fit; a soft log term should smooth the choice.",
    "Keep best fit's ordering but add a quadratic penalty for gaps smaller than the typical "
    "item, which are hard to fill later and end as waste.",
]


class BinPackModel:
    """Answers proposals with heuristics of realistic length; reviews revise a constant;
    repairs fix the broken one in five."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.count = 0

    def heuristic(self, broken: bool) -> tuple[str, str, str]:
        with self.lock:
            self.count += 1
            k, rng = self.count, random.Random(self.rng.random())
        terms = [TERMS[rng.randrange(3)], *rng.sample(TERMS[3:], rng.randint(1, 4))]
        body = "".join(
            t.format(a=round(rng.uniform(0.1, 3), 3), b=round(rng.uniform(1, 20), 2), p=1.5)
            for t in terms
        )
        helpers = "".join(
            f"\n\ndef _helper_{i}(values: np.ndarray) -> np.ndarray:\n"
            f'    """Helper {i}: a smoothed view of the remaining capacities."""\n'
            f"    return np.clip(values, 0, None) * {round(rng.uniform(0.5, 2), 3)}\n"
            for i in range(rng.randint(0, 4))
        )
        bug = "    score = score + undefined_name\n" if broken else ""
        code = (
            f'"""Heuristic {k}: a priority for online bin packing."""\n\nimport numpy as np\n'
            f"{helpers}\n\ndef priority(item: float, bins: np.ndarray) -> np.ndarray:\n"
            f'    """Higher is better: where to put `item` among the open `bins`."""\n'
            f"{body}{bug}    return score\n"
        )
        return f"soft fit {k}", rng.choice(THOUGHTS), code

    def __call__(self, request: dict[str, Any]) -> str:
        prompt = request["messages"][-1]["content"]
        if "Reply with the word ok" in prompt:
            return "ok"
        repair = "failed when it was evaluated" in prompt
        if "Review your proposal" in prompt:  # a review misses the bug it was shown
            broken = "undefined_name" in request["messages"][-2]["content"]
        else:
            broken = not repair and self.rng.random() < 0.2
        name, thought, code = self.heuristic(broken)
        preamble = "Let me think about what limits the parent first.\n\n" * (self.count % 4 == 0)
        return f"{preamble}NAME: {name}\nTHOUGHT: {thought}\n```python\n{code}```\n"


def config(run_dir: Path, evaluations: int, api_base: str, learning: bool = False) -> RunConfig:
    data: dict[str, Any] = {
        "name": run_dir.name,
        "task": "binpack",
        "task_params": {"distribution": "weibull", "items": 400, "instances": 2},
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "sandbox": {"workers": 2, "wall_s": 60},
        "llm": {
            "model": "openai/scripted",
            "api_base": api_base,
            "prices": PRICES,
            "concurrency": 2,
            "timeout_s": 30,
        },
        "search": {"report": False, "behaviour": False, "fidelity": {"enabled": False}},
    }
    if learning:
        data["search"]["meta_agent"] = {
            "notes_every": 5,
            "variants": {"enabled": True, "mutate_every": 8},
        }
        data["search"]["novelty"] = {
            "embedding": "openai/embed",
            "api_base": api_base,
            "prices": {"input_per_mtok": 0.02, "output_per_mtok": 0.0},
            "judge": True,
        }
    return RunConfig.from_dict(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, nargs="+", default=[5, 15, 40])
    parser.add_argument("--learning", action="store_true", help="notes, variants and novelty on")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ScriptedLLM(answer=BinPackModel()) as server:
        for evaluations in args.evaluations:
            cfg = config(Path(tmp) / f"e{evaluations}", evaluations, server.url, args.learning)
            started = time.monotonic()
            estimate = estimate_cost(cfg)
            estimated_s = time.monotonic() - started
            Search(cfg, progress=False).run()
            with Archive.open(cfg.resolved_run_dir, readonly=True) as archive:
                spent = archive.spend()
                by_purpose = archive.spend_by_purpose()
                repairs = sum(d.repair_of is not None for d in archive.designs())
            rows.append((evaluations, estimate, spent, repairs, estimated_s, by_purpose))
    print(
        f"{'budget':>6} {'designs':>7} {'repairs':>7} {'calls':>5} | {'tokens estimated':>18} "
        f"{'spent':>8} {'in':>3} | {'USD estimated':>17} {'spent':>8} {'in':>3}"
    )
    for evaluations, e, spent, repairs, _, _ in rows:
        assert e.usd is not None
        tokens_in = e.tokens.low <= spent["tokens"] <= e.tokens.high
        usd_in = e.usd.low <= spent["usd"] <= e.usd.high
        print(
            f"{evaluations:>6} {e.designs.low:>7.0f} {repairs:>7} {spent['calls']:>5} | "
            f"{e.tokens.low:>8,.0f}–{e.tokens.high:<9,.0f} {spent['tokens']:>8,.0f} "
            f"{'yes' if tokens_in else 'NO':>3} | "
            f"${e.usd.low:>7.4f}–${e.usd.high:<8.4f} ${spent['usd']:>7.4f} "
            f"{'yes' if usd_in else 'NO':>3}"
        )
    purposes = {
        "insight notes": "notes",
        "prompt variants": "variant",
        "embeddings": "embedding",
        "novelty judge": "judge",
    }
    for evaluations, e, _, _, _, by_purpose in rows:
        for cost in e.learning:
            used = by_purpose.get(purposes.get(cost.kind, ""), {"calls": 0, "tokens": 0})
            print(
                f"{evaluations:>6} {cost.kind:>15}: calls {cost.calls.low:,.0f}–"
                f"{cost.calls.high:,.0f} spent {used['calls']:,}, tokens {cost.tokens.low:,.0f}–"
                f"{cost.tokens.high:,.0f} spent {used['tokens']:,.0f}"
                + (" (in the design calls)" if cost.kind == "sent back" else "")
            )
    print(f"estimate's own time: {max(r[4] for r in rows):.2f} s at most (litellm loaded once)")


if __name__ == "__main__":
    main()
