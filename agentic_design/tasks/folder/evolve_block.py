"""Evolve blocks: the part of a problem folder's program that proposals may change.

OpenEvolve and ShinkaEvolve mark it with two comment lines, `# EVOLVE-BLOCK-START` and
`# EVOLVE-BLOCK-END`; a program may hold several blocks, and one without markers is all
evolvable. Everything outside the blocks — the imports a block relies on, the function the
evaluator calls — is the problem's fixed frame, kept verbatim from the starting program
whatever a proposer writes: `Template.complete` puts the blocks of a proposal back into it.

A proposal may be the whole program with its markers (a model asked for a full rewrite, an edit
applied to the parent, an AST mutation), the whole program without them, or the contents of a
single block alone (a model that answered with just the part it was asked to change).
"""

from __future__ import annotations

import ast
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace

from agentic_design.mutations.operators import Mutation, Operator, Operators
from agentic_design.tasks.base import InvalidDesign

START = "EVOLVE-BLOCK-START"
END = "EVOLVE-BLOCK-END"


def _marker(line: str) -> str | None:
    """START or END for a marker line (a comment naming the marker), else None."""
    text = line.strip()
    if not text.startswith("#"):
        return None
    word = text.lstrip("#").strip()
    for marker in (START, END):
        if word.startswith(marker):
            return marker
    return None


@dataclass(frozen=True)
class Template:
    """A program cut at its evolve blocks: `frame` holds the fixed text around them (one more
    part than there are blocks, each marker line kept with its part), `blocks` their text."""

    frame: tuple[str, ...]
    blocks: tuple[str, ...]

    @property
    def marked(self) -> bool:
        """Whether the program marks its blocks (unmarked: the whole program is one block)."""
        return any(self.frame)

    def program(self, blocks: tuple[str, ...] | list[str] | None = None) -> str:
        """The program with `blocks` (default: its own) in their places."""
        blocks = self.blocks if blocks is None else tuple(blocks)
        if len(blocks) != len(self.blocks):
            raise InvalidDesign(
                f"the program has {len(self.blocks)} evolve blocks, the proposal {len(blocks)}"
            )
        out = [self.frame[0]]
        for block, part in zip(blocks, self.frame[1:], strict=True):
            out += [_with_newline(block), part]
        return "".join(out)

    def complete(self, proposal: str) -> str:
        """The whole program a proposal stands for: its blocks in this template's frame.
        InvalidDesign when its blocks cannot be told apart from the rest."""
        if not self.marked:
            return proposal
        if any(_marker(line) for line in proposal.splitlines()):
            return self.program(cut(proposal).blocks)
        prefix, suffix = self.frame[0], self.frame[-1]
        if len(self.blocks) == 1:
            # The whole program without its markers: the block is what lies between the
            # frame's text before and after it (compared line by line, blanks aside).
            inner = _between(proposal, _unmarked(prefix), _unmarked(suffix))
            return self.program([proposal if inner is None else inner])
        raise InvalidDesign(
            f"the program has {len(self.blocks)} evolve blocks: write the whole program, each "
            f"block between its '# {START}' and '# {END}' lines"
        )


def cut(program: str) -> Template:
    """The template of `program`; InvalidDesign for markers that do not pair up."""
    frame: list[str] = []
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for number, line in enumerate(program.splitlines(keepends=True), start=1):
        marker = _marker(line)
        if (marker == START and inside) or (marker == END and not inside):
            raise InvalidDesign(f"line {number}: '# {marker}' where it does not pair up")
        if marker == START:
            current.append(line)
            frame.append("".join(current))
            current, inside = [], True
        elif marker == END:
            blocks.append("".join(current))
            current, inside = [line], False
        else:
            current.append(line)
    if inside:
        raise InvalidDesign(f"'# {START}' without its '# {END}'")
    if not blocks:
        return Template(frame=("", ""), blocks=(program,))
    frame.append("".join(current))
    return Template(frame=tuple(frame), blocks=tuple(blocks))


def block_operators(operators: Operators) -> Operators:
    """`operators` acting on the evolve blocks only: each mutation changes one block (drawn
    with the evolution's generator) and crossover pairs the same block of both parents, so the
    frame stays as the folder wrote it."""

    def mutation(operator: Operator) -> Operator:
        def on_block(code: str, rng: random.Random) -> Mutation | None:
            template = cut(code)
            index = rng.randrange(len(template.blocks))
            return _on_block(template, index, lambda block: operator(block, rng))

        return on_block

    def crossover(
        code_a: str, code_b: str, rng: random.Random, labels: tuple[str, str]
    ) -> Mutation | None:
        a, b = cut(code_a), cut(code_b)
        if len(a.blocks) != len(b.blocks):
            return None
        index = rng.randrange(len(a.blocks))
        other = textwrap.dedent(b.blocks[index])
        return _on_block(a, index, lambda block: operators.crossover(block, other, rng, labels))

    return replace(
        operators,
        mutations={name: mutation(op) for name, op in operators.mutations.items()},
        crossover=crossover,
    )


def _on_block(
    template: Template, index: int, change: Callable[[str], Mutation | None]
) -> Mutation | None:
    """Apply `change` to block `index` (dedented, as the operators parse top-level code) and
    put its result back with the block's indentation."""
    block = template.blocks[index]
    plain = textwrap.dedent(block)
    try:
        ast.parse(plain)
    except SyntaxError:
        return None
    mutated = change(plain)
    if mutated is None:
        return None
    indent = block[: len(block) - len(block.lstrip())].rpartition("\n")[2]
    new_block = textwrap.indent(mutated.code, indent) if indent else mutated.code
    blocks = list(template.blocks)
    blocks[index] = new_block
    return replace(mutated, code=template.program(blocks))


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _unmarked(part: str) -> list[str]:
    """A frame part's non-blank lines, its marker lines left out."""
    return [line.strip() for line in part.splitlines() if line.strip() and not _marker(line)]


def _between(program: str, before: list[str], after: list[str]) -> str | None:
    """The text of `program` after lines matching `before` and ahead of lines matching
    `after` (blank lines aside), or None when it does not start and end with them."""
    lines = program.splitlines(keepends=True)
    significant = [i for i, line in enumerate(lines) if line.strip()]
    if len(significant) < len(before) + len(after):
        return None
    head = significant[: len(before)]
    tail = significant[len(significant) - len(after) :] if after else []
    if [lines[i].strip() for i in head] != before or [lines[i].strip() for i in tail] != after:
        return None
    start = head[-1] + 1 if head else 0
    end = tail[0] if tail else len(lines)
    return "".join(lines[start:end])
