"""What the imports of the peers' runs share (OpenEvolve's checkpoints in `import_openevolve`,
ShinkaEvolve's results in `import_shinka`): the limits their files are read within, a strict
reader of their JSON, the programs as checked records (`PeerProgram`), their order (parents
first), and the writing of a new run that holds them all or nothing.

A peer's run is untrusted input, read as ADAS's archives are (`adas_format`): every file within
a size, every JSON number and nesting depth checked while it is parsed, NaN and infinities
refused, a file reached through a link that leads out of the folder refused, and every field
our record takes checked for its type. A problem is one `PeerImportError` naming the file or
program and what is wrong, and the command line turns it into exit code 2. Everything is read
and checked before the run directory is touched; should writing fail part way (a full disk, a
Ctrl-C), what was written is removed again, so a run directory never holds half an import.
"""

from __future__ import annotations

import heapq
import json
import math
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.store.adas_format import (
    MAX_DEPTH,
    ImportLimitError,
    RunImportError,
    nesting_depth,
    strict_loads,
)
from agentic_design.store.archive import Archive, db_path

# The limits a peer's run is read within. OpenEvolve keeps at most its population (1,000 by
# default) in a checkpoint, one JSON file a program; ShinkaEvolve one row a program.
MAX_FILE_BYTES = 64 * 1024 * 1024  # one JSON file, or one JSON text in a database column
MAX_TOTAL_BYTES = 4 * 1024**3  # a checkpoint's files together, or a database file
MAX_PROGRAMS = 100_000
MAX_CODE_CHARS = 1_000_000
MAX_TEXT_CHARS = 100_000  # a thought, a feedback or an error text
MAX_ID_CHARS = 256  # a program's id (the peers write UUIDs: 36)
MAX_GENERATION = 2**63 - 1  # the largest integer SQLite stores

# How much of a long error text or feedback a design keeps (its end: a traceback ends with the
# error), and of a feedback the one-line summary shows.
ERROR_TAIL_CHARS = 4000
SUMMARY_CHARS = 200


class PeerImportError(RunImportError):
    """A peer's run (OpenEvolve's checkpoint, ShinkaEvolve's results) cannot be imported, or
    the run directory is taken."""


class PeerLimitError(PeerImportError, ImportLimitError):
    """A file or a field is beyond one of the limits a peer's run is read within (MAX_*)."""


# -- reading files ---------------------------------------------------------------------------


def file_inside(path: Path, root: Path, what: str) -> Path:
    """`path`, resolved, if it is a regular file inside `root` (itself resolved): a link that
    leads out of the folder, a device or a pipe (which may never end) is refused."""
    try:
        resolved = path.resolve(strict=True)
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise PeerImportError(f"{path}: no such file ({what})") from None
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of links
        raise PeerImportError(f"{path} cannot be read ({what}): {exc}") from None
    if not resolved.is_relative_to(root.resolve()):
        raise PeerImportError(
            f"{path} leads out of {root} (to {resolved}): a {what} must lie inside it"
        )
    if not stat.S_ISREG(mode):
        raise PeerImportError(f"{path} is not a regular file ({what})")
    return resolved


def read_bytes(path: Path, limit: int, what: str, head: int | None = None) -> bytes:
    """The file's bytes, read no further than `limit` (or only its first `head` bytes)."""
    try:
        with path.open("rb") as file:
            raw = file.read(limit + 1 if head is None else head)
    except OSError as exc:
        raise PeerImportError(f"{path} cannot be read ({what}): {exc}") from None
    if head is None and len(raw) > limit:
        raise PeerLimitError(f"{path}: more than {limit:,} bytes; the limit is {limit:,}")
    return raw


def read_json(path: Path, what: str) -> Any:
    """A JSON file of a peer's run, read strictly (`parse_json`)."""
    raw = read_bytes(path, MAX_FILE_BYTES, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PeerImportError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start:,}); a {what} is JSON"
        ) from None
    return parse_json(text, f"{path}", what)


