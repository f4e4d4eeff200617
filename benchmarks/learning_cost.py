"""What the meta-agent's learning costs, read from each run's own accounting.

Runs the same loopback search (the curve task, a scripted model that answers as real models
do and repeats an idea every third proposal) with nothing learned, with each of insight notes,
novelty checks (embedding and judge) and prompt variants alone, and with all three; then
prints, from each run's `llm_calls` (`Archive.spend_by_purpose`), the calls and tokens per
design the meta-agent wrote, by what they were for.

    python benchmarks/learning_cost.py [--evaluations 40]

No network beyond 127.0.0.1: the model is `tests/llm_server.ScriptedLLM`. Token counts are the
server's (a quarter of the characters), so they size the prompts, not a provider's bill.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentic_design import RunConfig, Search
from agentic_design.records import Status
from agentic_design.store.archive import Archive
from tests.learning_designs import LearningModel, learning_config
from tests.llm_server import ScriptedLLM

PURPOSES = ("design", "notes", "embedding", "judge", "variant")


def run(name: str, folder: Path, evaluations: int, reflexion: int) -> dict[str, Any]:
    server = ScriptedLLM(answer=LearningModel())
    with server:
        config = learning_config(folder / name, server, evaluations)
        data = config.model_dump(mode="json")
        meta = data["search"]["meta_agent"]
        meta["reflexion_rounds"] = reflexion
        if name not in ("notes", "all"):
            meta["notes_every"] = 0
        if name not in ("variants", "all"):
            meta["variants"]["enabled"] = False
        if name not in ("novelty", "all"):
            data["search"]["novelty"] = None
        Search(RunConfig.from_dict(data), progress=False).run()
    archive = Archive.open(folder / name)
    written = [d for d in archive.designs() if d.proposer == "openai/m"]
    spend = archive.spend_by_purpose()
    return {
        "name": name,
        "designs": len(written),
        "not_novel": sum(d.status is Status.NOT_NOVEL for d in written),
        "spend": spend,
        "calls": sum(row["calls"] for row in spend.values()),
        "tokens": sum(row["tokens"] for row in spend.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=40)
    parser.add_argument(
        "--reflexion", type=int, default=2, help="review rounds per proposal (the default's 2)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            run(name, Path(tmp), args.evaluations, args.reflexion)
            for name in ("nothing", "notes", "novelty", "variants", "all")
        ]
    base = rows[0]["tokens"] / max(rows[0]["designs"], 1)
    print(
        f"calls and tokens per design written, {args.evaluations} evaluations each, "
        f"{args.reflexion} review rounds per proposal"
    )
    head = " ".join(f"{p:>16}" for p in PURPOSES)
    print(f"{'learning':>9} {'designs':>7} {'not new':>7} {head} {'all tokens':>10} {'vs none':>7}")
    for row in rows:
        n = max(row["designs"], 1)
        cells = []
        for purpose in PURPOSES:
            spent = row["spend"].get(purpose, {"calls": 0, "tokens": 0})
            cells.append(f"{spent['calls'] / n:5.2f} / {spent['tokens'] / n:8,.0f}")
        per = row["tokens"] / n
        print(
            f"{row['name']:>9} {row['designs']:>7} {row['not_novel']:>7} "
            + " ".join(f"{c:>16}" for c in cells)
            + f" {per:>10,.0f} {per / base:>6.2f}x"
        )
    print("(each cell: calls / tokens per design; tokens are the loopback server's counts)")


if __name__ == "__main__":
    main()
