# design 8: Step back
# seed
"""Step back

First ask for the general principles and approach behind the question, without solving it; then
solve it with those principles in view. Abstracting first steers the solver away from
pattern-matching the surface of the problem. 2 calls per example.
"""

from agentic_design.agents import Agent

PRINCIPLES = "the general principles, formulas and plan that solve problems of this kind"


def forward(self, task):
    teacher = Agent(
        "an experienced mathematics teacher",
        outputs={"principles": PRINCIPLES},
        instruction="Do not solve the problem; say how problems like it are solved.",
    )
    principles = teacher(task["question"])["principles"]
    solver = Agent("a careful math tutor who works through every step")
    return solver(task["question"], context=[f"Principles to apply: {principles}"])["answer"]
