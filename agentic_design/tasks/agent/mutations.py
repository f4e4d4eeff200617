"""The agent task's mutation operators: structures and sampling of LLM agents.

A design of the agent kind is a module whose `forward(self, task)` answers with the toolkit
(`agentic_design.agents`). Besides the generic operators of `proposers.operators`, evolution
may wrap the design in a structure known to help (a self-consistency vote, a critique round)
or move the temperature its agents sample at. `agent_operators()` is the bundle.

Unlike the generic operators these edit the source text instead of unparsing the tree, so
that a design keeps its comments and layout: a wrapper renames the old `forward` where it is
defined (its body stays as written, under the helper's name), adds the imports it needs to
the existing ones, and appends the new `forward` at the end of the module. Each operator
returns None when it has nothing to act on or the result would not parse.
"""

from __future__ import annotations

import ast
import io
import random
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from string import Template

from agentic_design.mutations.code_ast import FUNCTIONS, enclosing_function, parse_code
from agentic_design.mutations.generic import GENERIC_WEIGHTS, generic_operators
from agentic_design.mutations.operators import Mutation, Operators

TOOLKIT = "agentic_design.agents"
_TOOLKIT_MODULES = (TOOLKIT, f"{TOOLKIT}.toolkit")

#: How many answers a self-consistency wrapper votes over.
VOTE_SIZES = (3, 5, 7)
#: The range `tune_temperature` keeps temperatures in (the toolkit allows up to 2, but above
#: about 1.2 answers degrade faster than they diversify).
TEMPERATURE_RANGE = (0.0, 1.2)
_TEMPERATURE_STEPS = (0.2, 0.3, 0.4)

# The generic weights suit arithmetic heuristics. Agent code is control flow around LLM
# calls: its numbers (samples, rounds, temperatures) are worth tuning, so `constant` keeps its
# weight, but it has few arithmetic terms (`ROUNDS - 1`, `i + 1`) and no numpy, so new or
# dropped terms and swapped operators or calls mostly break a design or change nothing: kept
# low, not off, for the rare design that computes. A new term is lowest: on the seeds it adds
# a number to a string answer (`answer + 0.4 * task`), which always fails. The agent
# operators carry the search: temperature is the cheapest knob (same number of calls); the
# wrappers add calls (a vote multiplies them by 3 to 7, a critique round adds 1 or 2) and so
# are drawn less often.
AGENT_WEIGHTS: Mapping[str, float] = {
    "constant": GENERIC_WEIGHTS["constant"],
    "swap_operator": 0.3,
    "swap_call": 0.1,
    "insert_term": 0.1,
    "drop_term": 0.2,
    "tune_temperature": 2.0,
    "wrap_in_vote": 1.0,
    "add_critique_round": 1.0,
}


# --- source edits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edit:
    """Replace code[start:end] (character offsets) by `text`."""

    start: int
    end: int
    text: str


class _Source:
    """A module's text with `ast` positions (line, UTF-8 byte column) turned into offsets."""

    def __init__(self, code: str) -> None:
        self.code = code
        # Python's own line breaks (\n, \r\n, \r); str.splitlines also splits on form feeds.
        lines = io.StringIO(code, newline="").readlines()
        self.starts = [0]
        for line in lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        start = self.starts[lineno - 1]
        line = self.code[start : self.starts[lineno]] if lineno < len(self.starts) else ""
        return start + len(line.encode()[:col].decode(errors="ignore"))

    def span(self, node: ast.stmt | ast.expr) -> tuple[int, int]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        return (
            self.offset(node.lineno, node.col_offset),
            self.offset(node.end_lineno, node.end_col_offset),
        )

    def line_end(self, lineno: int) -> int:
        """The offset just past line `lineno`, its line break included."""
        return self.starts[min(lineno, len(self.starts) - 1)]

    def alone(self, node: ast.stmt) -> bool:
        """Whether `node` has its lines to itself (a comment may follow it)."""
        start, end = self.span(node)
        before = self.code[self.starts[node.lineno - 1] : start]
        assert node.end_lineno is not None
        after = self.code[end : self.line_end(node.end_lineno)]
        return not before.strip() and (not after.strip() or after.strip().startswith("#"))

    def edited(self, edits: Iterable[_Edit]) -> str:
        code = self.code
        for edit in sorted(edits, key=lambda e: e.start, reverse=True):
            code = code[: edit.start] + edit.text + code[edit.end :]
        return code


