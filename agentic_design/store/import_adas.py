"""Importing an ADAS archive (Meta Agent Search, Hu et al. 2024) into a run store.

The file is read and checked by `adas_format` (its limits, each entry's shape, each fitness
string); here each entry becomes a design finished with what ADAS measured, on our scale
(fractions in [0, 1]), trusting nothing it cannot check: an interval that cannot hold its own
median (every one of ADAS's DROP results) is flagged and kept aside, and a fitness that cannot be
read makes its design invalid, never a zero. ADAS's other results go into the design's metrics,
read and flagged the same way: its test split (`test_median`, `test_ci`), and in a transfer
archive each other data set's test split (`test_fitness_<set>`, under `transfer`). An imported
run holds designs and scores but no run configuration: nothing in it can be re-evaluated or
resumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.store.adas_format import (
    DOMAINS,
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_FIELD_CHARS,
    MAX_FILE_BYTES,
    MAX_GENERATION,
    MAX_NUMBER_CHARS,
    MAX_TEST_SET_NAME_CHARS,
    MAX_TEST_SETS,
    TEST_SET_PREFIX,
    AdasEntry,
    AdasImportError,
    AdasLimitError,
    AdasScore,
    ScoreFormatError,
    guess_domain,
    parse_score,
    read_entries,
)
from agentic_design.store.archive import Archive, db_path

# The reading half lives in adas_format; its public names are importable from here as before.
__all__ = [
    "DOMAINS",
    "IMPORTED_FROM",
    "INTERVAL_PROBLEM",
    "MAX_DEPTH",
    "MAX_ENTRIES",
    "MAX_FIELD_CHARS",
    "MAX_FILE_BYTES",
    "MAX_GENERATION",
    "MAX_NUMBER_CHARS",
    "MAX_TEST_SETS",
    "MAX_TEST_SET_NAME_CHARS",
    "TEST_SET_PREFIX",
    "TRANSFER",
    "AdasEntry",
    "AdasImportError",
    "AdasLimitError",
    "AdasScore",
    "ImportSummary",
    "ScoreFormatError",
    "SetCount",
    "SetScore",
    "evaluation_of",
    "guess_domain",
    "import_adas",
    "parse_score",
    "read_entries",
    "transfer_scores",
]

IMPORTED_FROM = "ADAS"

# Where a run records why it did not trust an interval (any importer may flag one this way).
INTERVAL_PROBLEM = "interval_problem"

# Where a design's scores on other data sets' test splits are kept, by set: ADAS's text
# ("adas"), and as the main fitness is read, "median" and "ci", or the interval kept aside
# ("interval") with its INTERVAL_PROBLEM, or the "error" that kept it from being read.
TRANSFER = "transfer"


@dataclass(frozen=True)
class SetCount:
    """One `test_fitness_<set>` field across an archive: how many entries gave it, and how
    many of those were flagged or could not be read."""

    name: str
    values: int
    flagged: int
    unreadable: int


@dataclass(frozen=True)
class ImportSummary:
    """What `import_adas` brought in."""

    source: Path
    run_dir: Path
    domain: str
    fitness_name: str
    entries: int
    imported: int
    repeated: int  # same code (whitespace aside) as an earlier entry
    flagged: int  # intervals that cannot hold their median, kept aside
    invalid: int  # fitness strings that could not be read
    generations: tuple[int, ...]  # present, sorted; 0 is "initial"
    test_sets: tuple[SetCount, ...] = ()  # in the order the archive first gives them


@dataclass(frozen=True)
class SetScore:
    """A design's score on one other data set's test split, as the import kept it: the median
    and interval, the interval's problem when it was flagged, or why it could not be read."""

    name: str
    median: float | None
    ci: tuple[float, float] | None
    problem: str | None = None
    error: str | None = None


