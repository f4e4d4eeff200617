"""Completion tokens for one mutation of a 300-line parent: a full rewrite against SEARCH/REPLACE
edits.

    python benchmarks/edit_tokens.py [--lines 300] [--changes 3]

The parent is a bin-packing heuristic of about 300 lines (many small scoring terms). A scripted
model on the loopback OpenAI-protocol server makes the same change both ways — `--changes`
constants retuned in different functions — once as the whole module in a ```python block
(`edit_format: full`), once as SEARCH/REPLACE blocks quoting the changed lines with one line of
context (`edit_format: diff`). Both answers go through the real meta-agent (prompt, litellm,
parser, edit application); the benchmark checks that both yield the very same child, then counts
each answer's tokens with litellm's tokenizer for gpt-4o.
Goal: the diff answer at most a quarter of the full one.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from agentic_design.config import LLMConfig, MetaAgentConfig
from agentic_design.llm import LLM, _litellm
from agentic_design.proposers.meta_agent import MetaAgentProposer
from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.store.archive import Archive
from agentic_design.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.llm_server import ScriptedLLM  # the test server, reused

TERM = '''

def term_{k}(item, bins):
    """Scoring term {k}: rewards bins whose slack after the item is near {target}."""
    slack = bins - item
    near = np.exp(-np.abs(slack - {target}) / {width})
    penalty = np.where(slack < {floor}, {weight}, 0.0)
    return near - penalty
'''


def parent_module(lines: int) -> str:
    """A heuristic of about `lines` lines: many small terms summed by priority()."""
    head = "import numpy as np\n\nWEIGHTS = {}\n"
    terms, k = [], 0
    while len((head + "".join(terms)).splitlines()) < lines - 8:
        terms.append(
            TERM.format(
                k=k,
                target=round(0.05 + 0.01 * k, 3),
                width=round(0.1 + 0.005 * k, 3),
                floor=round(0.01 * (k % 5), 3),
                weight=round(0.5 + 0.1 * (k % 7), 2),
            )
        )
        k += 1
    body = (
        "\n\ndef priority(item, bins):\n    score = -(bins - item)\n"
        f"    for k in range({k}):\n"
        "        score = score + 0.01 * globals()[f'term_{k}'](item, bins)\n"
        "    return score\n"
    )
    return head + "".join(terms) + body


def child_module(parent: str, changes: int) -> tuple[str, list[tuple[str, str]]]:
    """The parent with `changes` widths retuned, and the (search, replace) pairs doing it."""
    edits = []
    child = parent
    widths = re.findall(r"    near = np\.exp\(-np\.abs\(slack - [\d.]+\) / [\d.]+\)\n", parent)
    for line in widths[:: max(1, len(widths) // changes)][:changes]:
        context = parent[: parent.index(line)].splitlines(keepends=True)[-1]
        new = line.replace(") / ", ") / 2 * ")
        edits.append((context + line, context + new))
        child = child.replace(context + line, context + new, 1)
    return child, edits


def full_answer(child: str) -> str:
    return f"NAME: wider terms\nTHOUGHT: retune three widths.\n```python\n{child}```\n"


def diff_answer(edits: list[tuple[str, str]]) -> str:
    blocks = "".join(
        f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n" for search, replace in edits
    )
    return f"NAME: wider terms\nTHOUGHT: retune three widths.\n\n{blocks}"


def mutate(server: ScriptedLLM, parent: str, edit_format: str) -> tuple[str, str]:
    """One mutation through the meta-agent: (the child's code, the model's answer)."""
    with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as store:
        seed = Proposal(name="parent", thought="", code=parent, origin=Origin.SEED)
        design_id = store.add(seed, eval_seed=0, task_fingerprint="f")
        store.finish(design_id, Evaluation(Status.OK, "validation", 0, -4.0, -4.1, -3.9))
        settings = MetaAgentConfig(
            reflexion_rounds=0,
            modes={"mutate": 1.0},
            edit_format=edit_format,
            max_parent_chars=40_000,
        )
        llm = LLM(LLMConfig(model="openai/scripted", api_base=server.url), store=store)
        proposer = MetaAgentProposer(llm, load_task("binpack"), settings, seed=0)
        proposal = proposer.write(proposer.plan(store, 2, 1))
        assert proposal.error is None, proposal.error
        return proposal.code, store.recorded_llm_calls()[-1]["response"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--changes", type=int, default=3)
    args = parser.parse_args()
    parent = parent_module(args.lines)
    child, edits = child_module(parent, args.changes)

    def answer(request: dict) -> str:
        asked_for_edits = "<<<<<<< SEARCH" in request["messages"][-1]["content"]
        return diff_answer(edits) if asked_for_edits else full_answer(child)

    with ScriptedLLM(answer=answer) as server:
        full_child, full_text = mutate(server, parent, "full")
        diff_child, diff_text = mutate(server, parent, "diff")
    assert full_child == diff_child == child, "both answers must yield the same child"
    count = _litellm().token_counter
    full = count(model="gpt-4o", text=full_text)
    diff = count(model="gpt-4o", text=diff_text)
    print(f"parent: {len(parent.splitlines())} lines; the change: {len(edits)} constants retuned")
    print(f"full rewrite  {full:6d} completion tokens")
    print(f"diff edits    {diff:6d} completion tokens")
    print(f"diff / full   {diff / full:6.3f}  (goal <= 0.25)")


if __name__ == "__main__":
    main()
