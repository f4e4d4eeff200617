"""What the mutation operators know about torch.nn layers, design code and hyper-parameter values.

Three kinds of knowledge, kept apart from the operators that use them: tables of the torch.nn
layers the operators understand (signatures, swappable relatives, which layers keep a shape),
helpers that read and rewrite a design's AST (its `nn.Sequential`s, its `train_recipe`, its
recurrent layers), and the rules that draw a new value for a named hyper-parameter.
"""

from __future__ import annotations

import ast
import copy
import math
import random
from collections.abc import Callable, Mapping

# --- the training recipe -----------------------------------------------------------------------

# What `train_recipe()` may return: the optimizers the trainer knows, and the recipe a design
# without one is trained with (so a mutation of a missing entry starts from these values).
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
RecipeValue = str | int | float
DEFAULT_RECIPE: Mapping[str, RecipeValue] = {
    "optimizer": "adam",
    "lr": 0.003,
    "epochs": 15,
    "batch_size": 64,
    "weight_decay": 0.0,
}

# --- torch.nn layers ----------------------------------------------------------------------------

# Positional parameters of the torch.nn layers the operators understand, in signature order:
# used to name constants and to carry arguments over when a layer is swapped for another.
_NORM = ("num_features", "eps", "momentum", "affine", "track_running_stats")
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")
_RNN = (
    "input_size",
    "hidden_size",
    "num_layers",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
)
LAYER_PARAMS: dict[str, tuple[str, ...]] = {
    "Conv1d": _CONV,
    "Conv2d": _CONV,
    "Linear": ("in_features", "out_features", "bias"),
    "Dropout": ("p", "inplace"),
    "Dropout1d": ("p", "inplace"),
    "Dropout2d": ("p", "inplace"),
    "GRU": _RNN,
    "LSTM": (*_RNN, "proj_size"),
    "BatchNorm1d": _NORM,
    "BatchNorm2d": _NORM,
    "InstanceNorm1d": _NORM,
    "InstanceNorm2d": _NORM,
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine"),
    "MaxPool1d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AdaptiveAvgPool1d": ("output_size",),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool1d": ("output_size", "return_indices"),
    "AdaptiveMaxPool2d": ("output_size", "return_indices"),
    "ReLU": ("inplace",),
    "GELU": ("approximate",),
    "SiLU": ("inplace",),
    "ELU": ("alpha", "inplace"),
    "LeakyReLU": ("negative_slope", "inplace"),
    "Tanh": (),
    "Mish": ("inplace",),
}
# Activations and the pairs below are argument-compatible: each may replace another (`SWAPS`).
ACTIVATIONS = ("ReLU", "GELU", "SiLU", "ELU", "LeakyReLU", "Tanh", "Mish")
FUNCTIONAL_ACTIVATIONS = ("relu", "gelu", "silu", "elu", "leaky_relu", "tanh", "mish")
_PAIRS = [
    ("BatchNorm1d", "InstanceNorm1d"),
    ("BatchNorm2d", "InstanceNorm2d"),
    ("MaxPool1d", "AvgPool1d"),
    ("MaxPool2d", "AvgPool2d"),
    ("AdaptiveAvgPool1d", "AdaptiveMaxPool1d"),
    ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"),
    ("GRU", "LSTM"),
]
SWAPS: dict[str, tuple[str, ...]] = {
    a: tuple(b for b in ACTIVATIONS if b != a) for a in ACTIVATIONS
}
SWAPS.update({a: (b,) for a, b in _PAIRS})
SWAPS.update({b: (a,) for a, b in _PAIRS})