def evaluation_of(entry: AdasEntry, fitness_name: str, repeat_of: int | None) -> Evaluation:
    """The evaluation ADAS recorded for an entry, on our scale; invalid when unreadable."""
    metrics: dict[str, Any] = {
        "adas_fitness": entry.fitness,
        "adas_generation": entry.adas_generation,
    }
    if repeat_of is not None:
        metrics["repeat_of"] = repeat_of
    metrics.update(_test_metrics(entry.test_fitness))
    metrics.update(_transfer_metrics(entry.test_sets))
    try:
        score = parse_score(entry.fitness)
    except ScoreFormatError as exc:
        return Evaluation(
            status=Status.INVALID, split="validation", seed=0, metrics=metrics, error=str(exc)
        )
    if score.problem:
        metrics["adas_interval"] = [score.low, score.high]
        metrics[INTERVAL_PROBLEM] = score.problem
    ci = score.ci
    return Evaluation(
        status=Status.OK,
        split="validation",
        seed=0,
        fitness=score.median,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        metrics=metrics,
        summary=_summary(metrics, fitness_name),
    )


def _score_metrics(text: Any) -> dict[str, Any]:
    """An ADAS fitness string other than the design's own fitness, read as that one is: its
    median and interval, the interval kept aside with its problem when it cannot be trusted,
    or why the string could not be read (the design stays valid: its fitness is another)."""
    try:
        score = parse_score(text)
    except ScoreFormatError as exc:
        return {"error": str(exc)}
    read: dict[str, Any] = {"median": score.median, "ci": list(score.ci) if score.ci else None}
    if score.problem:
        read.update({"interval": [score.low, score.high], INTERVAL_PROBLEM: score.problem})
    return read


# The test split's reading, under the names its metrics have always had.
_TEST_KEYS = {
    "median": "test_median",
    "ci": "test_ci",
    "interval": "adas_test_interval",
    INTERVAL_PROBLEM: "test_interval_problem",
    "error": "test_fitness_error",
}


def _test_metrics(test_fitness: Any) -> dict[str, Any]:
    """ADAS's score on its test split, read as the validation fitness is."""
    if test_fitness is None:
        return {}
    read = _score_metrics(test_fitness)
    return {"adas_test_fitness": test_fitness, **{_TEST_KEYS[k]: v for k, v in read.items()}}


def _transfer_metrics(test_sets: dict[str, Any]) -> dict[str, Any]:
    """ADAS's scores on other data sets' test splits (`test_fitness_<set>`), by set."""
    if not test_sets:
        return {}
    return {
        TRANSFER: {name: {"adas": text, **_score_metrics(text)} for name, text in test_sets.items()}
    }


def transfer_scores(metrics: dict[str, Any]) -> list[SetScore]:
    """A design's scores on other data sets, as the import kept them (none: []). Read with
    care, as anything stored: a value of another shape is skipped."""
    kept = metrics.get(TRANSFER)
    if not isinstance(kept, dict):
        return []
    scores = []
    for name, read in list(kept.items())[:MAX_TEST_SETS]:
        if not isinstance(read, dict):
            continue
        problem, error = read.get(INTERVAL_PROBLEM), read.get("error")
        scores.append(
            SetScore(
                name=str(name),
                median=_number(read.get("median")),
                ci=_pair(read.get("ci")),
                problem=None if problem is None else str(problem),
                error=None if error is None else str(error),
            )
        )
    return scores


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return low, high
    return None


def _set_counts(evaluations: list[Evaluation]) -> tuple[SetCount, ...]:
    """Each `test_fitness_<set>` the archive gave, counted over its entries."""
    counts: dict[str, list[int]] = {}
    for evaluation in evaluations:
        for name, read in evaluation.metrics.get(TRANSFER, {}).items():
            count = counts.setdefault(name, [0, 0, 0])
            count[0] += 1
            count[1] += INTERVAL_PROBLEM in read
            count[2] += "error" in read
    return tuple(SetCount(name, *count) for name, count in counts.items())


def _summary(metrics: dict[str, Any], fitness_name: str) -> str:
    parts = []
    if "test_median" in metrics:
        ci = metrics["test_ci"]
        interval = f"95% CI {ci[0]:.3f} to {ci[1]:.3f}" if ci else "interval flagged"
        parts.append(f"ADAS test {fitness_name} {metrics['test_median']:.4f} ({interval})")
    if "repeat_of" in metrics:
        parts.append(f"repeats #{metrics['repeat_of']}")
    return "; ".join(parts)


