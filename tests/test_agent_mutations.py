"""The agent task's mutation operators, applied to every seed design and then run: a vote
wrapper runs the old `forward` N times (each run still metered under the example being
answered), a critique round adds one or two calls, a temperature moves once and stays in range.

The designs run against stand-ins for the toolkit (`FakeToolkit`), put in place of
`agentic_design.agents` for the test: no LLM is asked, every call is logged.
"""

from __future__ import annotations

import ast
import contextvars
import random
import re
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from agentic_design.agents import decompose
from agentic_design.agents import toolkit as toolkit_module
from agentic_design.agents.channel import current_example
from agentic_design.mutations.crossover import function_crossover
from agentic_design.mutations.generic import generic_operators
from agentic_design.mutations.operators import Operators, check_weights, mutate
from agentic_design.resources import shipped_dir
from agentic_design.tasks.agent.mutations import (
    TEMPERATURE_RANGE,
    add_critique_round,
    agent_operators,
    tune_temperature,
    wrap_in_vote,
)

SEEDS = {path.stem: path for path in sorted((shipped_dir("archive") / "agent").glob("*.py"))}
EXAMPLE = "example-7"
real_solve_in_parts = decompose.solve_in_parts


def seed(name: str) -> str:
    return SEEDS[name].read_text()


class FakeToolkit:
    """What a design imports from `agentic_design.agents`, answering without an LLM: every
    agent answers "42" in each of its fields, the critic says `verdict`. `calls` logs each
    call with the example it was made under (what the broker meters it against)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.verdict = "no"
        calls = self.calls
        toolkit = self

        class Agent:
            def __init__(self, role="", outputs=None, temperature=0.0, instruction=""):
                self.outputs = list(outputs or ("thinking", "answer"))

            def __call__(self, question, context=(), instruction="", sample=0):
                calls.append(("agent", current_example.get()))
                return {field: "42" for field in self.outputs}

        def critique(question, answer, role="", temperature=0.0):
            calls.append(("critique", current_example.get()))
            return {"feedback": "recheck the sum", "correct": toolkit.verdict}

        def sample(agent, question, n, **kwargs):
            return [agent(question, sample=i, **kwargs) for i in range(n)]

        def vote(answers):
            given = list(answers)
            return max(given, key=given.count)

        def solve_in_parts(question, planner=None, solver=None, combiner=None, **kwargs):
            # the real decomposition (the task graph, its threads) over these fake agents
            return real_solve_in_parts(
                question,
                planner=planner or Agent(outputs=["parts"]),
                solver=solver or Agent(),
                combiner=combiner or Agent(),
                **kwargs,
            )

        self.module = types.ModuleType("agentic_design.agents")
        repeat = toolkit_module.repeat  # the real one: threads, each run in a copied context
        for value in (Agent, critique, sample, vote, solve_in_parts, repeat):
            setattr(self.module, value.__name__, value)

    def run(self, code: str) -> tuple[Any, list[str]]:
        """Load `code` as a module and answer one task with its `forward`, under EXAMPLE:
        the answer, and the kinds of call it made."""
        design = types.ModuleType("design")
        exec(compile(code, "design.py", "exec"), design.__dict__)
        self.calls.clear()

        def answer() -> Any:
            current_example.set(EXAMPLE)
            return design.forward(None, {"question": "q"})

        result = contextvars.copy_context().run(answer)
        assert all(example == EXAMPLE for _, example in self.calls), self.calls
        return result, [kind for kind, _ in self.calls]


@pytest.fixture
def toolkit(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeToolkit]:
    fake = FakeToolkit()
    monkeypatch.setitem(sys.modules, "agentic_design.agents", fake.module)
    yield fake


def function(code: str, name: str) -> ast.FunctionDef:
    return next(
        node
        for node in ast.parse(code).body
        if isinstance(node, ast.FunctionDef) and node.name == name
    )


def assert_wraps(original: str, mutated: str, helper: str) -> None:
    """`mutated` parses, its `forward(self, task)` is new, and the old `forward` is kept as
    written (comments included) under `helper`."""
    forward = function(mutated, "forward")
    assert [a.arg for a in forward.args.args] == ["self", "task"]
    old = function(original, "forward")
    kept = function(mutated, helper)
    assert [ast.dump(s) for s in kept.body] == [ast.dump(s) for s in old.body]
    old_text = ast.get_source_segment(original, old)
    assert old_text is not None
    assert old_text.replace("def forward", f"def {helper}", 1) in mutated


def test_the_eight_seeds_are_there() -> None:
    assert len(SEEDS) == 8


# --- wrap_in_vote ------------------------------------------------------------------------------


@pytest.mark.parametrize("votes", [3, 5, 7])
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_a_vote_runs_the_old_forward_once_per_vote(
    toolkit: FakeToolkit, name: str, votes: int
) -> None:
    code = seed(name)
    _, base = toolkit.run(code)
    mutation = wrap_in_vote(code, random.Random(0), votes=votes)
    assert mutation is not None and mutation.operator == "wrap_in_vote"
    assert_wraps(code, mutation.code, "_forward_once")
    answer, calls = toolkit.run(mutation.code)  # every call under EXAMPLE: see `run`
    assert answer == "42"
    assert calls == base * votes


def test_chain_of_thought_in_a_5_vote_makes_5_calls(toolkit: FakeToolkit) -> None:
    mutation = wrap_in_vote(seed("chain_of_thought"), random.Random(0), votes=5)
    assert mutation is not None
    assert toolkit.run(mutation.code)[1] == ["agent"] * 5


def test_the_number_of_votes_is_drawn_from_3_5_7() -> None:
    drawn = set()
    for s in range(30):
        mutation = wrap_in_vote(seed("chain_of_thought"), random.Random(s))
        assert mutation is not None
        votes = re.search(r"votes = (\d+)", mutation.code)
        assert votes is not None
        drawn.add(int(votes[1]))
    assert drawn == {3, 5, 7}


def test_a_vote_adds_only_the_imports_missing() -> None:
    cot = wrap_in_vote(seed("chain_of_thought"), random.Random(0))
    assert cot is not None
    assert "from agentic_design.agents import Agent, vote, repeat\n" in cot.code
    voted = wrap_in_vote(seed("self_consistency"), random.Random(0))
    assert voted is not None
    assert voted.code.count("import Agent, sample, vote, repeat\n") == 1
    assert len(re.findall(r"\bimport\b.*\bvote\b", voted.code)) == 1


def test_a_vote_leaves_a_design_s_own_vote_alone(toolkit: FakeToolkit) -> None:
    code = """from agentic_design.agents import Agent


