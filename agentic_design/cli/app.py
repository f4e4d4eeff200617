"""The one typer app every command joins, its two consoles, and what the commands share: a
user's mistake as one message and exit code 2 (`_user_errors`, `_fail`), opening a run, and
refusing what an imported run cannot do; and `run_app`, which runs the command line with a
Ctrl-C anywhere as one line and exit code 130."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from agentic_design.config import ConfigError

# A circle on purpose (entry -> cli -> cli.app -> entry): see entry.main.
from agentic_design.entry import interrupted
from agentic_design.llm import ReplayMiss
from agentic_design.records import ArchiveError
from agentic_design.store.adas_format import RunImportError
from agentic_design.store.archive import Archive, db_path
from agentic_design.tasks import TaskLoadError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Automated design of neural architectures and LLM agents.",
)
# Wide when piped (to a file or a test), so tables and messages are not folded at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


# Set once a search has reported its interruption (and how to resume): nothing more to say.
_INTERRUPT_REPORTED = threading.Event()


def _fail(message: str, code: int = 2) -> NoReturn:
    # Escaped: a message quotes what it was given, which may look like markup ("[/]").
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a user's mistake into one clear message and exit code 2."""
    try:
        yield
    except KeyboardInterrupt:  # before typer turns it into a silent exit 130
        interrupted()
    except (ConfigError, ArchiveError, TaskLoadError, ReplayMiss, RunImportError) as exc:
        _fail(str(exc))
    except (FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        _fail(f"{exc.strerror}: {exc.filename}")  # a path given on the command line or config


def _open(run_dir: Path, readonly: bool = True) -> Archive:
    with _user_errors():
        return Archive.open(run_dir, readonly=readonly)


def _imported_from(run_dir: Path) -> tuple[str, str] | None:
    """(tool, file) when the run was imported from another tool's archive (ADAS)."""
    if not db_path(run_dir).is_file():
        return None  # the command's own check names what is missing
    with _open(run_dir) as archive:
        source, path = archive.meta("imported_from"), archive.meta("source")
    return (str(source), str(path)) if source else None


def _refuse_imported(run_dir: Path, doing: str) -> None:
    """An imported run holds designs and their recorded scores but no run configuration, so
    it cannot be run again: say so, rather than that a configuration is missing."""
    imported = _imported_from(run_dir)
    if imported:
        source, path = imported
        _fail(
            f"{run_dir} was imported from {source} ({path}): it holds the designs and the scores "
            f"{source} recorded, but no run configuration, so it cannot be {doing}; "
            f"inspect it with `agentic-design show {run_dir}`, or score one of its designs "
            f"with `agentic-design replay {run_dir} ID --config CONFIG`"
        )


def run_app() -> None:
    """Run the command line: a Ctrl-C anywhere (not only inside a search, which stops cleanly
    by itself) ends it with one line and exit code 130, never a traceback."""
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        interrupted()
    except typer.TyperException as exc:  # a usage error: its own message, exit 2
        exc.show()  # type: ignore[attr-defined]  # a click exception at run time
        sys.exit(exc.exit_code)
    if code == 130 and not _INTERRUPT_REPORTED.is_set():
        interrupted()  # typer turned a Ctrl-C into exit 130 without a word
    if code == 130:
        # The search said so already. Leave at once, as interrupted() does: interpreter
        # shutdown would join threads a Ctrl-C left blocked, and a late KeyboardInterrupt
        # there would end the process by SIGINT instead of with 130.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    _leave(code if isinstance(code, int) else 0)


def _leave(code: int) -> NoReturn:
    """Exit with `code` once the command is done, without the interpreter's teardown. What
    matters of an exit still happens: the threads left are joined and the exit handlers run
    (Ray's shutdown, logging's flush). What is skipped is freeing every module's objects one
    by one, which, once litellm is loaded, took one to four seconds after a search had
    finished (benchmarks/start_stop.py). Every store write was its own transaction already."""
    # As the interpreter's own exit does, in its order: threading's exit hooks (which let idle
    # thread-pool workers end), the threads joined, then the exit handlers.
    threading._shutdown()  # type: ignore[attr-defined]  # CPython's, since 3.0
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """The command line (see `agentic_design.entry` for the installed script's entry point)."""
    run_app()
