"""The code-mutation operators: every child parses and differs from its parent, most still build,
and hyper-parameters stay within their ranges however often they are mutated."""

from __future__ import annotations

import ast
import random
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from agentic_design.tasks.architecture.mutations import (
    Mutation,
    MutationError,
    crossover,
    insert_layer,
    mutate,
    mutate_constant,
    mutate_recipe,
    remove_layer,
    swap_layer,
)

ARCHIVE = Path(__file__).resolve().parents[1] / "archive" / "architecture"
SHAPES = {"mnist1d": (1, 40), "digits": (1, 8, 8)}

# Seeds written here on purpose, so that class-based models, recurrent layers, `torch.nn.`
# prefixes and incompatible keyword arguments are covered whatever the archive holds.
GRU = '''"""GRU over the sequence."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, channels, num_classes, hidden=64):
        super().__init__()
        self.rnn = nn.GRU(channels, hidden, num_layers=1, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, num_classes)
        )

    def forward(self, x):
        out, _ = self.rnn(x.transpose(1, 2))
        return self.head(torch.relu(out[:, -1]))


def build_model(input_shape, num_classes):
    return Net(input_shape[0], num_classes)
'''

MLP = """import torch.nn as nn


def build_model(input_shape, num_classes):
    hidden = 128
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, hidden),
        nn.BatchNorm1d(hidden),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Dropout(p=0.2),
        nn.Linear(hidden, num_classes),
    )


def train_recipe():
    return {"optimizer": "sgd", "lr": 0.05, "epochs": 30, "batch_size": 128, "weight_decay": 5e-4}
"""

CNN2D = """import torch


def build_model(input_shape, num_classes):
    width = 32
    return torch.nn.Sequential(
        torch.nn.Conv2d(input_shape[0], width, 3, padding=1),
        torch.nn.BatchNorm2d(width),
        torch.nn.GELU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(width, width, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(width, num_classes),
    )
"""


def _seeds() -> list[tuple[str, str, tuple[int, ...]]]:
    found = [
        (f"{path.parent.name}/{path.name}", path.read_text(), SHAPES[path.parent.name])
        for path in sorted(ARCHIVE.glob("*/*.py"))
        if path.parent.name in SHAPES
    ]
    inline = [("inline/gru", GRU, (1, 40)), ("inline/mlp", MLP, (1, 8, 8))]
    return [*found, *inline, ("inline/cnn2d", CNN2D, (1, 8, 8))]


