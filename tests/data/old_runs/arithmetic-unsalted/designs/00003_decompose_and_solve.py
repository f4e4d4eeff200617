# design 3: Decompose and solve
# seed
"""Decompose and solve

A planner splits the problem into simple sub-questions (naming which earlier answers each one
needs); a solver answers them, the independent ones at once, each given the answers it needs;
a combiner answers the problem from its parts. A problem the planner does not split is answered
directly. 2 calls per example when it is not split; 2 + the number of parts when it is.
"""

from agentic_design.agents import Agent, solve_in_parts

MAX_PARTS = 4


def forward(self, task):
    solver = Agent("a careful math tutor who works through every step")
    return solve_in_parts(task["question"], solver=solver, max_parts=MAX_PARTS)
