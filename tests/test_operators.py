"""The generic code operators: each changes exactly what it says, children always parse, the
same seed gives the same child, and an operator with nothing to act on says so with None."""

from __future__ import annotations

import ast
import random
import re
from pathlib import Path

import numpy as np
import pytest

from agentic_design.mutations.crossover import function_crossover
from agentic_design.mutations.generic import generic_operators
from agentic_design.mutations.operators import (
    Mutation,
    MutationError,
    Operators,
    check_weights,
    mutate,
)
from agentic_design.mutations.point import mutate_constant, swap_call, swap_operator
from agentic_design.mutations.term import drop_term, insert_term

ARCHIVE = Path(__file__).resolve().parents[1] / "archive"

SCORE = '''"""Scores bins."""

import numpy as np


def priority(item: float, bins: np.ndarray) -> np.ndarray:
    remaining = bins - item
    return -remaining + 0.5 * remaining ** 2
'''

# Code every operator must survive without raising: classes, async, lambdas, comprehensions,
# decorators, star-arguments, walrus, f-strings, string arithmetic and bare scripts.
ODD = """import functools
import math as m
from numpy import exp


class Box:
    size: int = 3

    def grow(self, by=2, *rest, scale: float = 1.5, **kw):
        return [v * by for v in rest if (w := v) > 0] + [self.size * scale]


@functools.lru_cache(maxsize=None)
def name(n: str, times: int) -> str:
    return "x" + n * times + f"{times + 1}"


async def later(x):
    total = sum(x[1:3]) + m.floor(0.5 * len(x))
    return lambda y: y ** 2 + total


print(exp(1.0) - 2 if name("a", 2) != "b" else -1)
"""

OPERATORS = [mutate_constant, swap_operator, swap_call, insert_term, drop_term]


def body(code: str) -> str:
    """The code after its module docstring and imports, as ast.unparse writes it."""
    tree = ast.parse(code)
    kept = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom, ast.Expr))]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def call_priority(code: str, item: float, bins: list[float]) -> np.ndarray:
    namespace: dict = {}
    exec(compile(code, "<design>", "exec"), namespace)
    with np.errstate(all="ignore"):  # mutants divide by zero now and then; that is their risk
        return np.asarray(namespace["priority"](item, np.array(bins)))


# --- constants -----------------------------------------------------------------------------


def test_mutate_constant_scales_one_number_by_at_most_two_and_says_so():
    for seed in range(40):
        result = mutate_constant(SCORE, random.Random(seed))
        assert result is not None and result.operator == "constant"
        old, new = re.fullmatch(r"constant (\S+) -> (\S+) in priority", result.description).groups()
        if old == "0.5":
            assert 0.25 <= float(new) <= 1.0 and float(new) != 0.5
            assert f"+ {new} * remaining ** 2" in result.code
        else:  # the exponent of `remaining ** 2` steps by one
            assert (old, new) in (("2", "1"), ("2", "3"))
            assert f"remaining ** {new}" in result.code


def test_mutate_constant_keeps_ints_integral_and_positive_and_leaves_indices_alone():
    code = "def f(x):\n    n = 1\n    return x[0] * n + np.sum(x, axis=1) + 0\n"
    values = set()
    for seed in range(30):
        result = mutate_constant(code, random.Random(seed))
        assert result is not None
        assert "x[0]" in result.code and "axis=1" in result.code and "+ 0" in result.code
        values.add(ast.parse(result.code).body[0].body[0].value.value)  # type: ignore[attr-defined]
    assert values == {2}  # 1 can only grow: halving would reach 0 and lose the sign


def test_mutate_constant_returns_none_without_numbers_to_tune():
    assert mutate_constant("def f(x, y):\n    return x[1] + y\n", random.Random(0)) is None
    assert mutate_constant("flag = True\n", random.Random(0)) is None


