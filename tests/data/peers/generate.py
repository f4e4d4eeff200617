"""Produce the peers' own run files for the import tests: a few iterations of OpenEvolve and of
ShinkaEvolve on a tiny online bin-packing problem, against a scripted model on 127.0.0.1.

Run it with an interpreter where `openevolve` and `shinka` are installed (it imports nothing of
agentic_design, so the peers' own environment will do):

    /work/peers/bin/python tests/data/peers/generate.py                 # both, into this folder
    python tests/data/peers/generate.py --only openevolve --out /tmp/x  # one, elsewhere

It writes `openevolve_checkpoint/` (the run's latest checkpoint_N) and `shinka_results/` (the
run's programs.sqlite) under --out, each stripped of what is large or names this machine:
embeddings, logged prompts, artifact folders and the run's own paths. The scripted model
(tests/llm_server.py) answers each request with one edit of the parent's `score = ...` line, in
the format each peer asks for, taken in turn from EDITS: one of them calls a name that does not
exist, so each run also records a program whose evaluation failed. Nothing leaves 127.0.0.1:
both peers are given the loopback server as their model, and no embedding, novelty or
meta-recommendation model.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
MODEL = "scripted-editor"

# The edits the scripted model makes, in turn: each replaces the parent's `score = ...` line.
EDITS = [
    ("best_fit", "Prefer the bin the item fills most tightly.", "score = -(bins - item)"),
    ("first_fit", "Prefer the oldest bin the item fits in.", "score = -np.arange(len(bins)) * 1.0"),
    (
        "helper_call",
        "Score bins with a helper (it does not exist: this evaluation fails).",
        "score = waste_penalty(bins - item)",
    ),
    (
        "leave_room",
        "Best fit, but prefer leaving more than 30 free when possible.",
        "score = -(bins - item) + 10.0 * (bins - item > 30)",
    ),
]

# The problem: pack Weibull-sized items (capacity 100) online; fewer bins beyond the L1 bound
# is better. Small on purpose: an evaluation takes well under a second.
PRIORITY = '''\
import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """Score each bin the item fits in; the item goes into the best-scored one."""
    score = bins - item
    return score
# EVOLVE-BLOCK-END
'''

# ShinkaEvolve calls a function of the program itself (run_shinka_eval's experiment_fn_name).
SHINKA_ENTRY = '''

def run_packing(seed=0):
    """ShinkaEvolve's entry point: the priority function, for its evaluator to score."""
    return priority
'''

PACKING = '''\
import importlib.util
import math

import numpy as np

CAPACITY = 100.0


def instances(count=3, items=120):
    """The item sizes of each instance: Weibull(3, 45), rounded and clipped to [1, 100]."""
    return [
        np.clip(np.round(np.random.default_rng(seed).weibull(3.0, items) * 45.0), 1, 100)
        for seed in range(count)
    ]


def excess_percent(priority, items):
    """Pack online with `priority`; the bins used beyond the L1 bound, in percent."""
    bins = np.full(len(items), CAPACITY)
    for item in items:
        valid = np.nonzero(bins >= item)[0]
        scores = np.asarray(priority(float(item), bins[valid]), dtype=float)
        if scores.shape != (len(valid),) or not np.isfinite(scores).all():
            raise ValueError("priority must return one finite score per bin")
        bins[valid[int(np.argmax(scores))]] -= item
    used = int((bins < CAPACITY).sum())
    bound = math.ceil(items.sum() / CAPACITY)
    return 100.0 * (used - bound) / bound


