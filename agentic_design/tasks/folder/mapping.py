"""What the readers of OpenEvolve's and ShinkaEvolve's settings share (`settings`): the
result (`FolderSettings`), its error, and `SettingsMap`, which collects our keys, the task's
parameters and the settings left out, each with why."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agentic_design.config import RunConfig

KINDS = ("openevolve", "shinka")

#: The sandbox's wall-clock limit is the evaluator's own limit plus this much: the evaluator's
#: timeout, reported with its output, comes first.
WALL_MARGIN_S = 10.0

#: OpenEvolve's default API base, which means "OpenAI itself" (no api_base of ours).
OPENAI_API_BASE = "https://api.openai.com/v1"

#: The parameters of the folder task (ProblemFolderTask.accepted_params) these settings give:
#: with `timeout_s` (Shinka's job.time, the evaluation script's limit), `evaluator_args`
#: (OpenEvolve's evaluator.evaluator_args) and `extra_args` (Shinka's job.extra_cmd_args).
TASK_PARAMS = frozenset(
    {
        "cascade",
        "thresholds",
        "evaluator",
        "feature_dimensions",
        "system_message",
        "timeout_s",
        "evaluator_args",
        "extra_args",
    }
)

#: Our most attempts per LLM call (LLMConfig.retries).
MAX_ATTEMPTS = 20

ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

INTERPOLATION = re.compile(r"\$\{[^}]*\}")


class FolderSettingsError(ValueError):
    """A problem folder's configuration file cannot be read as one; the message names the
    file and the key."""


@dataclass(frozen=True)
class FolderSettings:
    """What a problem folder's configuration means here (see the module's docstring)."""

    config: dict[str, Any]
    ignored: list[str]
    task_params: dict[str, Any]
    source: str | None = None  # the file read, None when the folder has none


class SettingsMap:
    """Their settings, read key by key into ours: typed reads that name the file and key."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.config: dict[str, Any] = {}
        self.task_params: dict[str, Any] = {}
        self.ignored: list[str] = []
        self.origin: dict[str, str] = {}  # our dotted key -> theirs, for error messages
        self.param_origin: dict[str, str] = {}  # a task parameter -> their key

    def fail(self, key: str, problem: str) -> FolderSettingsError:
        return FolderSettingsError(f"{self.path}: {key}: {problem}")

    def put(self, ours: str, value: Any, theirs: str) -> None:
        node = self.config
        *parents, leaf = ours.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        self.origin[ours] = theirs

    def param(self, name: str, value: Any, theirs: str) -> None:
        """A parameter of the folder task."""
        self.task_params[name] = value
        self.param_origin[name] = theirs

    def ignore(self, key: str, why: str) -> None:
        self.ignored.append(f"{key}: {why}")

    def ignore_rest(
        self,
        section: Mapping[str, Any],
        handled: Collection[str],
        where: str,
        why: str | Mapping[str, str],
        unknown: str = "",
    ) -> None:
        """Each key of `section` (at `where`; "" for the top level) not in `handled`, listed as
        not followed: with `why`, or its reason by key there (`unknown` for a key without)."""
        for key in section:
            if key not in handled:
                reason = why if isinstance(why, str) else why.get(str(key), unknown)
                self.ignore(f"{where}.{key}" if where else str(key), reason)

    def section(self, data: Mapping[str, Any], key: str, theirs: str) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(theirs, f"must be a mapping, not {type(value).__name__}")
        return dict(value)

    def integer(self, value: Any, key: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be at least {minimum}, not {value}")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, not {value!r}")
        if not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, not {value}")
        return float(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, not {value!r}")
        return value

    def listing(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, not {value!r}")
        return value

    def settings(self) -> FolderSettings:
        try:  # what we produce must be a valid part of a RunConfig: say whose key it was
            RunConfig.model_validate({"task": "folder", **self.config})
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                ours = ".".join(str(p) for p in err["loc"])
                theirs = next(
                    (
                        t
                        for o, t in sorted(self.origin.items(), key=lambda i: -len(i[0]))
                        if ours == o or ours.startswith(o + ".")
                    ),
                    ours,
                )
                problems.append(f"{self.path}: {theirs}: {err['msg']} (as our {ours})")
            raise FolderSettingsError("\n".join(problems)) from None
        # Only what the folder task takes (it refuses other parameters); the rest is noted.
        params = {}
        for name, value in self.task_params.items():
            if name in TASK_PARAMS:
                params[name] = value
            elif self.param_origin[name] not in self.origin.values():  # else mapped already
                self.ignore(self.param_origin[name], f"the folder task takes no {name} parameter")
        source = str(self.path) if self.path else None
        return FolderSettings(self.config, self.ignored, params, source)


def islands(database: dict[str, Any], m: SettingsMap, where: str) -> None:
    if database.get("num_islands") is None:
        return
    islands = m.integer(database["num_islands"], f"{where}.num_islands", minimum=1)
    if islands > 1:
        m.put("search.selection.strategy", "islands", f"{where}.num_islands")
        m.put("search.selection.islands", islands, f"{where}.num_islands")
        if database.get("migration_interval") is not None:
            every = m.integer(database["migration_interval"], f"{where}.migration_interval", 1)
            # Theirs counts an island's generations; ours the designs between migrations.
            m.put("search.selection.migrate_every", every, f"{where}.migration_interval")
    elif database.get("migration_interval") is not None:
        m.ignore(f"{where}.migration_interval", "one island: nothing migrates")


def interpolated(key: str, value: Any, m: SettingsMap) -> bool:
    if isinstance(value, str) and INTERPOLATION.search(value):
        m.ignore(key, "a Hydra interpolation, not resolved here")
        return True
    return False


def env_of_key(value: Any, key: str, m: SettingsMap) -> str | None:
    """The variable an API key setting names (`${VAR}`); a literal key is never copied."""
    if value is None or value == "":
        return None
    match = ENV_REFERENCE.match(value) if isinstance(value, str) else None
    if match:
        return match.group(1)
    m.ignore(
        key,
        "a literal API key is never copied into the run's configuration; "
        "put it in the environment and name the variable (llm.api_key_env)",
    )
    return None