def parse_json(text: str, where: str, what: str) -> Any:
    """The JSON in `text`: its size, depth and numbers checked as ADAS archives' are, NaN and
    infinities refused, and no string that is half of a UTF-16 surrogate pair."""
    if len(text) > MAX_FILE_BYTES:
        raise PeerLimitError(
            f"{where}: {what} of {len(text):,} characters; the limit is {MAX_FILE_BYTES:,}"
        )
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise PeerLimitError(f"{where}: {what} nested {depth:,} deep; the limit is {MAX_DEPTH}")
    try:
        value = strict_loads(text)
    except json.JSONDecodeError as exc:
        raise PeerImportError(
            f"{where}: {what} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except ImportLimitError as exc:  # from a number hook, which does not know the file
        raise PeerLimitError(f"{where}: {exc}") from None
    except RunImportError as exc:
        raise PeerImportError(f"{where}: {exc}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        half = exc.object[exc.start]
        raise PeerImportError(
            f"{where}: {what} holds {half!r}, half of a UTF-16 surrogate pair: not text"
        ) from None
    return value


# -- checking fields -------------------------------------------------------------------------


def kind(value: Any) -> str:
    """A JSON value's kind, as JSON names it."""
    kinds = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number")


def what(value: Any) -> str:
    """A value's kind in words for a message: "a JSON list", or a SQLite blob."""
    if isinstance(value, bytes):
        return "binary data (a SQLite blob)"
    return f"a JSON {kind(value)}"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def text_field(value: Any, where: str, name: str, limit: int, *, optional: bool = True) -> str:
    """A string field within `limit` characters ("" when absent and `optional`)."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise PeerImportError(f"{where}: its {name} is {what(value)}, not a string")
    if len(value) > limit:
        raise PeerLimitError(
            f"{where}: its {name} holds {len(value):,} characters; the limit is {limit:,}"
        )
    return value


def program_id(value: Any, where: str, name: str = "id") -> str:
    """A program's id (or a parent's): a non-empty string within MAX_ID_CHARS."""
    if not isinstance(value, str) or not value.strip():
        shown = "empty" if isinstance(value, str) else what(value)
        raise PeerImportError(f"{where}: its {name} is {shown}, not a program id")
    return text_field(value, where, name, MAX_ID_CHARS)


def whole_number(value: Any, where: str, name: str, *, default: int | None = None) -> int:
    """A non-negative whole number within MAX_GENERATION (`default` when absent)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PeerImportError(f"{where}: its {name} {value!r} is not a whole number >= 0")
    if value > MAX_GENERATION:
        raise PeerLimitError(
            f"{where}: its {name} {value:,} is beyond the limit {MAX_GENERATION:,}"
        )
    return value


def finite(value: Any, where: str, name: str) -> float:
    """A score: a finite number (a peer may write NaN or an infinity where JSON cannot, and
    SQLite keeps an infinity)."""
    if not is_number(value):
        raise PeerImportError(f"{where}: its {name} is {what(value)}, not a number")
    number = float(value)
    if not math.isfinite(number):
        raise PeerImportError(f"{where}: its {name} {number} is not a finite number")
    return number


def tail(text: str, limit: int = ERROR_TAIL_CHARS) -> str:
    """The end of a long text (a traceback's end names the error)."""
    return text if len(text) <= limit else "..." + text[-limit:]


def first_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def merged_metrics(peer: Mapping[str, Any], key: str, facts: dict[str, Any]) -> dict[str, Any]:
    """A design's metrics: the peer's own, as it recorded them, and what else the import kept
    of the program under `key` (the peer's name). A metric of the peer's that is itself named
    `key` is kept as `<key>_metric`."""
    metrics = {(f"{name}_metric" if name == key else name): value for name, value in peer.items()}
    metrics[key] = facts
    return metrics


# -- programs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerProgram:
    """One program of a peer's run, checked and mapped onto our design record, before it has
    an id of ours. Links to other programs are the peer's ids until the run is written."""

    key: str  # the peer's id
    order: tuple[Any, ...]  # the peer's own order (parents come first whatever it says)
    name: str
    thought: str
    code: str
    generation: int
    proposer: str  # the model that wrote it, where recorded, else the peer
    operator: str
    status: Status
    fitness: float | None
    metrics: dict[str, Any]  # the peer's metrics
    facts: dict[str, Any]  # what else the import keeps, under the peer's name in the metrics
    parent: str | None = None
    # Other programs by role ("copy_of", "inspirations"): kept in the facts as our ids, and a
    # copy comes after its original.
    links: dict[str, tuple[str, ...]] = field(default_factory=dict)
    error: str | None = None
    summary: str = ""
    diff: str | None = None
    llm_tokens: int = 0
    llm_usd: float = 0.0

    @property
    def before(self) -> tuple[str, ...]:
        """The programs that must come before this one: its parent and what it copies."""
        return tuple(filter(None, (self.parent, *self.links.get("copy_of", ()))))


def ordered(programs: list[PeerProgram], where: str) -> list[PeerProgram]:
    """The programs with every parent (and every original of a copy) before it, otherwise in
    each one's `order`: deterministic whatever order the peer's files came in. A duplicate id
    or a cycle of parents is refused; a parent that is not among them (a peer drops programs
    from its population) is no link of order."""
    by_key: dict[str, PeerProgram] = {}
    for program in programs:
        if program.key in by_key:
            raise PeerImportError(f"{where}: two programs have the id {program.key!r}")
        by_key[program.key] = program
    waiting = {p.key: sum(b in by_key for b in p.before) for p in programs}
    after: dict[str, list[str]] = {}
    for program in programs:
        for earlier in program.before:
            if earlier in by_key:
                after.setdefault(earlier, []).append(program.key)
    ready = [(p.order, p.key) for p in programs if waiting[p.key] == 0]
    heapq.heapify(ready)
    result = []
    while ready:
        _, key = heapq.heappop(ready)
        result.append(by_key[key])
        for later in after.get(key, ()):
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, (by_key[later].order, later))
    if len(result) < len(programs):
        raise PeerImportError(f"{where}: {_cycle(by_key, waiting)}")
    return result


