"""`init`: a working starting point in a folder — a task file and a config that run as written.

`agentic-design init [KIND] DIR` writes `DIR/task.py` (a `Task` subclass of about a hundred
lines), `DIR/config.yaml` (naming it as `task.py:Class`, read against the config's folder, so it
runs from any directory) and `DIR/README.md`, from the templates in `prompts/init/`. Each kind is
a small problem that searches offline in under a minute: a greedy knapsack rule (heuristic), a
classifier of scikit-learn's digits (architecture), and an LLM agent counting letters, answered
by the simulated model (agent). It never overwrites a file unless told to (`--force`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Annotated

import typer

from agentic_design.cli.app import _fail, _user_errors, app, out

#: The kinds of starting point, each a folder of templates under `prompts/init/`.
KINDS = ("heuristic", "architecture", "agent")
#: What `init` writes: the file, and its template under `prompts/init/` ({kind}: the kind's).
FILES = {
    "task.py": "{kind}/task.py.j2",
    "config.yaml": "{kind}/config.yaml.j2",
    "README.md": "README.md.j2",
}


@app.command()
def init(
    # Typed loosely, and told apart here: click has no optional argument before a required one.
    kind_or_dir: Annotated[
        str | None,
        typer.Argument(
            metavar="KIND",
            help="the kind of task: heuristic (the default), architecture or agent",
            show_default=False,
        ),
    ] = None,
    folder_given: Annotated[
        str | None,
        typer.Argument(
            metavar="DIR",
            help="the folder to write in (made if missing)",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="write into a folder that is not empty, replacing our files"),
    ] = False,
) -> None:
    """Write a task and a config that run as written: DIR/task.py, DIR/config.yaml and
    DIR/README.md, for a heuristic (a greedy knapsack rule), an architecture (a digits
    classifier) or an agent (an LLM agent, run offline by the simulated model)."""
    words = [word for word in (kind_or_dir, folder_given) if word is not None]
    kind, folder = _kind_and_folder(words)
    _check_folder(folder, force)
    replaced = [name for name in FILES if (folder / name).exists()]
    with _user_errors():  # a folder that cannot be made or written: one line, exit 2
        written = write_starting_point(kind, folder, given=words[-1])
    article = "an" if kind[0] in "aeiou" else "a"
    out.print(f"wrote {article} {kind} task in {folder}:", highlight=False, markup=False)
    for path in written:
        note = " (replaced)" if path.name in replaced else ""
        out.print(f"  {path}{note}", highlight=False, markup=False)
    config = shlex.quote(str(Path(words[-1]) / "config.yaml"))
    out.print("next, run it (offline, in well under a minute):", highlight=False, markup=False)
    out.print(f"  agentic-design run {config}", highlight=False, markup=False)


def write_starting_point(kind: str, folder: Path, given: str | None = None) -> list[Path]:
    """Render the `kind`'s templates into `folder` (made if missing) and return the files
    written; `given`: the folder as the user typed it, for the commands the files quote."""
    from agentic_design.prompts import render  # jinja: only for this command

    name = project_name(folder, kind)
    shown = given if given is not None else str(folder)
    variables = {
        "kind": kind,
        "name": name,
        "config_path": shlex.quote(str(Path(shown) / "config.yaml")),
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, template in FILES.items():
        path = folder / file
        path.write_text(render(f"init/{template.format(kind=kind)}", **variables))
        written.append(path)
    return written


def project_name(folder: Path, kind: str) -> str:
    """The run's and the task's name, from the folder's: lower case, letters, digits and
    hyphens (it names the run directory and the task's data cache); the kind for a folder
    whose name has none of them."""
    slug = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")
    return slug or kind


def _kind_and_folder(words: list[str]) -> tuple[str, Path]:
    if len(words) == 2:
        kind, folder = words
        if kind not in KINDS:
            _fail(f"unknown kind {kind!r}: init takes one of {', '.join(KINDS)}, then DIR")
        return kind, Path(folder)
    if len(words) == 1:
        (folder,) = words
        if folder in KINDS:  # more likely a kind without its folder than a folder so named
            _fail(
                f"init {folder} needs the folder to write in: agentic-design init {folder} DIR "
                f"(for a folder named {folder!r}, write ./{folder})"
            )
        return "heuristic", Path(folder)
    _fail("init takes [KIND] DIR: a kind (heuristic, architecture or agent), and the folder")


def _check_folder(folder: Path, force: bool) -> None:
    """Refuse (exit 2) a path that is a file, or a folder that holds anything without --force:
    a user's files are never overwritten silently."""
    if folder.exists() and not folder.is_dir():
        _fail(f"{folder} is a file, not a folder: init writes task.py and config.yaml in a folder")
    if force or not folder.is_dir():
        return
    present = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not present:
        return
    ours = [name for name in FILES if name in present]
    if ours:
        _fail(
            f"{folder} already holds {', '.join(ours)}: init would overwrite "
            f"{'it' if len(ours) == 1 else 'them'}; pass --force to replace "
            f"{'it' if len(ours) == 1 else 'them'}, or choose another folder"
        )
    shown = ", ".join(present[:5]) + (f" and {len(present) - 5} more" if len(present) > 5 else "")
    _fail(
        f"{folder} is not empty (it holds {shown}); pass --force to write "
        f"{', '.join(FILES)} into it, or choose another folder"
    )
