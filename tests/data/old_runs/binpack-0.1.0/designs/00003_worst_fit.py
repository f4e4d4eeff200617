# design 3: Worst fit
# seed
"""Worst fit

Put each item into the open bin with the most room left, opening a new bin only when no open
bin can take it. Spreading items evenly leaves every bin with a middling gap that small items
fill, but large items often find no room: it uses more bins than best fit.
"""

import numpy as np


def priority(item: float, bins: np.ndarray) -> np.ndarray:
    capacity = np.max(bins)  # bins never used are still at full capacity
    remaining = bins - item
    is_open = bins < capacity
    return np.where(is_open, remaining, -1.0)