def _cycle(by_key: dict[str, PeerProgram], waiting: dict[str, int]) -> str:
    """Words for one cycle among the programs left waiting."""
    start = min(key for key, count in waiting.items() if count)
    path = [start]
    while True:
        nxt = next(b for b in by_key[path[-1]].before if b in by_key and waiting[b])
        if nxt in path:
            loop = [*path[path.index(nxt) :], nxt]
            return (
                "the programs' parents form a cycle: "
                + " -> ".join(repr(k) for k in loop)
                + " (each names the next as its parent); a run's history has none"
            )
        path.append(nxt)


# -- writing the run -------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerImportSummary:
    """What an import of a peer's run brought in."""

    tool: str  # "OpenEvolve", "ShinkaEvolve"
    source: Path  # as given
    read: Path  # the checkpoint folder or database file read
    run_dir: Path
    fitness_name: str
    programs: int
    statuses: dict[str, int]  # by our status
    parents_missing: int  # programs whose parent is not in the run any more
    generations: tuple[int, ...]
    islands: dict[int, int]  # programs by island
    peer_best: str | None = None  # the program the peer itself calls its best
    peer_best_design: int | None = None  # that program's id here
    notes: tuple[str, ...] = ()  # what else the import says, a line each


def check_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that holds a run already (checked before reading: cheap)."""
    if db_path(run_dir).exists():
        raise PeerImportError(
            f"{run_dir} already holds a run ({db_path(run_dir)}): import into a new --run-dir"
        )


def write_run(
    programs: list[PeerProgram],
    run_dir: Path,
    meta: dict[str, Any],
    tool_key: str,
    fingerprint: str,
    describe: Callable[[dict[str, int]], PeerImportSummary],
) -> PeerImportSummary:
    """Write `programs` (in order: parents first) as a new run in `run_dir`, every design
    finished with what the peer recorded, and its summary (`describe(our id by peer id)`) in
    the run's metadata; return that summary. On any failure on the way, what was written is
    removed again."""
    check_run_dir(run_dir)
    made = [p for p in (run_dir, run_dir / "designs") if not p.exists()]
    try:
        return _write(programs, run_dir, meta, tool_key, fingerprint, describe)
    except BaseException:
        _remove(run_dir, made)
        raise


def _write(
    programs: list[PeerProgram],
    run_dir: Path,
    meta: dict[str, Any],
    tool_key: str,
    fingerprint: str,
    describe: Callable[[dict[str, int]], PeerImportSummary],
) -> PeerImportSummary:
    # "importing" until every program is in: a process killed before the clean-up says so.
    with Archive.create(run_dir, meta={**meta, "state": "importing"}) as archive:
        first = archive.total() + 1  # a new store: ids count from 1
        ours = {p.key: first + i for i, p in enumerate(programs)}
        proposals = [_proposal(p, ours) for p in programs]
        ids = archive.add_many(proposals, eval_seed=0, task_fingerprint=fingerprint)
        if ids != list(ours.values()):
            raise RuntimeError(f"the new store gave ids {ids[:3]}..., not {first} onwards")
        for program, design_id in zip(programs, ids, strict=True):
            archive.finish(design_id, _evaluation(program, ours, tool_key))
        summary = describe(ours)
        archive.set_meta_many({"import": _counts(summary), "state": "imported"})
    return summary


def _counts(summary: PeerImportSummary) -> dict[str, Any]:
    return {
        "programs": summary.programs,
        "statuses": summary.statuses,
        "parents_missing": summary.parents_missing,
        "generations": list(summary.generations),
        "islands": {str(k): v for k, v in summary.islands.items()},
        "peer_best": summary.peer_best,
        "peer_best_design": summary.peer_best_design,
    }


def _proposal(program: PeerProgram, ours: dict[str, int]) -> Proposal:
    parent = ours.get(program.parent) if program.parent else None
    return Proposal(
        name=program.name,
        thought=program.thought,
        code=program.code,
        parents=(parent,) if parent is not None else (),
        operator=program.operator,
        proposer=program.proposer,
        generation=program.generation,
        llm_tokens=program.llm_tokens,
        llm_usd=program.llm_usd,
        origin=Origin.IMPORTED,
        diff=program.diff,
    )


def _evaluation(program: PeerProgram, ours: dict[str, int], tool_key: str) -> Evaluation:
    facts = dict(program.facts)
    for role, keys in program.links.items():
        facts[role] = [ours[k] for k in keys if k in ours]  # those still in the run
    if program.parent is not None and program.parent not in ours:
        facts["parent_missing"] = True
    return Evaluation(
        status=program.status,
        split="validation",
        seed=0,
        fitness=program.fitness,
        metrics=merged_metrics(program.metrics, tool_key, facts),
        summary=program.summary,
        error=program.error,
    )


def _remove(run_dir: Path, made: list[Path]) -> None:
    """Undo a failed write: the store's files, and the folders it made."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = Path(f"{db_path(run_dir)}{suffix}")
        if path.exists():
            path.unlink()
    for folder in reversed(made):  # the run directory last
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def summarise(
    tool: str,
    source: Path,
    read: Path,
    run_dir: Path,
    fitness_name: str,
    programs: list[PeerProgram],
    ours: dict[str, int],
    *,
    islands: Iterable[int | None],
    peer_best: str | None = None,
    notes: tuple[str, ...] = (),
) -> PeerImportSummary:
    """The summary of an import that wrote `programs` with our ids `ours`."""
    statuses: dict[str, int] = {}
    for program in programs:
        statuses[program.status.value] = statuses.get(program.status.value, 0) + 1
    by_island: dict[int, int] = {}
    for island in islands:
        if island is not None:
            by_island[island] = by_island.get(island, 0) + 1
    return PeerImportSummary(
        tool=tool,
        source=source,
        read=read,
        run_dir=run_dir,
        fitness_name=fitness_name,
        programs=len(programs),
        statuses=dict(sorted(statuses.items())),
        parents_missing=sum(1 for p in programs if p.parent and p.parent not in ours),
        generations=tuple(sorted({p.generation for p in programs})),
        islands=dict(sorted(by_island.items())),
        peer_best=peer_best,
        peer_best_design=ours.get(peer_best) if peer_best else None,
        notes=notes,
    )


def import_meta(
    tool: str, read: Path, run_dir: Path, task: str, fitness_name: str, meaning: str
) -> dict[str, Any]:
    """The run metadata of an imported peer's run (`imported_from` marks it as imported:
    shown and rescored, never run again)."""
    return {
        "name": run_dir.resolve().name,
        "task": task,
        "task_kind": "program",
        "fitness_name": fitness_name,
        "fitness_meaning": meaning,
        "proposer": f"{tool}, imported from {read.name}",
        "imported_from": tool,
        "source": str(read),
        "imported_at": time.time(),
    }
