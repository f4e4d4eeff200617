"""Tuned constants: which literals of a design are tuned, how new values are written into the
source (nothing else changes, and the result parses and means what it says), and the tuner:
trial 0 is the parent, the best trial wins, failures do not stop it, and it is deterministic.

Evaluations here are plain Python functions that run the design's code, standing in for the
sandbox."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentic_design.mutations.constants import Constant, find_constants, substitute
from agentic_design.proposers.tune import NothingToTune, choose_constants, tune_constants
from agentic_design.records import code_hash

ARCHIVE = Path(__file__).resolve().parents[1] / "archive"

PRIORITY = """import numpy as np


def priority(item: float, bins: np.ndarray) -> np.ndarray:
    return -(bins - item) * 1.5 + 0.01 * (bins == 100)
"""

MODEL = '''"""A 2-layer MLP: 40 inputs, 64 hidden units, 0.5 dropout in the docstring only."""

import torch
from torch import nn

lr = 3e-3  # a learning rate of 0.003


def build_model(input_shape: tuple[int, int] = (1, 40), num_classes: int = 10) -> nn.Module:
    layers = [nn.Linear(40, 64), nn.ReLU(), nn.Dropout(p=0.1)]
    for _ in range(3):
        layers.append(nn.Linear(64, 64))
    return nn.Sequential(*layers)


def forward(model, x):
    x = x.view(-1, 40)[:, 0:40]
    print(f"shape {x.shape[1]} at {2 * 0.5:.2f}", "lr=0.001")
    return torch.cat([model(x), x[..., -1:]], dim=1).sum(axis=-1) - 0.25
'''


def values(code: str) -> list[int | float]:
    return [c.value for c in find_constants(code)]


def run(code: str) -> Any:
    """What `f()` returns in `code`: the tests' stand-in for the sandbox."""
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["f"]()


# --- finding -----------------------------------------------------------------------------------


def test_a_priority_functions_magnitudes_are_its_constants():
    # The minus applies to an expression, not a number: no constant there.
    assert values(PRIORITY) == [1.5, 0.01, 100]
    assert [c.text for c in find_constants(PRIORITY)] == ["1.5", "0.01", "100"]
    assert {c.where for c in find_constants(PRIORITY)} == {"priority"}


def test_a_models_sizes_and_rate_are_constants_but_not_its_indices_axes_shapes_or_text():
    found = find_constants(MODEL)
    # Default values count; the docstring, comments, strings and f-strings do not, nor do
    # `range(3)`, `view(-1, 40)`, `[:, 0:40]`, `[..., -1:]`, `dim=1` or `axis=-1`.
    assert [(c.text, c.where) for c in found] == [
        ("3e-3", "module"),
        ("1", "build_model"),
        ("40", "build_model"),
        ("10", "build_model"),
        ("40", "build_model"),
        ("64", "build_model"),
        ("0.1", "build_model"),
        ("64", "build_model"),
        ("64", "build_model"),
        ("0.25", "forward"),
    ]
    assert found[0].value == 0.003 and not found[0].is_int
    assert found[2].is_int and isinstance(found[2].value, int)


def test_a_negative_number_is_one_constant_and_a_subtraction_is_not():
    code = "a = -0.5\nb = x - 0.5\nc = - 2\nd = --4.0\ne = -(3)\nf = 1 - -7\n"
    found = find_constants(code)
    assert [(c.text, c.value) for c in found] == [
        ("-0.5", -0.5),
        ("0.5", 0.5),
        ("- 2", -2),
        ("-4.0", -4.0),  # the inner of two minus signs: the outer stays an operator
        ("-(3)", -3),  # parentheses around a number leave it a number
        ("1", 1),
        ("-7", -7),
    ]


def test_bools_complex_numbers_infinities_integer_zeros_and_annotations_are_not_constants():
    code = "a = True\nb = 2j\nc = 1e999\nd = 0\ne = x > 0\nf = 0.0\ng = -0\n"
    code += "def h(x: 3 = 4) -> 5:\n    y: 6 = 7\n"
    assert values(code) == [0.0, 4, 7]  # a float zero is a choice (a decay switched off)


def test_code_that_is_not_python_is_an_error_not_an_empty_list():
    with pytest.raises(SyntaxError):
        find_constants("def f(:\n")


# --- substituting ------------------------------------------------------------------------------


def test_substitution_rewrites_only_the_literals_spans():
    found = find_constants(MODEL)
    new = substitute(MODEL, found, [0.0042, 2, 40, 12, 40, 128, 0.25, 128, 64, 0.5])
    expected = MODEL
    for old, new_text in [
        ("lr = 3e-3", "lr = 0.0042"),
        ("(1, 40), num_classes: int = 10", "(2, 40), num_classes: int = 12"),
        ("nn.Linear(40, 64)", "nn.Linear(40, 128)"),
        ("p=0.1", "p=0.25"),
        ("nn.Linear(64, 64)", "nn.Linear(128, 64)"),
        (") - 0.25", ") - 0.5"),
    ]:
        expected = expected.replace(old, new_text)
    assert new == expected
    # Equal values keep their text (`3e-3` is not rewritten `0.003`): the parent's own code.
    assert substitute(MODEL, found, [c.value for c in found]) == MODEL


