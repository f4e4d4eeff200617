"""`sandbox-info`, `tasks` and `config-schema`: what this installation offers, its sandbox's
protections on this machine, its built-in tasks and the JSON schema of its configuration."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

from pydantic import AliasChoices, BaseModel
from rich.table import Table

from agentic_design.cli.app import app, out
from agentic_design.config import FOLDER_FORMATS, RunConfig
from agentic_design.tasks import BUILTIN_TASKS, task_class


@app.command("sandbox-info")
def sandbox_info() -> None:
    """Which sandbox protections are in force on this machine, and why any is not."""
    from agentic_design.sandbox import Sandbox, visible_gpus

    # Pinned to a GPU where there is one: the device files a GPU evaluation gets.
    with Sandbox(workers=1, preload=[], gpus=visible_gpus()[:1]) as sandbox:
        protections = sandbox.protections
    uid = os.geteuid()
    who = "root" if uid == 0 else f"uid {uid}, an ordinary user"
    table = Table(title=f"sandbox protections on this machine, as {who}")
    for column in ("protection", "in force", "how, or why not"):
        table.add_column(column, overflow="fold")
    for p in protections:
        mark = "[green]yes[/]" if p["enabled"] else "[red]no[/]"
        table.add_row(p["name"], mark, p["detail"])
    out.print(table)
    missing = [p["name"] for p in protections if not p["enabled"]]
    if missing:
        out.print(f"not in force: {', '.join(missing)}")


@app.command()
def tasks() -> None:
    """The built-in tasks."""
    table = Table(title="built-in tasks (or task: path/to/file.py:ClassName)")
    for column in ("name", "kind", "what"):
        table.add_column(column)
    for name in sorted(BUILTIN_TASKS):
        cls = task_class(name)
        table.add_row(name, cls.kind, (cls.__doc__ or "").strip().splitlines()[0])
    out.print(table)


def config_schema() -> dict[str, Any]:
    """The JSON schema of a run configuration, for editors: pydantic's schema of `RunConfig`,
    with what its validators accept besides (a problem folder as `task`, the older names of
    renamed keys) that pydantic's schema does not say."""
    schema = RunConfig.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "agentic-design run configuration",
    }
    _add_alias_choices(schema, RunConfig)
    for model in _nested_models(RunConfig):
        _add_alias_choices(schema["$defs"][model.__name__], model)
    # RunConfig._folder_task turns `task: {openevolve: FOLDER}` into the problem_folder task.
    task = schema["properties"]["task"]
    named = {k: v for k, v in task.items() if k not in ("title", "description")}
    folder = {"type": "string", "minLength": 1}
    schema["properties"]["task"] = {
        "title": task.get("title", "Task"),
        "description": f"{task.get('description', 'the task')}, or a problem folder: "
        f"{{{' | '.join(FOLDER_FORMATS)}: FOLDER}}",
        "anyOf": [
            named,
            {
                "type": "object",
                "properties": {kind: folder for kind in FOLDER_FORMATS},
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
        ],
    }
    return schema


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `model`'s fields, each once (the schema's `$defs`)."""
    found: list[type[BaseModel]] = []
    todo = [model]
    while todo:
        for field in todo.pop().model_fields.values():
            for inner in _models_in(field.annotation):
                if inner not in found:
                    found.append(inner)
                    todo.append(inner)
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models_in(arg)]


def _add_alias_choices(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A field read under several names (`task_budget`, once `train`): each name is a property
    of its own, and no two of them may be given together, as pydantic validates it."""
    for field in model.model_fields.values():
        choices = field.validation_alias
        if not isinstance(choices, AliasChoices):
            continue
        names = [c for c in choices.choices if isinstance(c, str)]
        if len(names) < 2:
            continue
        first = names[0]  # the name pydantic's schema gives the field
        for other in names:
            if other != first:
                schema["properties"][other] = {
                    **schema["properties"][first],
                    "title": other,
                    "description": f"another name for {first} (not both)",
                }
        schema.setdefault("allOf", []).extend(
            {"not": {"required": list(pair)}} for pair in itertools.combinations(names, 2)
        )


@app.command("config-schema")
def config_schema_command() -> None:
    """Print the JSON schema of a run configuration, for editors
    (`agentic-design config-schema > config.schema.json`)."""
    print(json.dumps(config_schema(), indent=2))