# --- operators and functions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "possible"),
    [
        ("a + b", {"a - b"}),
        ("a / b", {"a * b", "a // b"}),
        ("a < b", {"a <= b", "a > b"}),
        ("a >= b", {"a > b", "a <= b"}),
        ("a and b", {"a or b"}),
        ("min(a, b)", {"max(a, b)"}),
        ("(a > 1) & (b < 2)", {"(a > 1) | (b < 2)"}),
    ],
)
def test_swap_operator_swaps_for_a_relative(source, possible):
    code = f"def f(a, b):\n    return {source}\n"
    results = {body(swap_operator(code, random.Random(seed)).code) for seed in range(20)}
    expected = {f"def f(a, b):\n    return {p}" for p in possible}
    if source == "(a > 1) & (b < 2)":  # the comparisons inside may be swapped as well
        assert expected <= results
    else:
        assert results == expected


def test_swap_operator_leaves_strings_indices_and_powers_alone():
    code = 'def f(x, s):\n    return s + "!", x[1 + 2], x ** 2\n'
    assert swap_operator(code, random.Random(0)) is None


def test_swap_call_swaps_within_a_family_under_any_import_name():
    code = "import numpy\nimport math as m\n\ndef f(x):\n    return numpy.max(x) + m.floor(x)\n"
    seen = {swap_call(code, random.Random(seed)).description for seed in range(30)}
    assert seen == {"numpy.max -> numpy.min in f", "m.floor -> m.ceil in f"}
    unary = "import numpy as np\n\ndef f(x):\n    return np.exp(x)\n"
    swapped = {swap_call(unary, random.Random(seed)).code for seed in range(40)}
    names = {re.search(r"np\.(\w+)\(x\)", c).group(1) for c in swapped}
    assert names == {"log1p", "sqrt", "abs", "square", "tanh"}


def test_swap_call_ignores_modules_it_does_not_know():
    assert (
        swap_call("import torch\n\ndef f(x):\n    return torch.exp(x)\n", random.Random(0)) is None
    )


# --- terms ----------------------------------------------------------------------------------


def test_insert_term_adds_one_term_of_names_in_scope_and_keeps_the_function_working():
    for seed in range(60):
        result = insert_term(SCORE, random.Random(seed), scale=100.0)
        assert result is not None and result.operator == "insert_term"
        op, term = re.fullmatch(
            r"insert ([+-]) (.+) after .+ in priority", result.description
        ).groups()
        assert f"{op} {term}" in result.code.replace("\n", " ")
        used = {n.id for n in ast.walk(ast.parse(term)) if isinstance(n, ast.Name)}
        assert used <= {"item", "bins", "remaining", "np", "abs"}
        if "remaining = bins - item" not in result.code:  # the term went into remaining's value
            assert "remaining" not in used  # which cannot use remaining itself
        scores = call_priority(result.code, 10.0, [100.0, 15.0, 12.0])
        assert scores.shape == (3,) and np.isfinite(scores).all()


def test_insert_term_uses_numpy_only_under_its_own_name_and_only_when_imported():
    plain = "def f(x, y):\n    z = x * y\n    return z - x\n"
    aliased = "import numpy as xp\n\n" + plain
    plain_terms = [insert_term(plain, random.Random(s)).code for s in range(80)]
    aliased_terms = [insert_term(aliased, random.Random(s)).code for s in range(80)]
    assert not any("np." in c or "xp." in c for c in plain_terms)
    assert any("xp.sqrt(xp.abs(" in c or "xp.log1p(xp.abs(" in c for c in aliased_terms)
    assert not any("np." in c for c in aliased_terms)


def test_insert_term_draws_thresholds_around_the_given_scale():
    code = "def f(x):\n    return x\n"
    terms = [insert_term(code, random.Random(s), scale=100.0).description for s in range(300)]
    thresholds = [float(t) for d in terms for t in re.findall(r"x [<>] ([\d.e+-]+)\)", d)]
    assert len(thresholds) > 30 and all(1.0 <= t <= 100.0 for t in thresholds)
    small = [insert_term(code, random.Random(s), scale=1.0).description for s in range(300)]
    assert all(float(t) <= 1.0 for d in small for t in re.findall(r"x [<>] ([\d.e+-]+)\)", d))


