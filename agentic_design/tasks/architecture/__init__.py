"""Architecture tasks: a design is a PyTorch model builder plus an optional training recipe.

`task` holds the tasks (MNIST-1D, digits) and the untrusted-report checks, `budget` the
trainer's budget, `training` the trainer that runs inside the sandbox, `torch_ast` and
`mutations` the torch-aware evolution operators.
"""

from agentic_design.tasks.architecture.budget import TrainBudget
from agentic_design.tasks.architecture.task import ArchitectureTask, DigitsTask, MNIST1DTask
from agentic_design.tasks.common import CACHE_DIR, bootstrap_interval, load_seed_designs

__all__ = [
    "CACHE_DIR",
    "ArchitectureTask",
    "DigitsTask",
    "MNIST1DTask",
    "TrainBudget",
    "bootstrap_interval",
    "load_seed_designs",
]
