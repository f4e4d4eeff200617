# design 1: Chain of thought
# seed
"""Chain of thought

One careful solver writes out its reasoning step by step before it gives the answer, at
temperature 0. 1 call per example: the cheapest design, and the baseline the others must beat.
"""

from agentic_design.agents import Agent

ROLE = "a careful math tutor who works through every step"
TEMPERATURE = 0.0


def forward(self, task):
    solver = Agent(ROLE, temperature=TEMPERATURE)
    return solver(task["question"])["answer"]
