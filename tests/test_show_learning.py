"""What a run learned, as `status`, `show` and the report show it: the notes' versions, the
novelty checks, the prompt variants with their credit, the islands stagnation spawned and the
cost of each kind of LLM call, read from a store written by hand (and from one written before
any of it existed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentic_design.config import SelectionConfig
from agentic_design.proposers.selection import make_strategy
from agentic_design.records import Evaluation, Note, Origin, Proposal, Status, Variant
from agentic_design.report import build_report
from agentic_design.store.archive import Archive

from .conftest import cli
from .test_report import assert_only_our_markup

MODEL = "openai/m"
HOSTILE_NOTE = "Helped: wider layers.\nHurt: <script>alert('notes')</script> and [bold]markup[/]"
VARIANT_TEXTS = ("Be careful.", "Be bold.", "Be simple.")
MUTATED = "Be bold, but <b>measure</b> first."
SELECTION = {"strategy": "islands", "islands": 2, "stagnation": 3, "max_islands": 4}


def ok(fitness: float) -> Evaluation:
    return Evaluation(status=Status.OK, split="validation", seed=0, fitness=fitness)


def check(novel: bool, closest: int | None = None, similarity: float | None = None) -> dict:
    judge = None if novel else "not novel"
    reason = "" if novel else "the <b>same</b> idea"
    return {
        "novel": novel,
        "similarity": similarity,
        "closest": closest,
        "judge": judge,
        "reason": reason,
    }


# Each design of the learning run: (parents, variant, fitness or a status, novelty record).
# Credit (improvement over the better parent): variant 1 +0.05 over 2 proposals, 2 +0.10
# over 3, 3 nothing, 4 +0.05 over 2, 5 (a copy of 4) +0.15 over 1: the winner.
SENT_BACK_NOVEL = {**check(True, 4, 0.5), "sent_back": True, "first": check(False, 4, 0.99)}
NOT_NOVEL_7 = {
    **check(False, 5, 0.991),
    "sent_back": True,
    "first": check(False, 5, 0.995),
    "why": "not a new idea: too close to design #5 (similarity 0.991); not evaluated",
}
NOT_NOVEL_10 = {**check(False, 9, 0.985), "sent_back": True, "first": check(False, 9, 0.99)}
DESIGNS = {
    4: ((2,), 1, 0.65, check(True, 2, 0.4)),
    5: ((4,), 2, 0.75, SENT_BACK_NOVEL),
    6: ((4,), 3, 0.60, None),
    7: ((5,), 2, Status.NOT_NOVEL, NOT_NOVEL_7),
    8: ((5,), 1, Status.ERROR, None),
    9: ((5,), 4, 0.80, check(True, 5, 0.7)),
    10: ((9,), 4, Status.NOT_NOVEL, NOT_NOVEL_10),
    11: ((9,), 2, 0.79, None),
    12: ((9,), 5, 0.95, check(True, 9, 0.6)),
}
NOTES = {6: Note(1, 5, "Helped: nothing yet."), 9: Note(2, 8, "Helped: deeper.\nHurt: dropout.")}
NOTES[12] = Note(3, 11, HOSTILE_NOTE)
VARIANTS = {
    4: tuple(Variant(i + 1, text) for i, text in enumerate(VARIANT_TEXTS)),
    8: (Variant(4, MUTATED, parent=2, replaces=3, upto=7, model=MODEL),),
    11: (Variant(5, MUTATED, parent=4, replaces=1, upto=10),),  # nothing usable: a copy
}
# LLM calls by purpose: (purpose, calls, prompt tokens, completion tokens, USD each).
CALLS = [
    ("design", 9, 100, 50, 0.001),
    ("notes", 3, 200, 100, 0.002),
    ("judge", 4, 50, 10, 0.0005),
    ("embedding", 6, 30, 0, 0.0001),
    ("variant", 1, 80, 40, 0.001),
]


def learning_run(run_dir: Path, embedding_model: str = "openai/emb") -> Path:
    """Three seeds and nine designs of a meta-agent that took notes three times, checked
    novelty (two designs not novel), evolved prompt variants and drew parents from islands
    that stagnation grows."""
    meta = {
        "name": "learning",
        "task": "digits",
        "fitness_name": "accuracy",
        "state": "finished",
        "config": {"search": {"selection": SELECTION, "evolution": {"population": 8}}},
    }
    with Archive.create(run_dir, meta=meta) as archive:
        for fitness in (0.50, 0.60, 0.55):
            seed = Proposal("seed", "", f"x = {fitness}\n", operator="seed", origin=Origin.SEED)
            archive.finish(archive.add(seed, eval_seed=0, task_fingerprint="x"), ok(fitness))
        for number, (parents, variant, outcome, novelty) in DESIGNS.items():
            proposal = Proposal(
                f"design {number}",
                "",
                f"x = {number}\n",
                parents=parents,
                proposer=MODEL,
                variant=variant,
                novelty=novelty,
                notes=(NOTES[number],) if number in NOTES else (),
                variants=VARIANTS.get(number, ()),
            )
            design_id = archive.add(proposal, eval_seed=0, task_fingerprint="x")
            assert design_id == number
            if isinstance(outcome, Status):
                error = "raised" if outcome is Status.ERROR else None
                result = Evaluation(status=outcome, split="validation", seed=0, error=error)
                archive.finish(design_id, result, cost=0.0)
            else:
                archive.finish(design_id, ok(outcome))
        for purpose, calls, prompt, completion, usd in CALLS:
            model = embedding_model if purpose == "embedding" else MODEL
            for i in range(calls):
                archive.record_llm_call(
                    key=f"{purpose}{i}",
                    model=model,
                    request={},
                    response="x",
                    error=None,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    usd=usd,
                    latency_s=0.1,
                    design_id=4 + i,
                    purpose=purpose,
                )
    return run_dir


def plain_run(run_dir: Path) -> Path:
    """A run that learned nothing: two designs, no notes, checks, variants or islands."""
    with Archive.create(run_dir, meta={"name": "plain", "state": "finished"}) as archive:
        for fitness in (0.5, 0.6):
            proposal = Proposal("plain", "", f"x = {fitness}\n")
            archive.finish(archive.add(proposal, eval_seed=0, task_fingerprint="x"), ok(fitness))
    return run_dir


def as_schema_6(run_dir: Path) -> Path:
    """The store as version 6 wrote it: no tables of what was learned, no columns for it."""
    with Archive.open(run_dir) as archive, archive._db as db:
        for table in ("notes", "embeddings", "prompt_variants"):
            db.execute(f"DROP TABLE {table}")
        db.execute("ALTER TABLE designs DROP COLUMN variant")
        db.execute("ALTER TABLE designs DROP COLUMN novelty")
        db.execute("ALTER TABLE llm_calls DROP COLUMN purpose")
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    return run_dir


def section(page: str, key: str) -> str:
    return page.split(f'<section id="{key}">')[1].split("</section>")[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return learning_run(tmp_path_factory.mktemp("learning") / "run")


@pytest.fixture(scope="module")
def page(run) -> str:
    with Archive.open(run, readonly=True) as archive:
        report = build_report(archive)
    assert report.failed == []
    return report.html


# -- the command line ------------------------------------------------------------------------


@pytest.mark.slow
def test_show_notes_prints_every_version_oldest_first_as_written(run):
    result = cli("show", str(run), "--notes")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    headers = [line for line in text.splitlines() if line.startswith("notes v")]
    assert headers == [
        "notes v1 — from designs up to #5, written with design #6",
        "notes v2 — from designs up to #8, written with design #9",
        "notes v3 — from designs up to #11, written with design #12",
    ]
    # Markup in a note is text: printed as the model wrote it, not read as rich markup.
    assert "Hurt: <script>alert('notes')</script> and [bold]markup[/]" in text
    assert text.index("Helped: nothing yet.") < text.index("Helped: deeper.")

    listed = json.loads(cli("show", str(run), "--notes", "--json").stdout)
    assert [(n["version"], n["upto"], n["design_id"]) for n in listed] == [
        (1, 5, 6),
        (2, 8, 9),
        (3, 11, 12),
    ]
    assert listed[2]["text"] == HOSTILE_NOTE


@pytest.mark.slow
def test_show_notes_refuses_the_options_that_choose_designs(run):
    for option in (["--id", "4"], ["--pareto"], ["--top", "3"]):
        result = cli("show", str(run), "--notes", *option)
        assert result.returncode == 2, option
        assert f"leave out {option[0]}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_status_counts_the_novelty_checks_and_says_what_was_learned(run):
    result = cli("status", str(run))
    assert result.returncode == 0, result.stderr
    assert "novelty: 6 checked, 3 sent back, 2 not_novel (openai/m)" in result.stdout
    assert "notes: v3 in force, from designs up to #11 (3 versions" in result.stdout
    assert "prompt variants: 5 (3 active, 2 written by the meta-agent)" in result.stdout
    # Two models called (the meta-agent's and the embedding model): a table with the checks.
    table = result.stdout.split("the meta-agent's models")[1]
    row = next(line for line in table.splitlines() if MODEL in line)
    assert [cell.strip() for cell in row.split("│")][-3:-1] == ["3", "2"]  # sent back, not novel


@pytest.mark.slow
def test_a_one_model_run_says_its_novelty_checks_in_a_line(tmp_path):
    run = learning_run(tmp_path / "run", embedding_model=MODEL)
    for command in ("status", "show"):
        result = cli(command, str(run))
        assert result.returncode == 0, result.stderr
        assert "novelty: 6 checked, 3 sent back, 2 not_novel (openai/m)" in result.stdout
        assert "the meta-agent's models" not in result.stdout


@pytest.mark.slow
def test_show_id_says_how_a_designs_novelty_was_judged_and_its_variant(run):
    shown = cli("show", str(run), "--id", "7").stdout
    assert "written under prompt variant 2" in shown
    assert "novelty: not novel, similarity 0.991 to #5; the judge: not novel" in shown
    assert "the <b>same</b> idea" in shown  # the judge's reason, as text
    assert "sent back once for a different idea; the first answer: not novel, similarity 0.995" in (
        shown
    )
    assert "not a new idea: too close to design #5 (similarity 0.991); not evaluated" in shown
    plain = cli("show", str(run), "--id", "6").stdout
    assert "written under prompt variant 3" in plain and "novelty" not in plain


@pytest.mark.slow
def test_a_run_without_notes_says_so(tmp_path):
    run = plain_run(tmp_path / "run")
    result = cli("show", str(run), "--notes")
    assert result.returncode == 0 and "this run has no notes" in result.stdout
    assert json.loads(cli("show", str(run), "--notes", "--json").stdout) == []
    status = cli("status", str(run)).stdout
    assert "novelty" not in status and "notes:" not in status and "variants" not in status


# -- the report ------------------------------------------------------------------------------


def test_the_report_shows_the_notes_whole_and_escaped_and_the_earlier_versions(page):
    learned = section(page, "learning")
    assert "<h2>What the search learned</h2>" in page
    assert "version 3, from the designs up to #11, written while planning design #12" in learned
    assert (
        "Hurt: &lt;script&gt;alert(&#39;notes&#39;)&lt;/script&gt; and [bold]markup[/]" in learned
    )
    assert "<script" not in page.lower()
    assert_only_our_markup(page)
    earlier = learned.split("<th>first line</th>")[1].split("</table>")[0]
    assert earlier.index("Helped: deeper.") < earlier.index("Helped: nothing yet.")  # newest first
    assert "Hurt: dropout." not in earlier  # the first line only
    # Sections come in order: the failures, then what was learned.
    assert page.index('<section id="failures">') < page.index('<section id="learning">')


def test_the_report_counts_the_novelty_checks_and_lists_the_designs_not_novel(page):
    learned = section(page, "learning")
    counts = learned.split("<th>not_novel</th></tr>")[1].split("</table>")[0]
    assert "<td>openai/m</td>" in counts and counts.count('class="num">') == 3
    assert [cell.split("<")[0] for cell in counts.split('class="num">')[1:]] == ["6", "3", "2"]
    rows = learned.split("<th>reason</th></tr>")[1].split("</table>")[0].split("<tr>")[1:]
    assert [row.split("</td>")[0] for row in rows] == ["<td>#10", "<td>#7"]  # newest first
    assert "0.991" in rows[1] and "#5" in rows[1] and "the &lt;b&gt;same&lt;/b&gt; idea" in rows[1]
    # Not failures: spared an evaluation.
    failures = section(page, "failures")
    assert "not_novel 2" in failures and "not_novel" not in failures.split("</p>", 1)[1]


def test_the_report_credits_each_variant_and_traces_the_winner(page):
    learned = section(page, "learning")
    table = learned.split("<th>text</th></tr>")[1].split("</table>")[0]
    rows = {
        int(row.split("<td>")[1].split("<")[0].split()[0]): row for row in table.split("<tr>")[1:]
    }
    assert sorted(rows) == [1, 2, 3, 4, 5]

    def cells(variant: int) -> list[str]:
        return [c.split("</td>")[0] for c in rows[variant].split(">", 1)[1].split("<td")[1:]]

    # proposals, improvements, mean reward, state
    assert [c.split(">")[-1] for c in cells(1)[2:6]] == ["2", "1", "0.0250", "retired"]
    assert [c.split(">")[-1] for c in cells(2)[2:6]] == ["3", "1", "0.0333", "active"]
    assert [c.split(">")[-1] for c in cells(3)[2:6]] == ["1", "0", "0.0000", "retired"]
    assert [c.split(">")[-1] for c in cells(4)[2:6]] == ["2", "1", "0.0250", "active"]
    assert "★" in rows[5] and all("★" not in rows[v] for v in (1, 2, 3, 4))
    assert "a copy of its parent" in rows[5] and "a copy" not in rows[4]
    assert "Be bold, but &lt;b&gt;measure&lt;/b&gt; first." in rows[4]
    assert "<td>starting</td>" in rows[1] and "<td>4</td><td>1</td>" in rows[5]  # parent, replaces
    history = learned.split("The winner's history")[1].split("</p>")[0]
    assert (
        "5 (a copy of 4) ← 4 (written by openai/m from the designs up to #7) ← 2 (starting)"
        in history
    )


def test_the_report_shows_the_islands_stagnation_spawned(page, run):
    # The search's own rule, fed the designs in id order: 0.65 and 0.75 were new bests, then
    # three designs without one (0.60, not_novel, error) spawn island 2 at design #8.
    strategy = make_strategy(SelectionConfig(**SELECTION), 8, 4)
    with Archive.open(run, readonly=True) as archive:
        for design in archive.skeletons():
            strategy.add(design)
    spawned = strategy.spawned  # type: ignore[attr-defined]
    assert [(at, island) for at, island, _ in spawned] == [(8, 2)]
    learned = section(page, "learning")
    rows = learned.split("<th>seeded with</th></tr>")[1].split("</table>")[0]
    assert f'<tr><td>at design #8</td><td class="num">2</td><td>#{spawned[0][2]}' in rows


def test_the_report_reads_the_cost_of_learning_from_the_runs_accounting(page):
    learned = section(page, "learning")
    table = learned.split("<th>USD per design</th></tr>")[1].split("</table>")[0]
    rows = {row.split("</td>")[0][4:]: row for row in table.split("<tr>")[1:]}
    assert list(rows) == ["design", "notes", "judge", "embedding", "variant"]
    assert "divided by the 9 designs the meta-agent wrote" in learned
    numbers = [c.split("<")[0] for c in rows["notes"].split('class="num">')[1:]]
    # 3 calls of 300 tokens and $0.002: per design of 9, 100 tokens and $0.000667.
    assert numbers == ["3", "900", "0.0060", "100", "0.000667"]
    judge = [c.split("<")[0] for c in rows["judge"].split('class="num">')[1:]]
    assert judge == ["4", "240", "0.0020", "26.67", "0.000222"]


def test_a_run_that_learned_nothing_says_so_in_one_line(tmp_path):
    with Archive.open(plain_run(tmp_path / "run"), readonly=True) as archive:
        report = build_report(archive)
    assert report.failed == []
    learned = section(report.html, "learning")
    assert "This run learned nothing beside its designs" in learned
    assert "<table>" not in learned and "<h3>" not in learned


# -- a store of an older version -------------------------------------------------------------


def test_a_schema_6_store_reads_as_one_that_learned_nothing(tmp_path):
    run = as_schema_6(plain_run(tmp_path / "run"))
    with Archive.open(run, readonly=True) as archive:
        assert archive.meta("schema_version") == 6
        report = build_report(archive)
    assert report.failed == []
    assert "This run learned nothing beside its designs" in section(report.html, "learning")
    assert "not_novel" not in section(report.html, "failures")


@pytest.mark.slow
def test_show_notes_and_status_read_a_schema_6_store(tmp_path):
    run = as_schema_6(learning_run(tmp_path / "run"))
    notes = cli("show", str(run), "--notes")
    assert notes.returncode == 0 and "this run has no notes" in notes.stdout, notes.stderr
    status = cli("status", str(run))
    assert status.returncode == 0, status.stderr
    assert "novelty" not in status.stdout and "prompt variants" not in status.stdout
    shown = cli("show", str(run), "--id", "7")
    assert shown.returncode == 0 and "novelty" not in shown.stdout, shown.stderr
