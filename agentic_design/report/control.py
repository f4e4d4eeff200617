"""The search beside its control run: what selection adds, at equal evaluations.

A control run (`search.proposer: random_sampling`) proposes as a search does, but draws each
parent uniformly from every working design, whatever its fitness. The report of either run finds
the other among the run directories beside it (the same task fingerprint, the other kind; the
most recently started if several), or is told which (`agentic-design report RUN --control DIR`),
and compares the two at the evaluations both have made: the first n finished designs of each by
id, n the smaller run's count.

Other runs' stores are opened read-only, and one that cannot be read is skipped and named: a run
beside this one never makes its report fail.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic_design.records import ArchiveError, Design
from agentic_design.report.data import Point, best_so_far, load_points
from agentic_design.store.archive import Archive, db_path

CONTROL = "random_sampling"  # search.proposer of a control run
CONTROL_NOTE = "random sampling (control"  # how its recorded proposer note begins
SCANNED = 200  # run directories beside this one read at most, the most recently changed first
# What reading another run's store may raise: not a store, a newer one, a damaged one.
UNREADABLE = (ArchiveError, sqlite3.Error, OSError, ValueError)


def is_control(meta: dict[str, Any]) -> bool:
    """Whether a run is a control run: its saved configuration's search.proposer says so, or
    (a run with no configuration saved) the proposer note it recorded."""
    config = meta.get("config")
    search = config.get("search") if isinstance(config, dict) else None
    if isinstance(search, dict) and "proposer" in search:
        return search["proposer"] == CONTROL
    note = meta.get("proposer")
    return isinstance(note, str) and note.startswith(CONTROL_NOTE)


def role(meta: dict[str, Any]) -> str:
    return "control" if is_control(meta) else "search"


@dataclass(frozen=True)
class Lookup:
    """Where the other run was looked for, and what came of it."""

    other: Path | None  # the run to compare with, if any
    named: bool = False  # given by the reader (--control), not found beside this run
    folder: Path | None = None  # where runs beside this one were looked for
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (run directory, why)
    left: int = 0  # run directories beside this one that were not read (beyond SCANNED)


def find_other(run_dir: Path, meta: dict[str, Any]) -> Lookup:
    """The run of the same task and the other kind beside `run_dir` (its sibling directories),
    the most recently started if several; unreadable ones are skipped, and named."""
    folder = run_dir.parent
    fingerprint = meta.get("task_fingerprint")
    wanted = not is_control(meta)
    here = run_dir.resolve()
    try:
        beside = [d for d in folder.iterdir() if d.resolve() != here and db_path(d).is_file()]
    except OSError as exc:  # the folder cannot be listed: nothing found there
        return Lookup(None, folder=folder, skipped=[(str(folder), _why(exc))])
    beside.sort(key=_changed, reverse=True)
    skipped, found = [], []
    for other in beside[:SCANNED]:
        try:
            with Archive.open(other, readonly=True) as archive:
                keys = ("task_fingerprint", "config", "proposer")
                theirs = {key: archive.meta(key) for key in keys}
                started = archive.meta("started_at")
        except UNREADABLE as exc:
            skipped.append((other.name, _why(exc)))
            continue
        if theirs["task_fingerprint"] == fingerprint and is_control(theirs) == wanted:
            found.append((started if isinstance(started, int | float) else 0.0, other))
    chosen = max(found, key=lambda item: item[0])[1] if found else None
    return Lookup(chosen, folder=folder, skipped=skipped, left=max(0, len(beside) - SCANNED))


def _changed(run_dir: Path) -> float:
    try:
        return db_path(run_dir).stat().st_mtime
    except OSError:  # gone since it was listed
        return 0.0


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Side:
    """One run of the comparison."""

    role: str  # search | control
    this: bool  # the run being reported
    name: str
    run_dir: Path
    proposer: str
    evaluations: int  # its finished designs
    best: Design | None  # the best of its first `at` finished designs, by id
    curve: list[float | None]  # the best so far after each finished design, by id

    @property
    def label(self) -> str:
        return f"{self.role} (this run)" if self.this else self.role


@dataclass(frozen=True)
class Comparison:
    """Two runs of one task at equal evaluations; `sides` the search first when one of them is
    the control, else this run first."""

    sides: tuple[Side, Side]
    at: int  # equal evaluations: the smaller run's count of finished designs

    @property
    def gap(self) -> float | None:
        """The first side's best fitness less the second's, at equal evaluations."""
        first, second = (side.best for side in self.sides)
        if first is None or second is None or first.fitness is None or second.fitness is None:
            return None
        return first.fitness - second.fitness

    @property
    def verdict(self) -> str:
        """How the bests' 95% intervals lie: `above` (the first side's wholly above the
        second's), `below`, `overlap`, or `unknown` (a best without an interval, or none)."""
        first, second = (side.best for side in self.sides)
        if first is None or second is None or not first.ci or not second.ci:
            return "unknown"
        if first.ci[0] > second.ci[1]:
            return "above"
        if second.ci[0] > first.ci[1]:
            return "below"
        return "overlap"