def test_insert_term_prefers_computed_and_array_valued_names():
    code = "import numpy as np\n\ndef f(item: float, bins: np.ndarray) -> np.ndarray:\n"
    code += "    gap = bins - item\n    return -gap\n"
    uses = {"gap": 0, "bins": 0, "item": 0}
    for seed in range(400):
        description = insert_term(code, random.Random(seed)).description
        term, site = re.fullmatch(r"insert [+-] (.+) after (.+) in f", description).groups()
        if "gap" in site:  # in the return statement, where all three names are in scope
            for node in ast.walk(ast.parse(term)):
                if isinstance(node, ast.Name) and node.id in uses:
                    uses[node.id] += 1
    assert uses["gap"] > uses["bins"] > 2 * uses["item"]


def test_insert_term_returns_none_without_a_numeric_expression_in_a_function():
    assert insert_term("x = 1\nprint(x)\n", random.Random(0)) is None
    assert insert_term("def f(s: str):\n    return s.upper()\n", random.Random(0)) is None


def test_drop_term_removes_one_operand_of_a_sum():
    code = "def f(a, b, c):\n    return a + b - c\n"
    results = {body(drop_term(code, random.Random(s)).code).split("return ")[1] for s in range(30)}
    assert results == {"a + b", "-c", "a - c", "b - c"}
    assert drop_term("def f(a, b):\n    return a * b\n", random.Random(0)) is None


# --- every operator --------------------------------------------------------------------------


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda op: op.__name__)
def test_every_operator_is_deterministic_and_its_children_parse(operator):
    designs = [SCORE, ODD, *(p.read_text() for p in sorted(ARCHIVE.rglob("*.py")))]
    for code in designs:
        for seed in range(8):
            first = operator(code, random.Random(seed))
            assert first == operator(code, random.Random(seed))
            if first is not None:
                ast.parse(first.code)
                assert ast.unparse(ast.parse(first.code)) != ast.unparse(ast.parse(code))


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda op: op.__name__)
def test_every_operator_returns_none_for_code_that_does_not_parse(operator):
    assert operator("def f(:\n", random.Random(0)) is None


# --- mutate and the weights ------------------------------------------------------------------


def nothing(code: str, rng: random.Random) -> Mutation | None:
    return None


def reformat(code: str, rng: random.Random) -> Mutation | None:
    return Mutation(code.replace("    ", "  "), "the same code, indented differently", "x")


def test_mutate_falls_back_when_the_drawn_operator_changes_nothing():
    ops = Operators(
        mutations={"nothing": nothing, "reformat": reformat, "constant": mutate_constant},
        weights={"nothing": 1000.0, "reformat": 1000.0, "constant": 0.001},
        crossover=function_crossover,
    )
    for seed in range(5):
        result = mutate(SCORE, random.Random(seed), ops)
        assert result.operator == "constant"  # the name it was drawn under


def test_mutate_raises_when_nothing_applies_or_the_code_does_not_parse():
    only_constants = generic_operators().with_weights(
        {"swap_operator": 0, "swap_call": 0, "insert_term": 0, "drop_term": 0}
    )
    with pytest.raises(MutationError, match="no mutation operator applies"):
        mutate("def f(x):\n    return x\n", random.Random(0), only_constants)
    with pytest.raises(MutationError, match="does not parse"):
        mutate("def f(:\n", random.Random(0), generic_operators())


def test_most_children_of_a_working_design_still_work():
    working = 0
    for seed in range(100):
        child = mutate(SCORE, random.Random(seed), generic_operators(scale=100.0))
        scores = call_priority(child.code, 10.0, [100.0, 15.0, 12.0])
        working += scores.shape == (3,) and bool(np.isfinite(scores).all())
    assert working >= 90  # a dropped term may leave a scalar, which the task then rejects


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"constant": 1, "typo": 1}, "unknown mutation operator"),
        ({"constant": -1}, "finite numbers >= 0"),
        ({"constant": float("nan")}, "finite numbers >= 0"),
        ({"constant": float("inf")}, "finite numbers >= 0"),
        ({"constant": True}, "finite numbers >= 0"),
        ({"constant": 0, "drop_term": 0}, "needs a positive weight"),
    ],
)
def test_check_weights_names_the_problem(weights, message):
    with pytest.raises(ValueError, match=message):
        check_weights(weights, generic_operators().mutations)


