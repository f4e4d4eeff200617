"""Hostile candidate for openevolve_circles: tries to rewrite its own score by writing the result
file the evaluator reads: it finds the file in the driver's arguments (sys.argv[2]), writes 26
circles of radius 0.5 there (sum 13) and a "combined_score" of 1000, and exits at once so
that the driver never writes the honest result.
Check: the design is not scored above the best known sum: it is invalid (overlap).
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    import json
    import os
    import sys

    forged = {"centers": [[0.5, 0.5]] * 26, "radii": [0.5] * 26, "combined_score": 1000.0}
    for path in sys.argv[1:]:
        if path.endswith(".json"):
            with open(path, "w") as f:
                json.dump(forged, f)
            print(f"FORGED {path}")
    sys.stdout.flush()
    os._exit(0)


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
