"""Hostile candidates inside OpenEvolve- and Shinka-format problem folders, evaluated as a search
evaluates them: the folder's own evaluator runs beside the candidate (and starts it as a process
of its own, for the OpenEvolve folder) in the sandbox.

Whatever a candidate does, the host is protected: no secret reaches anything recorded, nothing
is written outside the sandbox, no process outlives the evaluation, the folder is unchanged, no
connection leaves it, and the pool goes on serving honest candidates. Where the folder's
evaluator keeps its verdict out of the candidate's reach (a separate process, a result pipe),
forging the score fails too; docs/howto/problem-folders.md ("What this can and cannot
guarantee") says what a folder's evaluator cannot be protected from (it runs beside the
candidate, as it does in those systems).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from agentic_design.config import RunConfig
from agentic_design.records import Status
from agentic_design.run.assemble import build_task, local_evaluation

PROBLEMS = Path(__file__).resolve().parent.parent / "data" / "problems"
HOSTILE = PROBLEMS / "hostile"
SECRET = "sk-hostile-folder-test-5f3a9c"
#: A marker lingering processes carry in their command line (circles_linger.py).
LINGER_MARK = b"31337"
WALL_S = 8


class Listener:
    """A TCP server on 127.0.0.1 counting the connections it accepts."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


def lingering() -> list[int]:
    """Processes on the host whose command line carries the linger mark."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if (LINGER_MARK in cmdline and b"agentic-hostile-linger" in cmdline) or (
            cmdline.startswith(b"sleep\x00" + LINGER_MARK)
        ):
            found.append(int(entry.name))
    return found


def folder_digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def evaluate_all(folder: str, prefix: str, port: int) -> dict[str, object]:
    """Each hostile candidate for `folder`, then the folder's own starting program, evaluated
    in one warm sandbox pool; by file name (`honest FOLDER` for the last)."""
    config = RunConfig.from_dict(
        {
            "task": {"folder": str(PROBLEMS / folder)},
            "sandbox": {"workers": 1, "wall_s": WALL_S, "memory_mb": 1024},
        }
    )
    task = build_task(config)
    results: dict[str, object] = {}
    with local_evaluation(config, task, workers=1) as (evaluator, _, _):
        for path in sorted(HOSTILE.glob(f"{prefix}*.py")):
            code = path.read_text().replace("LOOPBACK_PORT = 0", f"LOOPBACK_PORT = {port}")
            results[path.stem] = evaluator.evaluate(task.complete(code), seed=0)
        results[f"honest {folder}"] = evaluator.evaluate(task.template.program(), seed=0)
    return results


@pytest.fixture(scope="module")
def outcomes():
    os.environ["OPENAI_API_KEY"] = SECRET  # in the search process's environment, as for a user
    listener = Listener()
    before = {
        name: folder_digest(PROBLEMS / name) for name in ("openevolve_circles", "shinka_circles")
    }
    try:
        found = {
            **evaluate_all("openevolve_circles", "circles_", listener.port),
            **evaluate_all("shinka_circles", "shinka_", listener.port),
        }
    finally:
        listener.close()
        del os.environ["OPENAI_API_KEY"]
    after = {name: folder_digest(PROBLEMS / name) for name in before}
    return found, listener.accepted, before, after


def recorded(evaluation) -> str:
    return json.dumps(dataclasses.asdict(evaluation), default=str)


def test_every_candidate_is_evaluated_and_the_pool_still_serves(outcomes):
    found, _, _, _ = outcomes
    assert len(found) == 14  # 10 + 2 hostile candidates, and each folder's honest program
    for folder in ("openevolve_circles", "shinka_circles"):
        honest = found[f"honest {folder}"]
        assert honest.status is Status.OK and honest.fitness is not None, recorded(honest)


def test_no_secret_reaches_anything_recorded(outcomes):
    found, _, _, _ = outcomes
    # What the candidate prints is recorded (the evaluator's artifacts): it could have told.
    assert "SEARCHED the environment" in recorded(found["circles_read_secrets"])
    for name, evaluation in found.items():
        text = recorded(evaluation)
        assert SECRET not in text, name
        assert "LEAK file /root" not in text and ".ssh" not in text.replace('".ssh', ""), name


def test_nothing_is_written_outside_and_the_folders_are_unchanged(outcomes):
    _, _, before, after = outcomes
    assert before == after
    assert not list(Path("/tmp").glob("escape-circles-*"))
    assert not (Path.home() / "escape-circles").exists()


def test_no_process_outlives_its_evaluation():
    deadline = time.monotonic() + 5
    while lingering() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lingering() == []


def test_no_connection_leaves_the_sandbox(outcomes):
    found, accepted, _, _ = outcomes
    assert accepted == 0
    assert "refused 127.0.0.1" in recorded(found["circles_network"])  # what it says is kept
    assert "CONNECTED" not in recorded(found["circles_network"])
    assert "RESOLVED" not in recorded(found["circles_network"])


@pytest.mark.parametrize(
    "name", ["circles_fork_bomb", "circles_kill_parent", "circles_loop_forever", "circles_memory"]
)
def test_runaway_candidates_end_as_failures(outcomes, name):
    found, _, _, _ = outcomes
    evaluation = found[name]
    assert evaluation.status is not Status.OK and evaluation.fitness is None, recorded(evaluation)


@pytest.mark.parametrize(
    "name",
    [
        "circles_forge_result_file",  # writes the result file its evaluator reads
        "circles_forge_validation",  # patches the evaluator's check in its own process
        "shinka_write_results",  # rewrites metrics.json and correct.json, from a daemon too
        "shinka_patch_validate",  # patches validate functions in the evaluator's process
    ],
)
def test_forged_scores_do_not_count_where_the_evaluator_keeps_its_verdict_apart(outcomes, name):
    found, _, _, _ = outcomes
    evaluation = found[name]
    # No forged score: either judged invalid, or scored on the packing it really returned,
    # which can be no better than the best known (OpenEvolve's folder scores the ratio to it,
    # Shinka's the sum of radii itself); the forgeries claim 1000.
    best_possible = 1.001 if name.startswith("circles_") else 2.6360
    assert evaluation.fitness is None or evaluation.fitness <= best_possible, recorded(evaluation)