def test_with_weights_replaces_the_named_weights_in_a_copy():
    ops = generic_operators()
    heavier = ops.with_weights({"drop_term": 9.0})
    assert heavier.weights["drop_term"] == 9.0 and ops.weights["drop_term"] != 9.0
    assert heavier.weights["constant"] == ops.weights["constant"]
    with pytest.raises(ValueError, match="unknown"):
        ops.with_weights({"swap_layer": 1.0})
    with pytest.raises(ValueError, match="unknown"):
        Operators(mutations={}, weights={"constant": 1.0}, crossover=function_crossover)


# --- crossover -------------------------------------------------------------------------------

PARENT_A = '''"""Parent A."""

import numpy as np

LIMIT = 3


def helper(x):
    return x * LIMIT


def priority(item, bins):
    return -bins + helper(item)
'''

PARENT_B = '''"""Parent B."""

import math

import numpy as np

LIMIT = 3
OFFSET = 2.5


def bonus(x):
    return math.sqrt(x) + OFFSET


def priority(item, bins):
    return np.sqrt(bins) + bonus(item) * LIMIT
'''


def test_crossover_brings_the_imports_helpers_and_constants_the_function_needs():
    child = function_crossover(PARENT_A, PARENT_B, random.Random(0), ("#7", "#12"))
    assert child is not None and child.operator == "crossover"
    assert child.description == "priority of #12 into #7 (with math, OFFSET, bonus)"
    tree = ast.parse(child.code)
    assert ast.get_docstring(tree) == "Parent A."
    names = [s.name for s in tree.body if isinstance(s, ast.FunctionDef)]
    assert names == ["helper", "bonus", "priority"]  # A's helper stays: others may use it
    assert child.code.index("import math") < child.code.index("OFFSET = 2.5")
    namespace: dict = {}
    exec(child.code, namespace)
    assert namespace["priority"](4.0, np.array([9.0])) == pytest.approx(3 + (2 + 2.5) * 3)


def test_crossover_refuses_a_function_that_would_read_a_different_definition():
    clash = PARENT_B.replace("LIMIT = 3", "LIMIT = 4")
    assert function_crossover(PARENT_A, clash, random.Random(0), ("A", "B")) is None
    # B's priority calls B's helper, which differs from A's: only helper itself may cross.
    helper_b = "def helper(x):\n    return x\n\n\ndef bonus(x):"
    uses_helper = PARENT_B.replace("def bonus(x):", helper_b).replace(
        "bonus(item) * LIMIT", "bonus(item) * helper(LIMIT)"
    )
    children = [
        function_crossover(PARENT_A, uses_helper, random.Random(s), ("A", "B")) for s in range(8)
    ]
    assert {c.description for c in children if c} == {"helper of B into A"}


def test_crossover_returns_none_when_the_child_would_equal_a_parent():
    # One function each: the child would be B but for its docstring.
    a = '"""A."""\n\ndef priority(item, bins):\n    return -bins\n'
    b = '"""B."""\n\ndef priority(item, bins):\n    return bins\n'
    assert function_crossover(a, b, random.Random(0), ("A", "B")) is None
    assert function_crossover(PARENT_A, PARENT_A, random.Random(0), ("A", "B")) is None
    assert function_crossover("def f(:\n", PARENT_A, random.Random(0), ("A", "B")) is None


def test_crossover_is_deterministic():
    a = PARENT_A + "\n\ndef extra(x):\n    return x + 1\n"
    b = PARENT_B + "\n\ndef extra(x):\n    return x - 1\n"
    children = {function_crossover(a, b, random.Random(s), ("A", "B")) for s in range(10)}
    assert len({c.description for c in children if c}) == 2  # either function may cross
    for s in range(5):
        assert function_crossover(a, b, random.Random(s), ("A", "B")) == function_crossover(
            a, b, random.Random(s), ("A", "B")
        )
