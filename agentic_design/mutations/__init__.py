"""Evolution operators over code, shared by the tasks and offline evolution.

`operators` is the contract (a `Mutation`, an `Operators` bundle, how one is drawn and applied);
`point`, `term` and `crossover` are the generic operators, which `generic` bundles for any
Python code; `code_ast` holds the `ast` helpers they share. Tasks add operators of their own kind
(`tasks/architecture/mutations.py`, `tasks/agent/mutations.py`) on the same contract.
"""
