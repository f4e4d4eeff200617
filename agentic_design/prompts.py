"""The Jinja environment for every text the project renders: prompts, task descriptions, exports.

Templates live in the shipped `prompts/` folder; a user's `prompts_dir` is searched first, so any
template can be overridden by a file of the same name. StrictUndefined makes a template that
names a missing variable fail loudly instead of rendering an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from agentic_design.resources import shipped_dir


@lru_cache(maxsize=8)
def environment(user_dir: str | None = None) -> jinja2.Environment:
    folders = [str(Path(user_dir))] if user_dir else []
    folders.append(str(shipped_dir("prompts")))
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # we render code and prompts, never HTML
    )


def render(template: str, user_dir: str | None = None, **variables: Any) -> str:
    """Render `template` (a path under prompts/) with `variables`."""
    return environment(user_dir).get_template(template).render(**variables)
