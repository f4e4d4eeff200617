"""The agent toolkit: what designs of the agent kind import (inside the sandbox)."""

from agentic_design.agents.channel import BrokerUnavailable, CallFailed
from agentic_design.agents.decompose import solve_in_parts
from agentic_design.agents.toolkit import (
    Agent,
    AgentError,
    MissingFields,
    critique,
    parse_fields,
    repeat,
    sample,
    vote,
)

__all__ = [
    "Agent",
    "AgentError",
    "BrokerUnavailable",
    "CallFailed",
    "MissingFields",
    "critique",
    "parse_fields",
    "repeat",
    "sample",
    "solve_in_parts",
    "vote",
]
