"""Architecture tasks: a design is a PyTorch model builder plus an optional training recipe.

`task` holds the tasks (MNIST-1D, digits) and the untrusted-report checks, `budget` the
trainer's budget, `training` the trainer that runs inside the sandbox, `torch_ast` and
`mutations` the torch-aware evolution operators. The names below are those the module of this
name exported before it became a package (release 0.1.0): task files written then still load.
"""

from agentic_design.tasks.architecture.budget import (
    AUTO_CPU,
    AUTO_GPU,
    BUDGET_ASKS,
    DEVICE_REASONS,
    TrainBudget,
)
from agentic_design.tasks.architecture.task import (
    HELD_OUT,
    ArchitectureTask,
    DigitsTask,
    MNIST1DTask,
    count_layer_calls,
    standardise,
)
from agentic_design.tasks.common import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CACHE_DIR,
    bootstrap_interval,
    cache_dir,
    installed_paths,
    load_seed_designs,
)

__all__ = [
    "AUTO_CPU",
    "AUTO_GPU",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "BUDGET_ASKS",
    "CACHE_DIR",
    "DEVICE_REASONS",
    "HELD_OUT",
    "ArchitectureTask",
    "DigitsTask",
    "MNIST1DTask",
    "TrainBudget",
    "bootstrap_interval",
    "cache_dir",
    "count_layer_calls",
    "installed_paths",
    "load_seed_designs",
    "standardise",
]
