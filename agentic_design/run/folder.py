"""A problem folder of OpenEvolve's or ShinkaEvolve's as a run configuration of ours.

`agentic-design run FOLDER` searches the folder as it is: its config (OpenEvolve's
config.yaml, or Shinka's) is mapped onto ours where ours has an equivalent (iterations, models
and their weights, temperatures, islands, timeouts, parallel evaluations), and each setting we
do not follow is listed when the run starts, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentic_design.config import ConfigError, RunConfig
from agentic_design.tasks.folder import FolderError, detect_format
from agentic_design.tasks.folder.settings import FolderSettingsError, folder_settings


@dataclass(frozen=True)
class FolderRun:
    """The configuration a problem folder maps to, and what of the folder's it leaves out."""

    config: RunConfig
    format: str
    ignored: tuple[str, ...]


def folder_config(folder: Path) -> FolderRun:
    """The run configuration of the problem folder `folder`; ConfigError naming the folder
    and the problem when it is not one, or its config cannot be read."""
    folder = folder.resolve()
    try:
        fmt = detect_format(folder)
        settings = folder_settings(folder, fmt)
    except (FolderError, FolderSettingsError) as exc:
        raise ConfigError(str(exc)) from None
    data = {
        "name": folder.name,
        **settings.config,
        "task": {fmt: str(folder)},
        "task_params": dict(settings.task_params),
    }
    config = RunConfig.from_dict(data, source=f"{folder} (its settings, mapped onto ours)")
    return FolderRun(config=config, format=fmt, ignored=tuple(settings.ignored))
