"""Evaluation script for the circle packing problem, in ShinkaEvolve's form.

    python evaluate.py --program_path initial.py --results_dir results

Runs the program's `run_experiment` for three seeds, checks each packing (shapes, inside the
unit square, no overlaps), and scores the mean sum of radii.
"""

import argparse

import numpy as np
from shinka.core import run_shinka_eval

N_CIRCLES = 26
TOLERANCE = 1e-6
NUM_RUNS = 3


def get_experiment_kwargs(run_index):
    return {"seed": run_index}


def validate_packing(result):
    """(valid, message) for one run's (centers, radii, reported_sum)."""
    centers, radii, _ = result
    centers, radii = np.asarray(centers, dtype=float), np.asarray(radii, dtype=float)
    if centers.shape != (N_CIRCLES, 2) or radii.shape != (N_CIRCLES,):
        return False, f"shapes {centers.shape} and {radii.shape}, expected (26, 2) and (26,)"
    if not (np.isfinite(centers).all() and np.isfinite(radii).all()) or (radii < 0).any():
        return False, "centers and radii must be finite, radii not negative"
    low, high = centers - radii[:, None], centers + radii[:, None]
    if (low < -TOLERANCE).any() or (high > 1 + TOLERANCE).any():
        return False, "a circle reaches outside the unit square"
    gaps = np.linalg.norm(centers[:, None] - centers[None, :], axis=-1)
    overlap = gaps - (radii[:, None] + radii[None, :]) < -TOLERANCE
    np.fill_diagonal(overlap, False)
    if overlap.any():
        i, j = np.argwhere(overlap)[0]
        return False, f"circles {i} and {j} overlap"
    return True, None


def aggregate_metrics(results):
    """The mean sum of radii (computed here, not taken from the program) and feedback."""
    sums = [float(np.sum(radii)) for _, radii, _ in results]
    best = int(np.argmax(sums))
    return {
        "combined_score": float(np.mean(sums)),
        "public": {"best_sum_of_radii": sums[best], "num_circles": N_CIRCLES},
        "private": {"reported_sums": [float(r) for _, _, r in results]},
        "text_feedback": f"sums of radii over {len(sums)} seeds: "
        + ", ".join(f"{s:.4f}" for s in sums),
    }


def main(program_path, results_dir):
    metrics, correct, error = run_shinka_eval(
        program_path=program_path,
        results_dir=results_dir,
        experiment_fn_name="run_experiment",
        num_runs=NUM_RUNS,
        get_experiment_kwargs=get_experiment_kwargs,
        validate_fn=validate_packing,
        aggregate_metrics_fn=aggregate_metrics,
    )
    print(f"correct: {correct}, combined_score: {metrics['combined_score']}")
    if error:
        print(f"error: {error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Evaluate a circle packing program")
    parser.add_argument("--program_path", type=str, default="initial.py")
    parser.add_argument("--results_dir", type=str, default="results")
    args = parser.parse_args()
    main(args.program_path, args.results_dir)