def test_columns_count_bytes_and_every_kind_of_line_ending_is_kept():
    code = 'label = "naïve"; w = 0.5  # poids\r\nh = 2\rk = x[3]\n'
    found = find_constants(code)
    assert [c.text for c in found] == ["0.5", "2"]
    new = substitute(code, found, [0.75, 5])
    assert new == 'label = "naïve"; w = 0.75  # poids\r\nh = 5\rk = x[3]\n'


@pytest.mark.parametrize(
    ("expression", "which", "value", "expected"),
    [
        ("3 ** 2", 0, -3, 9),  # not -(3 ** 2)
        ("2 ** 3", 1, -3, 2**-3),
        ("1.5.__abs__()", 0, -2.5, 2.5),
        ("4 * 3", 1, -1, -4),
        ("4 - 3", 1, -1, 5),
        ("(-2) ** 2", 0, -5, 25),
        ("--0.5", 0, 0.25, -0.25),  # the outer minus stays an operator
    ],
)
def test_a_new_value_means_itself_wherever_it_is_written(expression, which, value, expected):
    code = f"def f():\n    return {expression}\n"
    found = find_constants(code)
    new = substitute(code, [found[which]], [value])
    assert run(new) == expected


def test_a_new_value_does_not_run_into_the_word_before_it():
    code = "def f():\n    return-1\n"
    assert substitute(code, find_constants(code), [2]) == "def f():\n    return 2\n"


def test_substituting_every_constant_of_the_archives_designs_parses_and_reads_back():
    rng = random.Random(0)
    designs = [PRIORITY, MODEL, *(p.read_text() for p in sorted(ARCHIVE.rglob("*.py")))]
    for code in designs:
        found = find_constants(code)
        new_values = [_same_kind(c, rng) for c in found]
        new = substitute(code, found, new_values)
        ast.parse(new)
        # Each literal reads back as the value written, as one constant in the same place.
        assert values(new) == new_values


def _same_kind(constant: Constant, rng: random.Random) -> int | float:
    """A random value of `constant`'s type and sign."""
    size = rng.uniform(0.1, 100)
    value = max(1, round(size)) if constant.is_int else size
    return value if constant.value >= 0 else -value


def test_substitution_refuses_values_it_cannot_write():
    found = find_constants(PRIORITY)
    with pytest.raises(ValueError, match="3 constants but 2 values"):
        substitute(PRIORITY, found, [1.0, 2.0])
    with pytest.raises(ValueError, match="cannot be written"):
        substitute(PRIORITY, found, [float("nan"), 0.01, 100])
    with pytest.raises(ValueError, match="cannot be written"):
        substitute(PRIORITY, found, [1.5, 0.01, 100.5])  # an int stays an int
    with pytest.raises(ValueError, match="is not at line"):
        substitute("\n" + PRIORITY, found, [1.5, 0.01, 100])


# --- tuning ------------------------------------------------------------------------------------

DESIGN = """def f():
    a = 0.5  # a weight
    b = 10  # a size
    return a, b
"""


def peak(code: str) -> float:
    """Fitness with its maximum at a = 2.5, b = 40."""
    a, b = run(code)
    return -((a - 2.5) ** 2) - ((b - 40) / 10) ** 2


def test_tuning_finds_a_better_design_than_the_parent():
    tuning = tune_constants(DESIGN, peak, seed=0, trials=30)
    assert tuning.parent_fitness == peak(DESIGN) == -13.0
    assert tuning.improved and tuning.fitness == peak(tuning.code) > -0.5
    a, b = run(tuning.code)
    assert (a, b) == tuning.values and abs(a - 2.5) < 0.7 and 30 <= b <= 40
    # Only the numbers changed: the comments are there, as they were.
    assert tuning.code == DESIGN.replace("0.5", repr(a)).replace("10", str(b))
    assert tuning.description == (
        f"tune 2 constants in 30 trials: 0.5 -> {a!r} in f, 10 -> {b!r} in f"
    )


def test_trial_zero_is_the_parent_and_every_trial_is_recorded():
    tuning = tune_constants(DESIGN, peak, seed=1, trials=12)
    assert [t.number for t in tuning.trials] == list(range(12))
    first = tuning.trials[0]
    assert first.values == (0.5, 10) and first.code_hash == code_hash(DESIGN)
    assert first.fitness == tuning.parent_fitness
    for trial in tuning.trials:
        a, b = trial.values
        assert isinstance(a, float) and 0.05 <= a <= 5.0  # within ten times either way
        assert type(b) is int and 2 <= b <= 40  # a quarter to four times


