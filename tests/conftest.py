"""Shared fixtures: small but real configurations, run directories and CLI invocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

# Small ADAS-format archives of our own, one per kind of ADAS result file the tests rely on
# (tests/data/adas/README.md says what each entry is for). Resolved: as an import records it.
ADAS_DATA = (REPO / "tests" / "data" / "adas").resolve()
ADAS_ARCHIVES = {
    domain: ADAS_DATA / f"{domain}_small_results.json" for domain in ("arc", "drop", "mgsm")
}

# Three archives ADAS itself published (Apache-2.0, data only). They are not part of the
# repository: the tests that read them run only where $AGENTIC_DESIGN_ADAS_ARCHIVES names a
# folder holding them; elsewhere they skip, saying so. No test looks outside the repository.
REAL_ADAS_ENV = "AGENTIC_DESIGN_ADAS_ARCHIVES"
REAL_ADAS_FILES = {domain: f"{domain}_gpt3.5_results.json" for domain in ("arc", "drop", "mgsm")}


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
        # Every design evaluated in full and once: tests built on this config count designs,
        # evaluations and calls. Fingerprints and cheap evaluations first are tested on their
        # own, in real searches too (test_every_evaluation.py, test_cheap_first.py).
        "search": {
            "evolution": {"population": 8, "tournament": 3},
            "report": False,
            "behaviour": False,
            "fidelity": {"enabled": False},
        },
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


def find_real_adas_archives() -> tuple[dict[str, Path] | None, str]:
    """ADAS's three real archives by domain, or None and why they are not here: the folder
    $AGENTIC_DESIGN_ADAS_ARCHIVES names is the only place looked in."""
    named = os.environ.get(REAL_ADAS_ENV, "")
    if not named:
        return None, f"ADAS's real archives are not here: ${REAL_ADAS_ENV} names no folder"
    folder = Path(named).expanduser().resolve()
    where = f"{folder} (named by ${REAL_ADAS_ENV})"
    if not folder.is_dir():
        return None, f"ADAS's real archives are not here: {where} does not exist"
    paths = {domain: folder / name for domain, name in REAL_ADAS_FILES.items()}
    missing = sorted(path.name for path in paths.values() if not path.is_file())
    if missing:
        return None, f"ADAS's real archives are not here: {where} lacks {', '.join(missing)}"
    return paths, ""


@pytest.fixture(scope="session")
def real_adas_archives() -> dict[str, Path]:
    """ADAS's real archives ("arc", "drop", "mgsm" -> path); the test is skipped, saying which
    folder was missing, where they are not here."""
    paths, why = find_real_adas_archives()
    if paths is None:
        pytest.skip(why)
    return paths


def adas_archive(request: pytest.FixtureRequest, source: str, domain: str) -> Path:
    """The `domain` archive of our own (`source` "ours") or ADAS's real one ("real", skipping
    the test where those are not here)."""
    if source == "real":
        return request.getfixturevalue("real_adas_archives")[domain]
    assert source == "ours", source
    return ADAS_ARCHIVES[domain]


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
