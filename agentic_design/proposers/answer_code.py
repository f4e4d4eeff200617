"""The code in a meta-agent's answer: the candidates (a fence left open, the bare module),
which of them is the design (the last that defines the task's interface), tidied (dedented, its
separate imports joined), and the check that it parses and defines the interface."""

from __future__ import annotations

import ast
import functools
import re
import textwrap
import warnings
from collections.abc import Collection

from agentic_design.mutations.code_ast import defined_names

# The closing mark written at the end of a fence's last line, `    return x````.
_GLUED_CLOSE = re.compile(r"(?<=\S)[ \t]*(?:`{3,}|~{3,})[ \t]*$", re.MULTILINE)


class MalformedAnswer(ValueError):
    """The answer holds no usable design; the message says why, for the model to read."""


def fallback_code(body: str, opened: re.Match[str] | None, bare: bool) -> list[tuple[str, str]]:
    """No fence and no JSON code: a fence left open at the end, or the bare module."""
    if opened is not None:
        code = opened["body"]
        if parses(textwrap.dedent(code)):
            return [("unclosed fence", code)]
        # The closing mark written at the end of the last line (`    return x````), perhaps
        # with chatter after it: the fence is closed there.
        glued = _GLUED_CLOSE.search(code)
        if glued and parses(textwrap.dedent(code[: glued.start()])):
            return [("fence", code[: glued.start()] + "\n")]
        raise MalformedAnswer(
            "the ```python block is never closed and its code does not parse: the answer may "
            "have been cut off at max_tokens"
        )
    if bare:
        return [("bare code", body.strip("\n") + "\n")]
    raise MalformedAnswer("no code was found: put the complete module in a ```python block")


def dedented(code: str) -> str:
    """Code from a fence indented under a list item (`1. Code:` then an indented fence) is
    indented as a whole; a module that parses as it is is left alone."""
    if parses(code):
        return code
    dedented = textwrap.dedent(code)
    return dedented if parses(dedented) else code


def with_separate_imports(code: str, before: list[str]) -> str:
    """`code` (a fence's module) with the imports that the answer put in fences of their own
    before it (`First, the imports:`), which the module needs and would otherwise lose."""
    imports: list[str] = []
    names = defined(code)
    for other in before:
        if only_imports(other) and not defined(other) <= names:
            imports.append(other.strip("\n") + "\n")
            names |= defined(other)
    if not imports:
        return code
    first = code.lstrip().split(maxsplit=1)[0] if code.strip() else ""
    return "".join(imports) + ("" if first in ("import", "from") else "\n\n") + code


def only_imports(code: str) -> bool:
    try:
        tree = syntax(code)
    except (SyntaxError, ValueError):
        return False
    return bool(tree.body) and all(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body)


def choose(candidates: list[tuple[str, str]], interface: Collection[str]) -> int:
    """The candidate defining most of the interface; then one that parses; then the last."""
    wanted = set(interface)

    def rank(index: int) -> tuple[int, bool, int]:
        code = candidates[index][1]
        return (len(defined(code) & wanted), parses(code), index)

    return max(range(len(candidates)), key=rank)


def syntax(code: str) -> ast.Module:
    """`code` parsed, quietly: `"\\d"` in the model's code would warn (SyntaxWarning from
    Python 3.12) on every look at it; the sandbox is where the code runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code)


def parses(code: str) -> bool:
    return top_level_names(code) is not None


def defined(code: str) -> set[str]:
    """Top-level names a module defines: functions, classes, assignments, imports (for code
    that does not parse, the functions and classes its lines start)."""
    names = top_level_names(code)
    if names is None:
        found = re.findall(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", code, re.MULTILINE)
        return set(found)
    return set(names)


@functools.lru_cache(maxsize=32)
def top_level_names(code: str) -> frozenset[str] | None:
    """The names `code` defines at top level, None if it does not parse. Cached: the same
    candidates are looked at several times, and parsing a long module is the slow part."""
    try:
        tree = syntax(code)
    except (SyntaxError, ValueError):
        return None
    return frozenset(defined_names(tree.body))


def check_interface(code: str, interface: Collection[str]) -> None:
    if not parses(code):
        try:
            syntax(code)  # again, for the error
        except SyntaxError as exc:
            raise MalformedAnswer(
                f"the code does not parse: line {exc.lineno}: {exc.msg}"
            ) from None
        except ValueError as exc:  # null bytes
            raise MalformedAnswer(f"the code does not parse: {exc}") from None
    missing = [name for name in interface if name not in defined(code)]
    if missing:
        raise MalformedAnswer(
            f"the code defines no {', '.join(missing)} (a design must define: "
            f"{', '.join(interface)})"
        )
