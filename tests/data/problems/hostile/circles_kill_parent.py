"""Hostile candidate for openevolve_circles: kills its parent (the evaluator's process, which is
the sandboxed evaluation itself) and its process group, then waits a minute.
Check: the evaluation ends with a failure status (killed, error or timeout), and the sandbox
keeps serving.
"""

import numpy as np


# EVOLVE-BLOCK-START
def construct_packing():
    import contextlib
    import os
    import signal
    import time

    os.kill(os.getppid(), signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
    time.sleep(60)
    raise RuntimeError("still here")


# EVOLVE-BLOCK-END


def run_packing():
    """The fixed entry point: the packing and the sum of its radii."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