def load(path):
    spec = importlib.util.spec_from_file_location("candidate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
'''

OPENEVOLVE_EVALUATOR = (
    PACKING
    + '''

def evaluate(program_path):
    """OpenEvolve's evaluator: metrics with combined_score (higher is better)."""
    priority = load(program_path).priority
    excess = [excess_percent(priority, items) for items in instances()]
    return {
        "combined_score": -float(np.mean(excess)),
        "excess_percent": float(np.mean(excess)),
        "worst_excess_percent": float(np.max(excess)),
    }
'''
)

SHINKA_EVALUATE = (
    PACKING
    + """

import argparse

from shinka.core import run_shinka_eval


def main(program_path, results_dir):
    def aggregate(results):
        priority = results[0]
        excess = [excess_percent(priority, items) for items in instances()]
        return {
            "combined_score": -float(np.mean(excess)),
            "public": {"excess_percent": float(np.mean(excess))},
            "private": {"worst_excess_percent": float(np.max(excess))},
            "text_feedback": f"excess over the L1 bound per instance: {excess}",
        }

    run_shinka_eval(
        program_path=program_path,
        results_dir=results_dir,
        experiment_fn_name="run_packing",
        num_runs=1,
        aggregate_metrics_fn=aggregate,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--program_path", default="initial.py")
    parser.add_argument("--results_dir", default="results")
    args = parser.parse_args()
    main(args.program_path, args.results_dir)
"""
)

# OpenEvolve's side of the problem: few iterations, two islands, one worker, a checkpoint
# every two iterations, the scripted model as its only model, no prompts kept in programs.
OPENEVOLVE_CONFIG = """\
max_iterations: {iterations}
checkpoint_interval: 2
random_seed: 42
log_level: WARNING
diff_based_evolution: true
llm:
  api_base: "{api_base}"
  api_key: "loopback"
  models:
    - name: "{model}"
      weight: 1.0
  temperature: 0.0
  timeout: 60
  retries: 1
  retry_delay: 1
database:
  population_size: 20
  archive_size: 10
  num_islands: 2
  migration_interval: 3
  migration_rate: 0.5
  log_prompts: false
evaluator:
  timeout: 60
  parallel_evaluations: 1
  cascade_evaluation: false
"""


# -- the scripted model --------------------------------------------------------------------------

_SCORE_LINE = re.compile(r"^([ \t]*)score = .*$", re.MULTILINE)


def _parent_code(request: dict[str, Any]) -> str:
    """The code the peer asks to change: the first fenced block after its 'current program'
    heading (both peers name it so; other programs in the prompt come as inspirations)."""
    text = "\n".join(str(m.get("content", "")) for m in request.get("messages", []))
    heading = re.search(r"#\s*Current Program", text, re.IGNORECASE)
    rest = text[heading.end() :] if heading else text
    fence = re.search(r"```[a-z]*\n(.*?)```", rest, re.DOTALL)
    return fence.group(1) if fence else rest


class Editor:
    """Answers each request with the next edit of EDITS, as SEARCH/REPLACE against the
    parent's `score = ...` line, wrapped as the peer asks (`style`)."""

    def __init__(self, style: str) -> None:
        self.style = style
        self._edits = itertools.cycle(EDITS)
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        with self._lock:
            name, description, line = next(self._edits)
        found = _SCORE_LINE.search(_parent_code(request))
        if found is None:  # a request of another kind (a summary): answer in plain words
            return description
        indent = found.group(1)
        block = f"<<<<<<< SEARCH\n{found.group(0)}\n=======\n{indent}{line}\n>>>>>>> REPLACE\n"
        if self.style == "shinka":
            return (
                f"<NAME>\n{name}\n</NAME>\n\n<DESCRIPTION>\n{description}\n</DESCRIPTION>\n\n"
                f"<DIFF>\n{block}</DIFF>\n"
            )
        return f"{description}\n\n{block}"


def _scripted_server(style: str) -> Any:
    """tests/llm_server.py's ScriptedLLM (loaded by path: this script imports no package of
    the repository), answering with `Editor(style)`."""
    spec = importlib.util.spec_from_file_location("_llm_server", REPO / "tests" / "llm_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module.ScriptedLLM(answer=Editor(style))


# -- OpenEvolve ----------------------------------------------------------------------------------


def run_openevolve(work: Path, iterations: int = 6) -> Path:
    """Run OpenEvolve on the problem in `work`; return its latest checkpoint folder."""
    from openevolve.config import load_config
    from openevolve.controller import OpenEvolve

    problem = work / "openevolve_problem"
    problem.mkdir(parents=True)
    (problem / "initial_program.py").write_text(PRIORITY)
    (problem / "evaluator.py").write_text(OPENEVOLVE_EVALUATOR)
    output = work / "openevolve_output"
    with _scripted_server("openevolve") as server:
        (problem / "config.yaml").write_text(
            OPENEVOLVE_CONFIG.format(iterations=iterations, api_base=server.url, model=MODEL)
        )
        controller = OpenEvolve(
            initial_program_path=str(problem / "initial_program.py"),
            evaluation_file=str(problem / "evaluator.py"),
            config=load_config(problem / "config.yaml"),
            output_dir=str(output),
        )
        asyncio.run(controller.run(iterations=iterations))
    checkpoints = sorted(
        (output / "checkpoints").glob("checkpoint_*"), key=lambda p: int(p.name.split("_")[1])
    )
    return checkpoints[-1]


def strip_openevolve(checkpoint: Path, dest: Path, machine: Path) -> None:
    """Copy the checkpoint to `dest` without embeddings, prompts, artifact folders or paths of
    this machine (which the run's artifacts quote, in tracebacks)."""
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "programs").mkdir(parents=True)
    for name in ("metadata.json", "best_program_info.json", "best_program.py"):
        if (checkpoint / name).is_file():
            shutil.copyfile(checkpoint / name, dest / name)
    for path in sorted((checkpoint / "programs").glob("*.json")):
        program = json.loads(path.read_text())
        program.update(embedding=None, prompts=None, artifact_dir=None)
        text = _unmachined(json.dumps(program, indent=1), machine)
        (dest / "programs" / path.name).write_text(text + "\n")


# -- ShinkaEvolve --------------------------------------------------------------------------------


def run_shinka(work: Path, generations: int = 6) -> Path:
    """Run ShinkaEvolve on the problem in `work`; return its results folder."""
    from shinka.core import EvolutionConfig, ShinkaEvolveRunner
    from shinka.database import DatabaseConfig
    from shinka.launch import LocalJobConfig

    problem = work / "shinka_problem"
    problem.mkdir(parents=True)
    (problem / "initial.py").write_text(PRIORITY + SHINKA_ENTRY)
    (problem / "evaluate.py").write_text(SHINKA_EVALUATE)
    results = work / "shinka_results"
    with _scripted_server("shinka") as server:
        evo_config = EvolutionConfig(
            task_sys_msg="Improve the priority function of an online bin-packing heuristic.",
            patch_types=["diff"],
            patch_type_probs=[1.0],
            num_generations=generations,
            max_patch_resamples=1,
            max_patch_attempts=1,
            llm_models=[f"local/{MODEL}@{server.url}"],
            llm_dynamic_selection=None,
            llm_kwargs={"temperatures": [0.0], "max_tokens": 2048},
            meta_rec_interval=None,
            embedding_model=None,
            novelty_llm_models=None,
            init_program_path=str(problem / "initial.py"),
            results_dir=str(results),
            use_text_feedback=True,
        )
        db_config = DatabaseConfig(num_islands=2, archive_size=10, migration_interval=3)
        job_config = LocalJobConfig(
            eval_program_path=str(problem / "evaluate.py"), python_executable=sys.executable
        )
        runner = ShinkaEvolveRunner(
            evo_config=evo_config,
            job_config=job_config,
            db_config=db_config,
            verbose=False,
            max_evaluation_jobs=1,
            max_proposal_jobs=1,
            max_db_workers=1,
        )
        runner.run()
    return results


def strip_shinka(results: Path, dest: Path, machine: Path) -> None:
    """Copy the results' programs.sqlite to `dest` with embeddings emptied, the run's paths
    rewritten, the model's answer records cut to their counts (LLM_RESULT_KEPT) and the file
    compacted; nothing else of the folder (generation folders, logs)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    source = sqlite3.connect(f"file:{results / 'programs.sqlite'}?mode=ro", uri=True)
    target = dest / "programs.sqlite"
    with sqlite3.connect(target) as db:
        source.backup(db)
    source.close()
    db = sqlite3.connect(target)
    with db:
        db.execute(
            "UPDATE programs SET embedding = '[]', embedding_pca_2d = '[]', "
            "embedding_pca_3d = '[]', embedding_cluster_id = NULL"
        )
        # The model's answer record holds the whole prompt: its counts are what is kept.
        for key, metadata in db.execute("SELECT id, metadata FROM programs").fetchall():
            data = json.loads(metadata or "{}")
            if isinstance(data.get("llm_result"), dict):
                data["llm_result"] = {
                    k: v for k, v in data["llm_result"].items() if k in LLM_RESULT_KEPT
                }
                db.execute("UPDATE programs SET metadata = ? WHERE id = ?", (json.dumps(data), key))
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                rows = db.execute(
                    f"SELECT rowid, {column} FROM {table} WHERE typeof({column}) = 'text' "
                    f"AND instr({column}, ?) > 0",
                    (str(machine),),
                ).fetchall()
                for rowid, value in rows:
                    db.execute(
                        f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                        (_unmachined(value, machine), rowid),
                    )
    db.execute("VACUUM")
    db.close()


LLM_RESULT_KEPT = ("model_name", "input_tokens", "output_tokens", "thinking_tokens", "cost")


def _unmachined(text: str, machine: Path) -> str:
    """`text` without this machine's paths (in JSON, escaped or not): the run's temporary
    folder as <run>, the peers' environment as <venv>, Python's own as <python>, and the
    temporary files the peers evaluate programs in as <tmp>."""
    places = [
        (str(machine), "<run>"),
        (sys.prefix, "<venv>"),
        (sys.base_prefix, "<python>"),
        (tempfile.gettempdir(), "<tmp>"),
    ]
    for place, name in places:
        for form in (place, json.dumps(place)[1:-1]):
            text = text.replace(form + "/", name + "/")
    return text


# -- the command ---------------------------------------------------------------------------------


def generate(out: Path, only: str | None = None, iterations: int = 6) -> dict[str, Path]:
    """Run the chosen peers (both by default) in a temporary folder and write their stripped
    run files under `out`; return where each went."""
    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        work = Path(tmp).resolve()
        cwd = os.getcwd()
        os.chdir(work)  # the peers write logs and caches beside themselves
        try:
            if only in (None, "openevolve"):
                checkpoint = run_openevolve(work, iterations)
                written["openevolve"] = out / "openevolve_checkpoint"
                strip_openevolve(checkpoint, written["openevolve"], work)
            if only in (None, "shinka"):
                results = run_shinka(work, iterations)
                written["shinka"] = out / "shinka_results"
                strip_shinka(results, written["shinka"], work)
        finally:
            os.chdir(cwd)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write (default: here)")
    parser.add_argument("--only", choices=["openevolve", "shinka"], default=None)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("OPENAI_API_KEY", "loopback")  # never sent beyond 127.0.0.1
    written = generate(args.out.resolve(), args.only, args.iterations)
    for peer, path in written.items():
        print(f"{peer}: {path}")


if __name__ == "__main__":
    main()
