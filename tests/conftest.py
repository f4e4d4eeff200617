"""Shared fixtures: small but real configurations, run directories and CLI invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def small_digits_config(run_dir: Path, evaluations: int = 12, **extra: object) -> dict:
    """A real digits search that finishes in seconds: few evaluations, short training."""
    config = {
        "name": run_dir.name,
        "task": "digits",
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "train": {"max_epochs": 8, "max_seconds": 2},
        "sandbox": {"workers": 2, "wall_s": 60},
        # The report is tested on its own (test_report.py); here it would only cost time.
        "search": {"evolution": {"population": 8, "tournament": 3}, "report": False},
    }
    config.update(extra)
    return config


@pytest.fixture
def digits_config_file(tmp_path: Path) -> Path:
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(small_digits_config(tmp_path / "run")))
    return path


def cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `agentic-design` command in a subprocess."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "agentic_design", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def busy_machine():
    """Two processes spinning on the CPU (each ends itself after two minutes at most), as a
    loaded machine: what a test does meanwhile must not depend on the machine's speed."""
    spin = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        yield spinners
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()
