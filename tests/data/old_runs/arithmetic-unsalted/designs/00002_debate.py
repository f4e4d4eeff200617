# design 2: Debate
# seed
"""Debate

AGENTS debaters with different roles answer on their own, then for ROUNDS - 1 more rounds each
sees the others' previous answers and keeps or revises its own; a majority vote of the last
round decides. Exactly AGENTS * ROUNDS = 6 calls per example, and no judge.
"""

from agentic_design.agents import Agent, vote

AGENTS = 3
ROUNDS = 2
TEMPERATURE = 0.5
ROLES = [
    "a careful math tutor who works through every step",
    "a sceptical accountant who double-checks every quantity",
    "a puzzle solver who looks for the quickest reliable route",
]
REVISE = "Weigh the others' answers: keep yours if you are sure, change it if they are right."


def forward(self, task):
    debaters = [Agent(ROLES[i % len(ROLES)], temperature=TEMPERATURE) for i in range(AGENTS)]
    answers = [debater(task["question"]) for debater in debaters]
    for _ in range(ROUNDS - 1):
        answers = [
            debater(task["question"], context=answers[:i] + answers[i + 1 :], instruction=REVISE)
            for i, debater in enumerate(debaters)
        ]
    return vote(a["answer"] for a in answers)
