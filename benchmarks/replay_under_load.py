"""Does `replay --search` give the recorded search back on a loaded machine? (issue 21)

    python benchmarks/replay_under_load.py [--evaluations 14] [--replays 10] [--busy 4]

1. A meta-agent search of examples/digits.yaml (`--evaluations`, 2 workers, training cut at
   `--max-seconds`) through `agentic-design run --llm openai/... --api-base URL`, against the
   loopback OpenAI-protocol test server: `--fault-rate` of its requests get a retryable fault
   (seeded), and it answers like a model at temperature > 0 — the same request asked again gets
   another design (a counter per distinct request picks it), so designs that send the same
   request get different answers. One design in five it writes fails, so repairs happen too.
2. `--replays` times `agentic-design replay RUN --search --run-dir NEW`, with no server, while
   `--busy` processes spin on the CPUs; each replay is compared with the recording design for
   design by benchmarks/compare_runs.py (timings ignored, everything else exact).
Goal: every replay exits 0 and compare_runs.py finds 0 differing designs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.llm_server import ScriptedLLM  # the test server, reused

ROOT = Path(__file__).resolve().parent.parent

MLP = """from torch import nn


def build_model(input_shape, num_classes):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, {hidden}), nn.ReLU(), nn.Linear({hidden}, num_classes)
    )


def train_recipe():
    return {{"optimizer": "adam", "lr": {lr}, "epochs": {epochs}, "batch_size": {batch}}}
"""
CNN = """from torch import nn


def build_model(input_shape, num_classes):
    return nn.Sequential(
        nn.Conv2d(1, {channels}, 3, padding=1), nn.ReLU(),
        nn.Conv2d({channels}, {channels}, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear({channels} * 16, num_classes),
    )


def train_recipe():
    return {{"optimizer": "adam", "lr": {lr}, "epochs": 30, "batch_size": {batch}}}
"""
BROKEN = """from torch import nn


def build_model(input_shape, num_classes):
    # 65 inputs where the image has 64: fails on the first batch
    return nn.Sequential(nn.Flatten(), nn.Linear(65, {hidden}), nn.Linear({hidden}, num_classes))
"""


# What a replay changes by design, or the machine does, left out of the comparison:
# peak_memory_mb moves by about half a megabyte from run to run (compare_runs.py's docstring);
# a replay trains for the recorded number of steps (Task.replay_budget), so its trainer says it
# stopped by `steps` where the recording's stopped by `time`, and its device is the one the
# budget names rather than the one `auto` chose. The steps themselves, every loss, accuracy and
# the fitness must match.
TOLERATED = ("peak_memory_mb", "stopped_by", "device_reason")
SHOWN = 120  # characters of compare_runs.py's first difference shown in the table


def design(k: int) -> tuple[str, str, str]:
    """The k-th design the model writes: (name, thought, code). MLPs, CNNs slow enough that
    the time limit stops their training, and, one in five, a design that fails."""
    lr = (0.003, 0.01, 0.02)[k % 3]
    batch = (32, 64, 128)[(k // 3) % 3]
    family = k % 5
    if family in (0, 1):
        hidden = 16 + 8 * (k % 11)
        code = MLP.format(hidden=hidden, lr=lr, epochs=4 + k % 7, batch=batch)
        return f"MLP {hidden} wide", f"an MLP of width {hidden}, lr {lr}", code
    if family in (2, 3):
        channels = 8 + 4 * (k % 7)
        code = CNN.format(channels=channels, lr=lr, batch=batch)
        return f"CNN {channels} channels", f"two convolutions of {channels} channels", code
    hidden = 32 + k % 9
    return f"MLP {hidden} shifted", "a linear layer too many inputs", BROKEN.format(hidden=hidden)


class VariedModel:
    """Answers in the meta-agent's fenced format; a request seen before gets the next design,
    as a model sampling at temperature > 0 would (retries of a faulted request included)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()  # the server answers from several threads

    def __call__(self, request: dict[str, Any]) -> str:
        prompt = request["messages"][-1]["content"]
        if "Reply with the word ok" in prompt:
            return "ok"
        identity = json.dumps(request["messages"], sort_keys=True)
        digest = hashlib.sha256(identity.encode()).hexdigest()
        with self._lock:
            times = self._seen.get(digest, 0)
            self._seen[digest] = times + 1
        name, thought, code = design(int(digest[:6], 16) + 7 * times)
        return f"NAME: {name}\nTHOUGHT: {thought}\n```python\n{code}```\n"

    @property
    def repeated(self) -> int:
        """Distinct requests the server was asked more than once."""
        with self._lock:
            return sum(n > 1 for n in self._seen.values())


def agentic_design(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "agentic_design", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "1000"},  # the console's lines unwrapped, to quote them
    )
    return result, time.perf_counter() - started


