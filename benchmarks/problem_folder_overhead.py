"""Per-evaluation overhead of a problem folder's evaluator through our sandbox, against running
it directly as its own system does.

    python benchmarks/problem_folder_overhead.py [FOLDER] [--calls 20]

FOLDER is an OpenEvolve or ShinkaEvolve problem folder (default: the test suite's OpenEvolve
circle-packing folder, whose evaluator runs the candidate in a process of its own). Its starting
program is evaluated `--calls` times each way, in this one run so that both share the machine's
load:

  direct   as the system itself does it: OpenEvolve writes the candidate to a temporary file and
           calls the evaluator module's evaluate(path) in its own (worker) process; Shinka runs
           `python evaluate.py --program_path P --results_dir D` and reads metrics.json
  sandbox  our Evaluator: the warm sandbox forks a confined child (own /tmp, no network,
           Landlock, seccomp, limits), which writes the candidate and calls the same evaluator;
           the outputs are checked and scored outside

It prints the median and mean wall time of each, and the sandbox's overhead in ms and as a
ratio. Both evaluate the same program; the scores must agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentic_design.config import RunConfig
from agentic_design.run.assemble import build_task, local_evaluation
from agentic_design.tasks.folder import ProblemFolderTask

DEFAULT = Path(__file__).resolve().parent.parent / "tests/data/problems/openevolve_circles"


def direct(task: ProblemFolderTask, calls: int) -> tuple[list[float], float]:
    code = task.template.program()
    times, score = [], float("nan")
    evaluate = None
    if task.format == "openevolve":
        spec = importlib.util.spec_from_file_location(
            "evaluator", task.folder / task.evaluator_file
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # As under OpenEvolve itself: the folder and `openevolve` (here, our shim) importable.
        sys.path[:0] = [_shims(), str(task.folder)]
        spec.loader.exec_module(module)
        evaluate = module.evaluate
    for _ in range(calls):
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            program = Path(scratch) / task.program_file.name
            program.write_text(code)
            if evaluate is not None:
                result = evaluate(str(program))
                metrics = getattr(result, "metrics", result)
            else:
                results = Path(scratch) / "results"
                results.mkdir()
                subprocess.run(
                    [
                        sys.executable,
                        str(task.folder / task.evaluator_file),
                        "--program_path",
                        str(program),
                        "--results_dir",
                        str(results),
                    ],
                    cwd=scratch,
                    check=True,
                    capture_output=True,
                    env={"PYTHONPATH": f"{_shims()}:{task.folder}", "PATH": "/usr/bin:/bin"},
                )
                metrics = json.loads((results / "metrics.json").read_text())
        times.append(time.perf_counter() - started)
        score = float(metrics["combined_score"])
    return times, score


def _shims() -> str:
    from agentic_design.tasks.folder.runner import shims_path

    return shims_path()


def sandboxed(config: RunConfig, calls: int) -> tuple[list[float], float]:
    task = build_task(config)
    assert isinstance(task, ProblemFolderTask)
    code = task.template.program()
    times, score = [], float("nan")
    with local_evaluation(config, task, workers=1) as (evaluator, _, _):
        evaluator.evaluate(code, seed=0)  # the first call warms caches, as later ones find them
        for _ in range(calls):
            started = time.perf_counter()
            evaluation = evaluator.evaluate(code, seed=0)
            times.append(time.perf_counter() - started)
            assert evaluation.fitness is not None, evaluation.error
            score = evaluation.fitness
    return times, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    config = RunConfig.from_dict(
        {"task": {"folder": str(args.folder.resolve())}, "sandbox": {"workers": 1, "wall_s": 120}}
    )
    task = build_task(config)
    assert isinstance(task, ProblemFolderTask)
    ours, ours_score = sandboxed(config, args.calls)
    theirs, their_score = direct(task, args.calls)
    print(f"folder {args.folder} ({task.format}), {args.calls} evaluations each way")
    for label, times in (("direct", theirs), ("sandbox", ours)):
        print(
            f"  {label:8s} median {statistics.median(times) * 1000:8.1f} ms   "
            f"mean {statistics.mean(times) * 1000:8.1f} ms"
        )
    extra = (statistics.median(ours) - statistics.median(theirs)) * 1000
    print(
        f"  overhead of the sandbox: {extra:+.1f} ms per evaluation (median), "
        f"ratio {statistics.median(ours) / statistics.median(theirs):.2f}x"
    )
    print(f"  combined_score: direct {their_score:.6f}, sandbox {ours_score:.6f}")


if __name__ == "__main__":
    main()
