"""Grid with holes filled

The largest square grid of equal circles that n allows (k = floor(sqrt(n)) a side, radius
1/(2k)), the remaining circles placed in the holes between four grid circles, each as large as
its hole allows: (sqrt(2) - 1)/(2k). For 26 circles: 25 of radius 0.1 and one of 0.0414, a sum
of 2.5414, against the record's 2.6359; its circles all touch, so only moving them apart and
resizing them, not growing them in place, can do better.
"""

import math

import numpy as np


def construct_packing(n):
    side = math.isqrt(n)
    if n - side * side > (side - 1) ** 2:  # more circles left over than holes: a larger grid
        side += 1
    step = 1.0 / side
    radius = step / 2
    grid = [((i + 0.5) * step, (j + 0.5) * step) for i in range(side) for j in range(side)]
    holes = [((i + 1) * step, (j + 1) * step) for i in range(side - 1) for j in range(side - 1)]
    centers = (grid + holes)[:n]
    hole_radius = (math.sqrt(2) - 1) * radius
    radii = [radius] * min(n, len(grid)) + [hole_radius] * max(0, n - len(grid))
    return np.array(centers), np.array(radii)
