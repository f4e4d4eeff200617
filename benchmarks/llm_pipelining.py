"""Proposals per second with K proposals in flight, against a server that takes 300 ms a call.

    python benchmarks/llm_pipelining.py [--proposals 16] [--delay 0.3]

The meta-agent writes proposals (one call each: no reflexion) through litellm to the loopback
OpenAI-protocol test server, which adds `--delay` seconds to every answer. The same batch runs
with K=1 and K=4 proposals in flight, as the search's proposal pool runs them.
Goal: K=4 at least 3x the proposals per second of K=1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentic_design.config import LLMConfig, MetaAgentConfig
from agentic_design.llm import LLM
from agentic_design.proposers.meta_agent import MetaAgentProposer
from agentic_design.store.archive import Archive
from agentic_design.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.llm_server import ScriptedLLM  # the test server, reused

CODE = "from torch import nn\n\ndef build_model(s, n):\n    return nn.Linear(64, n)\n"


def rate(server: ScriptedLLM, k: int, proposals: int) -> float:
    # A store of its own: a shared one would answer the second run from the first's record.
    with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as store:
        return _rate(server, k, proposals, store)


def _rate(server: ScriptedLLM, k: int, proposals: int, store: Archive) -> float:
    config = LLMConfig(model="openai/gpt-4o-mini", api_base=server.url, concurrency=k)
    task = load_task("digits")
    settings = MetaAgentConfig(reflexion_rounds=0, repair_attempts=0, modes={"new": 1.0})
    proposer = MetaAgentProposer(LLM(config, store=store), task, settings, seed=0)
    plans = [proposer.plan(store, number, upto=0) for number in range(1, proposals + 1)]
    # Warm-up, as proposal 0 (a request of its own, so the timed ones are not answered from
    # its record): the first call pays for litellm's import and set-up.
    proposer.write(proposer.plan(store, 0, upto=0))
    started = time.perf_counter()
    with ThreadPoolExecutor(k) as pool:
        results = list(pool.map(proposer.write, plans))
    elapsed = time.perf_counter() - started
    assert all(r.error is None for r in results), [r.error for r in results if r.error][:1]
    return proposals / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    reply = json.dumps({"thought": "a linear model", "name": "linear", "code": CODE})
    with ScriptedLLM(answer=lambda request: reply, delay_s=args.delay) as server:
        load_task("digits").prepare()
        one = rate(server, 1, args.proposals)
        four = rate(server, 4, args.proposals)
    print(f"K=1  {one:6.2f} proposals/s  ({args.proposals} proposals, {args.delay} s a call)")
    print(f"K=4  {four:6.2f} proposals/s")
    print(f"speed-up {four / one:5.2f}x  (goal >= 3x)")


if __name__ == "__main__":
    main()