def vote(answers):  # the design's own, not the toolkit's
    raise AssertionError("the wrapper must not call this")


def forward(self, task):
    return Agent("a solver")(task["question"])["answer"]
"""
    mutation = wrap_in_vote(code, random.Random(0), votes=3)
    assert mutation is not None
    assert "from agentic_design.agents import Agent, vote as _vote" in mutation.code
    assert toolkit.run(mutation.code) == ("42", ["agent"] * 3)


def test_a_vote_is_not_wrapped_in_another_vote() -> None:
    once = wrap_in_vote(seed("debate"), random.Random(0))
    assert once is not None
    assert wrap_in_vote(once.code, random.Random(1)) is None


# --- add_critique_round ------------------------------------------------------------------------


@pytest.mark.parametrize("verdict, extra", [("no", ["critique", "agent"]), ("Yes.", ["critique"])])
@pytest.mark.parametrize("name", sorted(SEEDS))
def test_a_critique_round_revises_only_a_rejected_answer(
    toolkit: FakeToolkit, name: str, verdict: str, extra: list[str]
) -> None:
    toolkit.verdict = verdict
    code = seed(name)
    _, base = toolkit.run(code)
    mutation = add_critique_round(code, random.Random(0))
    assert mutation is not None and mutation.operator == "add_critique_round"
    assert_wraps(code, mutation.code, "_forward_draft")
    answer, calls = toolkit.run(mutation.code)
    assert answer == "42"
    assert calls == base + extra


def test_chain_of_thought_with_a_rejecting_critic_makes_3_calls(toolkit: FakeToolkit) -> None:
    mutation = add_critique_round(seed("chain_of_thought"), random.Random(0))
    assert mutation is not None
    assert toolkit.run(mutation.code)[1] == ["agent", "critique", "agent"]
    assert "from agentic_design.agents import Agent, critique\n" in mutation.code


def test_a_critique_round_is_not_added_twice() -> None:
    once = add_critique_round(seed("step_back"), random.Random(0))
    assert once is not None
    assert add_critique_round(once.code, random.Random(0)) is None


def test_wrappers_nest_with_fresh_helper_names(toolkit: FakeToolkit) -> None:
    """A vote of a critique round of a vote: the second vote needs a helper of its own."""
    voted = wrap_in_vote(seed("chain_of_thought"), random.Random(0), votes=5)
    assert voted is not None
    critiqued = add_critique_round(voted.code, random.Random(0))
    assert critiqued is not None
    outer = wrap_in_vote(critiqued.code, random.Random(0), votes=3)
    assert outer is not None
    assert_wraps(critiqued.code, outer.code, "_forward_once_2")
    assert toolkit.run(outer.code)[1].count("agent") == 3 * (5 + 1)


@pytest.mark.parametrize("operator", [wrap_in_vote, add_critique_round])
def test_a_wrapper_needs_a_top_level_forward(operator: Any) -> None:
    for code in (
        "def solve(self, task):\n    return 1\n",
        "class Design:\n    def forward(self, task):\n        return 1\n",
        "def forward(task):\n    return 1\n",  # cannot be called as forward(self, task)
        "def forward(:\n",
    ):
        assert operator(code, random.Random(0)) is None, code


# --- tune_temperature --------------------------------------------------------------------------


def numbers(code: str) -> list[float]:
    return [
        node.value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Constant) and type(node.value) in (int, float)
    ]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_tuning_moves_exactly_one_temperature_within_range(name: str) -> None:
    code = seed(name)
    tunable = re.search(r"temperature=\d|TEMPERATURE = \d", code) is not None
    for s in range(10):
        mutation = tune_temperature(code, random.Random(s))
        if not tunable:
            assert mutation is None
            continue
        assert mutation is not None and mutation.operator == "tune_temperature"
        changed = [
            (old, new)
            for old, new in zip(numbers(code), numbers(mutation.code), strict=True)
            if old != new
        ]
        assert len(changed) == 1
        (old, new), low, high = changed[0], *TEMPERATURE_RANGE
        assert low <= new <= high and new == round(new, 1)
        assert 0.2 <= abs(new - old) + 1e-9 <= 0.4 + 2e-9 or new in (low, high)
        diff = [
            (a, b)
            for a, b in zip(code.splitlines(), mutation.code.splitlines(), strict=True)
            if a != b
        ]
        assert len(diff) == 1 and "temperature" in diff[0][1].lower()


def test_tuning_reaches_keywords_and_constants_and_stays_in_range() -> None:
    code = """SAMPLING_TEMPERATURE = 1.2  # high: diverse drafts


