"""Regularized evolution: tournament selection within an aging window, and children that are new."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from agentic_design.config import EvolutionConfig
from agentic_design.proposers.evolution import (
    EvolutionProposer,
    NoNovelChildError,
    NoParentsError,
    select_population,
    tournament,
)
from agentic_design.records import Design, Status, code_hash
from agentic_design.tasks.architecture.mutations import torch_operators

CNN = (Path(__file__).resolve().parents[1] / "archive/architecture/mnist1d/cnn.py").read_text()


def evolution(seed: int = 0, **settings: object) -> EvolutionProposer:
    """Evolution over architectures, as the architecture tasks configure it."""
    return EvolutionProposer(EvolutionConfig(**settings), torch_operators(), seed=seed)


def cnn(channels: int) -> str:
    return CNN.replace("channels = 24", f"channels = {channels}")


def design(
    id: int,
    fitness: float | None,
    *,
    code: str | None = None,
    status: Status = Status.OK,
    generation: int = 0,
    name: str = "Small 1-D CNN",
) -> Design:
    code = code if code is not None else cnn(8 + id)
    return Design(
        id=id,
        run="test",
        name=name,
        thought="",
        code=code,
        code_hash=code_hash(code),
        status=status,
        fitness=fitness,
        generation=generation,
    )


def test_tournament_returns_the_fittest_of_its_sample():
    population = [design(i, fitness=random.Random(i).random()) for i in range(1, 11)]
    for seed in range(50):
        sample = random.Random(seed).sample(population, 3)
        assert tournament(population, 3, random.Random(seed)) == max(
            sample, key=lambda d: d.fitness
        )
    # a tournament as large as the population always finds the best
    best = max(population, key=lambda d: d.fitness)
    assert all(tournament(population, 99, random.Random(s)) == best for s in range(10))


def test_population_is_the_most_recent_working_designs():
    history = [
        design(1, 0.9),
        design(2, None, status=Status.ERROR),
        design(3, 0.5),
        design(4, 0.7, status=Status.INVALID),
        design(5, None),
        design(6, 0.6),
        design(7, 0.4),
    ]
    assert [d.id for d in select_population(history, 3)] == [3, 6, 7]
    assert [d.id for d in select_population(history, 10)] == [1, 3, 6, 7]


def test_a_design_older_than_the_window_is_never_a_parent():
    champion = design(1, 0.99)
    history = [champion] + [design(i, 0.5 + i / 100) for i in range(2, 6)]
    for crossover_rate in (0.0, 1.0):
        settings = dict(population=4, tournament=4, crossover_rate=crossover_rate)
        proposer = evolution(0, **settings)
        for seed in range(30):
            proposal = proposer.propose(history, random.Random(seed))
            assert champion.id not in proposal.parents
            assert proposal.parents[0] == 5  # the fittest of the window, as the tournament is full


def test_child_records_parents_generation_and_what_changed():
    parent = design(3, 0.874, generation=4, name="Small 1-D CNN ·m3")
    proposal = evolution(1).propose([parent])
    assert proposal.parents == (3,)
    assert proposal.generation == 5
    assert proposal.proposer == "evolution"
    assert proposal.name == "Small 1-D CNN ·m4"  # the old suffix is replaced, not extended
    assert proposal.thought.startswith("Mutated 'Small 1-D CNN ·m3' (fitness 0.874): ")
    assert proposal.operator.split(":")[0] in ("constant", "swap", "insert", "remove", "recipe")
    assert ast.unparse(ast.parse(proposal.code)) != ast.unparse(ast.parse(parent.code))


def test_crossover_child_has_two_parents_and_the_later_generation():
    a = design(1, 0.8, generation=2)
    b = design(2, 0.7, generation=5, code=cnn(40).replace('"lr": 0.003', '"lr": 0.01'))
    settings = dict(population=2, tournament=1, crossover_rate=1.0)
    proposal = evolution(0, **settings).propose([a, b])
    assert sorted(proposal.parents) == [1, 2]
    assert proposal.generation == 6
    assert proposal.operator.startswith("crossover: model of #")
    assert proposal.name.endswith(" ·x3") and proposal.thought.startswith("Crossed ")


def test_stacked_mutations_are_all_described():
    settings = dict(mutations_per_child=4)
    proposals = [evolution(s, **settings).propose([design(1, 0.5)]) for s in range(20)]
    counts = {len(p.operator.split("; ")) for p in proposals}
    assert counts <= {1, 2, 3, 4} and len(counts) >= 3


def test_proposals_are_deterministic():
    history = [design(i, i / 10) for i in range(1, 7)]
    settings = dict(population=4, tournament=2, crossover_rate=0.5)
    first = evolution(7, **settings).propose(history)
    assert first == evolution(7, **settings).propose(history)
    proposer = evolution(0, **settings)
    assert proposer.propose(history, random.Random(3)) == proposer.propose(
        history, random.Random(3)
    )
    others = {evolution(s, **settings).propose(history).code for s in range(8)}
    assert len(others) > 1  # the seed does matter


def test_children_never_repeat_code_the_run_already_has():
    # A seed whose only possible change is its one activation: seven distinct programs in all.
    seed = "from torch import nn\n\ndef build_model(s, n):\n    return nn.Sequential(nn.ReLU())\n"
    settings = dict(population=16, tournament=2, operator_weights={"swap": 1.0})
    proposer = evolution(0, **settings)
    history = [design(1, 0.5, code=seed)]
    for i in range(2, 8):
        proposal = proposer.propose(history)
        history.append(design(i, 0.5, code=proposal.code))
    normalized = {ast.unparse(ast.parse(d.code)) for d in history}
    assert len(normalized) == 7
    with pytest.raises(NoNovelChildError):
        proposer.propose(history)


def test_no_working_design_means_no_parents():
    proposer = evolution(0)
    with pytest.raises(NoParentsError, match="finished OK"):
        proposer.propose([])
    with pytest.raises(NoParentsError):
        proposer.propose([design(1, None, status=Status.ERROR), design(2, None)])


def test_settings_reject_nonsense():
    with pytest.raises(ValueError, match="population"):
        EvolutionConfig(population=0)
    with pytest.raises(ValueError, match="crossover_rate"):
        EvolutionConfig(crossover_rate=1.5)
    with pytest.raises(ValueError, match="unknown mutation operator"):
        evolution(operator_weights={"mutate_everything": 1.0})


def test_a_parent_no_configured_operator_can_change_is_passed_over_not_a_crash():
    from agentic_design.mutations.generic import generic_operators

    only_constants = EvolutionProposer(
        EvolutionConfig(operator_weights={"constant": 1.0}, crossover_rate=0.0),
        generic_operators(),
        seed=0,
    )
    bare = "def priority(item, bins):\n    return -(bins - item)\n"  # no number to change
    tunable = "def priority(item, bins):\n    return -(bins - item) * 2.0\n"
    history = [design(1, 0.9, code=bare), design(2, 0.1, code=tunable)]
    for seed in range(10):
        child = only_constants.propose(history, random.Random(seed))
        assert child.parents == (2,) and "2.0" not in child.code
    with pytest.raises(NoNovelChildError, match="no configured mutation operator"):
        only_constants.propose([design(1, 0.9, code=bare)], random.Random(0))