def _operator(entry: AdasEntry) -> str:
    if entry.adas_generation == "initial":
        return "imported from ADAS (initial)"
    if entry.adas_generation is None:
        return "imported from ADAS (no generation given)"
    return f"imported from ADAS (generation {entry.generation})"


def _normalised(code: str) -> str:
    return " ".join(code.split())


def import_adas(path: str | Path, run_dir: str | Path) -> ImportSummary:
    """Import the ADAS archive at `path` as a new run in `run_dir` (which must hold no run).

    Every entry becomes a design (origin imported, proposer "adas") finished with the
    evaluation ADAS recorded for it; the whole file is checked before anything is written."""
    path, run_dir = Path(path), Path(run_dir)
    if db_path(run_dir).exists():
        raise AdasImportError(
            f"{run_dir} already holds a run ({db_path(run_dir)}): import into a new --run-dir"
        )
    entries = read_entries(path)
    domain = guess_domain(path)
    fitness_name = "F1" if domain == "drop" else "accuracy"
    proposals = [
        Proposal(
            name=e.name,
            thought=e.thought,
            code=e.code,
            operator=_operator(e),
            proposer="adas",
            generation=e.generation,
            origin=Origin.IMPORTED,
        )
        for e in entries
    ]
    with Archive.create(run_dir, meta=_meta(path, run_dir, domain, fitness_name)) as archive:
        # ADAS's seeds are unknown; 0 stands for "none recorded". The fingerprint names the
        # ADAS domain, since the data it was scored on is not ours to fingerprint.
        ids = archive.add_many(proposals, eval_seed=0, task_fingerprint=f"adas:{domain}")
        first_with_code: dict[str, int] = {}
        evaluations = []
        for entry, design_id in zip(entries, ids, strict=True):
            repeat_of = first_with_code.setdefault(_normalised(entry.code), design_id)
            evaluation = evaluation_of(
                entry, fitness_name, repeat_of if repeat_of != design_id else None
            )
            archive.finish(design_id, evaluation)
            evaluations.append(evaluation)
        summary = ImportSummary(
            source=path,
            run_dir=run_dir,
            domain=domain,
            fitness_name=fitness_name,
            entries=len(entries),
            imported=len(ids),
            repeated=sum("repeat_of" in ev.metrics for ev in evaluations),
            flagged=sum(INTERVAL_PROBLEM in ev.metrics for ev in evaluations),
            invalid=sum(ev.status is Status.INVALID for ev in evaluations),
            generations=tuple(sorted({e.generation for e in entries})),
            test_sets=_set_counts(evaluations),
        )
        archive.set_meta_many(
            {
                "import": {
                    "entries": summary.entries,
                    "imported": summary.imported,
                    "repeated": summary.repeated,
                    "flagged": summary.flagged,
                    "invalid": summary.invalid,
                    "generations": list(summary.generations),
                    "test_sets": {c.name: _counted(c) for c in summary.test_sets},
                },
                "state": "imported",
            }
        )
    return summary


def _counted(count: SetCount) -> dict[str, int]:
    return {"values": count.values, "flagged": count.flagged, "unreadable": count.unreadable}


def _meta(path: Path, run_dir: Path, domain: str, fitness_name: str) -> dict[str, Any]:
    scored = "F1 score against the reference answers" if domain == "drop" else "accuracy"
    return {
        "name": run_dir.resolve().name,
        "task": f"adas:{domain}",
        "task_kind": "agent",
        "fitness_name": fitness_name,
        "fitness_meaning": (
            f"ADAS's {scored} on its validation questions, the median of its bootstrap "
            "resamples, as a fraction in [0, 1] (ADAS printed percentages)"
        ),
        "proposer": f"ADAS (Meta Agent Search), imported from {path.name}",
        "imported_from": IMPORTED_FROM,
        "source": str(path.resolve()),
        "imported_at": time.time(),
        "state": "importing",  # until every entry is in: a killed import says so
    }
