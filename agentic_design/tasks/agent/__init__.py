"""Agent tasks: a design is an LLM agent, `forward(self, task) -> answer`, built with the toolkit
in `agentic_design.agents`.

`task` holds the tasks (generated arithmetic, ARC-AGI, HumanEval), `data` the generated
examples, `datasets` the shipped data sets, `mutations` the agent-aware evolution operators, and
`simulated` the documented noise model that answers agents' calls for free dry runs. The names
below are those the module of this name exported before it became a package (release 0.1.0).
"""

from agentic_design.tasks.agent.task import (
    AgentBudget,
    AgentTask,
    ARCTask,
    HumanEvalTask,
    bootstrap_interval,
)

__all__ = ["ARCTask", "AgentBudget", "AgentTask", "HumanEvalTask", "bootstrap_interval"]
