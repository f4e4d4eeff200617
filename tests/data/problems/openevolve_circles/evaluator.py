"""Evaluator for the circle packing problem (26 circles in the unit square, sum of radii).

The candidate runs in a separate process with a time limit: a small driver script, written to
a temporary folder, imports it, calls `run_packing()` and writes the centers and radii to a
JSON file, which is read back and checked here (shapes, finite numbers, inside the square, no
overlaps). The score is computed here from the radii; the sum the program reports is ignored.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from openevolve.evaluation_result import EvaluationResult

N_CIRCLES = 26
BEST_KNOWN = 2.635  # the best sum of radii known for 26 circles, for the ratio only
TOLERANCE = 1e-6
TIMEOUT_S = 30

DRIVER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("candidate", sys.argv[1])
candidate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(candidate)
centers, radii, _ = candidate.run_packing()
with open(sys.argv[2], "w") as f:
    json.dump({"centers": [[float(v) for v in c] for c in centers],
               "radii": [float(r) for r in radii]}, f)
"""


class PackingError(Exception):
    """The program ran, but what it returned is not a valid packing."""


def run_candidate(program_path, timeout_s=TIMEOUT_S):
    """Run the program's run_packing() in its own process; its centers, radii and output."""
    with tempfile.TemporaryDirectory() as folder:
        driver = os.path.join(folder, "driver.py")
        result_file = os.path.join(folder, "packing.json")
        with open(driver, "w") as f:
            f.write(DRIVER)
        try:
            done = subprocess.run(
                [sys.executable, driver, os.path.abspath(program_path), result_file],
                capture_output=True,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired:
            raise PackingError(f"run_packing() took longer than {timeout_s} s") from None
        output = {"stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
        if done.returncode != 0:
            raise PackingError(f"the program exited with code {done.returncode}", output)
        try:
            with open(result_file) as f:
                packing = json.load(f)
            centers = np.asarray(packing["centers"], dtype=float)
            radii = np.asarray(packing["radii"], dtype=float)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PackingError(f"no readable packing came back: {exc}", output) from None
    return centers, radii, output


def check_packing(centers, radii):
    """Raise PackingError unless the circles lie in the unit square without overlapping."""
    if centers.shape != (N_CIRCLES, 2) or radii.shape != (N_CIRCLES,):
        raise PackingError(f"shapes {centers.shape} and {radii.shape}, expected (26, 2) and (26,)")
    if not (np.all(np.isfinite(centers)) and np.all(np.isfinite(radii))):
        raise PackingError("centers and radii must be finite numbers")
    if np.any(radii < 0):
        raise PackingError("a radius is negative")
    low = centers - radii[:, None]
    high = centers + radii[:, None]
    if np.any(low < -TOLERANCE) or np.any(high > 1 + TOLERANCE):
        outside = int(np.argmax(np.any((low < -TOLERANCE) | (high > 1 + TOLERANCE), axis=1)))
        raise PackingError(f"circle {outside} reaches outside the unit square")
    gaps = np.linalg.norm(centers[:, None] - centers[None, :], axis=-1)
    overlap = gaps - (radii[:, None] + radii[None, :]) < -TOLERANCE
    np.fill_diagonal(overlap, False)
    if overlap.any():
        i, j = np.argwhere(overlap)[0]
        raise PackingError(f"circles {i} and {j} overlap")


def evaluate(program_path):
    """Metrics of the packing the program builds: combined_score is its sum of radii as a
    share of the best known sum; 0 for a program that fails or packs invalidly."""
    started = time.time()
    try:
        centers, radii, output = run_candidate(program_path)
        check_packing(centers, radii)
    except PackingError as exc:
        message = str(exc.args[0])
        output = exc.args[1] if len(exc.args) > 1 else {}
        return EvaluationResult(
            metrics={"sum_radii": 0.0, "validity": 0.0, "combined_score": 0.0, "error": message},
            artifacts={"failure": message, **output},
        )
    total = float(np.sum(radii))
    return EvaluationResult(
        metrics={
            "sum_radii": total,
            "target_ratio": total / BEST_KNOWN,
            "validity": 1.0,
            "eval_time": time.time() - started,
            "combined_score": total / BEST_KNOWN,
        },
        artifacts={
            "packing": f"{N_CIRCLES} circles, sum of radii {total:.6f}, "
            f"smallest radius {radii.min():.4f}, largest {radii.max():.4f}",
            **{k: v for k, v in output.items() if v},
        },
    )
