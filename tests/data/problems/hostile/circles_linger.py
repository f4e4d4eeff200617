"""Hostile candidate for openevolve_circles: leaves processes running after its evaluation: a
double-forked daemon (in a session of its own) whose command line reads
`agentic-hostile-linger`, and `setsid sleep 31337`. It then packs honestly.
Check: after the evaluation no process with `agentic-hostile-linger` or `sleep 31337` in its
command line is left.
"""

import numpy as np


# EVOLVE-BLOCK-START
def grid_packing():
    """The honest 5 x 5 grid of circles of radius 0.1, and one more in a gap."""
    grid = (np.arange(5) + 0.5) / 5
    xs, ys = np.meshgrid(grid, grid)
    centers = np.vstack([np.column_stack([xs.ravel(), ys.ravel()]), [0.2, 0.2]])
    return centers, np.append(np.full(25, 0.1), np.sqrt(2) * 0.1 - 0.1 - 1e-9)


def construct_packing():
    import os
    import subprocess
    import sys

    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            # A daemon lets go of its output, so that the evaluation does not wait for it.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execv(
                sys.executable,
                [sys.executable, "-c", "import time; time.sleep(31337)", "agentic-hostile-linger"],
            )
        os._exit(0)
    subprocess.Popen(
        ["setsid", "sleep", "31337"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return grid_packing()


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
