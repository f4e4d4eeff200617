"""The numeric literals of Python code, found and rewritten in place, for tuning.

`find_constants` lists the literals worth tuning (magnitudes, not indices, axes, counts or
shapes); `substitute` writes new values into exactly their spans of the source, so that every
comment, blank and quote outside them stays byte for byte as it was. The operators elsewhere in
`mutations` unparse the whole tree; a tuned design must read as its parent did, less the numbers.
"""

from __future__ import annotations

import ast
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from agentic_design.mutations.code_ast import enclosing_function, in_subscript, parent_map
from agentic_design.mutations.point import _INDEX_KEYWORDS

# Calls whose numbers say how many times or which shape (`range(len(x) - 1)`, `x.view(-1, 64)`):
# a change there is an index error or a shape mismatch, not a better design.
_COUNT_OR_SHAPE_CALLS = frozenset({
    "range", "reshape", "view", "permute", "transpose", "flatten", "unflatten", "squeeze",
    "unsqueeze", "expand", "size",
})  # fmt: skip


@dataclass(frozen=True)
class Constant:
    """A numeric literal of the source: its span as `ast` gives it (1-based lines, columns in
    UTF-8 bytes, a negative number's minus sign included), its value, the text it is written as
    and the function it is in (for descriptions)."""

    line: int
    col: int
    end_line: int
    end_col: int
    value: int | float
    text: str
    where: str
    # The literal binds tighter than a minus sign would (`2 ** x`, `1.5.hex()`): a negative
    # value written there needs parentheses to keep its meaning.
    tight: bool = False

    @property
    def is_int(self) -> bool:
        return isinstance(self.value, int)


def find_constants(code: str) -> list[Constant]:
    """The tunable numeric literals of `code`, in source order: ints and floats (not bools or
    complex numbers), a unary minus read as part of its number (`-0.5` is one constant).

    Left alone, as structure rather than magnitude: indices and slices (`x[0]`, `a[1:]`), axes
    (`axis=1`), anything in the arguments of `range` or of a shape method (`x.view(-1, 64)`),
    annotations, f-strings, integer zeros (a start, an offset or an index) and numbers that
    are not finite. Raises SyntaxError when `code` is not Python."""
    tree = ast.parse(code)
    parents = parent_map(tree)
    starts = _line_starts(code)
    found = []
    for node in ast.walk(tree):
        value = _number(node)
        if value is None or _number(parents.get(node)) is not None:
            continue  # not a number, or the digits of a negative number found as a whole
        if (value == 0 and isinstance(value, int)) or _is_structure(node, parents):
            continue
        assert isinstance(node, ast.expr)
        assert node.end_lineno is not None and node.end_col_offset is not None
        span = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset)
        start, end = _offset(code, starts, *span[:2]), _offset(code, starts, *span[2:])
        tight = value >= 0 and _binds_tightly(node, parents.get(node))
        where = enclosing_function(node, parents)
        found.append(Constant(*span, value, code[start:end], where, tight))
    return sorted(found, key=lambda c: (c.line, c.col))


def substitute(code: str, constants: Sequence[Constant], values: Sequence[int | float]) -> str:
    """`code` with each of `constants` written as the matching value of `values`; everything
    outside their spans stays as it was. A value equal to the old one keeps its text (`1e-3`
    stays `1e-3`), so the old values give back `code` itself."""
    if len(constants) != len(values):
        raise ValueError(f"{len(constants)} constants but {len(values)} values")
    starts = _line_starts(code)
    edits = []
    for constant, value in zip(constants, values, strict=True):
        start = _offset(code, starts, constant.line, constant.col)
        end = _offset(code, starts, constant.end_line, constant.end_col)
        if code[start:end] != constant.text:
            raise ValueError(f"{constant.text!r} is not at line {constant.line} of this code")
        if value != constant.value:
            edits.append((start, end, _literal(value, constant)))
    for start, end, text in sorted(edits, reverse=True):
        # `return-1` with 1 for -1 would run into `return1`: keep the tokens apart.
        # (Both sides: `1if x else 2` is legal, if ill-advised.)
        if _word_char(code[start - 1 : start]) and text[0].isalnum():
            text = " " + text
        if _word_char(code[end : end + 1]):
            text += " "
        code = code[:start] + text + code[end:]
    return code


def _literal(value: int | float, constant: Constant) -> str:
    """`value` as a literal of `constant`'s type: an int as an int (never `3.0`), a float with
    every digit repr gives it, parenthesized where a minus sign would bind too loosely."""
    finite = not isinstance(value, float) or math.isfinite(value)
    if not finite or (constant.is_int and value != int(value)):
        raise ValueError(f"{value!r} cannot be written as {constant.text!r} was")
    text = str(int(value)) if constant.is_int else repr(float(value))
    return f"({text})" if constant.tight and text.startswith("-") else text


def _number(node: ast.AST | None) -> int | float | None:
    """The value of a numeric literal (`-0.5` included), None for anything else."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return None
    value = node.value
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return sign * value
    return None


def _is_structure(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True where a number is structure, not magnitude: an index, an axis, a count or shape,
    a type annotation, or part of a formatted string."""
    if in_subscript(node, parents):
        return True
    parent = parents.get(node)
    if isinstance(parent, ast.keyword) and parent.arg in _INDEX_KEYWORDS:
        return True
    child = node
    while child in parents:
        parent = parents[child]
        if isinstance(parent, ast.JoinedStr):
            return True
        if any(child is getattr(parent, field, None) for field in ("annotation", "returns")):
            return True
        if isinstance(parent, ast.Call) and child is not parent.func:
            func = parent.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in _COUNT_OR_SHAPE_CALLS:
                return True
        if isinstance(parent, ast.stmt):
            return False
        child = parent
    return False


def _binds_tightly(node: ast.AST, parent: ast.AST | None) -> bool:
    """True where `-x` would not mean the same as `(-x)`: the base of a power, or what an
    attribute, a subscript or a call applies to."""
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow):
        return parent.left is node
    if isinstance(parent, (ast.Attribute, ast.Subscript)):
        return parent.value is node
    return isinstance(parent, ast.Call) and parent.func is node


def _line_starts(code: str) -> list[int]:
    """The offset in `code` where each line begins, counting lines as `ast` does (`\\n`,
    `\\r\\n` and a lone `\\r` end one; a form feed does not)."""
    starts = [0]
    for line in io.StringIO(code, newline="").readlines():
        starts.append(starts[-1] + len(line))
    return starts


def _offset(code: str, starts: list[int], line: int, col: int) -> int:
    """The offset in `code` of `ast`'s (line, column), whose column counts UTF-8 bytes."""
    start, end = starts[line - 1], starts[line]
    return start + len(code[start:end].encode()[:col].decode())


def _word_char(text: str) -> bool:
    return bool(text) and (text.isalnum() or text == "_")