# Layers that map any input to the same shape: safe to insert, duplicate or remove.
_NORMS = {"BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm"}
SHAPE_PRESERVING = {*ACTIVATIONS, *_NORMS, "Dropout", "Dropout1d", "Dropout2d", "Identity"}
# Constants in these layers fix a shape that the next layer depends on; leave them alone.
FROZEN_LAYERS = {"Flatten", "Unflatten", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"}
FROZEN_LAYERS |= {"AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Identity"}
# Layer arguments mutated often (rates, depths) and seldom (widths that neighbours depend on).
SAFE_PARAMS = {"p", "dropout", "num_layers", "negative_slope", "alpha", "eps", "momentum"}
WIDTH_PARAMS = {"in_channels", "out_channels", "in_features", "out_features"}
WIDTH_PARAMS |= {"input_size", "hidden_size", "num_features", "normalized_shape"}
# Substrings of a constant's name that say whether it is a width or a small count.
_WIDTH_NAMES = ("channel", "width", "hidden", "dim", "feature", "unit", "filter", "size")
_SMALL_NAMES = ("kernel", "layer", "depth", "block", "stride", "dilation", "pad", "stage", "repeat")
# Changing these alone breaks divisibility (channels % groups, embed % heads).
_UNTOUCHABLE_NAMES = ("group", "head", "num_classes")


# --- AST helpers -----------------------------------------------------------------------------


def dotted_name(node: ast.expr) -> str | None:
    """`"torch.nn"` for the expression `torch.nn`; None when `node` is not a dotted name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def nn_layer(node: ast.AST | None) -> str | None:
    """`X` when `node` is a call `nn.X(...)` or `torch.nn.X(...)`, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    return node.func.attr if dotted_name(node.func.value) in ("nn", "torch.nn") else None


def nn_call(prefix: ast.expr, layer: str, *args: ast.expr, **kwargs: ast.expr) -> ast.Call:
    """A new call `prefix.layer(*args, **kwargs)`, e.g. `nn.ReLU()` with the design's own prefix."""
    func = ast.Attribute(value=copy.deepcopy(prefix), attr=layer, ctx=ast.Load())
    keywords = [ast.keyword(arg=k, value=v) for k, v in kwargs.items()]
    return ast.Call(func=func, args=list(args), keywords=keywords)


def argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    """The argument of `call` at position `index`, else keyword `name`; None when absent."""
    if len(call.args) > index:
        return call.args[index]
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def is_pure(expr: ast.expr) -> bool:
    """True when evaluating `expr` twice is harmless: no calls, no lambdas, no walrus."""
    unsafe = (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)
    return not any(isinstance(n, unsafe) for n in ast.walk(expr))


def recipe_def(tree: ast.Module) -> ast.FunctionDef | None:
    """The design's top-level `def train_recipe()`, or None."""
    return next(
        (s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "train_recipe"), None
    )


def recipe_dict(tree: ast.Module) -> ast.Dict | None:
    """The dict literal `train_recipe` returns, when it returns exactly one with string keys."""
    fn = recipe_def(tree)
    if fn is None:
        return None
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    if len(returns) != 1 or not isinstance(returns[0].value, ast.Dict):
        return None
    found = returns[0].value
    keys_ok = all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in found.keys)
    return found if keys_ok else None


def sequentials(tree: ast.Module) -> list[ast.Call]:
    """The `nn.Sequential(...)` calls whose elements are all spelled out (no keywords, no `*`)."""
    return [
        n
        for n in ast.walk(tree)
        if nn_layer(n) == "Sequential"
        and isinstance(n, ast.Call)
        and not n.keywords
        and n.args
        and not any(isinstance(a, ast.Starred) for a in n.args)
    ]


def same_width_layer(node: ast.expr) -> bool:
    """A stride-1 conv or linear layer whose in and out widths are provably the same expression."""
    layer = nn_layer(node)
    if layer not in ("Conv1d", "Conv2d", "Linear"):
        return False
    assert isinstance(node, ast.Call)
    names = ("in_features", "out_features") if layer == "Linear" else _CONV[:2]
    width_in, width_out = argument(node, 0, names[0]), argument(node, 1, names[1])
    stride = argument(node, 3, "stride")
    return (
        width_in is not None
        and width_out is not None
        and ast.dump(width_in) == ast.dump(width_out)
        and (stride is None or (isinstance(stride, ast.Constant) and stride.value == 1))
    )


# --- rewriting layers ------------------------------------------------------------------------


