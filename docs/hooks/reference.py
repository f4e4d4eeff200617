"""mkdocs hooks: the reference pages that are written from the code at each build, so that they
cannot drift from it. `reference/configuration.md` from the configuration's pydantic models,
`reference/cli.md` from the typer app, and `schema/config.schema.json`, the configuration's JSON
schema (the same `agentic-design config-schema` prints), all added as virtual files: nothing
generated is checked in."""

from __future__ import annotations

import json
from collections.abc import Callable

# mkdocs puts this file's folder on sys.path while it loads a hook module.
import cli_reference
import config_reference
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from agentic_design.cli.about import config_schema


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "reference/configuration.md": config_reference.render,
    "reference/cli.md": cli_reference.render,
    "schema/config.schema.json": schema_text,
}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages, in place of any file of the same name in docs/."""
    for uri, render in GENERATED.items():
        stale = files.get_file_from_path(uri)
        if stale is not None:
            files.remove(stale)
        files.append(File.generated(config, uri, content=render()))
    return files
