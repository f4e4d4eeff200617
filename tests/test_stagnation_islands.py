"""Stagnation islands: with `search.selection: {strategy: islands, stagnation: N}`, N designs
in a row without a new best seed a new island with a diverse design, up to `max_islands`, and
the same designs fed in id order (a resumed run) spawn the same islands."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.config import SelectionConfig
from agentic_design.proposers.selection import Islands, make_strategy
from agentic_design.records import Design, Proposal

from .test_evolution import cnn, design
from .test_selection import fed, ok


def skeleton(
    id: int,
    fitness: float | None,
    parent: int | None = None,
    params: float | None = None,
    status: Status = Status.OK,
) -> Design:
    """A design as a strategy is fed it: id, status, fitness, first parent, descriptors."""
    made = design(id, fitness, status=status)
    return replace(
        made,
        parents=(parent,) if parent is not None else (),
        descriptors={"params": params} if params is not None else {},
    )


def plateau() -> list[Design]:
    return [
        skeleton(1, 0.5, params=1_000),  # island 1 (id % 2)
        skeleton(2, 0.9, params=1_000),  # island 0; the best, never beaten below
        skeleton(3, 0.8, parent=1, params=1_000_000),  # island 1, far from the best
        skeleton(4, 0.7, parent=2, params=2_000),  # island 0, close to it
        skeleton(5, None, parent=2, status=Status.ERROR),  # the third without a new best
    ]


def test_a_plateau_of_stagnation_designs_seeds_an_island_with_the_farthest_design():
    islands = Islands(2, size=8, tournament_size=2, migrate_every=1000, stagnation=3)
    fed(islands, plateau()[:4])
    assert islands.spawned == [] and len(islands.islands) == 2  # two without a new best
    fed(islands, plateau()[4:])
    # Design 5 was the third: island 2 seeded with 3, the farthest from the best in params.
    assert islands.spawned == [(5, 2, 3)] and len(islands.islands) == 3
    assert [d.id for d in islands.population(number=8)] == [3]  # 8 % 3 == 2: the new island
    assert [d.id for d in islands.population(number=6)] == [2, 4]  # 6 % 3 == 0, as before
    assert [d.id for d in islands.population(number=7)] == [1, 3]  # the seed stays home too
    # The seed's children, wherever they were bred, grow the new island.
    fed(islands, [skeleton(6, 0.6, parent=3, params=900_000)])
    assert [d.id for d in islands.population(number=8)] == [3, 6]


def test_no_island_is_seeded_while_the_best_improves():
    islands = Islands(2, size=8, tournament_size=2, migrate_every=7, stagnation=2)
    fed(islands, [skeleton(i, 0.01 * i, parent=i - 1 if i > 1 else None) for i in range(1, 60)])
    assert islands.spawned == [] and len(islands.islands) == 2


def test_each_further_stagnation_seeds_another_island_up_to_max_islands():
    islands = Islands(2, size=8, tournament_size=2, migrate_every=1000, stagnation=3, max_islands=4)
    later = [skeleton(i, 0.1, parent=1, params=10.0**i) for i in range(6, 20)]
    fed(islands, plateau() + later)
    assert [(trigger, index) for trigger, index, _ in islands.spawned] == [(5, 2), (8, 3)]
    assert len(islands.islands) == 4  # no fifth, however long the plateau
    # A design seeds one island: 3 did, so the second comes from the fitter half of the rest
    # (4, 1, 6 of 1, 4, 6, 7, 8): 6, the farthest of them, not 7 or 8, farther but less fit.
    assert islands.spawned[1][2] == 6
    # A new best, then `stagnation` designs without another: still no fifth island.
    fed(islands, [skeleton(20, 0.95, parent=2), *(skeleton(i, 0.1) for i in range(21, 30))])
    assert len(islands.spawned) == 2


def test_the_seed_is_never_the_best_unless_nothing_else_works():
    alone = Islands(2, size=8, tournament_size=2, migrate_every=1000, stagnation=2)
    fed(alone, [skeleton(1, 0.5), *(skeleton(i, None, status=Status.ERROR) for i in (2, 3))])
    assert alone.spawned == [(3, 2, 1)]
    equals = Islands(2, size=8, tournament_size=2, migrate_every=1000, stagnation=2)
    fed(equals, [skeleton(1, 0.5), skeleton(2, 0.5), skeleton(3, 0.5)])  # equals: no new best
    assert equals.spawned == [(3, 2, 2)]  # the earliest is the best; the next seeds


def test_without_descriptors_the_seed_comes_from_the_lineage_farthest_behind():
    islands = Islands(3, size=8, tournament_size=2, migrate_every=1000, stagnation=3)
    fed(
        islands,
        [
            skeleton(1, 0.3),  # island 1
            skeleton(2, 0.6),  # island 2
            skeleton(3, 0.9),  # island 0: the best
            skeleton(4, 0.8, parent=3),  # the best's lineage: too close, however fit
            skeleton(5, 0.65, parent=1),  # island 1
            skeleton(6, 0.7, parent=2),  # island 2; the third without a new best
        ],
    )
    # The fitter half of 1, 2, 4, 5, 6 is 4, 6, 5. Not 4, of the best's lineage; island 1's
    # fittest (5 at 0.65) is behind island 2's (6 at 0.7): 5.
    assert islands.spawned == [(6, 3, 5)]


def test_migration_rings_through_the_new_islands():
    islands = Islands(2, size=8, tournament_size=2, migrate_every=1000, stagnation=3)
    fed(islands, plateau())
    islands._migrate()
    windows = [[d.id for d in island.window] for island in islands.islands]
    # Island 0's best (2) to island 1, island 1's (3) to island 2 (there already), and the new
    # island 2's (3) round to island 0.
    assert windows == [[2, 4, 3], [1, 3, 2], [3]]


def random_run(length: int, seed: int) -> list[Design]:
    """Designs that improve at first and then plateau, with random parents and statuses."""
    rng = random.Random(seed)
    designs = []
    for i in range(1, length + 1):
        status = Status.ERROR if rng.random() < 0.2 else Status.OK
        fitness = min(i, 40) / 40 - rng.random() * 0.3 if status is Status.OK else None
        parent = rng.randint(1, i - 1) if i > 3 else None
        params = rng.choice([None, 10 ** rng.uniform(2, 6)])
        designs.append(skeleton(i, fitness, parent, params, status))
    return designs


def test_the_same_designs_fed_again_spawn_the_same_islands():
    designs = random_run(400, seed=1)
    first = fed(Islands(3, 10, 2, migrate_every=15, stagnation=12, max_islands=20), designs)
    again = fed(Islands(3, 10, 2, migrate_every=15, stagnation=12, max_islands=20), designs)
    assert len(first.spawned) >= 5
    assert again.spawned == first.spawned
    for number in range(401, 440):
        assert again.population(number) == first.population(number)


def test_off_by_default_islands_are_as_before():
    islands = fed(Islands(2, 10, 2, migrate_every=15), random_run(400, seed=1))
    assert islands.spawned == [] and len(islands.islands) == 2
    config = SelectionConfig(strategy="islands", stagnation=4, max_islands=5)
    made = make_strategy(config, 8, 2)
    assert isinstance(made, Islands) and (made.stagnation, made.max_islands) == (4, 5)
    assert make_strategy(SelectionConfig(strategy="islands"), 8, 2).stagnation is None


def test_a_strategy_warmed_from_the_store_spawns_what_one_fed_design_by_design_spawns(tmp_path):
    archive = Archive.create(tmp_path / "run")
    rng = random.Random(0)
    for i in range(1, 81):
        parents = (rng.randint(1, i - 1),) if i > 3 else ()
        design_id = archive.add(
            Proposal(f"d{i}", "", cnn(8 + i), parents), eval_seed=0, task_fingerprint="f"
        )
        fitness = min(i, 20) / 20 - rng.random() * 0.2
        if i % 6 == 0:
            failed = replace(ok(0.0, design_id), status=Status.ERROR, fitness=None)
            archive.finish(design_id, failed)
        else:
            archive.finish(design_id, ok(fitness, design_id))
    config = SelectionConfig(strategy="islands", islands=2, migrate_every=9, stagnation=6)
    one_by_one = fed(make_strategy(config, 6, 2), archive.designs(upto=75))
    warmed = make_strategy(config, 6, 2)
    warmed.warm(archive, upto=75, outline=False)
    assert isinstance(one_by_one, Islands) and isinstance(warmed, Islands)
    assert one_by_one.spawned and warmed.spawned == one_by_one.spawned
    for number in range(76, 90):
        assert warmed.population(number) == one_by_one.population(number)


def islands_config(run_dir: Path) -> RunConfig:
    return RunConfig.from_dict(
        {
            "name": run_dir.name,
            "task": "binpack",
            "task_params": {"distribution": "weibull", "items": 400, "instances": 2},
            "run_dir": str(run_dir),
            "seed": 0,
            "budget": {"evaluations": 30},
            "sandbox": {"workers": 2, "wall_s": 60},
            "search": {
                "evolution": {"population": 8, "tournament": 3, "mutations_per_child": 1},
                "selection": {"strategy": "islands", "islands": 2, "stagnation": 5},
                "report": False,
            },
        }
    )


@pytest.mark.slow
def test_a_search_that_stagnates_grows_islands_and_breeds_from_their_seeds(tmp_path):
    first = Search(islands_config(tmp_path / "a"), progress=False).run()
    second = Search(islands_config(tmp_path / "b"), progress=False).run()
    with Archive.open(first.run_dir, readonly=True) as archive:
        designs = archive.designs()
        strategy = make_strategy(islands_config(tmp_path / "a").search.selection, 8, 3)
        strategy.warm(archive, upto=max(d.id for d in designs))
    with Archive.open(second.run_dir, readonly=True) as archive:
        again = [(d.code_hash, d.status, d.parents) for d in archive.designs()]
    assert again == [(d.code_hash, d.status, d.parents) for d in designs]  # deterministic
    assert isinstance(strategy, Islands) and strategy.spawned
    assert len(strategy.islands) == 2 + len(strategy.spawned)
    # A new island breeds: some seed has children written after its island was seeded.
    assert any(
        d.id > trigger and d.parents[:1] == (seed,)
        for trigger, _, seed in strategy.spawned
        for d in designs
    )
