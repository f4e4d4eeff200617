"""Pack 26 circles in the unit square so that the sum of their radii is as large as possible.

The evaluator calls `run_packing()`, which returns (centers, radii, sum_of_radii): centers an
array of shape (26, 2), radii of shape (26,). Circles must lie inside the square and must not
overlap.
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    """A 5 x 5 grid of circles of radius 0.1, and a 26th circle in the gap between four of them."""
    grid = (np.arange(5) + 0.5) / 5
    xs, ys = np.meshgrid(grid, grid)
    centers = np.column_stack([xs.ravel(), ys.ravel()])
    radii = np.full(25, 0.1)
    # The gap between the circles at (0.1, 0.1), (0.3, 0.1), (0.1, 0.3) and (0.3, 0.3).
    gap = np.sqrt(2) * 0.1 - 0.1 - 1e-9
    centers = np.vstack([centers, [0.2, 0.2]])
    radii = np.append(radii, gap)
    return centers, radii


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
