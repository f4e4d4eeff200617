"""The report's sections: each a function from the run to the data its template shows.

Every section is bounded whatever the run's size: plots draw every design from a few numbers
each (`data.Point`), while text — names, thoughts, code, errors — is shown for a fixed number of
designs, each clipped to a fixed length.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from agentic_design.records import Design, Note, Status, Variant
from agentic_design.report import control as controls
from agentic_design.report import data, plots
from agentic_design.report.capped import capped
from agentic_design.store.archive import Archive
from agentic_design.store.import_adas import transfer_scores
from agentic_design.store.pareto import cost_of

TOP_DESIGNS = 5  # shown in full: code, thought, metrics
ANCESTRY_ROWS = 40  # designs listed in the lineage table
ANCESTRY_PLOTTED = 400  # designs drawn in the lineage plot
FRONT_ROWS = 25  # designs of the Pareto front listed under its plot
FAILURES = 5  # the latest failed designs, with their errors
CODE_CHARS = 20_000
TEXT_CHARS = 4_000  # a thought, an error, a design's metrics
LINE_CHARS = 300  # an operator or a summary in a table
SETTINGS_ROWS = 200
NOTE_VERSIONS = 40  # earlier versions of the notes listed, newest first
NOT_NOVEL_ROWS = 10  # the latest designs found not novel
VARIANT_ROWS = 60  # variants in the table: the active ones and the winner's line first
VARIANT_CHARS = 600
SPAWN_ROWS = 100
#: The purposes of LLM calls in the order the cost table lists them (others after, by name).
PURPOSES = ("design", "notes", "judge", "embedding", "variant", "check", "other")


@dataclass(frozen=True)
class Clipped:
    """Text cut to a bounded length; `more` says how many characters were left out."""

    text: str
    more: int = 0


def clip(text: str | None, limit: int) -> Clipped:
    text = text or ""
    return Clipped(text[:limit], max(0, len(text) - limit))


class RunView:
    """What the sections read: the run's store and metadata, its designs' points loaded once;
    `control`, the run to set beside it when the reader named one (else one is looked for)."""

    def __init__(self, archive: Archive, control: Path | None = None) -> None:
        self.archive = archive
        self.control = control
        self.meta = archive.all_meta()
        cost_metric = self.meta.get("cost_metric")
        self.cost_metric: str | None = cost_metric if isinstance(cost_metric, str) else None
        self.fitness_name = str(self.meta.get("fitness_name") or "fitness")

    @cached_property
    def points(self) -> list[data.Point]:
        return data.load_points(self.archive, self.cost_metric)

    @cached_property
    def by_id(self) -> dict[int, data.Point]:
        return {p.id: p for p in self.points}

    @cached_property
    def top(self) -> list[Design]:
        return self.archive.top(TOP_DESIGNS)

    def design(self, d: Design, text_chars: int = TEXT_CHARS) -> dict[str, Any]:
        """A design as the templates show it, every text clipped."""
        shown = {k: v for k, v in d.metrics.items() if k not in ("curve", "stderr_tail")}
        cap = capped(d.metrics)
        return {
            "id": d.id,
            "name": clip(d.name, LINE_CHARS),
            "status": d.status.value,
            "fitness": d.fitness,
            "ci_low": d.ci_low,
            "ci_high": d.ci_high,
            "cost": cost_of(d, self.cost_metric) if self.cost_metric else None,
            "summary": clip(d.summary, LINE_CHARS),
            "generation": d.generation,
            "parents": list(d.parents),
            "proposer": clip(d.proposer, LINE_CHARS),
            "operator": clip(d.operator, LINE_CHARS),
            "origin": d.origin.value,
            "llm_tokens": d.llm_tokens,
            "llm_usd": d.llm_usd,
            "wall_s": d.wall_s,
            "thought": clip(d.thought, text_chars),
            "error": clip(d.error, text_chars),
            "metrics": clip(json.dumps(shown, indent=1, default=str), text_chars),
            "code": clip(d.code, CODE_CHARS),
            "capped": cap.line() if cap else None,
            "capped_marker": cap.marker() if cap else None,
            "transfer": [
                {
                    "name": clip(s.name, LINE_CHARS),
                    "median": s.median,
                    "ci_low": s.ci[0] if s.ci else None,
                    "ci_high": s.ci[1] if s.ci else None,
                    "problem": clip(s.problem, LINE_CHARS),
                    "error": clip(s.error, LINE_CHARS),
                }
                for s in transfer_scores(d.metrics)
            ],
        }


def when(timestamp: Any) -> str | None:
    if not isinstance(timestamp, int | float):
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def overview(view: RunView) -> dict[str, Any]:
    meta = view.meta
    counts = view.archive.counts()
    best = view.archive.best()
    test = meta.get("test") if isinstance(meta.get("test"), dict) else None
    return {
        "facts": [
            ("task", meta.get("task")),
            ("kind", meta.get("task_kind")),
            ("state", meta.get("state")),
            ("stopped by", meta.get("stopped_by")),
            ("proposer", meta.get("proposer")),
            ("fitness", f"{view.fitness_name}: {meta.get('fitness_meaning') or 'not described'}"),
            ("cost", view.cost_metric or "the task names no cost"),
            ("imported from", meta.get("source") if meta.get("imported_from") else None),
            ("started", when(meta.get("started_at") or meta.get("imported_at"))),
            ("searched", _duration(meta.get("searched_s"))),
        ],
        "running": meta.get("state") == "running",
        "counts": sorted(counts.items()),
        "total": sum(counts.values()),
        "best": view.design(best) if best else None,
        "test": test,
        "spend": view.archive.spend(),
    }


def _duration(seconds: Any) -> str | None:
    if not isinstance(seconds, int | float):
        return None
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def progress(view: RunView) -> dict[str, Any]:
    finished = data.finished_in_order(view.points)
    curve = data.best_so_far(finished)
    final = curve[-1] if curve else None
    reached = None if final is None else curve.index(final) + 1
    start = view.meta.get("started_at")
    figure = None
    if final is not None:
        clock = start if isinstance(start, int | float) else None
        figure = plots.progress(finished, curve, clock, view.fitness_name)
    return {"figure": figure, "finished": len(finished), "best": final, "reached": reached}


def control(view: RunView) -> dict[str, Any]:
    found = controls.beside(view.archive, view.meta, view.points, view.control)
    lookup, comparison = found.lookup, found.comparison
    shown: dict[str, Any] = {
        "role": controls.role(view.meta),
        "named": lookup.named,
        "folder": str(lookup.folder) if lookup.folder else None,
        "skipped": [(name, clip(why, LINE_CHARS)) for name, why in lookup.skipped],
        "left": lookup.left,
        "scanned": controls.SCANNED,
        "problem": clip(found.problem, TEXT_CHARS) if found.problem else None,
        "sides": [],
        "figure": None,
    }
    if comparison is None:
        return shown
    sides = [
        {
            "label": side.label,
            "role": side.role,
            "this": side.this,
            "name": clip(side.name, LINE_CHARS),
            "run_dir": str(side.run_dir),
            "proposer": clip(side.proposer, LINE_CHARS),
            "evaluations": side.evaluations,
            "best": view.design(side.best, LINE_CHARS) if side.best else None,
        }
        for side in comparison.sides
    ]
    curves = [(side.label, side.curve) for side in comparison.sides]
    scored = any(side.best for side in comparison.sides)
    return {
        **shown,
        "sides": sides,
        "at": comparison.at,
        "gap": comparison.gap,
        "verdict": comparison.verdict,
        "figure": plots.against(curves, comparison.at, view.fitness_name) if scored else None,
    }


def cost(view: RunView) -> dict[str, Any]:
    metric = view.cost_metric
    if metric is None:
        return {"metric": None, "figure": None, "front": [], "costed": 0, "more": 0}
    front = data.front_ids(view.points, metric)
    costed = sum(1 for p in view.points if p.scored and p.cost is not None)
    figure = plots.cost(view.points, front, metric, view.fitness_name) if costed else None
    rows = [view.design(view.archive.get(i), LINE_CHARS) for i in front[:FRONT_ROWS]]
    more = len(front) - len(rows)
    return {"metric": metric, "figure": figure, "front": rows, "costed": costed, "more": more}


def lineage(view: RunView) -> dict[str, Any]:
    top = [d.id for d in view.top]
    if not any(p.parents for p in view.points):
        return {"parented": False, "figure": None, "rows": [], "top": top}
    family = data.ancestry(view.by_id, top, ANCESTRY_PLOTTED)
    figure = plots.lineage(view.points, family.ids, top, view.fitness_name) if top else None
    rows = [view.design(view.archive.get(i), LINE_CHARS) for i in family.ids[:ANCESTRY_ROWS]]
    return {
        "parented": True,
        "figure": figure,
        "rows": rows,
        "top": top,
        "plotted": len(family.ids),
        "total": len(family.ids) + family.omitted,
    }


def top_designs(view: RunView) -> dict[str, Any]:
    scored = sum(1 for p in view.points if p.scored)
    return {"designs": [view.design(d) for d in view.top], "scored": scored}


#: Final, but not failures: the search spared these an evaluation, or a full one.
SPARED = (Status.DUPLICATE, Status.SCREENED_OUT, Status.NOT_NOVEL)


def failures(view: RunView) -> dict[str, Any]:
    failed = [
        p
        for p in view.points
        if p.status.final and p.status is not Status.OK and p.status not in SPARED
    ]
    counts = Counter(p.status.value for p in failed)
    latest = [view.design(view.archive.get(p.id)) for p in failed[-FAILURES:][::-1]]
    spared = Counter(p.status.value for p in view.points if p.status in SPARED)
    return {
        "counts": sorted(counts.items()),
        "total": len(failed),
        "latest": latest,
        "spared": sorted(spared.items()),
    }


def learning(view: RunView) -> dict[str, Any]:
    """What the search learned beside its designs: its notes, the novelty checks, the prompt
    variants and their credit, the islands stagnation spawned, and what learning cost."""
    notes = view.archive.notes()
    novelty = view.archive.novelty_counts()
    variants = view.archive.variants()
    spawns = data.island_spawns(view.archive, view.meta.get("config"))
    learned = bool(notes or novelty or variants or spawns)
    if not learned:
        return {"learned": False}
    return {
        "learned": True,
        **_notes(notes),
        "novelty": sorted(novelty.items()),
        "not_novel": _not_novel(view),
        **_variants(view, variants),
        "spawns": [{"at": s.at, "island": s.island, "seed": s.seed} for s in spawns[:SPAWN_ROWS]],
        "spawns_more": max(0, len(spawns) - SPAWN_ROWS),
        **_learning_cost(view),
    }


def _notes(notes: list[Note]) -> dict[str, Any]:
    if not notes:
        return {"notes": None, "earlier": [], "earlier_more": 0}
    latest, earlier = notes[-1], notes[-2::-1]  # earlier versions newest first
    return {
        "notes": {**_note(latest), "text": clip(latest.text, CODE_CHARS)},
        "earlier": [
            {**_note(n), "first": clip(n.text.strip().split("\n", 1)[0], LINE_CHARS)}
            for n in earlier[:NOTE_VERSIONS]
        ],
        "earlier_more": max(0, len(earlier) - NOTE_VERSIONS),
    }


def _note(note: Note) -> dict[str, Any]:
    return {
        "version": note.version,
        "upto": note.upto,
        "design_id": note.design_id,
        "model": clip(note.model, LINE_CHARS),
    }


def _not_novel(view: RunView) -> list[dict[str, Any]]:
    """The latest designs recorded not_novel, newest first, with the check that found them so."""
    ids = [p.id for p in view.points if p.status is Status.NOT_NOVEL][-NOT_NOVEL_ROWS:][::-1]
    found = view.archive.designs_by_id(ids, outline=True)
    rows = []
    for design_id in ids:
        d = found[design_id]
        check = d.novelty or {}
        rows.append(
            {
                "id": d.id,
                "name": clip(d.name, LINE_CHARS),
                "proposer": clip(d.proposer, LINE_CHARS),
                "closest": check.get("closest"),
                "similarity": check.get("similarity"),
                "judge": clip(str(check.get("judge") or ""), LINE_CHARS),
                "reason": clip(str(check.get("reason") or ""), TEXT_CHARS),
                "sent_back": bool(check.get("sent_back")),
            }
        )
    return rows


def _variants(view: RunView, variants: list[Variant]) -> dict[str, Any]:
    if not variants:
        return {"variants": [], "winner": None, "history": [], "variants_more": 0}
    records = data.variant_records(view.archive, variants)
    winner = data.winning_variant(records)
    history = data.variant_history(records, winner.variant.id) if winner else []
    # Bounded: the active variants and the winner's line always, then the newest others.
    keep = {r.variant.id for r in records if r.active} | {r.variant.id for r in history}
    for r in reversed(records):
        if len(keep) >= VARIANT_ROWS:
            break
        keep.add(r.variant.id)
    shown = [r for r in records if r.variant.id in keep]
    return {
        "variants": [_variant(r) for r in shown],
        "winner": winner.variant.id if winner else None,
        "history": [_variant(r) for r in history],
        "variants_more": len(records) - len(shown),
    }


def _variant(record: data.VariantRecord) -> dict[str, Any]:
    v, stats = record.variant, record.stats
    return {
        "id": v.id,
        "parent": v.parent,
        "replaces": v.replaces,
        "upto": v.upto,
        "model": clip(v.model, LINE_CHARS),
        "text": clip(v.text, VARIANT_CHARS),
        "proposals": stats.proposals,
        "improvements": stats.improvements,
        "mean": stats.mean if stats.proposals else None,
        "active": record.active,
        "copied": record.copied,
    }


def _learning_cost(view: RunView) -> dict[str, Any]:
    """The run's LLM spend by purpose, and per design the meta-agent wrote (every finished
    design of a model that was called)."""
    by_purpose = view.archive.spend_by_purpose()
    designs = sum(int(m["designs"]) for m in view.archive.model_spend().values())
    order = {purpose: i for i, purpose in enumerate(PURPOSES)}
    rows = [
        {
            "purpose": purpose,
            **spent,
            "tokens_per_design": spent["tokens"] / designs if designs else None,
            "usd_per_design": spent["usd"] / designs if designs else None,
        }
        for purpose, spent in sorted(
            by_purpose.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
        )
    ]
    return {"purposes": rows, "designs_written": designs}


def settings(view: RunView) -> dict[str, Any]:
    meta = view.meta
    config = meta.get("config")
    groups = [
        ("budget", meta.get("budget")),
        ("summary", meta.get("summary")),
        ("import", meta.get("import")),
        ("versions", meta.get("versions")),
        (
            "run",
            {"seed": meta.get("seed"), "task fingerprint": meta.get("task_fingerprint")},
        ),
    ]
    tables = [(title, _pairs(value)) for title, value in groups if isinstance(value, dict)]
    return {
        "config": clip(yaml.safe_dump(config, sort_keys=False), CODE_CHARS) if config else None,
        "tables": [(title, rows) for title, rows in tables if rows],
        "models": sorted(view.archive.model_spend().items()),
    }


def _pairs(value: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (dotted key, text) rows, bounded; empty values left out."""
    rows: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            rows += _pairs(item, f"{name}.")
        elif item is not None:
            text = item if isinstance(item, str) else json.dumps(item, default=str)
            rows.append((name, clip(text, LINE_CHARS).text))
    return rows[:SETTINGS_ROWS]


def sandbox(view: RunView) -> dict[str, Any]:
    recorded = view.meta.get("sandbox")
    if not isinstance(recorded, list):
        return {"protections": None}
    rows = [
        {
            "name": str(p.get("name", "?")),
            "enabled": p.get("enabled") is True,
            "detail": clip(str(p.get("detail", "")), TEXT_CHARS),
        }
        for p in recorded
        if isinstance(p, dict)
    ]
    return {"protections": rows, "missing": [r["name"] for r in rows if not r["enabled"]]}


SECTIONS = (
    ("overview", "The run", overview),
    ("progress", "Best so far", progress),
    ("control", "Search and control at equal evaluations", control),
    ("cost", "Fitness against cost", cost),
    ("lineage", "Lineage of the best designs", lineage),
    ("top", "The best designs", top_designs),
    ("failures", "Failures", failures),
    ("learning", "What the search learned", learning),
    ("settings", "Settings", settings),
    ("sandbox", "Sandbox protections", sandbox),
)
