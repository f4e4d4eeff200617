"""How long `agentic-design run` takes to start evaluating, and to exit once the search stops.

    python benchmarks/start_stop.py [--repeats 3] [--evaluations 6]

Three figures, each the median of `--repeats` runs on a warm disk (one unmeasured run first),
all in this one run so that they share the machine's current load:
  import     an empty `python -c 'import agentic_design'`, the floor under everything else
  start      from launching `agentic-design run CONFIG` to the first evaluation's `run`
             beginning in the sandbox (goal: 2 s for a task without torch, 4 s with torch)
  stop       from the last evaluation's end (the budget is spent; the best's test evaluation
             included) to the process's exit, without the report (search.report: false) and
             with it (goal: 1 s plus the report)
  interrupt  from Ctrl-C (SIGINT, once the first evaluation has finished) to the exit

The tasks (`benchmarks/data/timed_tasks.py`) are the built-in bin packing heuristic (no torch)
and the digits architecture task (torch), each noting in its metrics when its `run` began and
ended inside the sandbox. The searches are offline evolution, and the meta-agent with a model on
a loopback server (`tests/llm_server.py`), whose check and first answers a search must wait for.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.llm_server import ScriptedLLM  # the test server, reused

HERE = Path(__file__).resolve().parent
TASKS = HERE / "data" / "timed_tasks.py"
CONFIGS = {
    "no torch (bin packing)": {
        "task": f"{TASKS}:TimedBinPacking",
        "task_params": {"distribution": "weibull", "items": 500, "instances": 2},
    },
    "torch (digits)": {
        "task": f"{TASKS}:TimedDigits",
        "task_budget": {"max_epochs": 2, "max_seconds": 2},
    },
}


ANSWER = """NAME: tighter fit {n}
THOUGHT: best fit, with a small pull towards fuller bins.

```python
import numpy as np


def priority(item: float, bins: np.ndarray) -> np.ndarray:
    remaining = bins - item
    return -remaining - {weight} * (remaining > 0.5 * bins)
```
"""


class Model:
    """A loopback model: 'ok' to the check, then best fit with a varying term."""

    def __init__(self) -> None:
        self.answers = 0

    def __call__(self, request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        if "Reply with the word ok" in prompt:
            return "ok"
        self.answers += 1
        return ANSWER.format(n=self.answers, weight=round(0.01 * self.answers, 3))


def config(task: dict, evaluations: int, report: bool, llm: str | None = None) -> dict:
    cfg = {
        "name": "start-stop",
        **task,
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "sandbox": {"workers": 2, "wall_s": 60},
        "search": {"report": report},
    }
    if llm is not None:
        cfg["llm"] = {"model": "openai/loopback", "api_base": llm}
        cfg["search"]["meta_agent"] = {"reflexion_rounds": 0}
    return cfg


def import_time() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import agentic_design"], check=True)
    return time.perf_counter() - started


def times(run_dir: Path) -> tuple[float, float]:
    """The first evaluation's start and the last one's end, as the tasks noted them."""
    with sqlite3.connect(f"file:{run_dir / 'run.db'}?mode=ro", uri=True) as db:
        rows = [json.loads(m) for (m,) in db.execute("SELECT metrics FROM evaluations")]
    began = [m["began_at"] for m in rows if "began_at" in m]
    ended = [m["ended_at"] for m in rows if "ended_at" in m]
    if not began:
        raise SystemExit(f"no evaluation in {run_dir} noted its times")
    return min(began), max(ended)


def command(cfg_path: Path, run_dir: Path) -> list[str]:
    script = Path(sys.executable).with_name("agentic-design")
    return [str(script), "run", str(cfg_path), "--run-dir", str(run_dir), "--no-progress"]


def one_run(
    task: dict, evaluations: int, report: bool, folder: Path, llm: str | None
) -> tuple[float, float]:
    """(start, stop) of one search run to its end."""
    cfg_path = folder / f"config-{time.monotonic_ns()}.yaml"
    cfg_path.write_text(yaml.safe_dump(config(task, evaluations, report, llm)))
    run_dir = folder / cfg_path.stem
    launched = time.time()
    done = subprocess.run(command(cfg_path, run_dir), capture_output=True, text=True)
    exited = time.time()
    if done.returncode != 0:
        raise SystemExit(f"the run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    first, last = times(run_dir)
    return first - launched, exited - last


def interrupted_run(task: dict, folder: Path, llm: str | None) -> float:
    """From Ctrl-C, sent once the first evaluation has finished, to the exit."""
    cfg_path = folder / f"config-{time.monotonic_ns()}.yaml"
    cfg_path.write_text(yaml.safe_dump(config(task, 10_000, False, llm)))
    run_dir = folder / cfg_path.stem
    process = subprocess.Popen(
        command(cfg_path, run_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            times(run_dir)
            break
        except (sqlite3.Error, SystemExit, json.JSONDecodeError):
            continue
    sent = time.time()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return time.time() - sent


def report_time(folder: Path) -> float:
    """Writing the report of the last finished run, in this process (matplotlib included)."""
    runs = sorted(p for p in folder.iterdir() if (p / "run.db").is_file())
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("agentic-design")), "report", str(runs[-1])],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evaluations", type=int, default=6)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; median of {args.repeats} runs after one unmeasured")
    import_time()
    print(
        f"python -c 'import agentic_design': "
        f"{statistics.median(import_time() for _ in range(args.repeats)):.2f} s"
    )
    server = ScriptedLLM(answer=Model())
    with tempfile.TemporaryDirectory(prefix="start-stop-") as tmp, server:
        folder = Path(tmp)
        cases = [(label, task, None) for label, task in CONFIGS.items()]
        cases += [(f"{label}, LLM", task, server.url) for label, task in CONFIGS.items()]
        for label, task, llm in cases:
            n = args.evaluations
            one_run(task, n, False, folder, llm)  # warm the disk and the caches
            quiet = [one_run(task, n, False, folder, llm) for _ in range(args.repeats)]
            loud = [one_run(task, n, True, folder, llm) for _ in range(args.repeats)]
            stop_int = [interrupted_run(task, folder, llm) for _ in range(args.repeats)]
            start = statistics.median(s for s, _ in quiet + loud)
            print(f"{label}:")
            print(f"  start to first evaluation: {start:.2f} s")
            print(f"  stop to exit, no report:   {statistics.median(s for _, s in quiet):.2f} s")
            print(f"  stop to exit, with report: {statistics.median(s for _, s in loud):.2f} s")
            print(f"  Ctrl-C to exit:            {statistics.median(stop_int):.2f} s")
            print(f"  `agentic-design report` alone on that run: {report_time(folder):.2f} s")


if __name__ == "__main__":
    main()
