"""Hostile candidate for openevolve_circles: allocates 8 GiB and touches it.
Check: the evaluation ends (memory status, or an evaluator error), the machine unharmed.
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    hog = bytearray(8 * 1024**3)
    for i in range(0, len(hog), 4096):
        hog[i] = 1
    raise RuntimeError("allocated 8 GiB")


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
