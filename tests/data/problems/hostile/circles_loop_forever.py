"""Hostile candidate for openevolve_circles: never returns (a busy loop).
Check: the evaluation ends by a time limit (the evaluator's, or the sandbox's wall clock).
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    while True:
        pass


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
