"""Parent selection strategies: what each keeps, what it picks, and evolution planning that reads
only what finished since its last plan."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.config import ConfigError, EvolutionConfig, SelectionConfig
from agentic_design.proposers.evolution import EvolutionProposer, select_population
from agentic_design.proposers.selection import BestK, Islands, MapElites, Regularized, make_strategy
from agentic_design.records import Proposal
from agentic_design.tasks.architecture.mutations import torch_operators

from .conftest import small_digits_config
from .test_evolution import cnn, design


def fed(strategy, designs):
    for d in designs:
        strategy.add(d)
    return strategy


def test_the_regularized_window_is_the_most_recent_working_designs():
    history = [design(i, 0.1 * i) for i in range(1, 9)]
    history[5] = design(6, None, status=Status.ERROR)
    window = fed(Regularized(3, 2), history)
    assert [d.id for d in window.population(9)] == [d.id for d in select_population(history, 3)]
    assert [d.id for d in window.population(9)] == [5, 7, 8]


def test_best_k_keeps_the_k_fittest_and_the_earlier_of_equals():
    history = [design(i, f) for i, f in enumerate([0.5, 0.9, 0.7, 0.9, 0.1, 0.8], start=1)]
    best = fed(BestK(3, 2), history)
    assert [d.id for d in best.population(7)] == [2, 4, 6]
    assert best.pick(random.Random(0), 7).id in {2, 4}  # a tournament of two among them


def with_descriptors(id: int, fitness: float, params: float, depth: float):
    return replace(design(id, fitness), descriptors={"params": params, "depth": depth})


def test_map_elites_keeps_the_best_of_each_cell_and_picks_cells_evenly():
    history = [
        with_descriptors(1, 0.50, 1_100, 2),
        with_descriptors(2, 0.60, 1_500, 2),  # the same octave as 1, fitter: replaces it
        with_descriptors(3, 0.90, 100_000, 2),
        with_descriptors(4, 0.40, 1_100, 8),  # a deeper niche of its own, however poor
        with_descriptors(5, 0.55, 1_300, 2),  # the same cell as 2, less fit: ignored
    ]
    grid = fed(MapElites(2), history)
    assert [d.id for d in grid.population(6)] == [2, 3, 4]
    picks = [grid.pick(random.Random(seed), 6).id for seed in range(300)]
    assert {picks.count(i) for i in (2, 3, 4)} <= set(range(70, 131))  # about 100 each
    edges = fed(MapElites(2, descriptors=["params"], bins={"params": [10_000]}), history)
    assert [d.id for d in edges.population(6)] == [2, 3]  # two bins, depth ignored


def test_islands_keep_lineages_apart_and_migrate_their_best():
    islands = Islands(count=2, size=8, tournament_size=2, migrate_every=100)
    seeds = [design(1, 0.3), design(2, 0.8)]  # island 1 and island 0 (id % 2)
    children = [
        replace(design(3, 0.4), parents=(1,)),  # joins its parent's island, 1
        replace(design(4, 0.9), parents=(2,)),  # island 0
    ]
    fed(islands, seeds + children)
    assert [d.id for d in islands.population(number=10)] == [2, 4]  # 10 % 2 == 0
    assert [d.id for d in islands.population(number=11)] == [1, 3]
    islands._migrate()
    assert [d.id for d in islands.population(number=11)] == [1, 3, 4]  # island 0's best
    assert [d.id for d in islands.population(number=10)] == [2, 4, 3]


def test_the_strategy_is_chosen_in_yaml_and_a_wrong_name_is_a_config_error(tmp_path):
    strategies = {"regularized": Regularized, "best_k": BestK, "map_elites": MapElites}
    for name, kind in {**strategies, "islands": Islands}.items():
        assert isinstance(make_strategy(SelectionConfig(strategy=name), 8, 3), kind)
    data = small_digits_config(tmp_path / "run")
    data["search"]["selection"] = {"strategy": "tabu"}
    with pytest.raises(ConfigError, match=r"search\.selection\.strategy"):
        RunConfig.from_dict(data)


class CountingArchive:
    """An archive that says how many designs each read returned."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.reads: list[int] = []

    def designs(self, **kwargs):
        found = self.archive.designs(**kwargs)
        self.reads.append(len(found))
        return found

    def __getattr__(self, name):  # everything else, as the archive does it
        return getattr(self.archive, name)