def _taken_names(tree: ast.Module) -> set[str]:
    """Every name the module uses or binds, anywhere: a new global must avoid them all."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def _fresh(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... whichever is not taken; marked taken."""
    fresh, n = name, 1
    while fresh in taken:
        n += 1
        fresh = f"{name}_{n}"
    taken.add(fresh)
    return fresh


def _imported_as(tree: ast.Module, modules: Collection[str], name: str) -> str | None:
    """The name a top-level `from <module> import <name>` binds, if the module has one."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
            for alias in node.names:
                if alias.name in (name, "*"):
                    return alias.asname or name
    return None


def _imports(
    tree: ast.Module, source: _Source, needed: Mapping[str, str], taken: set[str], avoid: set[str]
) -> tuple[dict[str, str], list[_Edit]]:
    """The local names of the `needed` objects (name -> module), and the edits that import
    those the module lacks: added to its `from <module> import` line where it has one, else
    on a new line after its last import. `avoid`: the wrapper's own local names."""
    bound: dict[str, str] = {}
    missing: dict[str, list[ast.alias]] = {}
    for name, module in needed.items():
        modules = _TOOLKIT_MODULES if module == TOOLKIT else (module,)
        existing = _imported_as(tree, modules, name)
        if existing is not None and existing not in avoid:
            bound[name] = existing
            continue
        bound[name] = _fresh(name if name not in taken else f"_{name}", taken)
        alias = ast.alias(name, None if bound[name] == name else bound[name])
        missing.setdefault(module, []).append(alias)
    edits: list[_Edit] = []
    new_lines: dict[bool, list[str]] = {}  # is the toolkit -> its new import lines
    for module, aliases in missing.items():
        line = next(
            (
                node
                for node in tree.body
                if isinstance(node, ast.ImportFrom)
                and node.module == module
                and node.level == 0
                and not any(a.name == "*" for a in node.names)
                and source.alone(node)
            ),
            None,
        )
        if line is None:
            statement = ast.unparse(ast.ImportFrom(module, aliases, 0))
            new_lines.setdefault(module == TOOLKIT, []).append(statement)
        else:
            merged = ast.ImportFrom(module, [*line.names, *aliases], 0)
            edits.append(_Edit(*source.span(line), ast.unparse(merged)))
    return bound, edits + _import_lines(
        tree, source, new_lines.get(False, []), new_lines.get(True, [])
    )


def _import_lines(
    tree: ast.Module, source: _Source, standard: list[str], toolkit: list[str]
) -> list[_Edit]:
    """New import lines where isort would put them: the standard library's above the
    module's first import (after any `__future__` one), the toolkit's below its last; with
    no imports, after the docstring, else at the top."""
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    later = [n for n in imports if not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
    after: list[ast.stmt] = list(imports[-1:])
    if not after and tree.body and isinstance(tree.body[0], ast.Expr):
        value = tree.body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            after = tree.body[:1]
    if after:
        assert after[-1].end_lineno is not None
        end = source.line_end(after[-1].end_lineno)
        broken = source.code[:end].endswith(("\n", "\r"))
    else:
        end, broken = 0, True
    at: dict[int, str] = {}
    if standard and later:
        blank = "\n" if isinstance(later[0], ast.ImportFrom) and later[0].module == TOOLKIT else ""
        at[source.starts[later[0].lineno - 1]] = "".join(f"{s}\n" for s in standard) + blank
    elif standard:
        at[end] = "".join(f"{s}\n" for s in standard)
    if toolkit:
        at[end] = at.get(end, "") + "".join(f"{s}\n" for s in toolkit)
    return [
        _Edit(offset, offset, text if offset != end or broken else f"\n{text}")
        for offset, text in at.items()
    ]


# --- wrappers ----------------------------------------------------------------------------------


def _forward(tree: ast.Module) -> ast.FunctionDef | None:
    """The module's top-level `forward` (the last, if defined twice), when it can be called
    as `forward(self, task)`."""
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "forward"]
    if not found:
        return None
    args = found[-1].args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    two_fit = (positional >= 2 or args.vararg is not None) and required <= 2
    return found[-1] if two_fit and all(d is not None for d in args.kw_defaults) else None


