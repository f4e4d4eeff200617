"""Hostile candidate for openevolve_circles: a fork bomb (every process forks forever).
Check: the evaluation ends within the sandbox's limits and leaves no process behind.
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    import contextlib
    import os

    while True:
        with contextlib.suppress(OSError):
            os.fork()


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
