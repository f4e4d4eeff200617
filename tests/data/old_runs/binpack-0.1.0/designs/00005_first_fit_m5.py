# design 5: First fit ·m5
# insert_term: insert + 0.00058 * bins ** 2 after -position in priority
"""First fit

Put each item into the first bin, in order of opening, that has room for it. The bins are
listed in a fixed order, so scoring them by minus their position picks the earliest one. Simple
and fast, but blind to how well an item fits: about 4.5% more bins than the L1 bound on the
Weibull instances.
"""
import numpy as np

def priority(item: float, bins: np.ndarray) -> np.ndarray:
    position = np.arange(len(bins))
    return -position + 0.00058 * bins ** 2