# design 6: Best fit ·m6
# insert_term: insert + 29.0 * ((remaining > 3.5) & (remaining < 40.0)) after -remaining in priority
"""Best fit

Put each item into the bin it fills most tightly: the one with the least room left after it.
Tight fits keep large gaps free for large items later. A strong classic, about 4.2% more bins
than the L1 bound on the Weibull instances; FunSearch started from it.
"""
import numpy as np

def priority(item: float, bins: np.ndarray) -> np.ndarray:
    remaining = bins - item
    score = -remaining + 29.0 * ((remaining > 3.5) & (remaining < 40.0))
    return score