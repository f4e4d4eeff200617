"""Where the shipped `prompts/` and `archive/` folders are, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(name: str) -> Path:
    """The folder `name` ("prompts" or "archive") shipped with the project.

    A wheel carries it as package data under `agentic_design/_data/`; a source checkout or an
    editable install keeps it at the repository root, beside the package.
    """
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the shipped folder {name!r} is missing: "
        f"looked in {_PACKAGE / '_data'} and {_PACKAGE.parent}"
    )
