"""Mutation operators over a design's source code, for regularized evolution.

Every operator parses the code with `ast`, changes one thing and emits the result with
`ast.unparse` (comments are lost; the docstring is kept). An operator returns `None` when it
has nothing to act on; `mutate` picks among them and guarantees a real change. Operators try
to keep the model buildable (hyper-parameters named in assignments, shape-preserving inserts),
but a change that breaks shapes is allowed: the evaluator records the child as invalid.
"""

from __future__ import annotations

import ast
import builtins
import copy
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class MutationError(ValueError):
    """No operator can change the design (for instance, its code does not parse)."""


@dataclass(frozen=True)
class Mutation:
    """A changed design: its new code, a one-line description of the change, and the operator."""

    code: str
    description: str
    operator: str = ""


Operator = Callable[[str, random.Random], "Mutation | None"]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
RecipeValue = str | int | float
DEFAULT_RECIPE: Mapping[str, RecipeValue] = {
    "optimizer": "adam",
    "lr": 0.003,
    "epochs": 15,
    "batch_size": 64,
    "weight_decay": 0.0,
}

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
_PARAMS: dict[str, tuple[str, ...]] = {
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
ACTIVATIONS = ("ReLU", "GELU", "SiLU", "ELU", "LeakyReLU", "Tanh", "Mish")
_FUNCTIONAL_ACTIVATIONS = ("relu", "gelu", "silu", "elu", "leaky_relu", "tanh", "mish")
_PAIRS = [
    ("BatchNorm1d", "InstanceNorm1d"),
    ("BatchNorm2d", "InstanceNorm2d"),
    ("MaxPool1d", "AvgPool1d"),
    ("MaxPool2d", "AvgPool2d"),
    ("AdaptiveAvgPool1d", "AdaptiveMaxPool1d"),
    ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"),
    ("GRU", "LSTM"),
]
_SWAPS: dict[str, tuple[str, ...]] = {
    a: tuple(b for b in ACTIVATIONS if b != a) for a in ACTIVATIONS
}
_SWAPS.update({a: (b,) for a, b in _PAIRS})
_SWAPS.update({b: (a,) for a, b in _PAIRS})

_NORMS = {"BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm"}
_SHAPE_PRESERVING = {*ACTIVATIONS, *_NORMS, "Dropout", "Dropout1d", "Dropout2d", "Identity"}
# Constants in these layers fix a shape that the next layer depends on; leave them alone.
_FROZEN_LAYERS = {"Flatten", "Unflatten", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d"}
_FROZEN_LAYERS |= {"AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Identity"}
_SAFE_PARAMS = {"p", "dropout", "num_layers", "negative_slope", "alpha", "eps", "momentum"}
_WIDTH_PARAMS = {"in_channels", "out_channels", "in_features", "out_features"}
_WIDTH_PARAMS |= {"input_size", "hidden_size", "num_features", "normalized_shape"}
_WIDTH_NAMES = ("channel", "width", "hidden", "dim", "feature", "unit", "filter", "size")
_SMALL_NAMES = ("kernel", "layer", "depth", "block", "stride", "dilation", "pad", "stage", "repeat")
# Changing these alone breaks divisibility (channels % groups, embed % heads).
_UNTOUCHABLE_NAMES = ("group", "head", "num_classes")


# --- helpers ---------------------------------------------------------------------------------


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes in the source
        return None


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _nn_layer(node: ast.AST | None) -> str | None:
    """`X` when `node` is a call `nn.X(...)` or `torch.nn.X(...)`, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    return node.func.attr if _dotted(node.func.value) in ("nn", "torch.nn") else None


def _nn_call(prefix: ast.expr, layer: str, *args: ast.expr, **kwargs: ast.expr) -> ast.Call:
    func = ast.Attribute(value=copy.deepcopy(prefix), attr=layer, ctx=ast.Load())
    keywords = [ast.keyword(arg=k, value=v) for k, v in kwargs.items()]
    return ast.Call(func=func, args=list(args), keywords=keywords)


def _argument(call: ast.Call, index: int, name: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _is_pure(expr: ast.expr) -> bool:
    """True when evaluating `expr` twice is harmless: no calls, no lambdas, no walrus."""
    unsafe = (ast.Call, ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)
    return not any(isinstance(n, unsafe) for n in ast.walk(expr))


def _sig(value: float) -> float:
    return float(f"{value:.3g}")


def _log_factor(rng: random.Random) -> float:
    """A factor in [1/3, 3], log-uniform, but at least 25% away from 1 to be worth a trial."""
    magnitude = rng.uniform(math.log(1.25), math.log(3.0))
    return math.exp(magnitude if rng.random() < 0.5 else -magnitude)


def _weighted_pop(items: list[T], weights: list[float], rng: random.Random) -> T:
    index = rng.choices(range(len(items)), weights=weights)[0]
    weights.pop(index)
    return items.pop(index)


def _emit(tree: ast.Module, description: str, operator: str) -> Mutation:
    return Mutation(ast.unparse(ast.fix_missing_locations(tree)), description, operator)


# --- value rules -------------------------------------------------------------------------------


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


_RECIPE_RULES: dict[str, Callable[[float, random.Random], float]] = {
    "lr": _new_lr,
    "learning_rate": _new_lr,
    "epochs": _new_epochs,
    "batch_size": _new_batch_size,
    "weight_decay": _new_weight_decay,
}


def _new_constant(name: str, old: float, rng: random.Random) -> float | None:
    """A perturbed value for a constant called `name` ("" if unknown); None if it is off-limits."""
    key = name.lower()
    if key in _RECIPE_RULES:
        return _RECIPE_RULES[key](old, rng)
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


# --- 1. constants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    node: ast.Constant
    name: str  # what the value means, for the rules ("" when unknown)
    label: str  # how the description names it
    weight: float


def _recipe_def(tree: ast.Module) -> ast.FunctionDef | None:
    return next(
        (s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "train_recipe"), None
    )


def _recipe_dict(tree: ast.Module) -> ast.Dict | None:
    """The dict literal `train_recipe` returns, when it returns exactly one with string keys."""
    fn = _recipe_def(tree)
    if fn is None:
        return None
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    if len(returns) != 1 or not isinstance(returns[0].value, ast.Dict):
        return None
    found = returns[0].value
    keys_ok = all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in found.keys)
    return found if keys_ok else None


def _call_site(node: ast.Constant, call: ast.Call, param: str | None, index: int) -> _Site | None:
    layer = _nn_layer(call)
    if layer is not None:
        if layer in _FROZEN_LAYERS:
            return None
        params = _PARAMS.get(layer, ())
        name = param if param is not None else (params[index] if index < len(params) else "")
        weight = 2.0 if name in _SAFE_PARAMS else 0.5 if name in _WIDTH_PARAMS else 1.0
        return _Site(node, name, f"{layer} {name or f'arg {index}'}", weight)
    if isinstance(
        call.func, ast.Name
    ):  # a helper of the design: its arguments are hyper-parameters
        return _Site(node, param or "", f"{call.func.id} {param or f'arg {index}'}", 2.0)
    return None  # x.view(...), torch.zeros(...): shapes and axes, not hyper-parameters


def _site(
    node: ast.Constant, parents: dict[ast.AST, ast.AST], recipe: ast.Dict | None
) -> _Site | None:
    parent = parents.get(node)
    if isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is node:
        target = parent.targets[0] if isinstance(parent, ast.Assign) else parent.target
        name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", "")
        return _Site(node, name, name, 4.0) if name else None
    if isinstance(parent, ast.arguments):
        positional = [*parent.posonlyargs, *parent.args]
        with_defaults = positional[len(positional) - len(parent.defaults) :]
        pairs = [*zip(with_defaults, parent.defaults, strict=True)]
        pairs += [(a, d) for a, d in zip(parent.kwonlyargs, parent.kw_defaults, strict=True) if d]
        name = next(arg.arg for arg, default in pairs if default is node)
        return _Site(node, name, name, 4.0)
    if isinstance(parent, ast.Dict) and node in parent.values:
        key = parent.keys[parent.values.index(node)]
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        return _Site(node, key.value, key.value, 4.0 if parent is recipe else 1.0)
    if isinstance(parent, ast.keyword):
        call = parents.get(parent)
        return _call_site(node, call, parent.arg, -1) if isinstance(call, ast.Call) else None
    if isinstance(parent, ast.Call) and node in parent.args:
        return _call_site(node, parent, None, parent.args.index(node))
    return None  # operands (kernel // 2), subscripts (input_shape[0]), comparisons, ...


def mutate_constant(code: str, rng: random.Random) -> Mutation | None:
    """Perturb one numeric hyper-parameter: a width, kernel size, dropout rate, learning rate...

    Constants in simple assignments (`channels = 24`), defaults and the recipe dict are preferred;
    constants inside layer calls are picked less often, since they may break shapes.
    """
    tree = _parse(code)
    if tree is None:
        return None
    parents, recipe = _parents(tree), _recipe_dict(tree)
    sites: list[_Site] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            found = _site(node, parents, recipe)
            sites += [found] if found is not None else []
    weights = [s.weight for s in sites]
    while sites:
        site = _weighted_pop(sites, weights, rng)
        old = site.node.value
        assert isinstance(old, (int, float))
        new = _new_constant(site.name, old, rng)
        if new is not None and new != old:
            site.node.value = new
            return _emit(tree, f"{site.label} {old!r} -> {new!r}", "constant")
    return None


# --- 2. swaps ----------------------------------------------------------------------------------


def _retarget(call: ast.Call, old: str, new: str) -> list[str] | None:
    """Turn `nn.old(...)` into `nn.new(...)` in place; the names of dropped arguments, or None."""
    source, target = _PARAMS[old], _PARAMS[new]
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
        and _dotted(n.func.value) == "self"
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


def _rnn_swappable(tree: ast.Module, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> bool:
    # An LSTM's state is a pair (h, c) where a GRU's is h alone: swap only where every caller
    # ignores the state or unpacks it in a way `_adapt_rnn_state` can rewrite.
    uses = _rnn_uses(tree, call, parents)
    layer = _nn_layer(call)
    return bool(uses) and all(_state_use(u, parents) in ("output", layer) for u in uses)


def _adapt_rnn_state(tree: ast.Module, call: ast.Call, parents: dict[ast.AST, ast.AST]) -> None:
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


def _functional_activation(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _FUNCTIONAL_ACTIVATIONS
        and _dotted(node.func.value) in ("F", "nn.functional", "torch.nn.functional", "torch")
        and bool(node.args)
        and not isinstance(node.args[0], ast.Starred)
    )


def _swappable(node: ast.AST, tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> bool:
    layer = _nn_layer(node)
    if layer is None:
        return _functional_activation(node)
    if layer not in _SWAPS:
        return False
    assert isinstance(node, ast.Call)
    if layer in ("GRU", "LSTM"):
        return _rnn_swappable(tree, node, parents)
    if layer == "BatchNorm1d":
        # BatchNorm1d also takes (N, C); InstanceNorm1d would read that as one unbatched (C, L).
        seq = parents.get(node)
        if _nn_layer(seq) == "Sequential" and isinstance(seq, ast.Call):
            before = seq.args[: seq.args.index(node)] if node in seq.args else []
            return not any(_nn_layer(e) in ("Linear", "Flatten") for e in before)
    return True


def swap_layer(code: str, rng: random.Random) -> Mutation | None:
    """Replace one torch.nn layer by an argument-compatible relative (ReLU -> GELU, GRU -> LSTM...).

    Arguments the new layer does not accept (`inplace`, `negative_slope`) are dropped. Functional
    activations (`F.relu(x)`, `torch.tanh(x)`) are swapped too.
    """
    tree = _parse(code)
    if tree is None:
        return None
    parents = _parents(tree)
    candidates = [n for n in ast.walk(tree) if _swappable(n, tree, parents)]
    rng.shuffle(candidates)
    for call in candidates:
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        old = call.func.attr
        if old in _FUNCTIONAL_ACTIVATIONS:
            new = rng.choice([a for a in _FUNCTIONAL_ACTIVATIONS if a != old])
            # torch.relu exists but torch.gelu does not: go through torch.nn.functional.
            base = call.func.value
            if _dotted(base) == "torch":
                base = ast.parse("torch.nn.functional", mode="eval").body
            call.func = ast.Attribute(value=base, attr=new, ctx=ast.Load())
            call.args, call.keywords = call.args[:1], []
            return _emit(tree, f"{old} -> {new}", "swap")
        new = rng.choice(_SWAPS[old])
        if old in ("GRU", "LSTM"):
            _adapt_rnn_state(tree, call, parents)  # before _retarget renames the layer
        dropped = _retarget(call, old, new)
        if dropped is not None:
            note = f" (dropped {', '.join(dropped)})" if dropped else ""
            return _emit(tree, f"{old} -> {new}{note}", "swap")
    return None


# --- 3. and 4. inserting and removing layers -------------------------------------------------


def _sequentials(tree: ast.Module) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if _nn_layer(n) == "Sequential"
        and isinstance(n, ast.Call)
        and not n.keywords
        and n.args
        and not any(isinstance(a, ast.Starred) for a in n.args)
    ]


def _same_width_layer(node: ast.expr) -> bool:
    """A stride-1 conv or linear layer whose in and out widths are provably the same expression."""
    layer = _nn_layer(node)
    if layer not in ("Conv1d", "Conv2d", "Linear"):
        return False
    assert isinstance(node, ast.Call)
    names = ("in_features", "out_features") if layer == "Linear" else _CONV[:2]
    width_in, width_out = _argument(node, 0, names[0]), _argument(node, 1, names[1])
    stride = _argument(node, 3, "stride")
    return (
        width_in is not None
        and width_out is not None
        and ast.dump(width_in) == ast.dump(width_out)
        and (stride is None or (isinstance(stride, ast.Constant) and stride.value == 1))
    )


def _deepen(layer: ast.Call, prefix: ast.expr) -> ast.Call | None:
    """A new layer mapping `layer`'s output to the same shape: Conv(c, c, k, padding='same')."""
    kind = _nn_layer(layer)
    if kind == "Linear":
        width = _argument(layer, 1, "out_features")
        if width is None or not _is_pure(width):
            return None
        return _nn_call(prefix, "Linear", copy.deepcopy(width), copy.deepcopy(width))
    if kind not in ("Conv1d", "Conv2d"):
        return None
    width, kernel = _argument(layer, 1, "out_channels"), _argument(layer, 2, "kernel_size")
    if width is None or kernel is None or not (_is_pure(width) and _is_pure(kernel)):
        return None
    same = ast.Constant("same")
    return _nn_call(
        prefix,
        kind,
        copy.deepcopy(width),
        copy.deepcopy(width),
        copy.deepcopy(kernel),
        padding=same,
    )


def insert_layer(code: str, rng: random.Random) -> Mutation | None:
    """Insert a shape-preserving layer into an `nn.Sequential`: an activation, dropout, identity,
    a copy of a neighbouring shape-preserving layer, or a new conv/linear + activation ("deepen").
    """
    tree = _parse(code)
    if tree is None:
        return None
    options: list[tuple[ast.Call, int, list[ast.expr], str]] = []
    weights: list[float] = []
    for seq in _sequentials(tree):
        assert isinstance(seq.func, ast.Attribute)
        prefix, elements = seq.func.value, seq.args
        # Not after the last element: that is usually the read-out, and its logits stay raw.
        positions = range(1, len(elements)) if len(elements) >= 2 else range(len(elements) + 1)
        for position in positions:
            act = rng.choice(ACTIVATIONS)
            p = ast.Constant(rng.choice((0.05, 0.1, 0.2, 0.3)))
            options.append((seq, position, [_nn_call(prefix, act)], "insert"))
            options.append((seq, position, [_nn_call(prefix, "Dropout", p)], "insert"))
            options.append((seq, position, [_nn_call(prefix, "Identity")], "insert"))
            weights += [1.0 / len(positions), 1.0 / len(positions), 0.25 / len(positions)]
        for i, element in enumerate(elements):
            if _nn_layer(element) in _SHAPE_PRESERVING or _same_width_layer(element):
                options.append((seq, i + 1, [copy.deepcopy(element)], "duplicate"))
                weights.append(1.0)
            following = elements[i + 1] if i + 1 < len(elements) else None
            if isinstance(element, ast.Call) and following and _nn_layer(following) in ACTIVATIONS:
                new = _deepen(element, prefix)
                if new is not None:
                    options.append((seq, i + 2, [new, copy.deepcopy(following)], "deepen"))
                    weights.append(2.0)
    if not options:
        return None
    seq, position, layers, kind = rng.choices(options, weights=weights)[0]
    seq.args[position:position] = layers
    shown = " + ".join(ast.unparse(layer) for layer in layers)
    return _emit(tree, f"{kind} {shown} at position {position}", "insert")


def _removal_weight(element: ast.expr) -> float:
    layer = _nn_layer(element)
    readout = any(isinstance(n, ast.Name) and n.id == "num_classes" for n in ast.walk(element))
    if readout or layer == "Flatten":
        return 0.0  # without them the logits cannot have the right shape: a certain failure
    if layer in _SHAPE_PRESERVING:
        return 4.0
    if _same_width_layer(element):
        return 3.0
    if layer in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        return 1.0
    return 0.3  # changes a shape: the child will often be invalid, but now and then it is better


def remove_layer(code: str, rng: random.Random) -> Mutation | None:
    """Remove one element of an `nn.Sequential`, preferring those that do not change shapes."""
    tree = _parse(code)
    if tree is None:
        return None
    options = [
        (seq, i) for seq in _sequentials(tree) if len(seq.args) >= 2 for i in range(len(seq.args))
    ]
    if not options:
        return None
    weights = [_removal_weight(seq.args[i]) for seq, i in options]
    if not any(weights):
        return None
    seq, index = rng.choices(options, weights=weights)[0]
    removed = seq.args.pop(index)
    return _emit(tree, f"remove {ast.unparse(removed)} at position {index}", "remove")


# --- 5. the training recipe -----------------------------------------------------------------


def _new_recipe_value(key: str, old: RecipeValue, rng: random.Random) -> RecipeValue:
    if key == "optimizer":
        return rng.choice([o for o in OPTIMIZERS if o != old])
    assert isinstance(old, (int, float))
    return _RECIPE_RULES[key](old, rng)


def mutate_recipe(code: str, rng: random.Random) -> Mutation | None:
    """Change one entry of `train_recipe()`'s dict (optimizer, lr, epochs, batch size, weight
    decay), adding the function with the default recipe first when the design has none.
    """
    tree = _parse(code)
    if tree is None:
        return None
    added = _recipe_def(tree) is None
    if added:
        tree.body.append(
            ast.parse(f"def train_recipe():\n    return {dict(DEFAULT_RECIPE)!r}\n").body[0]
        )
    recipe = _recipe_dict(tree)
    if recipe is None:
        return None
    present = {
        k.value: v
        for k, v in zip(recipe.keys, recipe.values, strict=True)
        if isinstance(k, ast.Constant)
    }

    def mutable(key: str) -> bool:
        value = present.get(key)
        if value is None:
            return True
        if not isinstance(value, ast.Constant) or isinstance(value.value, bool):
            return False
        return isinstance(value.value, str if key == "optimizer" else (int, float))

    keys = [k for k in DEFAULT_RECIPE if mutable(k)]
    if not keys:
        return None
    key = rng.choice(keys)
    node = present.get(key)
    old = node.value if isinstance(node, ast.Constant) else DEFAULT_RECIPE[key]
    assert isinstance(old, (str, int, float))  # `mutable` let only these through
    new = _new_recipe_value(key, old, rng)
    if new == old:
        return None  # the rules move every in-range value; this guards odd ones like lr=True
    if isinstance(node, ast.Constant):
        node.value = new
    else:
        recipe.keys.append(ast.Constant(key))
        recipe.values.append(ast.Constant(new))
    change = f"{key} {old!r} -> {new!r}"
    return _emit(tree, f"add train_recipe; {change}" if added else change, "recipe")


# --- 6. crossover ------------------------------------------------------------------------------


def _defined_names(statements: Sequence[ast.stmt]) -> set[str]:
    names: set[str] = set()
    for stmt in statements:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def _splice(model: ast.Module, recipe: ast.Module) -> ast.Module | None:
    """Everything of `model` but its train_recipe, plus `recipe`'s train_recipe and what it uses."""
    model_recipe = _recipe_def(model)
    body = [copy.deepcopy(s) for s in model.body if s is not model_recipe]
    defined = _defined_names(body)
    if "build_model" not in defined:
        return None
    recipe_fn = _recipe_def(recipe)
    if recipe_fn is None:
        return ast.Module(body=body, type_ignores=[])
    local = {a.arg for a in ast.walk(recipe_fn) if isinstance(a, ast.arg)}
    local |= {
        n.id
        for n in ast.walk(recipe_fn)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    used = {n.id for n in ast.walk(recipe_fn) if isinstance(n, ast.Name)}
    missing = used - local - defined - set(dir(builtins))
    present = {ast.dump(s) for s in body}
    extra = [
        s
        for s in recipe.body
        if s is not recipe_fn and _defined_names([s]) & missing and ast.dump(s) not in present
    ]
    if missing - _defined_names(extra) or _defined_names(extra) & defined:
        return None  # the recipe needs something the model's module lacks or defines differently
    body += [copy.deepcopy(s) for s in extra]
    return ast.Module(body=[*body, copy.deepcopy(recipe_fn)], type_ignores=[])


def crossover(
    code_a: str, code_b: str, rng: random.Random, labels: tuple[str, str] = ("A", "B")
) -> Mutation | None:
    """A child with the model (build_model and all its helpers) of one parent and the training
    recipe of the other; which parent gives which is drawn at random. None if the child would
    equal a parent (e.g. both share the recipe) or a parent's code does not parse.
    """
    tree_a, tree_b = _parse(code_a), _parse(code_b)
    if tree_a is None or tree_b is None:
        return None
    trees = (tree_a, tree_b)
    parents = {ast.unparse(t) for t in trees}
    orders = [(0, 1), (1, 0)]
    rng.shuffle(orders)
    for model, recipe in orders:
        child = _splice(trees[model], trees[recipe])
        if child is not None and (code := ast.unparse(child)) not in parents:
            description = f"model of {labels[model]}, recipe of {labels[recipe]}"
            return Mutation(code, description, "crossover")
    return None


# --- 7. picking an operator ---------------------------------------------------------------------

OPERATORS: dict[str, Operator] = {
    "constant": mutate_constant,
    "swap": swap_layer,
    "insert": insert_layer,
    "remove": remove_layer,
    "recipe": mutate_recipe,
}
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "constant": 3.0,
    "swap": 2.0,
    "insert": 1.5,
    "remove": 1.0,
    "recipe": 2.0,
}


def check_weights(weights: Mapping[str, float]) -> None:
    """Raise ValueError naming the problem when `weights` are not usable operator weights."""
    unknown = sorted(set(weights) - set(OPERATORS))
    if unknown:
        raise ValueError(f"unknown mutation operator(s) {unknown}; known: {sorted(OPERATORS)}")
    if any(w < 0 or not math.isfinite(w) for w in weights.values()):
        raise ValueError(f"mutation operator weights must be finite and >= 0, got {dict(weights)}")
    if not any(w > 0 for w in weights.values()):
        raise ValueError("at least one mutation operator needs a positive weight")


def mutate(code: str, rng: random.Random, weights: Mapping[str, float] | None = None) -> Mutation:
    """Apply one operator chosen by `weights` (default `DEFAULT_WEIGHTS`), falling back to the
    others when it has nothing to act on. The result always parses and differs from `code`.
    """
    tree = _parse(code)
    if tree is None:
        raise MutationError("cannot mutate a design whose code does not parse")
    weights = DEFAULT_WEIGHTS if weights is None else weights
    check_weights(weights)
    before = ast.unparse(tree)
    remaining = {name: w for name, w in weights.items() if w > 0}
    while remaining:
        name = rng.choices(list(remaining), weights=list(remaining.values()))[0]
        result = OPERATORS[name](code, rng)
        after = None if result is None else _parse(result.code)
        if result is not None and after is not None and ast.unparse(after) != before:
            return result
        del remaining[name]
    raise MutationError("no mutation operator applies to this design")