def forward(self, task):
    judge = Agent("a judge", temperature=0)
    return critique(task["question"], judge(task["question"])["answer"], temperature=0.5)
"""
    changed_at: set[int] = set()
    for s in range(60):
        mutation = tune_temperature(code, random.Random(s))
        assert mutation is not None
        assert "# high: diverse drafts" in mutation.code
        pairs = zip(numbers(code), numbers(mutation.code), strict=True)
        changed = [i for i, (old, new) in enumerate(pairs) if old != new]
        assert len(changed) == 1
        assert all(0.0 <= v <= 1.2 for v in numbers(mutation.code))
        changed_at.update(changed)
    assert changed_at == {0, 1, 2}  # the constant, Agent's keyword and critique's keyword
    assert tune_temperature("def forward(self, task):\n    return 1\n", random.Random(0)) is None


# --- the bundle --------------------------------------------------------------------------------


def test_the_bundle_adds_the_agent_operators_to_the_generic_ones() -> None:
    operators = agent_operators()
    assert isinstance(operators, Operators)
    generic = set(generic_operators().mutations)
    ours = {"wrap_in_vote", "add_critique_round", "tune_temperature"}
    assert set(operators.mutations) == generic | ours
    assert set(operators.weights) == set(operators.mutations)
    check_weights(operators.weights, operators.mutations)
    assert all(w > 0 for w in operators.weights.values())
    # Agent code has few arithmetic terms: term operators are drawn less than constants.
    assert operators.weights["insert_term"] < operators.weights["constant"]
    assert operators.crossover is function_crossover


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_evolution_always_gets_a_child_that_parses(name: str) -> None:
    code = seed(name)
    for s in range(20):
        child = mutate(code, random.Random(s), agent_operators())
        ast.parse(child.code)
        assert child.operator in agent_operators().mutations