def recording(run: Path) -> dict[str, Any]:
    """What the run's recording holds: its designs, calls, failed attempts, and requests
    (messages and parameters; the key adds the design's sample number) that more than one
    design sent and that got different answers."""
    with sqlite3.connect(run / "run.db") as db:
        calls, failed = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(error IS NOT NULL), 0) FROM llm_calls"
        ).fetchone()
        shared = db.execute(
            "SELECT COUNT(*) FROM (SELECT request FROM llm_calls WHERE error IS NULL "
            "AND design_id IS NOT NULL GROUP BY request "
            "HAVING COUNT(DISTINCT design_id) > 1 AND COUNT(DISTINCT response) > 1)"
        ).fetchone()[0]
        designs = db.execute("SELECT COUNT(*) FROM designs").fetchone()[0]
        timed = db.execute(
            "SELECT COUNT(*) FROM designs WHERE json_extract(metrics, '$.stopped_by') = 'time'"
        ).fetchone()[0]
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM designs GROUP BY status"))
    return {
        "calls": calls,
        "failed": failed,
        "shared": shared,
        "designs": designs,
        "timed": timed,
        "statuses": statuses,
    }


def compare(recorded: Path, replayed: Path) -> tuple[int | None, str]:
    """(designs that differ, the first difference) by benchmarks/compare_runs.py."""
    script = str(ROOT / "benchmarks" / "compare_runs.py")
    tolerated = [arg for name in TOLERATED for arg in ("--tolerate", name)]
    result = subprocess.run(
        [sys.executable, script, str(recorded), str(replayed), *tolerated],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.splitlines() or [result.stderr.strip()]
    found = re.search(r"(\d+) differ$", lines[-1])
    different = [line for line in lines[:-1] if not re.search(r": same( \(tolerated|$)", line)]
    first = different[0] if different else ""
    return (int(found[1]) if found else None), first[:SHOWN] + ("..." if first[SHOWN:] else "")


def why_it_failed(result: subprocess.CompletedProcess) -> str:
    """The replay's own words on why it stopped: its `stopping:` line, else its last line."""
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    stops = [line for line in lines if line.startswith("stopping:")]
    return " ".join((stops or lines or [""])[-1].split())


def spinners(count: int, seconds: float) -> list[subprocess.Popen]:
    # Each ends itself after `seconds` at most, should this script be killed before it does.
    spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(count)]


def search(args: argparse.Namespace, folder: Path, server: ScriptedLLM) -> tuple[Path, float]:
    config = yaml.safe_load((ROOT / "examples" / "digits.yaml").read_text())
    config["train"]["max_seconds"] = args.max_seconds
    path = folder / "digits.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = folder / "recorded"
    result, seconds = agentic_design(
        "run",
        str(path),
        "--run-dir",
        str(run),
        "--evaluations",
        str(args.evaluations),
        "--workers",
        "2",
        "--llm",
        "openai/varied-model",
        "--api-base",
        server.url,
        "--no-progress",
        timeout=args.timeout,
    )
    if result.returncode != 0:
        sys.exit(f"the search failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return run, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=14)
    parser.add_argument("--replays", type=int, default=10)
    parser.add_argument("--busy", type=int, default=4, help="processes spinning meanwhile")
    parser.add_argument("--max-seconds", type=float, default=1.0, help="the training time cut")
    parser.add_argument("--fault-rate", type=float, default=0.2)
    # Seed 0 draws 1 fault in the first 30 requests, far from the rate; seed 1 draws 5.
    parser.add_argument("--seed", type=int, default=1, help="the server's fault draws")
    parser.add_argument("--timeout", type=float, default=600, help="seconds, per command")
    parser.add_argument("--keep", type=Path, help="keep the runs in this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        model = VariedModel()
        with ScriptedLLM(answer=model, fault_rate=args.fault_rate, seed=args.seed) as server:
            run, seconds = search(args, folder, server)
            faults = sorted(server.faults_served)
        held = recording(run)
        kinds = ", ".join(f"{k} {faults.count(k)}" for k in dict.fromkeys(faults))
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(held["statuses"].items()))
        print(
            f"search: {held['designs']} designs in {seconds:.1f} s ({statuses}); "
            f"{held['timed']} trainings stopped by the {args.max_seconds:g} s limit"
        )
        print(
            f"server: {len(server.requests)} requests, {len(faults)} faults ({kinds}) "
            f"at a rate of {args.fault_rate:g}; "
            f"{model.repeated} distinct requests asked more than once"
        )
        print(
            f"recording: {held['calls']} LLM calls, {held['failed']} of them failed attempts; "
            f"{held['shared']} requests sent by more than one design and answered differently"
        )
        print(f"\nreplays beside {args.busy} busy processes (no server):")
        print(f"{'#':>3}  {'exit':>4}  {'seconds':>7}  identical  first difference")
        busy = spinners(args.busy, seconds=args.replays * args.timeout)
        identical = 0
        try:
            for number in range(1, args.replays + 1):
                again = folder / f"replay-{number}"
                result, took = agentic_design(
                    "replay", str(run), "--search", "--run-dir", str(again), timeout=args.timeout
                )
                differ, first = compare(run, again)
                same = result.returncode == 0 and differ == 0
                identical += same
                if result.returncode != 0:
                    first = f"{why_it_failed(result)} | {first}" if first else why_it_failed(result)
                print(
                    f"{number:>3}  {result.returncode:>4}  {took:>7.1f}  "
                    f"{'yes' if same else 'no':<9}  {first or '-'}",
                    flush=True,
                )
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
        print(f"{identical} of {args.replays} replays identical")
    return 0 if identical == args.replays else 1


if __name__ == "__main__":
    sys.exit(main())
