"""Module paths from before the package's folders (release 0.1.0) keep working: a run directory
written then resumes, replays and reports; old imports give the modules that now hold the code."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agentic_design import Archive, Search, Status
from agentic_design.moved import MOVED

OLD_RUN = Path(__file__).parent / "data" / "old_runs" / "binpack-0.1.0"


def test_every_old_module_path_imports_in_a_fresh_interpreter():
    probe = (
        "import importlib, sys\n"
        f"for old in {sorted(MOVED)!r}:\n"
        "    module = importlib.import_module(old)\n"
        "    assert sys.modules[old] is module, old\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_an_old_path_is_the_module_that_now_holds_the_code():
    import agentic_design.archive as old

    import agentic_design.store.archive as new

    assert old is new
    assert old.__spec__ is not None and old.__spec__.name == "agentic_design.store.archive"


def test_a_module_split_in_the_move_offers_all_its_old_names():
    from agentic_design.evaluation import evaluate_in_sandbox, limits_for, sandbox_for
    from agentic_design.proposers.operators import Operators, generic_operators
    from agentic_design.tasks.agent_data import Example, normalise_answer

    from agentic_design.run.assemble import sandbox_for as assembled
    from agentic_design.run.assemble import sandbox_limits
    from agentic_design.tasks.architecture import TrainBudget, installed_paths, standardise

    assert limits_for is sandbox_limits and sandbox_for is assembled
    assert isinstance(generic_operators(), Operators)
    assert normalise_answer("42.0") == "42" and Example and evaluate_in_sandbox
    assert TrainBudget and installed_paths and standardise


def test_an_unknown_old_path_is_still_an_import_error():
    with pytest.raises(ModuleNotFoundError):
        __import__("agentic_design.no_such_module")


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    copy = tmp_path / "old"
    shutil.copytree(OLD_RUN, copy)
    return copy


def _recorded(run: Path) -> dict[int, tuple[str, float | None]]:
    with sqlite3.connect(run / "run.db") as db:
        return {i: (s, f) for i, s, f in db.execute("SELECT id, status, fitness FROM designs")}


def test_a_run_written_before_the_move_opens_and_replays(old_run: Path):
    with Archive.open(old_run) as archive:
        best = archive.best()
        assert best is not None and best.name == "Best fit"
        assert archive.run_config().sandbox.preload == ["agentic_design.program_check"]
        replay = archive.replay(best.id)
    assert replay.matches and replay.exact, replay


@pytest.mark.slow
def test_a_run_killed_before_the_move_resumes_and_loses_nothing(old_run: Path):
    before = _recorded(old_run)
    pending = [i for i, (status, _) in before.items() if status == Status.PENDING.value]
    assert pending == [10]  # the fixture: killed with its tenth design in flight
    result = Search.resume(old_run, progress=False).run()
    after = _recorded(old_run)
    assert result.total == 10
    assert {i: r for i, r in after.items() if i not in pending} == {
        i: r for i, r in before.items() if i not in pending
    }
    assert after[10][0] == Status.OK.value and after[10][1] is not None
