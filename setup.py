"""Ship the top-level `prompts/` and `archive/` folders inside the wheel.

They live at the repository root for people to read and edit; a non-editable install copies
them to `agentic_design/_data/`, where `agentic_design.resources` looks first.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("prompts", "archive")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "agentic_design" / "_data"
        for name in SHIPPED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )


setup(cmdclass={"build_py": BuildPyWithData})
