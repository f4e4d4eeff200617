"""The command-line reference, written from the typer app itself at each build: every command
the app has (one a module adds later too), its help, its arguments and its options, with the
types, defaults and help the code gives them."""

from __future__ import annotations

import re
from typing import Any

import typer

from agentic_design.cli import app


def command_group() -> Any:
    """The click group typer builds from the app: what `agentic-design --help` lists."""
    return typer.main.get_command(app)


def commands() -> list[tuple[str, Any]]:
    """(name, command) for every visible command, in the order `--help` lists them."""
    group = command_group()
    ctx = group.context_class(group, info_name="agentic-design")
    found = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    return [(name, command) for name, command in found if not command.hidden]


def paragraphs(text: str) -> str:
    """A docstring's paragraphs, each joined into one line."""
    text = (text or "").split("\f")[0]  # click's mark: what follows is not for help
    blocks = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(block.split()) for block in blocks)


def param_type(param: Any, ctx: Any) -> str:
    """The value a parameter takes (`path`, `int`, a choice's values), `flag` for a switch."""
    if getattr(param, "is_flag", False):
        return "flag"
    if hasattr(param, "display_type"):  # typer >= 0.2x: its own click, its own type names
        return str(param.display_type(ctx)).strip("<>").replace("|", " | ")
    kind = param.type  # click's
    choices = getattr(kind, "choices", None)
    return " | ".join(map(str, choices)) if choices else str(kind.name)


def default_text(param: Any) -> str:
    if param.required:
        return "required"
    if getattr(param, "secondary_opts", None) and isinstance(param.default, bool):
        return f"`{(param.opts if param.default else param.secondary_opts)[0]}`"
    if getattr(param, "is_flag", False) and param.default is False:
        return "off"
    if param.default is None or callable(param.default):
        return ""
    return f"`{param.default}`"


def usage(name: str, command: Any) -> str:
    """`agentic-design NAME [OPTIONS] ARG [OPTIONAL_ARG]`."""
    pieces = [f"agentic-design {name}"]
    if any(p.param_type_name == "option" and p.name != "help" for p in command.params):
        pieces.append("[OPTIONS]")
    for p in command.params:
        if p.param_type_name == "argument":
            metavar = p.name.upper() + ("..." if p.nargs != 1 else "")
            pieces.append(metavar if p.required else f"[{metavar}]")
    return " ".join(pieces)


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render() -> str:
    """The whole page, in Markdown."""
    group = command_group()
    lines = [
        "# Command-line reference",
        "",
        "Every command of `agentic-design`, generated from the command line's own definitions "
        "at each build. `agentic-design COMMAND --help` prints the same. Exit codes: 0 done; "
        "1 the work failed; 2 bad input (a config, a file, an argument), with a message that "
        "names what is wrong and where; 130 interrupted.",
        "",
        paragraphs(group.help or ""),
        "",
    ]
    root = group.context_class(group, info_name="agentic-design")
    for name, command in commands():
        ctx = command.context_class(command, info_name=name, parent=root)
        lines += [f"## {name} {{ #{name} }}", "", "```", usage(name, command), "```", ""]
        lines += [paragraphs(command.help or ""), ""]
        params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", 0)]
        arguments = [p for p in params if p.param_type_name == "argument"]
        options = [p for p in params if p.param_type_name == "option"]
        if arguments:
            lines += ["| argument | type | default | description |", "| --- | --- | --- | --- |"]
            for p in arguments:
                row = [f"`{p.name.upper()}`", param_type(p, ctx), default_text(p), p.help or ""]
                lines.append("| " + " | ".join(cell(c) for c in row) + " |")
            lines.append("")
        if options:
            lines += ["| option | type | default | description |", "| --- | --- | --- | --- |"]
            for p in options:
                names = " / ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
                row = [names, param_type(p, ctx), default_text(p), p.help or ""]
                lines.append("| " + " | ".join(cell(c) for c in row) + " |")
            lines.append("")
    return "\n".join(lines)
