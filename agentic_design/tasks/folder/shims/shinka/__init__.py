"""A stand-in for the `shinka` package (ShinkaEvolve), for evaluate.py scripts written for it.

It carries only what an evaluation script imports: `shinka.core.run_shinka_eval`. The folder
runner puts it on `PYTHONPATH` when it runs a folder's evaluate.py, so that the script imports
it unchanged, without ShinkaEvolve installed. Written from ShinkaEvolve 0.0.7's documented
behaviour; no code of ShinkaEvolve is in it.
"""

#: The ShinkaEvolve release whose evaluation interface this stand-in follows.
__version__ = "0.0.7"
