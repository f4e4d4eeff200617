"""The configuration reference, written from the pydantic models themselves at each build, so
that it names every key the code accepts with the code's own types, defaults and descriptions.

One section per YAML key path (`search.selection`), found by walking `RunConfig`'s fields: a
model added to the configuration appears here without a change to this file. A model reached a
second time (`agent_llm` is an `llm` block) points to the section that lists its keys. The
task's budget (`task_budget:`) is validated by the task's own model; each built-in task's model
has a section of its own.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from agentic_design.config import FOLDER_FORMATS, RunConfig
from agentic_design.tasks import BUILTIN_TASKS, TaskBudget, task_class

SCHEMA_URL = "../schema/config.schema.json"


def anchor(path: str) -> str:
    """The HTML id of a key path's section: `search.meta_agent` -> `search-meta_agent`."""
    return path.replace("[]", "").replace(".", "-") or "top-level"


def type_name(annotation: Any, links: dict[type[BaseModel], str]) -> str:
    """A type as a reader of a YAML file thinks of it: `float | null`, `list[str]`,
    `"weights" | "bandit"`, a nested block as a link to its section."""
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[mapping](#{anchor(links[annotation])})" if annotation in links else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " | ".join(json.dumps(m.value) for m in annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a, links) for a in args)
    if origin in (list, tuple, set, frozenset):
        return f"list[{', '.join(type_name(a, links) for a in args if a is not Ellipsis)}]"
    if origin is dict:
        return f"dict[{type_name(args[0], links)}, {type_name(args[1], links)}]"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def bounds(field: FieldInfo) -> str:
    """The field's numeric and length constraints, as `≥ 1, ≤ 64`."""
    signs = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}
    parts = []
    for item in field.metadata:
        for attr, sign in signs.items():
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                parts.append(f"{sign} {getattr(item, attr)}")
        if isinstance(item, annotated_types.MinLen):
            parts.append(f"length ≥ {item.min_length}")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"length ≤ {item.max_length}")
    return ", ".join(parts)


def default_text(field: FieldInfo) -> str:
    """The default as it would be written in YAML, `required`, or a nested block's note."""
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "its keys' defaults"
    return f"`{json.dumps(value, default=str)}`"


def keys_text(name: str, field: FieldInfo) -> str:
    """The key, with the other names it is read under (`task_budget`, or `train`)."""
    names = [name]
    if isinstance(field.validation_alias, AliasChoices):
        names += [c for c in field.validation_alias.choices if isinstance(c, str) and c != name]
    return " or ".join(f"`{n}`" for n in names)


def description(field: FieldInfo) -> str:
    """The field's own description, else the first line of its nested model's docstring."""
    if field.description:
        return field.description
    for inner in models_in(field.annotation):
        return first_paragraph(inner)
    return ""


def first_paragraph(model: type) -> str:
    return " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds: itself, a list's items, an optional's value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in models_in(a)]


def in_list(annotation: Any, model: type[BaseModel]) -> bool:
    """Whether `model` is the item type of a list in `annotation` (`list[ModelConfig] | None`)."""
    if typing.get_origin(annotation) is list:
        return model in models_in(annotation)
    return any(in_list(a, model) for a in typing.get_args(annotation))


def sections(root: type[BaseModel] = RunConfig) -> list[tuple[str, type[BaseModel]]]:
    """(key path, model) for every block of the configuration, depth first in field order;
    `""` is the top level and `llm.models[]` the items of the list `llm.models`."""
    found: list[tuple[str, type[BaseModel]]] = []

    def walk(path: str, model: type[BaseModel]) -> None:
        found.append((path, model))
        if [m for p, m in found].count(model) > 1:
            return  # its keys are listed where it first appears
        for name, field in model.model_fields.items():
            for inner in models_in(field.annotation):
                child = f"{path}.{name}" if path else name
                walk(f"{child}[]" if in_list(field.annotation, inner) else child, inner)

    walk("", root)
    return found


def table_cell(text: str) -> str:
    """Text safe in a Markdown table cell: `|` escaped, and `<` outside code spans too, so
    that `runs/<name>` is not read as an HTML tag."""
    parts = re.split(r"(`[^`]*`)", text.replace("|", "\\|"))
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;") for p in parts)


def table(model: type[BaseModel], links: dict[type[BaseModel], str]) -> list[str]:
    rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        kind = type_name(field.annotation, links)
        limits = bounds(field)
        cells = [
            keys_text(name, field),
            f"{kind}, {limits}" if limits else kind,
            default_text(field),
            description(field),
        ]
        rows.append("| " + " | ".join(table_cell(cell) for cell in cells) + " |")
    return rows


def budget_models() -> dict[type[TaskBudget], list[str]]:
    """Each built-in task's budget model, with the tasks that use it, in registry order."""
    models: dict[type[TaskBudget], list[str]] = {}
    for name in BUILTIN_TASKS:
        models.setdefault(task_class(name).budget_model, []).append(name)
    return models


def render() -> str:
    """The whole page, in Markdown."""
    found = sections()
    links: dict[type[BaseModel], str] = {}
    for path, model in found:
        links.setdefault(model, path)
    lines = [
        "# Configuration reference",
        "",
        "Every key of a run's YAML file, as the code defines it: this page is generated from "
        "the configuration's pydantic models (`agentic_design/config.py`) at each build. "
        "Unknown keys are rejected with the file and the dotted path of the mistake. "
        f"The same definitions, as a [JSON schema]({SCHEMA_URL}), let an editor check a file "
        "as you type (see [JSON schema](schema.md)).",
        "",
    ]
    for path, model in found:
        title = path or "Top level"
        lines += [f"## {title} {{ #{anchor(path)} }}", ""]
        if links[model] != path:
            first = links[model]
            lines += [f"The same keys as [`{first}`](#{anchor(first)}).", ""]
            continue
        lines += [first_paragraph(model), "", *table(model, links), ""]
        if model is RunConfig:
            kinds = ", ".join(f"`{{{kind}: FOLDER}}`" for kind in FOLDER_FORMATS)
            lines += [
                f"`task` may also name another system's problem folder: {kinds}. It is run "
                "as the built-in task `problem_folder`, its folder and format given as its "
                "`task_params`.",
                "",
            ]
    lines += [
        "## Task budgets { #task-budgets }",
        "",
        "The `task_budget:` block (`train:` in older files) holds the limits of one "
        "evaluation; the task's own budget model validates it, so its keys depend on the "
        "task. A task of your own extends `agentic_design.TaskBudget` with its fields. The "
        "built-in tasks' models:",
        "",
    ]
    for model, tasks in budget_models().items():
        names = ", ".join(f"`{t}`" for t in tasks)
        lines += [
            f"### {model.__name__} {{ #budget-{model.__name__.lower()} }}",
            "",
            f"Tasks: {names}. {first_paragraph(model)}",
            "",
            *table(model, links),
            "",
        ]
    return "\n".join(lines)
