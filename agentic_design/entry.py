"""The `agentic-design` command's entry point, kept free of imports so that Ctrl-C pressed
while the command line's own modules are still loading ends the program like Ctrl-C anywhere
else: one line, exit 130, no traceback."""

from __future__ import annotations

import os
import sys


def interrupted() -> None:
    """Say so in one line and leave with the conventional code for SIGINT."""
    try:
        sys.stdout.flush()
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    finally:
        # Not sys.exit: interpreter shutdown would join worker threads still blocked in an LLM
        # call. Nothing of ours is half-written: every store write is one transaction.
        os._exit(130)


def main() -> None:
    try:
        # An import circle, on purpose: this module imports cli only here, once it can answer
        # a Ctrl-C pressed while cli loads, and cli leaves through this module's `interrupted`.
        from agentic_design.cli import run_app
    except KeyboardInterrupt:
        interrupted()
    run_app()