def retarget(call: ast.Call, old: str, new: str) -> list[str] | None:
    """Turn `nn.old(...)` into `nn.new(...)` in place; the names of dropped arguments, or None."""
    source, target = LAYER_PARAMS[old], LAYER_PARAMS[new]
    if len(call.args) > len(source) or any(kw.arg is None for kw in call.keywords):
        return None
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    named = list(zip(source, call.args, strict=False)) + [
        (kw.arg or "", kw.value) for kw in call.keywords
    ]
    args: list[ast.expr] = []
    keywords: list[ast.keyword] = []
    dropped: list[str] = []
    for position, (param, value) in enumerate(named):
        if (
            position < len(call.args)
            and position == len(args)
            and target[position : position + 1] == (param,)
        ):
            args.append(value)
        elif param in target:
            keywords.append(ast.keyword(arg=param, value=value))
        else:
            dropped.append(param)
    # InstanceNorm has no affine parameters by default; BatchNorm does. Keep the parameter count.
    affine_given = len(args) >= 4 or any(k.arg == "affine" for k in keywords)
    if new.startswith("InstanceNorm") and not affine_given:
        keywords.append(ast.keyword(arg="affine", value=ast.Constant(True)))
    assert isinstance(call.func, ast.Attribute)
    call.func.attr, call.args, call.keywords = new, args, keywords
    return dropped


def _rnn_uses(tree: ast.Module, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> list[ast.Call]:
    """The calls `self.rnn(x)` of the layer that `self.rnn = nn.GRU(...)` builds; empty when the
    layer is built or called some other way (in a Sequential, with an initial state...)."""
    assign = parents.get(call)
    if not (isinstance(assign, ast.Assign) and isinstance(assign.targets[0], ast.Attribute)):
        return []
    attr = assign.targets[0].attr
    uses = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == attr
        and dotted_name(n.func.value) == "self"
    ]
    return uses if all(len(u.args) == 1 and not u.keywords for u in uses) else []


def _state_use(use: ast.Call, parents: dict[ast.AST, ast.AST]) -> str | None:
    """How a recurrent call's result is read: "output" only (`out, _ = ...`, `...[0]`), the
    GRU state (`_, h = ...`), the LSTM state (`_, (h, _c) = ...`), or None for anything else."""
    parent = parents.get(use)
    if isinstance(parent, ast.Subscript):
        return (
            "output" if isinstance(parent.slice, ast.Constant) and parent.slice.value == 0 else None
        )
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
        return None
    target = parent.targets[0]
    if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
        return None
    state = target.elts[1]
    if isinstance(state, ast.Name):
        return "output" if state.id.startswith("_") else "GRU"
    if isinstance(state, ast.Tuple) and len(state.elts) == 2:
        h, c = state.elts
        if isinstance(h, ast.Name) and isinstance(c, ast.Name) and c.id.startswith("_"):
            return "LSTM"
    return None


def rnn_swappable(tree: ast.Module, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when the GRU or LSTM built by `call` can be swapped for the other."""
    # An LSTM's state is a pair (h, c) where a GRU's is h alone: swap only where every caller
    # ignores the state or unpacks it in a way `adapt_rnn_state` can rewrite.
    uses = _rnn_uses(tree, call, parents)
    layer = nn_layer(call)
    return bool(uses) and all(_state_use(u, parents) in ("output", layer) for u in uses)


def adapt_rnn_state(tree: ast.Module, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> None:
    """Rewrite `_, h = self.rnn(x)` into `_, (h, _c) = ...` after GRU -> LSTM, and back."""
    for use in _rnn_uses(tree, call, parents):
        assign = parents[use]
        kind = _state_use(use, parents)
        if kind in ("GRU", "LSTM"):
            assert isinstance(assign, ast.Assign) and isinstance(assign.targets[0], ast.Tuple)
            elts = assign.targets[0].elts
            if kind == "GRU":
                elts[1] = ast.Tuple([elts[1], ast.Name("_c", ast.Store())], ast.Store())
            elif isinstance(elts[1], ast.Tuple):
                elts[1] = elts[1].elts[0]


def is_functional_activation(node: ast.AST) -> bool:
    """True for a call like `F.relu(x)` or `torch.tanh(x)` that `swap_layer` can swap."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in FUNCTIONAL_ACTIVATIONS
        and dotted_name(node.func.value) in ("F", "nn.functional", "torch.nn.functional", "torch")
        and bool(node.args)
        and not isinstance(node.args[0], ast.Starred)
    )


