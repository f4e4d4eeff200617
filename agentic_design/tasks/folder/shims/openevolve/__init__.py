"""A stand-in for the `openevolve` package, for evaluators written for OpenEvolve.

It carries only what an evaluator imports (`openevolve.evaluation_result.EvaluationResult`):
the folder runner puts the folder above it on `sys.path` when an evaluator runs, so that the
evaluator imports it unchanged, without OpenEvolve installed. Written from OpenEvolve 0.4's
documented behaviour; no code of OpenEvolve is in it. Standard library only.
"""

from .evaluation_result import EvaluationResult

#: The OpenEvolve release whose evaluator interface this stand-in follows.
__version__ = "0.4.1"

__all__ = ["EvaluationResult", "__version__"]