@pytest.mark.parametrize("strategy", ["regularized", "best_k", "map_elites", "islands"])
def test_planning_reads_only_the_designs_finished_since_the_last_plan(tmp_path, strategy):
    archive = Archive.create(tmp_path / strategy)
    proposer = EvolutionProposer(
        EvolutionConfig(population=8, tournament=2),
        torch_operators(),
        seed=0,
        selection=SelectionConfig(strategy=strategy, migrate_every=5),
    )
    counting = CountingArchive(archive)
    first = archive.add(Proposal("seed", "", cnn(8)), eval_seed=0, task_fingerprint="f")
    archive.finish(first, ok(0.5, first))
    for number in range(2, 60):
        plan = proposer.plan(counting, number, upto=number - 1)
        design_id = archive.add(plan, eval_seed=0, task_fingerprint="f")
        archive.finish(design_id, ok(0.5 + number / 1000, design_id))
    assert max(counting.reads) == 1  # one new design a plan, however long the run
    assert len({d.code_hash for d in archive.designs()}) == 59  # every child new


@pytest.mark.parametrize("strategy", ["regularized", "best_k", "map_elites", "islands"])
def test_warming_from_the_store_keeps_what_feeding_every_design_keeps(tmp_path, strategy):
    # A resumed run warms its strategy from skeletons (id, status, fitness, first parent,
    # descriptors); what it keeps must be what a run fed design by design keeps, read whole.
    archive = Archive.create(tmp_path / strategy)
    rng = random.Random(0)
    for i in range(1, 41):
        parents = (rng.randint(1, i - 1), rng.randint(1, i - 1)) if i > 3 else ()
        design_id = archive.add(
            Proposal(f"d{i}", f"thought {i}", cnn(8 + i), parents),
            eval_seed=0,
            task_fingerprint="f",
        )
        if i % 7 == 0:
            archive.finish(
                design_id, replace(ok(0.0, design_id), status=Status.ERROR, fitness=None)
            )
        else:
            archive.finish(design_id, ok(rng.random(), design_id))
    config = SelectionConfig(strategy=strategy, k=5, migrate_every=6, islands=3)
    fed_one_by_one = fed(make_strategy(config, 6, 2), archive.designs(upto=37))
    warmed = make_strategy(config, 6, 2)
    warmed.warm(archive, upto=37, outline=False)
    for number in (38, 39, 40):
        assert [d.id for d in warmed.population(number)] == [
            d.id for d in fed_one_by_one.population(number)
        ]
        assert warmed.population(number) == fed_one_by_one.population(number)  # whole designs
    outlined = make_strategy(config, 6, 2)
    outlined.warm(archive, upto=37)
    assert [d.id for d in outlined.held()] == [d.id for d in fed_one_by_one.held()]
    assert all(d.name and d.parents == archive.get(d.id).parents for d in outlined.held())
    assert all(not d.code for d in outlined.held())  # an outline: the code is read on demand


def ok(fitness: float, design_id: int):
    from agentic_design.records import Evaluation

    return Evaluation(
        status=Status.OK,
        split="validation",
        seed=0,
        fitness=fitness,
        metrics={"params": 1000 + design_id},
        descriptors={"params": float(1000 * design_id), "depth": float(design_id % 3)},
    )


@pytest.mark.slow
def test_a_digits_search_runs_with_map_elites(tmp_path):
    data = small_digits_config(tmp_path / "run", evaluations=10)
    data["search"]["selection"] = {"strategy": "map_elites"}
    result = Search(RunConfig.from_dict(data), progress=False).run()
    # Cheap evaluations first: more designs than full evaluations (tests/test_cheap_first.py).
    assert result.total >= 10 and result.best is not None
    children = [d for d in Archive.open(tmp_path / "run").designs() if d.parents]
    assert children and all(d.status is not Status.PENDING for d in children)


@pytest.mark.slow
def test_the_meta_agent_can_take_its_parents_from_the_strategy(tmp_path):
    from .llm_server import ScriptedLLM
    from .test_meta_agent import Designer, llm_config

    with ScriptedLLM(answer=Designer()) as server:
        config = llm_config(server, tmp_path, evaluations=8, modes={"mutate": 1.0})
        config = config.with_overrides(
            **{
                "search.meta_agent.parents": "selection",
                "search.meta_agent.reflexion_rounds": 0,
                "search.selection": {"strategy": "best_k", "k": 1},
            }
        )
        Search(config, progress=False).run()
    designs = Archive.open(tmp_path / "run").designs()
    children = [d for d in designs if d.parents]
    seeds = max(d.id for d in designs if not d.parents and d.origin.value == "seed")
    lag = 2 + 2  # proposals in flight (llm.concurrency) + workers: the planning snapshot
    assert children
    for child in children:  # best_k with k=1: the parent is the best of its snapshot
        snapshot = [
            d for d in designs if d.id <= max(child.id - lag, seeds) and d.status is Status.OK
        ]
        best = max(snapshot, key=lambda d: d.fitness)
        assert (
            child.parents == (best.id,)
            or next(d.fitness for d in snapshot if d.id == child.parents[0]) == best.fitness
        )
