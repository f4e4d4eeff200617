"""Importing an OpenEvolve checkpoint (OpenEvolve 0.4) into a run store.

OpenEvolve saves its programs database every `checkpoint_interval` iterations as
`<output>/checkpoints/checkpoint_<N>/`: `metadata.json` (the islands' program ids, the archive,
the best program's id, the last iteration) and `programs/<id>.json`, a program each (`id`,
`code`, `parent_id`, `generation`, `iteration_found`, `timestamp`, `metrics`, `metadata` with
its island, the model that wrote it and a summary of its changes, `artifacts_json` with what
a failed evaluation left). A checkpoint holds the population of that moment, not every program
ever made: a parent that lost its cell is gone, and its child keeps only its id
(`parent_missing`). A migrant is a copy of a program on another island, its parent the original.

Each program becomes a design (origin imported) finished with what OpenEvolve recorded:
- fitness: its `combined_score`, or where it has none the mean of its numeric metrics, as
  OpenEvolve ranks programs (booleans are flags, not scores; OpenEvolve also leaves out the
  metrics its configuration names as MAP-Elites dimensions, but a checkpoint does not keep its
  configuration); every metric is kept.
- status: a program whose evaluation failed (OpenEvolve writes `{"error": 0.0}`, an evaluator
  may write an `error` text, a timeout adds `timeout: true`) is an error or a timeout with the
  error text its artifacts kept, and no fitness: OpenEvolve scores it 0.0 — the mean of
  `{"error": 0.0}` — which may even rank it first (see `score` in its metrics).
- parents: `parent_id`, where that program is in the checkpoint; OpenEvolve records no
  inspirations. Proposer: the model that wrote it, where recorded. The rest (iteration, island,
  changes, tokens, artifacts) goes into its metrics under `openevolve`. Embeddings and logged
  prompts are not kept.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from agentic_design.records import Status
from agentic_design.store.import_common import (
    MAX_CODE_CHARS,
    MAX_PROGRAMS,
    MAX_TEXT_CHARS,
    MAX_TOTAL_BYTES,
    PeerImportError,
    PeerImportSummary,
    PeerLimitError,
    PeerProgram,
    check_run_dir,
    file_inside,
    finite,
    first_line,
    import_meta,
    is_number,
    kind,
    ordered,
    parse_json,
    program_id,
    read_json,
    summarise,
    tail,
    text_field,
    whole_number,
    write_run,
)

IMPORTED_FROM = "OpenEvolve"
TOOL_KEY = "openevolve"  # where a design's metrics keep what else the import read
FITNESS_NAME = "combined_score"
FITNESS_MEANING = (
    "OpenEvolve's combined_score as its evaluator reported it (where a program has none, the "
    "mean of its numeric metrics, as OpenEvolve ranks programs); higher is better"
)
_CHECKPOINT = re.compile(r"checkpoint_([0-9]{1,18})")
# The artifacts a failed evaluation leaves: its message, and its traceback.
_ERROR_ARTIFACTS = ("error_message", "stderr", "traceback")


class OpenEvolveImportError(PeerImportError):
    """The path holds no OpenEvolve checkpoint we can import, or the run directory is taken."""


def find_checkpoint(path: Path) -> Path:
    """The checkpoint folder `path` names: a checkpoint itself (`programs/` inside), the
    `checkpoints/` folder that holds them (the latest, by its number), or OpenEvolve's output
    folder (`checkpoints/` inside). Resolved, and inside `path`."""
    root = path.resolve()
    if not root.is_dir():
        what = "no such folder" if not root.exists() else "not a folder"
        raise OpenEvolveImportError(
            f"{path}: {what}; give an OpenEvolve checkpoint folder (checkpoint_N), its "
            "checkpoints/ folder or OpenEvolve's output folder"
        )
    if (root / "programs").exists() or (root / "metadata.json").exists():
        return root
    folder = root / "checkpoints" if (root / "checkpoints").is_dir() else root
    numbered = []
    for entry in _listing(folder):
        match = _CHECKPOINT.fullmatch(entry.name)
        if match and entry.is_dir():
            numbered.append((int(match.group(1)), Path(entry.path)))
    if not numbered:
        raise OpenEvolveImportError(
            f"{path} holds no OpenEvolve checkpoint: expected programs/ and metadata.json "
            "(a checkpoint), checkpoint_N folders (checkpoints/), or a checkpoints/ folder "
            "(OpenEvolve's output)"
        )
    latest = max(numbered)[1].resolve()
    if not latest.is_relative_to(root):
        raise OpenEvolveImportError(f"{max(numbered)[1]} leads out of {path} (to {latest})")
    return latest


def _listing(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        raise OpenEvolveImportError(f"{folder} cannot be listed: {exc}") from None


def import_openevolve(path: str | Path, run_dir: str | Path) -> PeerImportSummary:
    """Import the OpenEvolve checkpoint at `path` (see `find_checkpoint`) as a new run in
    `run_dir` (which must hold no run). The whole checkpoint is read and checked before
    anything is written."""
    path, run_dir = Path(path), Path(run_dir)
    check_run_dir(run_dir)
    checkpoint = find_checkpoint(path)
    metadata = _metadata(checkpoint)
    raw = _program_files(checkpoint)
    islands = _islands(metadata, checkpoint)
    elites = _archive(metadata, checkpoint)
    programs = ordered(
        [_program(data, where, islands, elites) for where, data in raw], str(checkpoint)
    )
    programs = _with_diffs(programs)
    best = metadata.get("best_program_id")
    best = best if isinstance(best, str) and any(p.key == best for p in programs) else None
    island_of = {p.key: p.facts.get("island") for p in programs}

    def describe(ours: dict[str, int]) -> PeerImportSummary:
        return summarise(
            IMPORTED_FROM,
            path,
            checkpoint,
            run_dir,
            FITNESS_NAME,
            programs,
            ours,
            islands=island_of.values(),
            peer_best=best,
            notes=_notes(programs, best, ours),
        )

    meta = import_meta(
        IMPORTED_FROM, checkpoint, run_dir, "openevolve", FITNESS_NAME, FITNESS_MEANING
    )
    meta["openevolve_last_iteration"] = metadata.get("last_iteration")
    return write_run(programs, run_dir, meta, TOOL_KEY, "openevolve", describe)


# -- reading the checkpoint ------------------------------------------------------------------


def _metadata(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's metadata.json (an object), or {} where it has none."""
    path = checkpoint / "metadata.json"
    if not path.exists() and not path.is_symlink():
        return {}
    data = read_json(file_inside(path, checkpoint, "checkpoint's metadata"), "metadata")
    if not isinstance(data, dict):
        raise OpenEvolveImportError(f"{path} holds a JSON {kind(data)}, not an object")
    return data


