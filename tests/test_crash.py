"""Crash safety (issue 10): a real search, stopped at random moments by SIGKILL, SIGTERM or
SIGINT and resumed until it finishes, loses nothing finished, repeats nothing and keeps to its
budget; a store written by a newer version of this package is refused rather than misread.

The moments are drawn from a seeded generator and measured by what the store shows (designs
finished, the process having taken the run over), so the trials are the same on any machine;
what a slow or a fast machine changes is only where a kill lands, and every check holds
wherever it lands.
"""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from agentic_design.records import ArchiveError, Proposal, Status
from agentic_design.store.archive import SCHEMA_VERSION, Archive

from .conftest import REPO

BUDGET = 24  # designs: the three seeds and 21 proposed
TRIALS = 12
PLAN_SEED = 112  # the kill plans; this seed's cover what the first test below asks of them
SIGNALS = [signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGINT]


def binpack_config(run_dir: Path) -> dict:
    """A real search on a heuristic evaluated in the sandbox, about two seconds of designs."""
    return {
        "name": run_dir.name,
        "task": "binpack",
        "task_params": {"distribution": "weibull", "items": 500, "instances": 2},
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": BUDGET},
        "sandbox": {"workers": 2, "wall_s": 60},
        # Every design evaluated once, in full: the invariants below count designs. (Cheap
        # evaluations first and duplicates are resumed in tests/test_cheap_first.py.)
        "search": {
            "evolution": {"population": 8, "tournament": 3},
            "fidelity": {"enabled": False},
            "behaviour": False,
        },
    }


@dataclass(frozen=True)
class Kill:
    """One stop: `signal`, once the process has taken the run over and `finished` designs are
    finished (at once if they already were), or `delay_s` after it took the run over."""

    signal: signal.Signals
    finished: int | None = None
    delay_s: float | None = None


def plan_kills(rng: random.Random) -> list[Kill]:
    """One to three stops, each at the moment the process takes the run over (its sandbox is
    still starting), at a number of finished designs (the last: during the final test), or
    after a delay."""
    kills = []
    for _ in range(rng.randint(1, 3)):
        sig = rng.choice(SIGNALS)
        moment = rng.choice(["takeover", "finished", "delay"])
        if moment == "takeover":
            kills.append(Kill(sig, delay_s=0.0))
        elif moment == "finished":
            kills.append(Kill(sig, finished=rng.randint(1, BUDGET)))
        else:
            kills.append(Kill(sig, delay_s=round(rng.uniform(0.0, 1.5), 3)))
    return kills


@dataclass
class Trial:
    """What one trial did, for the record: each stop, and how many runs it took."""

    number: int
    stops: list[dict] = field(default_factory=list)
    resumes: int = 0
    seconds: float = 0.0
    missing_code_files: list[int] = field(default_factory=list)


# -- the store, read as a watcher reads it ---------------------------------------------------------
def _query(db: Path, sql: str) -> list[tuple]:
    if not db.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the store is being created
        return []


def _meta(db: Path, key: str) -> object:
    rows = _query(db, f"SELECT value FROM meta WHERE key = '{key}'")
    return json.loads(rows[0][0]) if rows else None


def _finished(db: Path) -> dict[int, tuple]:
    """Each finished design: its status, fitness, code and the id of its search evaluation."""
    return {
        row[0]: row[1:]
        for row in _query(
            db,
            "SELECT d.id, d.status, d.fitness, d.code_hash, e.id FROM designs d "
            "LEFT JOIN evaluations e ON e.design_id = d.id AND e.purpose = 'search' "
            "WHERE d.status != 'pending'",
        )
    }


def _codes(db: Path) -> dict[int, str]:
    return dict(_query(db, "SELECT id, code_hash FROM designs"))


