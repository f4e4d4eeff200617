"""The shipped prompts/ and archive/ folders travel inside a non-editable install."""

import subprocess
import sys
import zipfile

import pytest

from agentic_design.resources import shipped_dir

from .conftest import REPO


def test_a_checkout_finds_its_top_level_folders():
    assert (shipped_dir("archive") / "architecture" / "mnist1d").is_dir()
    assert (shipped_dir("prompts") / "tasks" / "architecture.j2").is_file()


def test_the_wheel_carries_prompts_and_seed_archive(tmp_path):
    pytest.importorskip("setuptools", minversion="77", reason="the build needs setuptools >= 77")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("agentic_design-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for seed in (REPO / "archive").rglob("*.py"):
        assert f"agentic_design/_data/{seed.relative_to(REPO)}" in names
    for template in (REPO / "prompts").rglob("*.j2"):
        assert f"agentic_design/_data/{template.relative_to(REPO)}" in names