def _program_files(checkpoint: Path) -> list[tuple[str, Any]]:
    """Each programs/*.json file's JSON, with where it came from; within the limits."""
    folder = checkpoint / "programs"
    if not folder.is_dir():
        raise OpenEvolveImportError(
            f"{checkpoint} has no programs/ folder: an OpenEvolve checkpoint keeps a JSON "
            "file a program there"
        )
    names = sorted(entry.name for entry in _listing(folder) if entry.name.endswith(".json"))
    if not names:
        raise OpenEvolveImportError(f"{folder} holds no program (no .json file)")
    if len(names) > MAX_PROGRAMS:
        raise PeerLimitError(f"{folder}: {len(names):,} programs; the limit is {MAX_PROGRAMS:,}")
    files = [file_inside(folder / name, checkpoint, "program file") for name in names]
    total = sum(f.stat().st_size for f in files)
    if total > MAX_TOTAL_BYTES:
        raise PeerLimitError(
            f"{folder}: {total:,} bytes of programs; the limit is {MAX_TOTAL_BYTES:,}"
        )
    return [
        (str(folder / name), read_json(f, "program")) for name, f in zip(names, files, strict=True)
    ]


def _islands(metadata: dict[str, Any], checkpoint: Path) -> dict[str, int]:
    """The island of each program the metadata lists (OpenEvolve's own record of them)."""
    lists = metadata.get("islands", [])
    where = f"{checkpoint / 'metadata.json'}"
    if not isinstance(lists, list) or not all(isinstance(ids, list) for ids in lists):
        raise OpenEvolveImportError(f"{where}: its islands are not a list of lists of ids")
    island_of: dict[str, int] = {}
    for island, ids in enumerate(lists):
        for key in ids:
            key = program_id(key, where, f"island {island}'s program id")
            if island_of.setdefault(key, island) != island:
                raise OpenEvolveImportError(
                    f"{where}: program {key!r} is on islands {island_of[key]} and {island}"
                )
    return island_of


# -- one program -----------------------------------------------------------------------------


def _archive(metadata: dict[str, Any], checkpoint: Path) -> set[str]:
    """The ids in OpenEvolve's archive of elites."""
    ids = metadata.get("archive", [])
    where = f"{checkpoint / 'metadata.json'}"
    if not isinstance(ids, list):
        raise OpenEvolveImportError(f"{where}: its archive is a JSON {kind(ids)}, not a list")
    return {program_id(key, where, "archive's program id") for key in ids}