# --- value rules -------------------------------------------------------------------------------


def _sig(value: float) -> float:
    return float(f"{value:.3g}")


def _log_factor(rng: random.Random) -> float:
    """A factor in [1/3, 3], log-uniform, but at least 25% away from 1 to be worth a trial."""
    magnitude = rng.uniform(math.log(1.25), math.log(3.0))
    return math.exp(magnitude if rng.random() < 0.5 else -magnitude)


def _scaled(old: float, rng: random.Random, low: float, high: float) -> float:
    """`old` times a log-uniform factor, clamped to [low, high]; the inverse factor if that
    clamps back onto `old` (a value already at a bound moves inwards)."""
    factor = _log_factor(rng)
    new = min(high, max(low, _sig(old * factor)))
    return new if new != old else min(high, max(low, _sig(old / factor)))


def _new_lr(old: float, rng: random.Random) -> float:
    return _scaled(old, rng, 1e-5, 1.0)


def _new_epochs(old: float, rng: random.Random) -> int:
    step = rng.choice((-1, 1)) * max(1, round(old * rng.uniform(0.15, 0.5)))
    new = min(60, max(1, round(old) + step))
    return new if new != old else min(60, max(1, round(old) - step))


def _new_batch_size(old: float, rng: random.Random) -> int:
    nearest = 2 ** round(math.log2(min(512.0, max(16.0, old))))
    options = [b for b in (nearest // 2, nearest, nearest * 2) if 16 <= b <= 512 and b != old]
    return rng.choice(options)


def _new_weight_decay(old: float, rng: random.Random) -> float:
    if old <= 0:
        return rng.choice((1e-5, 1e-4, 5e-4, 1e-3, 1e-2))
    if rng.random() < 0.25:
        return 0.0
    return _scaled(old, rng, 1e-6, 0.1)


# How each recipe entry moves; `new_constant` applies them to design constants of the same name.
RECIPE_RULES: dict[str, Callable[[float, random.Random], float]] = {
    "lr": _new_lr,
    "learning_rate": _new_lr,
    "epochs": _new_epochs,
    "batch_size": _new_batch_size,
    "weight_decay": _new_weight_decay,
}


def new_constant(name: str, old: float, rng: random.Random) -> float | None:
    """A perturbed value for a constant called `name` ("" if unknown); None if it is off-limits."""
    key = name.lower()
    if key in RECIPE_RULES:
        return RECIPE_RULES[key](old, rng)
    if any(part in key for part in _UNTOUCHABLE_NAMES):
        return None
    if isinstance(old, int):
        if old <= 0:
            return None
        small = any(part in key for part in _SMALL_NAMES)
        if not small and (old >= 8 or any(part in key for part in _WIDTH_NAMES)):
            widths = {min(512, max(4, round(old * f))) for f in (0.5, 0.75, 1.5, 2.0)}
            return rng.choice(sorted(widths - {old}))
        # Odd kernels stay odd so that `padding=kernel // 2` keeps preserving the length.
        deltas = (-2, 2) if "kernel" in key and old % 2 == 1 else (-2, -1, 1, 2)
        return rng.choice([old + d for d in deltas if old + d >= 1])
    if "drop" in key or key == "p" or 0.1 <= old < 1:
        options = [round(old + d, 2) for d in (-0.2, -0.1, 0.1, 0.2)]
        return rng.choice([v for v in options if 0 <= v <= 0.9 and v != old] or [0.0])
    if old <= 0:
        return None
    if old < 0.1:
        return _sig(old * _log_factor(rng))
    return _sig(old * rng.choice((0.5, 0.75, 1.5, 2.0)))
