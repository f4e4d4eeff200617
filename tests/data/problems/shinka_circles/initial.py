"""Pack 26 circles in the unit square so that the sum of their radii is as large as possible.

The evaluation calls `run_experiment(seed=...)`, which returns (centers, radii, sum_of_radii):
centers of shape (26, 2), radii of shape (26,), inside the square and not overlapping.
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing(seed):
    """Circles on a jittered 6 x 5 lattice, each as large as its neighbours and the walls allow."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid((np.arange(6) + 0.5) / 6, (np.arange(5) + 0.5) / 5)
    centers = np.column_stack([xs.ravel(), ys.ravel()])[:26]
    centers = np.clip(centers + rng.uniform(-0.01, 0.01, centers.shape), 0.05, 0.95)
    return centers, largest_radii(centers)


def largest_radii(centers):
    """Radii that fit: each at most its distance to the walls, then pairs shrunk to touch."""
    radii = np.minimum(centers, 1 - centers).min(axis=1)
    for i in range(len(centers)):
        for j in range(i + 1, len(centers)):
            gap = np.linalg.norm(centers[i] - centers[j])
            if radii[i] + radii[j] > gap:
                scale = gap / (radii[i] + radii[j])
                radii[i] *= scale
                radii[j] *= scale
    return radii


# EVOLVE-BLOCK-END


def run_experiment(seed=0):
    """The fixed entry point: the packing for this seed and the sum of its radii."""
    centers, radii = construct_packing(seed)
    return centers, radii, float(np.sum(radii))