def _program(data: Any, where: str, islands: dict[str, int], elites: set[str]) -> PeerProgram:
    if not isinstance(data, dict):
        raise OpenEvolveImportError(f"{where} holds a JSON {kind(data)}, not a program object")
    key = program_id(data.get("id"), where)
    where = f"{where} (program {key})"
    code = text_field(data.get("code"), where, "code", MAX_CODE_CHARS, optional=False)
    if not code.strip():
        raise OpenEvolveImportError(f"{where} has no code")
    parent = data.get("parent_id")
    parent = None if parent is None else program_id(parent, where, "parent_id")
    generation = whole_number(data.get("generation"), where, "generation", default=0)
    iteration = whole_number(data.get("iteration_found"), where, "iteration_found", default=0)
    timestamp = data.get("timestamp")
    timestamp = 0.0 if timestamp is None else finite(timestamp, where, "timestamp")
    metrics = _object(data.get("metrics"), where, "metrics")
    metadata = _object(data.get("metadata"), where, "metadata")
    artifacts = _artifacts(data.get("artifacts_json"), where)
    island = islands.get(key, metadata.get("island"))
    if island is not None:
        island = whole_number(island, where, "island")
    model = metadata.get("llm_model")
    model = text_field(model, where, "metadata.llm_model", 1000) if model is not None else ""
    migrant = metadata.get("migrant") is True
    status, fitness, error, fitness_from = _scored(metrics, artifacts, where)
    facts: dict[str, Any] = {
        "id": key,
        "parent_id": parent,
        "iteration_found": iteration,
        "generation": generation,
        "island": island,
        "timestamp": timestamp,
        "score": _openevolve_score(metrics),
        "fitness_from": fitness_from,
        "in_archive": key in elites,
    }
    if error is not None:  # the texts its error was made of are in the error already
        artifacts = {k: v for k, v in artifacts.items() if k not in _ERROR_ARTIFACTS}
    facts.update(_kept(data, metadata, artifacts))
    name, operator = _names(key, parent, generation, iteration, island, migrant, metadata)
    return PeerProgram(
        key=key,
        order=(iteration, timestamp, generation, key),
        name=name,
        thought=_thought(data.get("changes_description"), metadata.get("changes"), where),
        code=code,
        generation=generation,
        proposer=model or TOOL_KEY,
        operator=operator,
        status=status,
        fitness=fitness,
        metrics=metrics,
        facts=facts,
        parent=parent,
        error=error,
        summary=_summary(metrics) if status is Status.OK else "",
        llm_tokens=_tokens(metadata.get("token_usage")),
    )


