"""Constant function

f equal to one everywhere on [-1/4, 1/4]: its autoconvolution is a triangle whose peak, 1/2,
is twice the square of its mass, 1/2. A ratio of exactly 2, however many steps: the baseline
every better function is measured against.
"""

import numpy as np

STEPS = 200


def step_heights():
    heights = np.ones(STEPS)
    return heights
