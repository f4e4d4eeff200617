# design 4: Quality-diversity
# seed
"""Quality-diversity

Solve the problem N_APPROACHES times in turn, each attempt seeing the earlier ones and told to
use a different method; then a judge compares the attempts and gives the final answer. Different
methods fail in different ways, so agreement among them is strong evidence.
N_APPROACHES + 1 = 4 calls per example.
"""

from agentic_design.agents import Agent

N_APPROACHES = 3
TEMPERATURE = 0.8
DIFFERENT = "Solve it with a method different from every attempt given so far."


def forward(self, task):
    question = task["question"]
    solver = Agent("an inventive mathematician", temperature=TEMPERATURE)
    attempts = []
    for _ in range(N_APPROACHES):
        instruction = DIFFERENT if attempts else ""
        attempts.append(solver(question, context=attempts, instruction=instruction))
    judge = Agent(
        "a meticulous examiner",
        instruction="Check the attempts against each other and give the correct final answer.",
    )
    return judge(question, context=attempts)["answer"]
