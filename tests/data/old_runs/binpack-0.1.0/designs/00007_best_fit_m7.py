# design 7: Best fit ·m7
# constant: constant 2.1 -> 3.98 in priority
"""Best fit

Put each item into the bin it fills most tightly: the one with the least room left after it.
Tight fits keep large gaps free for large items later. A strong classic, about 4.2% more bins
than the L1 bound on the Weibull instances; FunSearch started from it.
"""
import numpy as np

def priority(item: float, bins: np.ndarray) -> np.ndarray:
    remaining = bins - (item - 3.98 * ((bins > 3.3) & (bins < 3.5))) + 11.0 * (item > 5.3)
    score = -remaining
    return score