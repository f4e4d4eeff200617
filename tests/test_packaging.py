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


def test_the_compromised_litellm_releases_can_never_be_installed():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    litellm = next(Requirement(d) for d in project["dependencies"] if d.startswith("litellm"))
    assert not litellm.specifier.contains("1.82.7") and not litellm.specifier.contains("1.82.8")
    assert litellm.specifier.contains("1.82.6") and litellm.specifier.contains("1.82.9")
    pins = dict(
        line.split("==")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert litellm.specifier.contains(pins["litellm"])  # the pinned version is an allowed one
    for dependency in project["dependencies"]:  # every dependency is pinned, within its range
        requirement = Requirement(dependency)
        pinned = next(v for k, v in pins.items() if k.lower().replace("_", "-") == requirement.name)
        assert requirement.specifier.contains(pinned), (requirement, pinned)
    assert "-c constraints.txt -e" in (REPO / ".ci" / "run").read_text()  # CI installs them
