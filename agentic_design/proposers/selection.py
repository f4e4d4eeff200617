"""Parent selection: small swappable strategies behind one interface.

A strategy is fed every finished design once, in id order (`add`), and keeps only what it needs
to choose parents (`pick`), so choosing costs the same at design 100,000 as at design 100:

- `regularized`: the most recent `population` working designs, a tournament among them (aging
  evolution; every design eventually ages out however good it was);
- `best_k`: a tournament among the k best so far;
- `map_elites`: a grid over the task's descriptors (parameters and depth, LLM calls per
  example...), each cell keeping its best design; parents from cells drawn uniformly, so every
  kind of design that works keeps breeding;
- `islands`: several regularized populations evolving apart; a child joins its first parent's
  island, and every `migrate_every` designs each island's best joins the next island; with
  `stagnation`, a new island seeded from a diverse design when the best stops improving;
- `uniform`: no selection pressure at all, every working design equally likely (the control
  run, `search.proposer: random_sampling`, which shows what the others add).

Chosen and tuned in YAML (`search.selection`; `uniform` by `search.proposer`). Randomness comes
from the caller's seeded rng only (`uniform`'s bounded sample, from the run's seed and the
design's number), so a run is reproducible.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, ClassVar

from agentic_design.records import Design, Status

if TYPE_CHECKING:
    from agentic_design.config import SelectionConfig
    from agentic_design.store.archive import Archive


def works(design: Design) -> bool:
    """Whether a design may be a parent: finished OK with a finite fitness."""
    fitness = design.fitness
    return design.status is Status.OK and fitness is not None and math.isfinite(fitness)


def tournament(population: Sequence[Design], size: int, rng: random.Random) -> Design:
    """The fittest of `size` members sampled without replacement (ties go to the first drawn)."""
    sample = rng.sample(list(population), min(size, len(population)))
    return max(sample, key=lambda d: d.fitness if d.fitness is not None else -math.inf)


class Strategy(ABC):
    """Keeps what choosing parents needs, fed one finished design at a time."""

    name: ClassVar[str]

    def __init__(self, tournament_size: int) -> None:
        self.tournament_size = tournament_size

    @abstractmethod
    def add(self, design: Design) -> None:
        """A finished design (any status), in id order."""

    def warm(self, archive: Archive, upto: int, outline: bool = True) -> None:
        """Catch up with a run's designs up to `upto` (a resumed run of any length), then read
        the designs kept whole (`outline`: without their code, thought and error)."""
        self._catch_up(archive, upto)
        ids = [design.id for design in self.held()]
        self._swap(archive.designs_by_id(ids, outline=outline))

    def follow(self, archive: Archive, after: int, upto: int, outline: bool = True) -> list[Design]:
        """Catch up with a run's designs finished in (`after`, `upto`], as a proposer plans
        from growing snapshots: warmed from the store when nothing was read yet (a resumed run;
        returns []), else fed the new ones, which it returns."""
        if after == 0:
            self.warm(archive, upto, outline)
            return []
        new = archive.designs(after=after, upto=upto, outline=outline)
        new = [design for design in new if design.status is not Status.PENDING]
        for design in new:
            self.add(design)
        return new

    def _catch_up(self, archive: Archive, upto: int) -> None:
        # Every finished design, as the skeleton choosing reads (id, status, fitness, first
        # parent, descriptors): a Design in full costs ten times as much to read.
        for design in archive.skeletons(upto):
            self.add(design)

    @abstractmethod
    def held(self) -> list[Design]:
        """Every design the strategy keeps."""

    @abstractmethod
    def _swap(self, designs: dict[int, Design]) -> None:
        """Put `designs` (by id) in place of the ones kept with the same ids."""

    @abstractmethod
    def population(self, number: int) -> list[Design]:
        """The designs the parents of design `number` are drawn from, oldest first."""

    def pick(self, rng: random.Random, number: int, exclude: Sequence[int] = ()) -> Design:
        """A parent for design `number` (not one of `exclude`); ValueError if there is none."""
        pool = [d for d in self.population(number) if d.id not in exclude]
        if not pool:
            raise ValueError("no design to choose from")
        return tournament(pool, self.tournament_size, rng)


class Regularized(Strategy):
    name = "regularized"

    def __init__(self, size: int, tournament_size: int) -> None:
        super().__init__(tournament_size)
        self.window: deque[Design] = deque(maxlen=size)

    def add(self, design: Design) -> None:
        if works(design):
            self.window.append(design)

    def population(self, number: int) -> list[Design]:
        return list(self.window)

    def held(self) -> list[Design]:
        return list(self.window)

    def _swap(self, designs: dict[int, Design]) -> None:
        self.window = deque((designs.get(d.id, d) for d in self.window), self.window.maxlen)

    def _catch_up(self, archive: Archive, upto: int) -> None:
        for design in archive.recent_working(self.window.maxlen or 0, upto):
            self.add(design)


class BestK(Strategy):
    name = "best_k"

    def __init__(self, k: int, tournament_size: int) -> None:
        super().__init__(tournament_size)
        self.k = k
        self.best: list[Design] = []

    def add(self, design: Design) -> None:
        if works(design):
            self.best.append(design)
            # Fittest first; of equals the earlier stays (stable sort on id order of arrival).
            self.best.sort(key=lambda d: -(d.fitness or 0.0))
            del self.best[self.k :]

    def population(self, number: int) -> list[Design]:
        return sorted(self.best, key=lambda d: d.id)

    def held(self) -> list[Design]:
        return list(self.best)

    def _swap(self, designs: dict[int, Design]) -> None:
        self.best = [designs.get(d.id, d) for d in self.best]

    def _catch_up(self, archive: Archive, upto: int) -> None:
        for design in sorted(archive.top(self.k, upto, outline=True), key=lambda d: d.id):
            self.add(design)


class MapElites(Strategy):
    """Cells by descriptor: each descriptor's value is binned on a log scale
    (`per_octave` bins per doubling) unless `bins` gives its edges."""

    name = "map_elites"

    def __init__(
        self,
        tournament_size: int,
        descriptors: Sequence[str] | None = None,
        bins: dict[str, list[float]] | None = None,
        per_octave: float = 1.0,
    ) -> None:
        super().__init__(tournament_size)
        self.names = list(descriptors) if descriptors else None
        self.bins = bins or {}
        self.per_octave = per_octave
        self.elites: dict[tuple[int, ...], Design] = {}

    def cell(self, design: Design) -> tuple[int, ...]:
        names = self.names if self.names is not None else sorted(design.descriptors)
        return tuple(self._bin(name, design.descriptors.get(name, 0.0)) for name in names)

    def _bin(self, name: str, value: float) -> int:
        if not math.isfinite(value):
            return -1
        if name in self.bins:
            return sum(value >= edge for edge in self.bins[name])
        return math.floor(math.log2(1.0 + abs(value)) * self.per_octave) * (1 if value >= 0 else -1)

    def add(self, design: Design) -> None:
        if not works(design):
            return
        cell = self.cell(design)
        elite = self.elites.get(cell)
        if elite is None or (design.fitness or 0.0) > (elite.fitness or 0.0):
            self.elites[cell] = design

    def population(self, number: int) -> list[Design]:
        return sorted(self.elites.values(), key=lambda d: d.id)

    def held(self) -> list[Design]:
        return list(self.elites.values())

    def _swap(self, designs: dict[int, Design]) -> None:
        self.elites = {cell: designs.get(d.id, d) for cell, d in self.elites.items()}

    def pick(self, rng: random.Random, number: int, exclude: Sequence[int] = ()) -> Design:
        # Uniform over occupied cells: a niche with a poor elite breeds as often as the best.
        pool = [d for d in self.population(number) if d.id not in exclude]
        if not pool:
            raise ValueError("no design to choose from")
        return rng.choice(pool)


class Islands(Strategy):
    """`count` regularized windows. A design joins its first parent's island (a seed, or a
    design without parents, the island of its id); design `number`'s parents come from island
    `number % len(islands)`. Every `migrate_every` designs added, each island's best is copied
    into the next island (a ring, new islands included).

    Stagnation islands (`stagnation`, off by default; ShinkaEvolve's answer to a stalled
    search): once `stagnation` designs in a row, of any status, bring no new best, and while
    fewer than `max_islands` islands exist, a new island is appended, seeded with one diverse
    working design (`diverse`), and the count starts again. The seed is copied into the new
    island and its lineage moves there: its later children, whichever island they were bred
    on, join the new island, which grows from it. Every spawn is listed in `spawned` as (the
    id of the design whose arrival triggered it, the new island's index, the seed's id). It
    all depends only on the designs fed in id order, so a resumed run, fed them again,
    spawns the same islands at the same designs."""

    name = "islands"

    def __init__(
        self,
        count: int,
        size: int,
        tournament_size: int,
        migrate_every: int,
        stagnation: int | None = None,
        max_islands: int = 16,
    ) -> None:
        super().__init__(tournament_size)
        self.size = size
        self.islands = [Regularized(size, tournament_size) for _ in range(count)]
        self.home: dict[int, int] = {}
        self.migrate_every = migrate_every
        self.added = 0
        self.stagnation = stagnation
        self.max_islands = max_islands
        self.best: Design | None = None  # the fittest working design so far, earliest of equals
        self.since_best = 0  # designs added since the best last improved (or the last spawn)
        self.spawned: list[tuple[int, int, int]] = []

    def island_of(self, design: Design) -> int:
        if design.parents and design.parents[0] in self.home:
            return self.home[design.parents[0]]
        return design.id % len(self.islands)

    def add(self, design: Design) -> None:
        island = self.island_of(design)
        self.home[design.id] = island
        self.islands[island].add(design)
        self.added += 1
        if self.stagnation is not None:
            self._watch(design)
        if self.added % self.migrate_every == 0:
            self._migrate()

    def _watch(self, design: Design) -> None:
        """Count the designs since the best last improved; seed a new island when they reach
        `stagnation`."""
        if works(design) and (self.best is None or _fitness(design) > _fitness(self.best)):
            self.best, self.since_best = design, 0
            return
        if self.best is None:  # nothing works yet: nothing to seed an island with
            return
        self.since_best += 1
        if self.since_best >= (self.stagnation or 0) and len(self.islands) < self.max_islands:
            seed = diverse(self.held(), self.best, self.home, used={s for _, _, s in self.spawned})
            self.islands.append(Regularized(self.size, self.tournament_size))
            index = len(self.islands) - 1
            self.islands[index].add(seed)
            self.home[seed.id] = index
            self.spawned.append((design.id, index, seed.id))
            self.since_best = 0

    def _migrate(self) -> None:
        best = [
            max(island.window, key=lambda d: d.fitness or 0.0) if island.window else None
            for island in self.islands
        ]
        for i, design in enumerate(best):
            target = self.islands[(i + 1) % len(self.islands)]
            if design is not None and all(d.id != design.id for d in target.window):
                target.window.append(design)

    def held(self) -> list[Design]:
        return [design for island in self.islands for design in island.window]

    def _swap(self, designs: dict[int, Design]) -> None:
        for island in self.islands:
            island._swap(designs)

    def population(self, number: int) -> list[Design]:
        own = self.islands[number % len(self.islands)].population(number)
        # An island that has nothing yet borrows from all, rather than stalling the search.
        return own or sorted(
            {d.id: d for i in self.islands for d in i.window}.values(), key=lambda d: d.id
        )


def _fitness(design: Design) -> float:
    return design.fitness if design.fitness is not None else -math.inf


def _scaled(value: float) -> float | None:
    # Log scale, as MapElites bins: a parameter count's doubling weighs as much at 1,000 as at
    # 1,000,000. A value that is not finite takes no part in a distance.
    if not math.isfinite(value):
        return None
    return math.copysign(math.log2(1.0 + abs(value)), value)


def diverse(
    held: Sequence[Design], best: Design, home: dict[int, int], used: Collection[int] = ()
) -> Design:
    """A held working design far from `best`, to seed a new island with: never the best itself
    while another works, nor a design that seeded an island before (`used`) while another
    remains; ties go to the smaller id.

    Only the fitter half of the candidates is considered (the fitter of equals first): the
    farthest design is otherwise the worst one, wherever a descriptor follows the fitness (bin
    packing's excess). Among them, with descriptors: the farthest from the best in descriptor
    space, each descriptor on a log scale divided by its range among the held designs and the
    best (a descriptor that does not vary, or that the best lacks, counts for nothing).
    Without them (or when every distance is zero), by lineage, since a skeleton has no code to
    compare: of the islands the designs come from (their home), other than the best's, the one
    whose fittest design is least fit, i.e. the lineage that has drifted farthest from the
    best; its fittest design. When every one shares the best's lineage, the oldest."""
    pool = {d.id: d for d in held if works(d) and d.id != best.id}
    fresh = [d for d in pool.values() if d.id not in used]
    ranked = sorted(fresh or pool.values(), key=lambda d: (-_fitness(d), d.id))
    if not ranked:
        return best
    candidates = sorted(ranked[: (len(ranked) + 1) // 2], key=lambda d: d.id)
    names = sorted(best.descriptors)
    ranges: dict[str, float] = {}
    for name in names:
        values = [_scaled(d.descriptors.get(name, math.nan)) for d in [*pool.values(), best]]
        finite = [v for v in values if v is not None]
        if finite and max(finite) > min(finite):
            ranges[name] = max(finite) - min(finite)

    def distance(design: Design) -> float:
        total = 0.0
        for name, span in ranges.items():
            a = _scaled(design.descriptors.get(name, math.nan))
            b = _scaled(best.descriptors[name])
            if a is not None and b is not None:
                total += ((a - b) / span) ** 2
        return math.sqrt(total)

    if ranges:
        far = max(candidates, key=distance)  # max keeps the first, the smaller id, of equals
        if distance(far) > 0:
            return far
    lineages: dict[int, Design] = {}  # home island -> its fittest held design
    for design in candidates:
        island = home.get(design.id, -1)
        if island != home.get(best.id, -1):
            fittest = lineages.get(island)
            if fittest is None or _fitness(design) > _fitness(fittest):
                lineages[island] = design
    if not lineages:
        return candidates[0]
    return min(lineages.values(), key=lambda d: (_fitness(d), d.id))


class Uniform(Strategy):
    """No selection pressure: each working design so far, seeds included, is as likely to be a
    parent as any other, whatever its fitness (the control run, `search.proposer:
    random_sampling`).

    Only ids are kept, so a draw is one index however long the run: the drawn design is read
    from the store the strategy follows (or, fed by `add` alone, kept from the design given).
    `population(number)` is a uniform sample of `size` working designs, drawn for each design
    `number` from `seed`: what a prompt shows as the run so far, bounded whatever its size;
    `pick` draws from all of them, not only from that sample."""

    name = "uniform"

    def __init__(self, size: int, seed: int = 0) -> None:
        super().__init__(tournament_size=1)
        self.size = size
        self.seed = seed
        self.ids: list[int] = []  # every working design's, in id order
        self._given: dict[int, Design] = {}  # fed without a store to read them from
        self._archive: Archive | None = None
        self._outline = True
        # The last population drawn, for (number, working designs then): evolution asks for
        # it several times a plan, and it is read from the store once.
        self._sample: tuple[tuple[int, int], list[Design]] | None = None

    def add(self, design: Design) -> None:
        if works(design):
            self.ids.append(design.id)
            if self._archive is None:
                self._given[design.id] = design

    def follow(self, archive: Archive, after: int, upto: int, outline: bool = True) -> list[Design]:
        self._archive, self._outline = archive, outline
        return super().follow(archive, after, upto, outline)

    def warm(self, archive: Archive, upto: int, outline: bool = True) -> None:
        # Ids alone: the designs are read when drawn, so nothing held is read whole here.
        self._archive, self._outline = archive, outline
        for design in archive.skeletons(upto):
            self.add(design)

    def held(self) -> list[Design]:
        return list(self._given.values())

    def _swap(self, designs: dict[int, Design]) -> None:
        self._given = {i: designs.get(i, d) for i, d in self._given.items()}

    def _read(self, ids: list[int], outline: bool) -> list[Design]:
        """The designs with these ids, in that order: as given, else from the store."""
        missing = [i for i in ids if i not in self._given]
        read = self._archive.designs_by_id(missing, outline) if missing and self._archive else {}
        return [self._given[i] if i in self._given else read[i] for i in ids]

    def population(self, number: int) -> list[Design]:
        key = (number, len(self.ids))
        if self._sample is None or self._sample[0] != key:
            rng = random.Random(self.seed * 1_000_003 + number)
            drawn = rng.sample(range(len(self.ids)), min(self.size, len(self.ids)))
            self._sample = key, self._read(sorted(self.ids[i] for i in drawn), self._outline)
        return list(self._sample[1])

    def pick(self, rng: random.Random, number: int, exclude: Sequence[int] = ()) -> Design:
        # Drawn again when excluded: exact, and a few draws, since only a parent or two and
        # the designs no operator can change are ever excluded.
        excluded = set(exclude)
        for _ in range(64):
            if not self.ids:
                break
            design_id = self.ids[rng.randrange(len(self.ids))]
            if design_id not in excluded:
                return self._read([design_id], outline=False)[0]
        pool = [i for i in self.ids if i not in excluded]  # nearly all excluded: scan once
        if not pool:
            raise ValueError("no design to choose from")
        return self._read([rng.choice(pool)], outline=False)[0]


def make_strategy(config: SelectionConfig, population: int, tournament_size: int) -> Strategy:
    """The configured strategy (`population` and `tournament_size` from search.evolution)."""
    if config.strategy == "best_k":
        return BestK(config.k, tournament_size)
    if config.strategy == "map_elites":
        return MapElites(tournament_size, config.descriptors, config.bins, config.per_octave)
    if config.strategy == "islands":
        return Islands(
            config.islands,
            population,
            tournament_size,
            config.migrate_every,
            stagnation=config.stagnation,
            max_islands=config.max_islands,
        )
    return Regularized(population, tournament_size)
