"""Evolve blocks: what a proposal may change in a problem folder's program, and the fixed frame
put back around it whatever shape the proposal comes in."""

import random

import pytest

from agentic_design.mutations.generic import generic_operators
from agentic_design.tasks.base import InvalidDesign
from agentic_design.tasks.folder.evolve_block import block_operators, cut

PROGRAM = '''"""Pack circles; only construct() evolves."""
import numpy as np

# EVOLVE-BLOCK-START
def construct(n):
    """Circles on a line."""
    return [0.1 * i for i in range(n)], [0.05] * n
# EVOLVE-BLOCK-END


def run_packing():
    centers, radii = construct(26)
    return np.asarray(centers), np.asarray(radii)
'''

TWO_BLOCKS = """import math

# EVOLVE-BLOCK-START
def a():
    return 1.5
# EVOLVE-BLOCK-END

def fixed():
    return a() + b()

class Holder:
    # EVOLVE-BLOCK-START
    def b(self):
        return 2.5 * math.pi
    # EVOLVE-BLOCK-END
"""


def test_a_program_is_its_frame_and_blocks_and_comes_back_whole():
    template = cut(PROGRAM)
    assert len(template.blocks) == 1 and template.marked
    assert template.blocks[0].startswith("def construct(n):")
    assert template.frame[0].endswith("# EVOLVE-BLOCK-START\n")
    assert template.frame[1].startswith("# EVOLVE-BLOCK-END\n")
    assert template.program() == PROGRAM
    assert cut(TWO_BLOCKS).program() == TWO_BLOCKS and len(cut(TWO_BLOCKS).blocks) == 2


def test_a_change_outside_the_block_is_undone():
    hacked = PROGRAM.replace(
        "return np.asarray(centers), np.asarray(radii)", "return 4.01"
    ).replace("0.05", "0.04")
    completed = cut(PROGRAM).complete(hacked)
    assert "return 4.01" not in completed and "np.asarray(radii)" in completed
    assert "[0.04] * n" in completed  # the block's change is kept


def test_a_block_alone_goes_into_the_frame():
    completed = cut(PROGRAM).complete("def construct(n):\n    return [0.2] * n, [0.01] * n\n")
    assert completed.count("# EVOLVE-BLOCK-START") == 1
    assert "[0.2] * n" in completed and "def run_packing():" in completed
    assert cut(completed).frame == cut(PROGRAM).frame


def test_the_whole_program_without_its_markers_keeps_only_its_block():
    unmarked = "\n".join(
        line for line in PROGRAM.replace("0.05", "0.03").splitlines() if "EVOLVE-BLOCK" not in line
    )
    completed = cut(PROGRAM).complete(unmarked)
    assert cut(completed).frame == cut(PROGRAM).frame
    assert "[0.03] * n" in cut(completed).blocks[0]
    assert "def run_packing" not in cut(completed).blocks[0]  # the frame is not doubled


def test_markers_that_do_not_pair_up_are_an_invalid_design():
    with pytest.raises(InvalidDesign, match="does not pair up"):
        cut("# EVOLVE-BLOCK-END\nx = 1\n")
    with pytest.raises(InvalidDesign, match="without its"):
        cut("# EVOLVE-BLOCK-START\nx = 1\n")
    with pytest.raises(InvalidDesign, match="2 evolve blocks, the proposal 1"):
        cut(TWO_BLOCKS).complete(
            "# EVOLVE-BLOCK-START\ndef a():\n    return 0\n# EVOLVE-BLOCK-END\n"
        )
    with pytest.raises(InvalidDesign, match="2 evolve blocks"):
        cut(TWO_BLOCKS).complete("def a():\n    return 0\n")


def test_a_program_without_markers_is_all_evolvable():
    template = cut("x = 1\n")
    assert not template.marked and template.complete("x = 2\n") == "x = 2\n"


def test_offline_operators_change_blocks_only_and_keep_indentation():
    operators = block_operators(generic_operators())
    for program in (PROGRAM, TWO_BLOCKS):
        frame = cut(program).frame
        changed = 0
        for seed in range(40):
            rng = random.Random(seed)
            name = sorted(operators.mutations)[seed % len(operators.mutations)]
            mutation = operators.mutations[name](program, rng)
            if mutation is None:
                continue
            changed += 1
            assert cut(mutation.code).frame == frame
            compile(mutation.code, "<mutated>", "exec")  # the indented block still parses
        assert changed >= 5
        child = operators.crossover(
            program, program.replace("2.5", "3.5"), random.Random(1), ("a", "b")
        )
        if child is not None:
            assert cut(child.code).frame == frame
