"""The settings a problem folder carries for OpenEvolve or ShinkaEvolve, mapped to ours.

`folder_settings(folder, kind)` reads the folder's configuration and returns `FolderSettings`:
a partial run configuration in our keys (`config`), the folder task's parameters
(`task_params`: cascade and thresholds, the evaluator's file, feature dimensions, the
problem's description as `system_message`), and one line for each of their settings we do not
use (`ignored`), saying why.

Where each kind keeps its settings:

- OpenEvolve: `config.yaml` beside `initial_program.py` and `evaluator.py` (what its examples
  ship and `openevolve-run.py --config` reads), in OpenEvolve 0.4's keys.
- ShinkaEvolve: a YAML file for `shinka_run --config-fname`, with `evo`/`db`/`job` (or
  `evo_config`/`db_config`/`job_config`) mappings of EvolutionConfig, DatabaseConfig and
  JobConfig fields, and the runner's `max_evaluation_jobs`, `max_proposal_jobs`,
  `max_db_workers`, `verbose`, `debug` (a Hydra variant file, which uses the same three
  mappings, reads too: `_target_` and interpolations are skipped). Found as `shinka.yaml`,
  else the one `shinka*.yaml`, else `config.yaml`; without one, the literal keyword arguments
  of the EvolutionConfig / DatabaseConfig / JobConfig / runner calls in `run_evo.py`.

An API key is never copied (the run directory saves its configuration): OpenEvolve's
`${VAR}` reference becomes `api_key_env: VAR`, and a literal key is left out with a note.
A file that cannot be read as such a configuration raises `FolderSettingsError`, naming the
file and the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentic_design.tasks.folder.mapping import (
    KINDS,
    TASK_PARAMS,
    FolderSettings,
    FolderSettingsError,
    SettingsMap,
)
from agentic_design.tasks.folder.openevolve_settings import openevolve_settings
from agentic_design.tasks.folder.shinka_settings import shinka_from_python, shinka_settings

__all__ = ["TASK_PARAMS", "FolderSettings", "FolderSettingsError", "folder_settings"]


def folder_settings(folder: Path, kind: str, config_file: Path | None = None) -> FolderSettings:
    """The settings of the problem folder `folder` of `kind` ("openevolve" or "shinka"), from
    `config_file` (relative to the folder) or the file the kind keeps them in."""
    folder = Path(folder)
    if kind not in KINDS:
        raise ValueError(f"unknown problem folder kind {kind!r}; choose from {list(KINDS)}")
    path = (folder / config_file) if config_file is not None else _find_config(folder, kind)
    mapping = SettingsMap(path)
    if kind == "openevolve":
        openevolve_settings(_load_yaml(path) if path else {}, mapping, folder)
    else:
        if path is None:
            data: dict[str, Any] = {}
        elif path.suffix == ".py":
            data = shinka_from_python(path, mapping)
        else:
            data = _load_yaml(path)
        shinka_settings(data, mapping, folder)
    return mapping.settings()


def _find_config(folder: Path, kind: str) -> Path | None:
    if kind == "openevolve":
        path = folder / "config.yaml"
        return path if path.is_file() else None
    if (folder / "shinka.yaml").is_file():
        return folder / "shinka.yaml"
    named = sorted(p for p in folder.glob("shinka*.y*ml") if p.is_file())
    if len(named) > 1:
        raise FolderSettingsError(
            f"{folder}: several Shinka configuration files ({', '.join(p.name for p in named)});"
            " name the one to use"
        )
    for path in [*named, folder / "config.yaml", folder / "run_evo.py"]:
        if path.is_file():
            return path
    return None


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FolderSettingsError(f"{path}: cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FolderSettingsError(f"{path}: YAML syntax error{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FolderSettingsError(
            f"{path}: the top level must be a mapping, not {type(data).__name__}"
        )
    return data