def _wrapped_by(forward: ast.FunctionDef, tree: ast.Module, helper: str) -> bool:
    """Whether `forward` is a wrapper around a module function named `helper` (or `helper_N`,
    as `_fresh` names it when one exists)."""
    pattern = re.compile(rf"{re.escape(helper)}(_\d+)?")
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return any(
        isinstance(node, ast.Name) and pattern.fullmatch(node.id) and node.id in functions
        for node in ast.walk(forward)
    )


@dataclass(frozen=True)
class _Wrapper:
    """A new `forward` around the old one: its helper's base name, the objects it needs
    (name -> module), its local names, and its source (a `string.Template` over `helper` and
    the needed names)."""

    helper: str
    needs: Mapping[str, str]
    local_names: frozenset[str]
    template: Template


def _wrap(code: str, wrapper: _Wrapper, fields: Mapping[str, object]) -> tuple[str, str] | None:
    """`code` with its `forward` renamed to a fresh helper and `wrapper` appended as the new
    `forward`: (the new code, the helper's name), or None when it does not apply."""
    tree = parse_code(code)
    forward = _forward(tree) if tree is not None else None
    if tree is None or forward is None or _wrapped_by(forward, tree, wrapper.helper):
        return None
    source = _Source(code)
    name = re.compile(r"def\s+(forward)\b").match(
        code, source.offset(forward.lineno, forward.col_offset)
    )
    if name is None:  # a def split over lines: too odd a layout to edit safely
        return None
    taken = _taken_names(tree) | set(wrapper.local_names)
    helper = _fresh(wrapper.helper, taken)
    bound, edits = _imports(tree, source, wrapper.needs, taken, set(wrapper.local_names))
    edits.append(_Edit(name.start(1), name.end(1), helper))
    new_forward = wrapper.template.substitute(helper=helper, **bound, **fields)
    result = source.edited(edits).rstrip() + "\n\n\n" + new_forward
    return (result, helper) if parse_code(result) is not None else None


# Design code, not prompts: what the new `forward` reads like in the module it is added to.
_VOTE = _Wrapper(
    helper="_forward_once",
    needs={"vote": TOOLKIT, "repeat": TOOLKIT},
    local_names=frozenset({"self", "task", "votes"}),
    template=Template('''def forward(self, task):
    """Self-consistency: the most common of `votes` answers of ${helper}, asked at once."""
    votes = ${votes}
    return ${vote}(${repeat}(${helper}, votes, self, task))
'''),
)

_CRITIQUE = _Wrapper(
    helper="_forward_draft",
    needs={"Agent": TOOLKIT, "critique": TOOLKIT},
    local_names=frozenset({"self", "task", "answer", "verdict", "reviser", "feedback"}),
    template=Template('''def forward(self, task):
    """A critique round: the answer of ${helper}, or if a critic finds it wrong, a new
    answer with the critic's feedback in view."""
    answer = ${helper}(self, task)
    verdict = ${critique}(task["question"], answer)
    if verdict["correct"].strip().lower().startswith("yes"):
        return answer
    reviser = ${Agent}("a careful problem solver who corrects mistakes")
    feedback = [f"An earlier answer: {answer}", f"A reviewer's feedback: {verdict['feedback']}"]
    return reviser(
        task["question"],
        context=feedback,
        instruction="An earlier answer was judged wrong. Use the feedback and solve it again.",
    )["answer"]
'''),
)