SEEDS = _seeds()
SEED_IDS = [name for name, _, _ in SEEDS]
CNN = (ARCHIVE / "mnist1d" / "cnn.py").read_text()
OPERATORS: dict[str, Callable[[str, random.Random], Mutation | None]] = {
    "constant": mutate_constant,
    "swap": swap_layer,
    "insert": insert_layer,
    "remove": remove_layer,
    "recipe": mutate_recipe,
    "mutate": mutate,
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # Tiny models on a shared 2-core machine: intra-op threads only add contention (10x slower).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def normalized(code: str) -> str:
    return ast.unparse(ast.parse(code))


def load(code: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(code, "<design>", "exec"), namespace)
    return namespace


def builds(code: str, shape: tuple[int, ...]) -> bool:
    """True when the design builds and maps a batch of two inputs to (2, 10) logits."""
    try:
        model = load(code)["build_model"](shape, 10)
        with torch.no_grad():
            return tuple(model(torch.zeros(2, *shape)).shape) == (2, 10)
    except (RuntimeError, ValueError, TypeError, IndexError, AttributeError):
        return False


@pytest.mark.parametrize("op", list(OPERATORS))
@pytest.mark.parametrize(("name", "code", "shape"), SEEDS, ids=SEED_IDS)
def test_every_child_parses_and_differs_from_its_parent(name, code, shape, op):
    before = normalized(code)
    results = [OPERATORS[op](code, random.Random(seed)) for seed in range(200)]
    for result in results:
        if result is not None:
            assert normalized(result.code) != before, result.description
            assert result.description
    if op in ("recipe", "mutate"):  # these apply to every design that parses
        assert all(r is not None for r in results)


def test_seeds_build_and_most_mutated_children_still_build():
    outcomes = []
    for _, code, shape in SEEDS:
        assert builds(code, shape)
        outcomes += [builds(mutate(code, random.Random(s)).code, shape) for s in range(100)]
    assert sum(outcomes) / len(outcomes) >= 0.8


def test_recipe_values_stay_in_range_under_repeated_mutation():
    code = (
        "def build_model(input_shape, num_classes):\n    return None\n\n"
        "def train_recipe():\n"
        "    return {'optimizer': 'adam', 'lr': 0.9, 'epochs': 58, 'batch_size': 512,"
        " 'weight_decay': 0.09}\n"
    )
    seen: dict[str, set[Any]] = {key: set() for key in ("lr", "epochs", "batch_size")}
    rng = random.Random(0)
    for step in range(400):
        operator = mutate_recipe if step % 2 else mutate_constant
        result = operator(code, rng)
        assert result is not None
        code = result.code
        recipe = load(code)["train_recipe"]()
        assert recipe["optimizer"] in ("adam", "adamw", "sgd", "rmsprop")
        assert 1e-5 <= recipe["lr"] <= 1.0
        assert isinstance(recipe["epochs"], int) and 1 <= recipe["epochs"] <= 60
        assert recipe["batch_size"] in (16, 32, 64, 128, 256, 512)
        assert 0.0 <= recipe["weight_decay"] <= 0.1
        for key, values in seen.items():
            values.add(recipe[key])
    # and the values do move, rather than sticking at the bound they started near
    assert len(seen["lr"]) >= 10 and min(seen["lr"]) < 0.1
    assert len(seen["epochs"]) >= 10 and min(seen["epochs"]) < 40
    assert len(seen["batch_size"]) >= 3


def test_out_of_range_recipe_values_are_pulled_into_range():
    code = "def train_recipe():\n    return {'lr': 50.0, 'epochs': 500, 'batch_size': 3000}\n"
    limits = {"lr": 1.0, "epochs": 60, "batch_size": 512}
    changed = set()
    for seed in range(30):
        result = mutate_constant(code, random.Random(seed))
        assert result is not None
        key = result.description.split(" ")[0]
        assert load(result.code)["train_recipe"]()[key] <= limits[key]
        changed.add(key)
    assert changed == set(limits)


def test_widths_and_kernels_keep_sensible_values():
    code, rng = CNN, random.Random(1)
    for _ in range(300):
        result = mutate_constant(code, rng)
        assert result is not None
        code = result.code
        channels = int(re.search(r"channels = (\d+)", code).group(1))  # type: ignore[union-attr]
        kernel = int(re.search(r"kernel = (\d+)", code).group(1))  # type: ignore[union-attr]
        assert 4 <= channels <= 512
        assert kernel >= 1 and kernel % 2 == 1  # odd, so `padding=kernel // 2` keeps length
        # shape plumbing is never touched
        assert "input_shape[0]" in code and code.count("kernel // 2") == 3
        assert "num_classes)" in code


def test_constants_prefer_named_hyperparameters_and_skip_booleans():
    descriptions = [mutate_constant(GRU, random.Random(s)) for s in range(200)]
    labels = Counter(d.description.split(" ")[0] for d in descriptions if d is not None)
    assert labels["hidden"] > labels["GRU"]  # the default argument outweighs a layer argument
    for d in descriptions:
        assert d is not None and "batch_first=True" in d.code and "x.transpose(1, 2)" in d.code


def test_swap_replaces_an_activation_and_drops_arguments_it_does_not_accept():
    new_layers = set()
    for seed in range(40):
        result = swap_layer(MLP, random.Random(seed))
        assert result is not None
        assert "LeakyReLU" not in result.code and "negative_slope" not in result.code
        assert "dropped negative_slope" in result.description
        assert "0.1" not in result.code  # the slope went with the LeakyReLU
        # BatchNorm1d after a Linear sees (N, C): InstanceNorm1d would misread it, so never swap
        assert "InstanceNorm" not in result.code
        layer = re.search(r"nn\.(\w+)\((inplace=True)?\),\s*nn\.Dropout", result.code)
        assert layer is not None
        new_layers.add(layer.group(1))
        if layer.group(1) in ("GELU", "Tanh"):
            assert layer.group(2) is None  # neither accepts `inplace`
        assert builds(result.code, (1, 8, 8))
    assert new_layers == {"ReLU", "GELU", "SiLU", "ELU", "Tanh", "Mish"}


def test_swap_keeps_the_torch_nn_prefix():
    code = (
        "import torch\n\ndef build_model(s, n):\n    return torch.nn.Sequential(torch.nn.ReLU())\n"
    )
    result = swap_layer(code, random.Random(0))
    assert result is not None
    assert re.search(
        r"torch\.nn\.Sequential\(torch\.nn\.(GELU|SiLU|ELU|LeakyReLU|Tanh|Mish)\(\)\)", result.code
    )


def test_gru_and_lstm_swap_with_their_state_unpacking_adapted():
    keeps_state = GRU.replace("out, _ = self.rnn(", "_, out = self.rnn(")
    keeps_state = keeps_state.replace("out[:, -1]", "out[-1]")
    for code in (GRU, keeps_state):
        lstm = next(
            m for s in range(60) if "LSTM" in (m := swap_layer(code, random.Random(s))).code
        )
        assert builds(lstm.code, (1, 40))
        back = next(
            m for s in range(60) if "GRU" in (m := swap_layer(lstm.code, random.Random(s))).code
        )
        assert normalized(back.code) == normalized(code)  # the unpacking is rewritten both ways
    assert "_, (out, _c) = self.rnn(" in lstm.code


def test_recurrent_layers_are_not_swapped_where_the_state_cannot_be_adapted():
    uses_cell = GRU.replace("nn.GRU(", "nn.LSTM(").replace(
        "out, _ = self.rnn(", "out, (h, c) = self.rnn("
    )
    uses_cell = uses_cell.replace("out[:, -1]", "out[:, -1] + c[-1]")
    initial_state = GRU.replace("self.rnn(x.transpose(1, 2))", "self.rnn(x.transpose(1, 2), None)")
    for code, layer in ((uses_cell, "GRU"), (initial_state, "LSTM")):
        assert builds(code, (1, 40))
        swaps = [swap_layer(code, random.Random(s)) for s in range(60)]
        assert not any(m is not None and f"nn.{layer}" in m.code for m in swaps)


def test_insert_preserves_shapes_and_keeps_the_readout_last():
    kinds = Counter()
    for seed in range(100):
        result = insert_layer(CNN, random.Random(seed))
        assert result is not None
        kinds[result.description.split(" ")[0]] += 1
        sequential = next(n for n in ast.walk(ast.parse(result.code)) if isinstance(n, ast.Call))
        assert ast.unparse(sequential.args[-1]) == "nn.Linear(channels, num_classes)"
        assert builds(result.code, (1, 40)), result.description
    assert set(kinds) == {"insert", "duplicate", "deepen"}


def test_deepen_adds_a_same_width_conv_and_its_activation():
    deepened = [insert_layer(CNN, random.Random(s)) for s in range(100)]
    deepened = [m for m in deepened if m is not None and m.description.startswith("deepen")]
    assert deepened
    model = load(deepened[0].code)["build_model"]((1, 40), 10)
    convs = [m for m in model if isinstance(m, torch.nn.Conv1d)]
    assert len(convs) == 4 and convs[-1].in_channels == convs[-1].out_channels == 24


def test_remove_drops_one_element_and_prefers_shape_preserving_ones():
    removed = Counter()
    for seed in range(200):
        result = remove_layer(CNN, random.Random(seed))
        assert result is not None
        model = load(result.code)["build_model"]((1, 40), 10)
        assert len(model) == 8
        # the flatten and the read-out are never removed: the logits would have the wrong shape
        assert "nn.Flatten()" in result.code and "nn.Linear(channels, num_classes)" in result.code
        removed[result.description.split("(")[0]] += 1
    assert removed["remove nn.ReLU"] > 0.6 * 200
    linear = (
        "from torch import nn\n\ndef build_model(shape, num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(40, num_classes))\n"
    )
    assert remove_layer(linear, random.Random(0)) is None


def test_recipe_is_added_with_defaults_when_missing():
    result = mutate_recipe(GRU, random.Random(3))
    assert result is not None and result.description.startswith("add train_recipe")
    recipe = load(result.code)["train_recipe"]()
    defaults = {"optimizer": "adam", "lr": 0.003, "epochs": 15, "batch_size": 64}
    assert sum(recipe[k] != v for k, v in defaults.items()) + (recipe["weight_decay"] != 0) == 1


def test_crossover_takes_the_model_of_one_and_the_recipe_of_the_other():
    def model_source(code: str) -> str:
        tree = ast.parse(code)
        return "".join(ast.dump(s) for s in tree.body if getattr(s, "name", "") != "train_recipe")

    recipes = {"A": load(CNN)["train_recipe"](), "B": load(MLP)["train_recipe"]()}
    models = {"A": model_source(CNN), "B": model_source(MLP)}
    descriptions = set()
    for seed in range(20):
        child = crossover(CNN, MLP, random.Random(seed))
        assert child is not None
        match = re.fullmatch(r"model of (A|B), recipe of (A|B)", child.description)
        assert match and match.group(1) != match.group(2)
        assert model_source(child.code) == models[match.group(1)]
        assert load(child.code)["train_recipe"]() == recipes[match.group(2)]
        descriptions.add(child.description)
    assert len(descriptions) == 2


def test_crossover_brings_what_the_recipe_needs_and_declines_a_no_op():
    with_constant = CNN.replace("def train_recipe():", "EPOCHS = 40\n\n\ndef train_recipe():")
    with_constant = with_constant.replace('"epochs": 15', '"epochs": EPOCHS')
    for seed in range(10):
        child = crossover(MLP, with_constant, random.Random(seed))
        assert child is not None
        if child.description.startswith("model of A"):  # the MLP's model, the CNN's recipe
            assert load(child.code)["train_recipe"]()["epochs"] == 40
    same_recipe = CNN.replace("channels = 24", "channels = 32")
    assert crossover(CNN, same_recipe, random.Random(0)) is None  # both children = a parent


def test_mutate_respects_weights_and_fails_clearly():
    for seed in range(20):
        assert mutate(CNN, random.Random(seed), {"recipe": 1.0}).operator == "recipe"
    no_sequential = "def build_model(s, n):\n    return None\n"
    # insert has nothing to act on here, so mutate falls back to another operator
    assert mutate(no_sequential, random.Random(0), {"insert": 5.0, "recipe": 1e-9}).operator == (
        "recipe"
    )
    with pytest.raises(MutationError, match="does not parse"):
        mutate("def build_model(:\n", random.Random(0))
    with pytest.raises(MutationError, match="no mutation operator applies"):
        mutate(no_sequential, random.Random(0), {"swap": 1.0})
    with pytest.raises(ValueError, match="unknown mutation operator"):
        mutate(CNN, random.Random(0), {"shuffle": 1.0})


def test_mutate_is_deterministic_given_the_rng():
    for seed in range(10):
        assert mutate(MLP, random.Random(seed)) == mutate(MLP, random.Random(seed))
