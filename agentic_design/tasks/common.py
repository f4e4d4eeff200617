"""What the built-in tasks share: the data cache, seed designs from files, the data installed
packages ship, bootstrap intervals, and the part of a split a cheap evaluation covers."""

from __future__ import annotations

import ast
import glob
import math
import os
import site
import sys
from pathlib import Path

import numpy as np

from agentic_design.records import Origin, Proposal

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


def cache_dir() -> Path:
    """The dataset cache: `$AGENTIC_DESIGN_CACHE`, else ~/.cache/agentic-design."""
    root = os.environ.get("AGENTIC_DESIGN_CACHE") or Path.home() / ".cache" / "agentic-design"
    return Path(root)


# Resolved once, at import: the sandbox server imports this module with the caller's environment,
# while each sandboxed child runs with a scrubbed one whose HOME is a throw-away directory.
CACHE_DIR = cache_dir()


def bootstrap_interval(correct: np.ndarray, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """A seeded percentile-bootstrap 95% interval for the mean of a 0/1 vector."""
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(correct), size=(BOOTSTRAP_RESAMPLES, len(correct)))
    means = correct[index].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def share_count(total: int, fidelity: float) -> int:
    """How many of `total` instances or examples a cheap evaluation of share `fidelity` covers:
    the share rounded up, at least one. Run and scorer both call it, so they cover the same
    first ones. The tolerance keeps a share whose product is whole in decimals (0.3 of 10)
    from rounding up past it in binary."""
    return max(1, min(total, math.ceil(total * fidelity - 1e-9)))


def ast_nodes(code: str) -> float:
    """The size of a design's code: the nodes of its syntax tree (0 where it does not parse),
    a descriptor that does not depend on layout or comments."""
    try:
        return float(sum(1 for _ in ast.walk(ast.parse(code))))
    except (SyntaxError, ValueError):
        return 0.0


def load_seed_designs(folder: Path) -> list[Proposal]:
    """Seeds are .py files; the module docstring's first line is the name, the rest the thought."""
    seeds = []
    for path in sorted(folder.glob("*.py")):
        code = path.read_text()
        doc = ast.get_docstring(ast.parse(code)) or path.stem
        name, _, thought = doc.partition("\n")
        seeds.append(
            Proposal(
                name=name.strip(),
                thought=" ".join(thought.split()),
                code=code,
                operator="seed",
                proposer="seed",
                origin=Origin.SEED,
            )
        )
    return seeds


def installed_paths(relative: tuple[str, ...]) -> list[str]:
    """Every copy of `relative` in the site-packages of this interpreter and its base."""
    roots = {sys.prefix, sys.base_prefix, *site.getsitepackages(), site.getusersitepackages()}
    found: set[str] = set()
    for root in roots:
        for part in relative:
            found.update(glob.glob(os.path.join(root, "lib", "python*", "site-packages", part)))
            found.update(glob.glob(os.path.join(root, part)))
    return sorted(found)
