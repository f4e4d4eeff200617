"""The run store: committed transactions, append-only events, bounded selection."""

import sqlite3

import pytest

from agentic_design.records import Evaluation, Proposal, Status
from agentic_design.store.archive import SCHEMA_VERSION, Archive, ArchiveError, farthest_points


def proposal(i: int, parents: tuple[int, ...] = ()) -> Proposal:
    return Proposal(name=f"d{i}", thought="t", code=f"x = {i}\n", parents=parents, operator="op")


def ok(fitness: float, params: int = 1000, layers: float = 3.0) -> Evaluation:
    return Evaluation(
        status=Status.OK,
        split="validation",
        seed=0,
        fitness=fitness,
        ci_low=fitness - 0.02,
        ci_high=fitness + 0.02,
        metrics={"params": params},
        descriptors={"log10_params": len(str(params)) - 1.0, "layers": layers},
    )


def failed(status: Status = Status.ERROR) -> Evaluation:
    return Evaluation(status=status, split="validation", seed=0, error="ValueError: boom")


@pytest.fixture
def archive(tmp_path):
    with Archive.create(tmp_path / "run") as a:
        yield a


def test_a_design_is_pending_until_finished_and_numbers_stay_numbers(archive, tmp_path):
    design_id = archive.add(proposal(1), eval_seed=3, task_fingerprint="abc")
    assert archive.get(design_id).status is Status.PENDING
    assert [d.id for d in archive.pending()] == [design_id]
    archive.finish(design_id, ok(0.91))
    design = archive.get(design_id)
    assert design.status is Status.OK
    assert design.fitness == 0.91 and design.ci == (0.91 - 0.02, 0.91 + 0.02)
    assert design.eval_seed == 3 and design.task_fingerprint == "abc"
    raw = sqlite3.connect(tmp_path / "run" / "run.db")
    assert raw.execute("SELECT typeof(fitness), typeof(ci_low) FROM designs").fetchone() == (
        "real",
        "real",
    )
    assert list((tmp_path / "run" / "designs").glob("00001_*.py"))


def test_the_store_uses_wal_and_another_connection_sees_committed_rows(archive, tmp_path):
    design_id = archive.add(proposal(1), eval_seed=0, task_fingerprint="f")
    archive.finish(design_id, ok(0.5))
    reader = Archive.open(tmp_path / "run", readonly=True)
    assert reader.get(design_id).fitness == 0.5
    mode = sqlite3.connect(tmp_path / "run" / "run.db").execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


def test_events_are_append_only(archive):
    archive.event("started", pid=1)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), archive._db:
        archive._db.execute("UPDATE events SET kind = 'forged'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), archive._db:
        archive._db.execute("DELETE FROM events")
    assert [e["kind"] for e in archive.events()] == ["started"]


def test_best_top_counts_and_failures_are_kept(archive):
    fitnesses = [0.5, 0.9, 0.7]
    for i, fitness in enumerate(fitnesses):
        archive.finish(archive.add(proposal(i), eval_seed=0, task_fingerprint="f"), ok(fitness))
    broken = archive.add(proposal(9, parents=(2,)), eval_seed=0, task_fingerprint="f")
    archive.finish(broken, failed())
    assert archive.best().fitness == 0.9
    assert [d.fitness for d in archive.top(2)] == [0.9, 0.7]
    assert archive.counts() == {"ok": 3, "error": 1}
    kept = archive.get(broken)
    assert kept.error == "ValueError: boom" and kept.parents == (2,)


def test_open_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(ArchiveError, match="no run found"):
        Archive.open(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "run.db").write_text("this is not sqlite")
    with pytest.raises(ArchiveError, match="not a readable run store"):
        Archive.open(tmp_path / "bad")


def test_selected_context_has_a_fixed_size_whatever_the_archive_size(archive):
    sizes = []
    for i in range(300):
        design_id = archive.add(proposal(i), eval_seed=0, task_fingerprint="f")
        if i % 10 == 0:
            archive.finish(design_id, failed(Status.TIMEOUT))
        else:
            archive.finish(design_id, ok(i / 1000, params=100 * (i % 7 + 1), layers=i % 5))
        if i in (20, 299):
            context = archive.select_context(k_best=4, n_diverse=3, n_failures=2)
            sizes.append((len(context.best), len(context.diverse), len(context.failures)))
    assert sizes == [(4, 3, 2), (4, 3, 2)]
    context = archive.select_context(k_best=4, n_diverse=3, n_failures=2)
    assert [d.fitness for d in context.best] == sorted(
        (d.fitness for d in context.best), reverse=True
    )
    assert context.best[0].fitness == 0.299
    assert all(d.status is Status.TIMEOUT for d in context.failures)
    assert not {d.id for d in context.best} & {d.id for d in context.diverse}


def test_farthest_points_prefers_designs_unlike_the_anchors(archive):
    ids = []
    for i, layers in enumerate([3.0, 3.1, 9.0, 3.2]):
        design_id = archive.add(proposal(i), eval_seed=0, task_fingerprint="f")
        archive.finish(design_id, ok(0.5, layers=layers))
        ids.append(design_id)
    designs = [archive.get(i) for i in ids]
    picked = farthest_points(designs[:1], designs[1:], 1)
    assert [d.id for d in picked] == [ids[2]]


def test_a_store_of_an_older_schema_is_upgraded_on_open_and_read_as_before(archive, tmp_path):
    design_id = archive.add(proposal(1), eval_seed=0, task_fingerprint="f")
    archive.finish(design_id, ok(0.8))
    # As version 2 wrote it: no diff column, graphs not tied to designs.
    with archive._db:
        archive._db.execute("ALTER TABLE designs DROP COLUMN diff")
        archive._db.execute("DROP INDEX designs_near")
        archive._db.execute("ALTER TABLE designs DROP COLUMN near_hash")
        archive._db.execute("ALTER TABLE graphs DROP COLUMN design_id")
        archive._db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    archive.close()
    with pytest.raises(ArchiveError, match="no design"):  # read-only: read as it is
        Archive.open(tmp_path / "run", readonly=True).get(design_id + 1)
    assert Archive.open(tmp_path / "run", readonly=True).get(design_id).diff is None
    upgraded = Archive.open(tmp_path / "run")
    assert upgraded.meta("schema_version") == SCHEMA_VERSION
    assert upgraded.near_duplicate(proposal(1).code) is None  # old rows have no fingerprint
    assert upgraded.get(design_id).fitness == 0.8 and upgraded.get(design_id).diff is None
    edited = Proposal(name="edited", thought="", code="x = 2\n", parents=(1,), diff="-x\n+x\n")
    assert upgraded.get(upgraded.add(edited, eval_seed=0, task_fingerprint="f")).diff == "-x\n+x\n"
    assert upgraded.graph(design_id) is None
    by_parts = Proposal(name="by parts", thought="", code="x = 3\n", graph='{"nodes": []}')
    assert upgraded.graph(upgraded.add(by_parts, eval_seed=0, task_fingerprint="f")) == (
        '{"nodes": []}'
    )