def _object(value: Any, where: str, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OpenEvolveImportError(f"{where}: its {name} is a JSON {kind(value)}, not an object")
    return value


def _artifacts(value: Any, where: str) -> dict[str, Any]:
    """The small artifacts OpenEvolve keeps in the program (JSON in a string): a failed
    evaluation's stderr and traceback."""
    if value is None:
        return {}
    text = text_field(value, where, "artifacts_json", MAX_TEXT_CHARS * 10)
    data = parse_json(text, where, "its artifacts_json")
    return _object(data, where, "artifacts_json")


def _scored(
    metrics: dict[str, Any], artifacts: dict[str, Any], where: str
) -> tuple[Status, float | None, str | None, str | None]:
    """(status, fitness, error, where the fitness came from) of a program's metrics."""
    error = metrics.get("error")
    failed = (isinstance(error, str) and error.strip()) or (
        "error" in metrics and "combined_score" not in metrics
    )
    if failed or metrics.get("timeout") is True:
        status = Status.TIMEOUT if metrics.get("timeout") is True else Status.ERROR
        return status, None, _error_text(metrics, artifacts), None
    if "combined_score" in metrics:
        return Status.OK, finite(metrics["combined_score"], where, "combined_score"), None, None
    numeric = {name: value for name, value in metrics.items() if is_number(value)}
    if not numeric:
        return (
            Status.INVALID,
            None,
            f"OpenEvolve recorded no numeric metric for it (metrics {json.dumps(metrics)[:500]})",
            None,
        )
    mean = sum(float(v) for v in numeric.values()) / len(numeric)
    return Status.OK, mean, None, "the mean of " + ", ".join(sorted(numeric))


def _error_text(metrics: dict[str, Any], artifacts: dict[str, Any]) -> str:
    """What OpenEvolve kept of why an evaluation failed: its message and traceback."""
    candidates = [metrics.get("error"), *(artifacts.get(k) for k in _ERROR_ARTIFACTS[:2])]
    message = next((c for c in candidates if isinstance(c, str) and c.strip()), "")
    lead = "OpenEvolve's evaluation timed out" if metrics.get("timeout") is True else ""
    trace = artifacts.get("traceback")
    parts = [p for p in (lead, message.strip()) if p]
    if isinstance(trace, str) and trace.strip():
        parts.append(tail(trace.strip()))
    if not parts:
        parts.append(
            f"OpenEvolve recorded a failed evaluation (metrics {json.dumps(metrics)[:500]}) "
            "and kept no error text"
        )
    return tail("\n".join(parts))


def _openevolve_score(metrics: dict[str, Any]) -> float:
    """What OpenEvolve ranks the program by: combined_score, else the mean of its numeric
    metrics (0.0 for none); a failed evaluation's `{"error": 0.0}` scores 0.0."""
    score = metrics.get("combined_score")
    if isinstance(score, int | float) and not isinstance(score, bool):
        return float(score)
    numeric = [float(v) for v in metrics.values() if is_number(v)]
    return sum(numeric) / len(numeric) if numeric else 0.0


def _kept(
    data: dict[str, Any], metadata: dict[str, Any], artifacts: dict[str, Any]
) -> dict[str, Any]:
    """What else of the program the design keeps: what OpenEvolve says of its making."""
    kept: dict[str, Any] = {}
    for name in ("migrant", "llm_model", "evolution_mode", "changes", "token_usage"):
        if name in metadata:
            kept[name] = metadata[name]
    for name in ("language", "complexity", "diversity", "artifact_dir"):
        if data.get(name) is not None:
            kept[name] = data[name]
    if artifacts:
        kept["artifacts"] = artifacts
    return kept


def _names(
    key: str,
    parent: str | None,
    generation: int,
    iteration: int,
    island: int | None,
    migrant: bool,
    metadata: dict[str, Any],
) -> tuple[str, str]:
    """A design's name and how it was made, in OpenEvolve's terms."""
    short, where = key[:8], f", island {island}" if island is not None else ""
    if migrant and parent:
        return (
            f"migrant {short}",
            f"imported from OpenEvolve (a migrant: a copy of {parent[:8]}{where})",
        )
    if parent is None and generation == 0:
        return f"initial program {short}", f"imported from OpenEvolve (the initial program{where})"
    mode = metadata.get("evolution_mode")
    how = f", {mode}" if isinstance(mode, str) and mode else ""
    operator = f"imported from OpenEvolve (iteration {iteration}{where}{how})"
    return f"iteration {iteration} ({short})", operator


def _thought(description: Any, changes: Any, where: str) -> str:
    """OpenEvolve's description of the program's changes ("empty" where it wrote none), or
    its summary of the edits that made it."""
    for name, value in (("changes_description", description), ("metadata.changes", changes)):
        text = text_field(value, where, name, MAX_TEXT_CHARS) if value is not None else ""
        if text.strip() and text.strip() != "empty":
            return text
    return ""


def _summary(metrics: dict[str, Any]) -> str:
    """The other numeric metrics, in one line."""
    parts = [
        f"{name} {float(value):.4g}"
        for name, value in metrics.items()
        if name != "combined_score" and is_number(value)
    ]
    return first_line(", ".join(parts))


def _tokens(usage: Any) -> int:
    """The tokens the model spent on the program, where OpenEvolve recorded them."""
    if isinstance(usage, dict):
        total = usage.get("total_tokens")
        if isinstance(total, int) and not isinstance(total, bool) and 0 <= total < 2**62:
            return total
    return 0


def _with_diffs(programs: list[PeerProgram]) -> list[PeerProgram]:
    """Each program with the change from its parent as a unified diff (OpenEvolve keeps only
    the parent's id; both programs' code is here)."""
    code = {p.key: p.code for p in programs}
    result = []
    for program in programs:
        parent_code = code.get(program.parent) if program.parent else None
        if parent_code is None or parent_code == program.code:
            result.append(program)
            continue
        lines = difflib.unified_diff(
            parent_code.splitlines(keepends=True),
            program.code.splitlines(keepends=True),
            fromfile=f"{program.parent[:8] if program.parent else ''}.py",
            tofile=f"{program.key[:8]}.py",
        )
        result.append(replace(program, diff="".join(lines)))
    return result


def _notes(programs: list[PeerProgram], best: str | None, ours: dict[str, int]) -> tuple[str, ...]:
    """What the summary should say beyond the counts."""
    notes = []
    from_mean = sum(1 for p in programs if p.facts.get("fitness_from"))
    if from_mean:
        notes.append(
            f"{from_mean} programs have no combined_score: their fitness is the mean of their "
            "numeric metrics, as OpenEvolve ranks them"
        )
    chosen = next((p for p in programs if p.key == best), None)
    if chosen is not None and chosen.status is not Status.OK:
        notes.append(
            f"OpenEvolve's own best program ({best}, #{ours[chosen.key]}) is one whose "
            f"evaluation failed: OpenEvolve scores it {chosen.facts['score']:g}, the mean of "
            f"its metrics {json.dumps(chosen.metrics)[:200]}; here it has no fitness"
        )
    return tuple(notes)
