"""Proposers: where new designs come from — offline evolution over code, or the LLM meta-agent.

Submodules are imported where they are used: `proposers.operators` (the generic code
operators) must stay importable without the meta-agent's LLM stack.
"""
