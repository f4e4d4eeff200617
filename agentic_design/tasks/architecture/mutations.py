"""The architecture task's mutation operators: torch.nn layers and training recipes.

They join the generic operators of `proposers.operators` (which know any Python code) through
`ArchitectureTask.evolution_operators`, which hands evolution `torch_operators()`.

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
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from agentic_design.mutations.code_ast import defined_names, emit, parent_map, parse_code
from agentic_design.mutations.operators import (
    Mutation,
    MutationError,
    Operator,
    Operators,
    check_weights,
)
from agentic_design.mutations.operators import mutate as mutate_with
from agentic_design.tasks.architecture.torch_ast import (
    ACTIVATIONS,
    DEFAULT_RECIPE,
    FROZEN_LAYERS,
    FUNCTIONAL_ACTIVATIONS,
    LAYER_PARAMS,
    OPTIMIZERS,
    RECIPE_RULES,
    SAFE_PARAMS,
    SHAPE_PRESERVING,
    SWAPS,
    WIDTH_PARAMS,
    RecipeValue,
    adapt_rnn_state,
    argument,
    dotted_name,
    is_functional_activation,
    is_pure,
    new_constant,
    nn_call,
    nn_layer,
    recipe_def,
    recipe_dict,
    retarget,
    rnn_swappable,
    same_width_layer,
    sequentials,
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RECIPE",
    "DEFAULT_WEIGHTS",
    "OPERATORS",
    "OPTIMIZERS",
    "Mutation",
    "MutationError",
    "Operator",
    "RecipeValue",
    "crossover",
    "insert_layer",
    "mutate",
    "mutate_constant",
    "mutate_recipe",
    "remove_layer",
    "swap_layer",
    "torch_operators",
]

T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------


def _weighted_pop(items: list[T], weights: list[float], rng: random.Random) -> T:
    index = rng.choices(range(len(items)), weights=weights)[0]
    weights.pop(index)
    return items.pop(index)


# --- 1. constants ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    node: ast.Constant
    name: str  # what the value means, for the rules ("" when unknown)
    label: str  # how the description names it
    weight: float


def _call_site(node: ast.Constant, call: ast.Call, param: str | None, index: int) -> _Site | None:
    layer = nn_layer(call)
    if layer is not None:
        if layer in FROZEN_LAYERS:
            return None
        params = LAYER_PARAMS.get(layer, ())
        name = param if param is not None else (params[index] if index < len(params) else "")
        weight = 2.0 if name in SAFE_PARAMS else 0.5 if name in WIDTH_PARAMS else 1.0
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
    tree = parse_code(code)
    if tree is None:
        return None
    parents, recipe = parent_map(tree), recipe_dict(tree)
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
        new = new_constant(site.name, old, rng)
        if new is not None and new != old:
            site.node.value = new
            return emit(tree, f"{site.label} {old!r} -> {new!r}", "constant")
    return None


# --- 2. swaps ----------------------------------------------------------------------------------


def _swappable(node: ast.AST, tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> bool:
    layer = nn_layer(node)
    if layer is None:
        return is_functional_activation(node)
    if layer not in SWAPS:
        return False
    assert isinstance(node, ast.Call)
    if layer in ("GRU", "LSTM"):
        return rnn_swappable(tree, node, parents)
    if layer == "BatchNorm1d":
        # BatchNorm1d also takes (N, C); InstanceNorm1d would read that as one unbatched (C, L).
        seq = parents.get(node)
        if nn_layer(seq) == "Sequential" and isinstance(seq, ast.Call):
            before = seq.args[: seq.args.index(node)] if node in seq.args else []
            return not any(nn_layer(e) in ("Linear", "Flatten") for e in before)
    return True


def swap_layer(code: str, rng: random.Random) -> Mutation | None:
    """Replace one torch.nn layer by an argument-compatible relative (ReLU -> GELU, GRU -> LSTM...).

    Arguments the new layer does not accept (`inplace`, `negative_slope`) are dropped. Functional
    activations (`F.relu(x)`, `torch.tanh(x)`) are swapped too.
    """
    tree = parse_code(code)
    if tree is None:
        return None
    parents = parent_map(tree)
    candidates = [n for n in ast.walk(tree) if _swappable(n, tree, parents)]
    rng.shuffle(candidates)
    for call in candidates:
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        old = call.func.attr
        if old in FUNCTIONAL_ACTIVATIONS:
            new = rng.choice([a for a in FUNCTIONAL_ACTIVATIONS if a != old])
            # torch.relu exists but torch.gelu does not: go through torch.nn.functional.
            base = call.func.value
            if dotted_name(base) == "torch":
                base = ast.parse("torch.nn.functional", mode="eval").body
            call.func = ast.Attribute(value=base, attr=new, ctx=ast.Load())
            call.args, call.keywords = call.args[:1], []
            return emit(tree, f"{old} -> {new}", "swap")
        new = rng.choice(SWAPS[old])
        if old in ("GRU", "LSTM"):
            adapt_rnn_state(tree, call, parents)  # before retarget renames the layer
        dropped = retarget(call, old, new)
        if dropped is not None:
            note = f" (dropped {', '.join(dropped)})" if dropped else ""
            return emit(tree, f"{old} -> {new}{note}", "swap")
    return None


# --- 3. and 4. inserting and removing layers -------------------------------------------------


def _deepen(layer: ast.Call, prefix: ast.expr) -> ast.Call | None:
    """A new layer mapping `layer`'s output to the same shape: Conv(c, c, k, padding='same')."""
    kind = nn_layer(layer)
    if kind == "Linear":
        width = argument(layer, 1, "out_features")
        if width is None or not is_pure(width):
            return None
        return nn_call(prefix, "Linear", copy.deepcopy(width), copy.deepcopy(width))
    if kind not in ("Conv1d", "Conv2d"):
        return None
    width, kernel = argument(layer, 1, "out_channels"), argument(layer, 2, "kernel_size")
    if width is None or kernel is None or not (is_pure(width) and is_pure(kernel)):
        return None
    same = ast.Constant("same")
    return nn_call(
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
    tree = parse_code(code)
    if tree is None:
        return None
    options: list[tuple[ast.Call, int, list[ast.expr], str]] = []
    weights: list[float] = []
    for seq in sequentials(tree):
        assert isinstance(seq.func, ast.Attribute)
        prefix, elements = seq.func.value, seq.args
        # Not after the last element: that is usually the read-out, and its logits stay raw.
        positions = range(1, len(elements)) if len(elements) >= 2 else range(len(elements) + 1)
        for position in positions:
            act = rng.choice(ACTIVATIONS)
            p = ast.Constant(rng.choice((0.05, 0.1, 0.2, 0.3)))
            options.append((seq, position, [nn_call(prefix, act)], "insert"))
            options.append((seq, position, [nn_call(prefix, "Dropout", p)], "insert"))
            options.append((seq, position, [nn_call(prefix, "Identity")], "insert"))
            weights += [1.0 / len(positions), 1.0 / len(positions), 0.25 / len(positions)]
        for i, element in enumerate(elements):
            if nn_layer(element) in SHAPE_PRESERVING or same_width_layer(element):
                options.append((seq, i + 1, [copy.deepcopy(element)], "duplicate"))
                weights.append(1.0)
            following = elements[i + 1] if i + 1 < len(elements) else None
            if isinstance(element, ast.Call) and following and nn_layer(following) in ACTIVATIONS:
                new = _deepen(element, prefix)
                if new is not None:
                    options.append((seq, i + 2, [new, copy.deepcopy(following)], "deepen"))
                    weights.append(2.0)
    if not options:
        return None
    seq, position, layers, kind = rng.choices(options, weights=weights)[0]
    seq.args[position:position] = layers
    shown = " + ".join(ast.unparse(layer) for layer in layers)
    return emit(tree, f"{kind} {shown} at position {position}", "insert")


def _removal_weight(element: ast.expr) -> float:
    layer = nn_layer(element)
    readout = any(isinstance(n, ast.Name) and n.id == "num_classes" for n in ast.walk(element))
    if readout or layer == "Flatten":
        return 0.0  # without them the logits cannot have the right shape: a certain failure
    if layer in SHAPE_PRESERVING:
        return 4.0
    if same_width_layer(element):
        return 3.0
    if layer in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        return 1.0
    return 0.3  # changes a shape: the child will often be invalid, but now and then it is better


def remove_layer(code: str, rng: random.Random) -> Mutation | None:
    """Remove one element of an `nn.Sequential`, preferring those that do not change shapes."""
    tree = parse_code(code)
    if tree is None:
        return None
    options = [
        (seq, i) for seq in sequentials(tree) if len(seq.args) >= 2 for i in range(len(seq.args))
    ]
    if not options:
        return None
    weights = [_removal_weight(seq.args[i]) for seq, i in options]
    if not any(weights):
        return None
    seq, index = rng.choices(options, weights=weights)[0]
    removed = seq.args.pop(index)
    return emit(tree, f"remove {ast.unparse(removed)} at position {index}", "remove")


# --- 5. the training recipe -----------------------------------------------------------------


def _new_recipe_value(key: str, old: RecipeValue, rng: random.Random) -> RecipeValue:
    if key == "optimizer":
        return rng.choice([o for o in OPTIMIZERS if o != old])
    assert isinstance(old, (int, float))
    return RECIPE_RULES[key](old, rng)


def mutate_recipe(code: str, rng: random.Random) -> Mutation | None:
    """Change one entry of `train_recipe()`'s dict (optimizer, lr, epochs, batch size, weight
    decay), adding the function with the default recipe first when the design has none.
    """
    tree = parse_code(code)
    if tree is None:
        return None
    added = recipe_def(tree) is None
    if added:
        tree.body.append(
            ast.parse(f"def train_recipe():\n    return {dict(DEFAULT_RECIPE)!r}\n").body[0]
        )
    recipe = recipe_dict(tree)
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
    return emit(tree, f"add train_recipe; {change}" if added else change, "recipe")


# --- 6. crossover ------------------------------------------------------------------------------


def _splice(model: ast.Module, recipe: ast.Module) -> ast.Module | None:
    """Everything of `model` but its train_recipe, plus `recipe`'s train_recipe and what it uses."""
    model_recipe = recipe_def(model)
    body = [copy.deepcopy(s) for s in model.body if s is not model_recipe]
    defined = defined_names(body)
    if "build_model" not in defined:
        return None
    recipe_fn = recipe_def(recipe)
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
        if s is not recipe_fn and defined_names([s]) & missing and ast.dump(s) not in present
    ]
    if missing - defined_names(extra) or defined_names(extra) & defined:
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
    tree_a, tree_b = parse_code(code_a), parse_code(code_b)
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


def torch_operators(weights: Mapping[str, float] | None = None) -> Operators:
    """The operators evolution uses on architectures: the five above (weighted by `weights`,
    default `DEFAULT_WEIGHTS`), and the crossover of one parent's model with the other's
    training recipe."""
    weights = DEFAULT_WEIGHTS if weights is None else weights
    check_weights(weights, OPERATORS)
    return Operators(mutations=OPERATORS, weights=weights, crossover=crossover)


def mutate(code: str, rng: random.Random, weights: Mapping[str, float] | None = None) -> Mutation:
    """One architecture mutation chosen by `weights` (see `proposers.operators.mutate`)."""
    return mutate_with(code, rng, torch_operators(weights))
