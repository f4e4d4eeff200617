"""`shinka.core`: the evaluation wrapper an evaluate.py calls (see `wrap_eval`)."""

from .wrap_eval import run_shinka_eval

__all__ = ["run_shinka_eval"]
