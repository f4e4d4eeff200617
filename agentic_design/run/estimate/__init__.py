"""What an LLM search is expected to cost, before it starts: tokens and USD, as a range.

    estimate = estimate_cost(config)          # no network call, no sandbox
    for line in estimate.describe(): print(line)
    check_estimate(estimate, config.budget.usd, accept=False)   # EstimateExceedsBudget

The meta-agent's prompts are rendered from the real templates with the task's own description:
the first prompt with the seeds as the archive (the low end), and a prompt whose context is
filled to its configured bounds — `context_best` + `context_diverse` designs shown, the
failures, parents and best design cut at `max_code_chars` (`max_parent_chars` where edits
are asked) — with the seeds' own text as stand-ins (the high end). Answers are as long as the
shortest seed (low) or `max_tokens` (high). A proposal is a dialogue — propose, a re-ask at
most, `reflexion_rounds` reviews — and each call sends the whole conversation so far; a repair
is a design of its own (it costs an evaluation like any other), one call and a re-ask at most.
So the low end takes the cheaper mix of proposals and repairs with the low sizes, the high end
the dearer mix with the high sizes.

What the meta-agent learns costs calls of its own, each kind on a line of its own: the insight
notes (one call per `notes_every` designs, reading the improved and failed designs and the notes
so far), prompt variants (one call per `mutate_every` designs), and the novelty check — one
embedding of each checked proposal (two when sent back) and of each seed, the judge (none to
two calls a proposal with an embedding model, one to two without), and a proposal sent back
(one more call of its dialogue, which sends the whole conversation so far; the high end sends
every checked proposal back once). Their prompts are the real templates, the least they hold
(low) and filled to their bounds (high); notes and an instruction variant also lengthen the
propose prompt. Everything off, the estimate is what it was without them.

The agents' calls (a task whose designs call `agent_llm` through the broker) count against
`budget.usd` too: from one call per example (low) to the broker's cap per example (high), for
every evaluation and the final test.

Tokens are counted with litellm's tokenizer for the model where it has one on this machine
(otherwise its default, tiktoken's cl100k, and said so); prices are `llm.prices` where given,
else litellm's cost map; a model neither knows has no USD figure (and no refusal follows).
"""

from agentic_design.run.estimate.budget import estimate_cost
from agentic_design.run.estimate.records import (
    CostEstimate,
    EstimateExceedsBudget,
    check_estimate,
)

__all__ = ["CostEstimate", "EstimateExceedsBudget", "check_estimate", "estimate_cost"]