def test_the_same_seed_gives_the_same_trials_and_another_seed_others():
    first = tune_constants(DESIGN, peak, seed=7, trials=15)
    assert tune_constants(DESIGN, peak, seed=7, trials=15) == first
    assert tune_constants(DESIGN, peak, seed=8, trials=15).trials != first.trials


def test_a_failed_trial_is_recorded_and_the_study_goes_on():
    def fragile(code: str) -> float | None:
        a, _ = run(code)
        return None if a > 1.0 else peak(code)  # everything near the peak "crashes"

    tuning = tune_constants(DESIGN, fragile, seed=0, trials=20)
    failed = [t for t in tuning.trials if t.fitness is None]
    assert failed and len(tuning.trials) == 20
    assert tuning.fitness is not None and tuning.values[0] <= 1.0 and tuning.improved


def test_an_evaluation_that_raises_is_a_bug_and_stops_the_tuning():
    # The sandbox turns whatever a design does into a failed result: an exception from
    # `evaluate` is the harness's own, and must not pass for a bad design.
    with pytest.raises(ZeroDivisionError):
        tune_constants(DESIGN, lambda code: 1 / 0, seed=0, trials=3)


def test_a_fitness_that_is_not_finite_is_a_failure():
    tuning = tune_constants(DESIGN, lambda code: float("nan"), seed=0, trials=3)
    assert [t.fitness for t in tuning.trials] == [None, None, None]
    assert tuning.fitness is None and not tuning.improved and tuning.code == DESIGN


def test_a_parent_that_fails_is_beaten_by_any_working_trial():
    def broken_parent(code: str) -> float | None:
        return None if code == DESIGN else peak(code)

    tuning = tune_constants(DESIGN, broken_parent, seed=0, trials=5)
    assert tuning.parent_fitness is None and tuning.improved and tuning.code != DESIGN


def test_a_tie_with_the_parent_is_no_improvement():
    tuning = tune_constants(DESIGN, lambda code: 1.0, seed=0, trials=5)
    assert not tuning.improved and tuning.code == DESIGN and tuning.values == (0.5, 10)
    assert tuning.description == "tune 2 constants in 5 trials: no change"


def test_code_already_evaluated_is_not_evaluated_again():
    seen: list[str] = []

    def counting(code: str) -> float:
        seen.append(code)
        return float(run(code))

    # One int from 1 to 8: 20 trials must repeat some code.
    tuning = tune_constants("def f():\n    return 2\n", counting, seed=0, trials=20)
    assert len(seen) == len(set(seen)) == len({t.code_hash for t in tuning.trials})
    repeats = [t for t in tuning.trials if t.repeat_of is not None]
    assert repeats and len(seen) + len(repeats) == 20
    for trial in repeats:
        earlier = tuning.trials[trial.repeat_of]
        assert (earlier.code_hash, earlier.fitness) == (trial.code_hash, trial.fitness)


def test_code_without_constants_is_refused_before_any_evaluation():
    calls: list[str] = []
    code = 'def f(x):\n    """Uses 3 of them."""\n    return x[0] + x[-1] * len("0.5")\n'
    with pytest.raises(NothingToTune, match="no numeric literal"):
        tune_constants(code, lambda c: calls.append(c) or 0.0, seed=0, trials=5)
    assert calls == []


def test_with_more_constants_than_allowed_floats_are_tuned_first_and_the_rest_stay():
    code = "def f():\n    return [1, 2, 3, 4, 0.5, 6, 0.25, 8, 9]\n"
    found = find_constants(code)
    chosen = choose_constants(found, 3, seed=0)
    assert chosen == choose_constants(found, 3, seed=0)  # drawn from the seed
    assert {0.5, 0.25} < {c.value for c in chosen}
    assert chosen == sorted(chosen, key=lambda c: c.col)  # in source order
    assert {c.value for c in choose_constants(found, 1, seed=3)} <= {0.5, 0.25}

    written: list[list[int | float]] = []

    def recording(code: str) -> float:
        written.append(values(code))
        return float(sum(run(code)))

    tuning = tune_constants(code, recording, seed=0, trials=6, max_constants=3)
    assert tuning.constants == tuple(chosen)
    kept = [i for i, c in enumerate(found) if c not in chosen]
    assert all([w[i] for i in kept] == [found[i].value for i in kept] for w in written)


def test_optuna_is_imported_only_when_tuning_runs_and_its_logging_is_left_as_it_was():
    check = "import sys, agentic_design.proposers.tune; print('optuna' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr

    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        tune_constants(DESIGN, peak, seed=0, trials=2)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)
