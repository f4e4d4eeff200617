# design 6: Self-consistency
# seed
"""Self-consistency

Sample several independent chains of thought at a high temperature and return the most common
answer: reasoning errors scatter, while correct chains agree. 5 calls per example (N_SAMPLES),
asked at once, and no judge.
"""

from agentic_design.agents import Agent, sample, vote

N_SAMPLES = 5
TEMPERATURE = 0.8


def forward(self, task):
    solver = Agent("a careful math tutor who works through every step", temperature=TEMPERATURE)
    answers = sample(solver, task["question"], n=N_SAMPLES)
    return vote(a["answer"] for a in answers)
