"""Agent tasks: a design is an LLM agent, `forward(self, task) -> answer`, built with the toolkit
in `agentic_design.agents`.

`task` holds the tasks (generated arithmetic, ARC-AGI, HumanEval), `data` the examples and the
answer checks, `datasets` the shipped data sets, `mutations` the agent-aware evolution operators,
and `simulated` the documented noise model that answers agents' calls for free dry runs.
"""

from agentic_design.tasks.agent.task import AgentBudget, AgentTask, ARCTask, HumanEvalTask

__all__ = ["ARCTask", "AgentBudget", "AgentTask", "HumanEvalTask"]