def wrap_in_vote(code: str, rng: random.Random, votes: int | None = None) -> Mutation | None:
    """Make the agent self-consistent: the old `forward` becomes a helper, run `votes` times
    at once (drawn from `VOTE_SIZES` when not given), and the new `forward` returns the
    toolkit's `vote` of the answers. None without a `forward(self, task)`, or when it is
    already such a vote."""
    votes = rng.choice(VOTE_SIZES) if votes is None else votes
    wrapped = _wrap(code, _VOTE, {"votes": votes})
    if wrapped is None:
        return None
    new_code, helper = wrapped
    return Mutation(
        new_code, f"forward -> majority vote of {votes} runs of {helper}", "wrap_in_vote"
    )


def add_critique_round(code: str, rng: random.Random) -> Mutation | None:
    """Add a critique round: the old `forward` becomes a helper whose answer the toolkit's
    `critique` checks; unless the verdict is "yes", one more call answers again with the
    feedback in context. None without a `forward(self, task)`, or when it already is such a
    round. (`rng` is unused: the operator has one way to act.)"""
    wrapped = _wrap(code, _CRITIQUE, {})
    if wrapped is None:
        return None
    new_code, helper = wrapped
    return Mutation(new_code, f"forward -> {helper} + one critique round", "add_critique_round")


# --- temperature -------------------------------------------------------------------------------


def _number(node: ast.expr | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    )


def _temperature_sites(tree: ast.Module) -> list[tuple[ast.Constant, str]]:
    """Each number that is a temperature, with how a description names it: a `temperature=`
    keyword of any call (`Agent`, `critique`, the design's own helpers), or a module-level
    constant whose name contains TEMPERATURE."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    sites: list[tuple[ast.Constant, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "temperature" and _number(keyword.value):
                    assert isinstance(keyword.value, ast.Constant)
                    where = enclosing_function(node, parents)
                    label = f"temperature= of {ast.unparse(node.func)} in {where}"
                    sites.append((keyword.value, label))
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target: ast.expr = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign):
            target = statement.target
        else:
            continue
        value = statement.value
        if isinstance(target, ast.Name) and "TEMPERATURE" in target.id.upper() and _number(value):
            assert isinstance(value, ast.Constant)
            sites.append((value, target.id))
    return sites


def _new_temperature(old: float, rng: random.Random) -> float:
    """`old` moved by 0.2 to 0.4 either way, clamped to `TEMPERATURE_RANGE`, to one decimal;
    never `old` itself (the range is wider than a step, so one direction always moves)."""
    low, high = TEMPERATURE_RANGE
    moved = {
        round(min(high, max(low, old + sign * step)), 1)
        for step in _TEMPERATURE_STEPS
        for sign in (-1, 1)
    }
    return rng.choice(sorted(moved - {old}))


def tune_temperature(code: str, rng: random.Random) -> Mutation | None:
    """Move one temperature (a `temperature=` keyword, or a module constant named like
    `*TEMPERATURE*`) by 0.2 to 0.4, within `TEMPERATURE_RANGE`, to one decimal. None when the
    design sets no temperature."""
    tree = parse_code(code)
    sites = _temperature_sites(tree) if tree is not None else []
    if not sites:
        return None
    node, label = rng.choice(sites)
    assert isinstance(node.value, (int, float))
    new = _new_temperature(float(node.value), rng)
    source = _Source(code)
    new_code = source.edited([_Edit(*source.span(node), repr(new))])
    if parse_code(new_code) is None:
        return None
    return Mutation(
        new_code, f"temperature {node.value!r} -> {new!r} ({label})", "tune_temperature"
    )


# --- the bundle --------------------------------------------------------------------------------


def agent_operators() -> Operators:
    """The operators evolution uses on agents: the generic ones and the three above, weighted
    by `AGENT_WEIGHTS`, with the generic function-level crossover."""
    generic = generic_operators()
    return Operators(
        mutations={
            **generic.mutations,
            "tune_temperature": tune_temperature,
            "wrap_in_vote": wrap_in_vote,
            "add_critique_round": add_critique_round,
        },
        weights=dict(AGENT_WEIGHTS),
        crossover=generic.crossover,
    )
