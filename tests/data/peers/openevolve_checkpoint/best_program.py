import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    """Score each bin the item fits in; the item goes into the best-scored one."""
    score = waste_penalty(bins - item)
    return score
# EVOLVE-BLOCK-END