@dataclass(frozen=True)
class Beside:
    """What the report says of the run beside this one: where it was looked for, and the
    comparison, or why there is none although a run was found or named."""

    lookup: Lookup
    comparison: Comparison | None = None
    problem: str | None = None


def beside(
    archive: Archive, meta: dict[str, Any], points: list[Point], named: Path | None = None
) -> Beside:
    """This run beside the run `named`, else the one `find_other` finds, at equal evaluations."""
    fingerprint = meta.get("task_fingerprint")
    if named is None and fingerprint is None:
        problem = "this run records no task fingerprint, so no other run can be matched to it"
        return Beside(Lookup(None), problem=problem)
    lookup = Lookup(named, named=True) if named is not None else find_other(archive.run_dir, meta)
    if lookup.other is None:
        return Beside(lookup)
    try:
        with Archive.open(lookup.other, readonly=True) as other:
            theirs = other.meta("task_fingerprint")
            if theirs != fingerprint:  # a named run: fitness on another task says nothing here
                problem = (
                    f"{lookup.other} is a run of another task (task fingerprint {theirs}, "
                    f"this run's {fingerprint}): its fitness cannot be set beside this run's"
                )
                return Beside(lookup, problem=problem)
            return Beside(lookup, compare(archive, meta, points, other))
    except UNREADABLE as exc:
        return Beside(lookup, problem=f"{lookup.other} could not be read: {_why(exc)}")


def compare(this: Archive, meta: dict[str, Any], points: list[Point], other: Archive) -> Comparison:
    """This run (its metadata and points, as the report read them) and `other` at equal
    evaluations."""
    other_meta = other.all_meta()
    mine, theirs = _finished(points), _finished(load_points(other, None))
    at = min(len(mine), len(theirs))
    sides = (
        _side(this, meta, mine, at, this=True),
        _side(other, other_meta, theirs, at, this=False),
    )
    if sides[0].role == "control" and sides[1].role == "search":
        sides = (sides[1], sides[0])
    return Comparison(sides=sides, at=at)


def _finished(points: list[Point]) -> list[Point]:
    return [p for p in points if p.status.final]  # `load_points` reads them in id order


def _side(
    archive: Archive, meta: dict[str, Any], finished: list[Point], at: int, this: bool
) -> Side:
    best = _best(finished[:at])
    note = meta.get("proposer")
    return Side(
        role=role(meta),
        this=this,
        name=archive.run_name,
        run_dir=archive.run_dir,
        proposer=note if isinstance(note, str) else "not recorded",
        evaluations=len(finished),
        best=archive.get(best.id) if best is not None else None,
        curve=best_so_far(finished),
    )


def _best(points: list[Point]) -> Point | None:
    """The fittest scored point, the earliest of equals (as `best_so_far` counts it)."""
    best = None
    for p in points:
        if p.scored and (best is None or (p.fitness or 0.0) > (best.fitness or 0.0)):
            best = p
    return best
