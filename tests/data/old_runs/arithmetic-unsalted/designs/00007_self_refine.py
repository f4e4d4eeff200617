# design 7: Self-refine
# seed
"""Self-refine

Answer, then let a strict critic check the answer; while it finds a mistake, answer again with
its feedback in view, for at most ROUNDS critiques. Between 2 calls per example (the first
answer is judged correct) and 1 + 2 * ROUNDS = 5 (every critique finds a mistake).
"""

from agentic_design.agents import Agent, critique

ROUNDS = 2


def forward(self, task):
    question = task["question"]
    solver = Agent("a careful math tutor who works through every step")
    answer = solver(question)["answer"]
    for _ in range(ROUNDS):
        verdict = critique(question, answer)
        if verdict["correct"].strip().lower().startswith("yes"):
            break
        context = [f"An earlier answer: {answer}", f"A reviewer's feedback: {verdict['feedback']}"]
        answer = solver(
            question,
            context=context,
            instruction="An earlier answer was judged wrong. Use the feedback and solve it again.",
        )["answer"]
    return answer
