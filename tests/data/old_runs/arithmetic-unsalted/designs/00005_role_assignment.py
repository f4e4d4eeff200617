# design 5: Role assignment
# seed
"""Role assignment

A dispatcher reads the question and picks the best-suited expert from a fixed list; that expert
then answers. Matching the persona to the problem costs one short extra call. 2 calls per
example.
"""

from agentic_design.agents import Agent

EXPERTS = {
    "teacher": "a careful arithmetic teacher who works through every step",
    "accountant": "an accountant who tracks every quantity, price and total",
    "logician": "a logic puzzle expert who sets up the relations before computing",
}
DEFAULT_EXPERT = "teacher"  # when the dispatcher names none of the experts


def forward(self, task):
    dispatcher = Agent(
        "a dispatcher who sends each problem to the best expert",
        outputs={"expert": "one word, one of: " + ", ".join(EXPERTS)},
    )
    choice = dispatcher(task["question"])["expert"].lower()
    expert = next((name for name in EXPERTS if name in choice), DEFAULT_EXPERT)
    return Agent(EXPERTS[expert])(task["question"])["answer"]