# -- one process of the run ----------------------------------------------------------------------
def _start(*args: str) -> subprocess.Popen:
    """The command line in a child that takes Ctrl-C as a terminal delivers it (a background
    job inherits SIGINT ignored; the child restores the default)."""
    return subprocess.Popen(
        [sys.executable, "-m", "agentic_design", *args, "--no-progress"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for(proc: subprocess.Popen, db: Path, kill: Kill, deadline_s: float = 300) -> bool:
    """Wait until the process has taken the run over (its pid in the store) and the kill's
    moment has come; False if the process ended before."""
    deadline = time.monotonic() + deadline_s
    taken_over = None
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the run neither finished nor reached the moment"
        if taken_over is None and _meta(db, "pid") == proc.pid:
            taken_over = time.monotonic()
        if taken_over is not None:
            if kill.finished is not None and len(_finished(db)) >= kill.finished:
                return True
            if kill.delay_s is not None and time.monotonic() - taken_over >= kill.delay_s:
                return True
        time.sleep(0.01)
    return False


def _check_stopped(proc: subprocess.Popen, sig: signal.Signals, stderr: str, db: Path) -> None:
    """SIGKILL ends the process where it is; SIGTERM and SIGINT stop the search cleanly."""
    state = _meta(db, "state")
    if state == "finished" and _meta(db, "summary") is not None:
        return  # the signal came after the search had recorded its end: nothing left to stop
    if sig is signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL, stderr
        return
    assert proc.returncode == 130, f"{sig.name}: exit {proc.returncode}, state {state}\n{stderr}"
    assert state == "interrupted", f"{sig.name}: state {state}\n{stderr}"
    assert "Traceback" not in stderr, stderr


def _run_trial(number: int, run_dir: Path, config: Path) -> Trial:
    """Start the run, stop it as planned (resuming after each stop), and finish it."""
    rng = random.Random(PLAN_SEED * 1000 + number)
    trial, db = Trial(number), run_dir / "run.db"
    started = time.monotonic()
    snapshots: list[tuple[dict[int, tuple], dict[int, str]]] = []
    proc = _start("run", str(config))
    for kill in plan_kills(rng):
        came = _wait_for(proc, db, kill)
        if came:
            proc.send_signal(kill.signal)
        _, stderr = proc.communicate(timeout=120)
        finished, codes = _finished(db), _codes(db)
        assert len(codes) <= BUDGET, "more designs than the budget allows"
        snapshots.append((finished, codes))
        trial.stops.append(
            {"signal": kill.signal.name if came else "none (it had ended)",
             "finished": len(finished), "designs": len(codes), "exit": proc.returncode}
        )  # fmt: skip
        if came:
            _check_stopped(proc, kill.signal, stderr, db)
        else:
            assert proc.returncode == 0, stderr
        if _meta(db, "state") == "finished":
            break
        trial.resumes += 1
        proc = _start("resume", str(run_dir))
    if proc.returncode is None:  # the last resume goes on undisturbed
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    trial.seconds = round(time.monotonic() - started, 1)
    trial.missing_code_files = _check_finished_run(run_dir, snapshots)
    return trial


# -- what a finished run must show -----------------------------------------------------------------
def _check_finished_run(
    run_dir: Path, snapshots: list[tuple[dict[int, tuple], dict[int, str]]]
) -> list[int]:
    """Check the finished run against its snapshots; return designs whose code file is missing."""
    db = run_dir / "run.db"
    with Archive.open(run_dir, readonly=True) as archive:
        designs = archive.designs()
        assert archive.meta("state") == "finished"
        summary = archive.meta("summary")
        assert summary is not None and summary["stopped_by"] == "evaluations"
        assert summary["designs"] == BUDGET and archive.meta("test") is not None
    ids = [d.id for d in designs]
    assert ids == list(range(1, BUDGET + 1)), "design ids must be unique, dense, within budget"
    assert all(d.status is not Status.PENDING for d in designs)

    per_design = dict(
        _query(db, "SELECT design_id, COUNT(*) FROM evaluations WHERE purpose = 'search' "
                   "GROUP BY design_id")
    )  # fmt: skip
    assert per_design == {i: 1 for i in ids}, "each design is evaluated for the search once"
    tests = _query(db, "SELECT design_id FROM evaluations WHERE purpose = 'test'")
    assert len(tests) == 1, f"the best is scored on the test split once, not {len(tests)} times"

    final_finished, final_codes = _finished(db), _codes(db)
    for finished, codes in snapshots:  # nothing finished at a stop changed after it
        assert {i: final_finished[i] for i in finished} == finished
        assert {i: final_codes[i] for i in codes} == codes  # nor any design's code

    files = {int(f.name[:5]): f for f in (run_dir / "designs").glob("*.py")}
    assert len(files) == len(list((run_dir / "designs").glob("*.py"))), "one file per design"
    # a stop between a design's commit and its file's write is mended by the resume
    assert set(files) == set(ids), "a design without its code file, or a file without a design"
    for design in designs:
        assert files[design.id].read_text().endswith(design.code), f"design {design.id}"
    return sorted(set(ids) - set(files))


# -- the trials -------------------------------------------------------------------------------
def test_the_kill_plans_cover_every_signal_at_the_moments_that_matter():
    """The plans themselves (no run), so that the trials below cover what they claim whatever
    the machine: every signal while the sandbox starts, a stop during the final test (once all
    designs are finished), several stops in one run, and mostly SIGKILL."""
    plans = [plan_kills(random.Random(PLAN_SEED * 1000 + n)) for n in range(TRIALS)]
    kills = [kill for plan in plans for kill in plan]
    at_takeover = {k.signal for k in kills if k.delay_s == 0.0}
    assert at_takeover == {signal.SIGKILL, signal.SIGTERM, signal.SIGINT}
    at_final_test = {k.signal for k in kills if k.finished == BUDGET}
    assert signal.SIGKILL in at_final_test and at_final_test - {signal.SIGKILL}
    assert any(k.delay_s for k in kills) and any(k.finished for k in kills)
    assert sum(len(plan) >= 2 for plan in plans) >= TRIALS // 2
    assert sum(k.signal is signal.SIGKILL for k in kills) >= len(kills) // 3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_run_stopped_at_random_moments_and_resumed_loses_and_repeats_nothing(tmp_path):
    trials = []
    for number in range(TRIALS):
        run_dir = tmp_path / f"trial{number:02d}"
        config = tmp_path / f"trial{number:02d}.yaml"
        config.write_text(yaml.safe_dump(binpack_config(run_dir)))
        trials.append(_run_trial(number, run_dir, config))
    figures = _figures(trials)
    (tmp_path / "crash_trials.txt").write_text(figures)
    print(f"\n{figures}")


def _figures(trials: list[Trial]) -> str:
    """The trials as a table: each stop (its signal, designs finished/recorded then; the rest
    were pending, for the resume to evaluate), the resumes it took, the time."""
    lines = [
        f"{TRIALS} trials, budget {BUDGET} designs, kill plans seeded {PLAN_SEED}; "
        "a stop reads SIGNAL@finished/recorded (exit code)"
    ]
    for t in trials:
        stops = ", ".join(
            f"{s['signal']}@{s['finished']}/{s['designs']} (exit {s['exit']})" for s in t.stops
        )
        missing = f"; code files missing: {t.missing_code_files}" if t.missing_code_files else ""
        lines.append(
            f"trial {t.number:2d}: {t.resumes} resumes, {t.seconds:5.1f} s; {stops}{missing}"
        )
    kills = [s for t in trials for s in t.stops if not s["signal"].startswith("none")]
    lines.append(
        f"total: {len(kills)} stops, {sum(t.resumes for t in trials)} resumes, "
        f"{sum(t.seconds for t in trials):.0f} s"
    )
    return "\n".join(lines)


# -- a store from a newer version ------------------------------------------------------------------
@pytest.mark.parametrize("readonly", [True, False])
def test_a_store_of_a_newer_schema_is_refused_not_misread(tmp_path, readonly):
    with Archive.create(tmp_path / "run", meta={"name": "future"}) as archive:
        archive.add(Proposal(name="a", thought="", code="x = 1\n"), eval_seed=0,
                    task_fingerprint="f")  # fmt: skip
        archive.set_meta("schema_version", SCHEMA_VERSION + 1)
    with pytest.raises(ArchiveError, match=re.escape(f"schema version {SCHEMA_VERSION + 1}")):
        Archive.open(tmp_path / "run", readonly=readonly).close()
    with closing(sqlite3.connect(tmp_path / "run" / "run.db")) as conn:
        (version,) = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert json.loads(version) == SCHEMA_VERSION + 1  # left as it was


# -- a stop at one exact moment ------------------------------------------------------------------
# The command line in a child whose store stops the process — SIGKILL, or KeyboardInterrupt as
# a Ctrl-C raises it — the first time a given write is about to happen: windows between two
# writes too narrow for a random stop to find often.
_STOPS_BEFORE = """
import os, runpy, signal
from agentic_design.store.archive import Archive
write, fired = Archive.{method}, []
def stop_before(self, *args, **kwargs):
    if not fired and {condition}:
        fired.append(True)
        {action}
    return write(self, *args, **kwargs)
Archive.{method} = stop_before
runpy.run_module("agentic_design", run_name="__main__", alter_sys=True)
"""
KILL = "os.kill(os.getpid(), signal.SIGKILL)"
CTRL_C = "raise KeyboardInterrupt"


def _run_stopped_before(
    method: str, condition: str, action: str, tmp_path: Path
) -> subprocess.CompletedProcess:
    """A search that stops as `Archive.<method>` is first called with `condition` true."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(binpack_config(tmp_path / "run")))
    program = _STOPS_BEFORE.format(method=method, condition=condition, action=action)
    return subprocess.run(
        [sys.executable, "-c", program, "run", str(config), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _killed_before(method: str, condition: str, tmp_path: Path) -> Path:
    """Kill a search as `Archive.<method>` is called with `condition` true, and resume it to
    the end; return its run directory."""
    killed = _run_stopped_before(method, condition, KILL, tmp_path)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = _resume(tmp_path / "run")
    assert resumed.returncode == 0, resumed.stderr
    return tmp_path / "run"


def _resume(run_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agentic_design", "resume", str(run_dir), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_ctrl_c_while_the_end_of_a_run_is_recorded_leaves_it_interrupted_and_resumable(tmp_path):
    stopped = _run_stopped_before("set_meta_many", "'summary' in args[0]", CTRL_C, tmp_path)
    assert stopped.returncode == 130, stopped.stderr
    assert "interrupted" in stopped.stderr and "Traceback" not in stopped.stderr
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert archive.meta("state") == "interrupted"
        assert archive.meta("summary")["stopped_by"] == "interrupted"
    resumed = _resume(tmp_path / "run")
    assert resumed.returncode == 0, resumed.stderr
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert archive.meta("state") == "finished" and archive.total() == BUDGET
        tests = [e for d in archive.designs() for e in archive.evaluations(d.id)]
        assert sum(e["purpose"] == "test" for e in tests) == 1


@pytest.mark.slow
def test_a_kill_between_the_test_score_and_its_record_does_not_score_the_test_split_again(
    tmp_path,
):
    run_dir = _killed_before("set_meta", "args[0] == 'test'", tmp_path)
    with Archive.open(run_dir, readonly=True) as archive:
        best, test = archive.best(), archive.meta("test")
        assert archive.meta("state") == "finished"
        assert best is not None and test["design_id"] == best.id
        scored = [e for e in archive.evaluations(best.id) if e["purpose"] == "test"]
        assert len(scored) == 1, "the test split is looked at once"
        assert test["fitness"] == scored[0]["fitness"] and test["summary"]
        assert archive.meta("summary")["test"]["fitness"] == scored[0]["fitness"]


@pytest.mark.slow
def test_a_kill_between_a_designs_commit_and_its_code_file_leaves_no_design_without_its_file(
    tmp_path,
):
    run_dir = _killed_before("_write_code_file", "args[0] == 5", tmp_path)
    files = {int(f.name[:5]): f for f in (run_dir / "designs").glob("*.py")}
    with Archive.open(run_dir, readonly=True) as archive:
        designs = archive.designs()
    assert sorted(files) == [d.id for d in designs]
    assert all(files[d.id].read_text().endswith(d.code) for d in designs)
