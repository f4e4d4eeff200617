"""Importing the peers' runs: an OpenEvolve checkpoint and a ShinkaEvolve results folder become
runs that `show`, `status`, `report` and `replay --config` read, with the peers' own scores,
parents, islands and failures. Runs in the peers' formats written here, the peers' own files
(tests/data/peers, written by OpenEvolve 0.4.1 and ShinkaEvolve 0.0.7), and, where the peers are
installed in this interpreter, a fresh run of each made by tests/data/peers/generate.py."""

from __future__ import annotations

import importlib.util
import json
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_design.records import Origin, Status
from agentic_design.store.archive import Archive, db_path
from agentic_design.store.import_common import PeerImportError
from agentic_design.store.import_openevolve import find_checkpoint, import_openevolve
from agentic_design.store.import_shinka import import_shinka

from .conftest import REPO, cli

PEERS_DATA = REPO / "tests" / "data" / "peers"
GENERATE = PEERS_DATA / "generate.py"

# A priority function in each peer's program form (an EVOLVE block), as binpack takes it.
WORST_FIT = """\
import numpy as np


# EVOLVE-BLOCK-START
def priority(item: float, bins: np.ndarray) -> np.ndarray:
    score = bins - item
    return score
# EVOLVE-BLOCK-END
"""
BEST_FIT = WORST_FIT.replace("score = bins - item", "score = -(bins - item)")
FIRST_FIT = WORST_FIT.replace("score = bins - item", "score = -np.arange(len(bins)) * 1.0")
BROKEN = WORST_FIT.replace("score = bins - item", "score = waste_penalty(bins - item)")


def binpack_config(tmp_path: Path) -> Path:
    """A config of ours that scores a priority function on small binpack instances."""
    path = tmp_path / "binpack.yaml"
    config = {
        "name": "rescore",
        "task": "binpack",
        "task_params": {"items": 200, "instances": 2},
        "seed": 0,
        "sandbox": {"workers": 1, "wall_s": 60},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def designs_of(run_dir: Path) -> list[dict[str, Any]]:
    """Every design of a run, in id order, as `show --json` gives them."""
    result = cli("show", str(run_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    return sorted(payload["designs"], key=lambda d: d["id"])


# -- OpenEvolve's format -----------------------------------------------------------------------


def oe_program(key: str, code: str, **fields: Any) -> dict[str, Any]:
    """A program as OpenEvolve's checkpoints keep it (programs/<id>.json)."""
    return {
        "id": key,
        "code": code,
        "changes_description": "",
        "language": "python",
        "parent_id": None,
        "generation": 0,
        "timestamp": 1000.0,
        "iteration_found": 0,
        "metrics": {},
        "complexity": 0.0,
        "diversity": 0.0,
        "metadata": {},
        "prompts": None,
        "artifacts_json": None,
        "artifact_dir": None,
        "embedding": None,
        **fields,
    }


def write_checkpoint(
    folder: Path, programs: list[dict[str, Any]], metadata: dict[str, Any] | None = None
) -> Path:
    """An OpenEvolve checkpoint folder: metadata.json and a JSON file a program, written in
    a shuffled order (a directory lists them in any order)."""
    (folder / "programs").mkdir(parents=True)
    for program in random.Random(7).sample(programs, len(programs)):
        (folder / "programs" / f"{program['id']}.json").write_text(json.dumps(program))
    if metadata is not None:
        (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


ERROR_ARTIFACTS = json.dumps(
    {
        "stderr": "name 'waste_penalty' is not defined",
        "traceback": "Traceback (most recent call last):\nNameError: name 'waste_penalty' is not"
        " defined\n",
        "failure_stage": "evaluation",
    }
)


def openevolve_programs() -> list[dict[str, Any]]:
    """Five programs over two islands: the initial one, a child, its child scored without a
    combined_score, a failed one, and a migrant copy of the child on the other island."""
    made = {"llm_model": "model-a", "evolution_mode": "diff", "token_usage": {"total_tokens": 700}}
    return [
        oe_program(
            "init-0000",
            WORST_FIT,
            metrics={"combined_score": -145.0, "excess_percent": 145.0},
            metadata={"island": 0},
        ),
        oe_program(
            "best-1111",
            BEST_FIT,
            parent_id="init-0000",
            generation=1,
            iteration_found=1,
            timestamp=1001.0,
            changes_description="Pack each item where it fits most tightly.",
            metrics={"combined_score": -6.8, "excess_percent": 6.8},
            metadata={"island": 0, "changes": "Change 1: best fit", **made},
        ),
        oe_program(
            "first-2222",
            FIRST_FIT,
            parent_id="best-1111",
            generation=2,
            iteration_found=2,
            timestamp=1002.0,
            metrics={"neg_excess": -8.0, "neg_worst": -6.0, "passed": True, "note": "text"},
            metadata={"island": 1, "changes": "Change 1: first fit", **made},
        ),
        oe_program(
            "broke-3333",
            BROKEN,
            parent_id="best-1111",
            generation=2,
            iteration_found=3,
            timestamp=1003.0,
            metrics={"error": 0.0},
            metadata={"island": 0, **made},
            artifacts_json=ERROR_ARTIFACTS,
        ),
        oe_program(
            "migr-4444",
            BEST_FIT,
            parent_id="best-1111",
            generation=1,
            iteration_found=0,  # OpenEvolve's migrants keep no iteration
            timestamp=1004.0,
            metrics={"combined_score": -6.8, "excess_percent": 6.8},
            metadata={"island": 1, "migrant": True, **made},
        ),
    ]


OPENEVOLVE_METADATA = {
    "islands": [["init-0000", "best-1111", "broke-3333"], ["first-2222", "migr-4444"]],
    "archive": ["best-1111", "broke-3333"],
    "best_program_id": "broke-3333",
    "last_iteration": 3,
}


@pytest.fixture(scope="module")
def openevolve_run(tmp_path_factory):
    """Our checkpoints in OpenEvolve's output folder layout, imported through the command."""
    output = tmp_path_factory.mktemp("openevolve") / "openevolve_output"
    # An older checkpoint, to be passed over: checkpoint_10 is the latest, not checkpoint_2.
    write_checkpoint(output / "checkpoints" / "checkpoint_2", openevolve_programs()[:2], {})
    write_checkpoint(
        output / "checkpoints" / "checkpoint_10", openevolve_programs(), OPENEVOLVE_METADATA
    )
    run_dir = output.parent / "run"
    result = cli("import-openevolve", str(output / "checkpoints"), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout, output


def test_a_checkpoint_imports_parents_first_with_our_ids(openevolve_run):
    run_dir, _, _ = openevolve_run
    designs = designs_of(run_dir)
    keys = [d["metrics"]["openevolve"]["id"] for d in designs]
    # By iteration, but a migrant (iteration 0) after its original.
    assert keys == ["init-0000", "best-1111", "migr-4444", "first-2222", "broke-3333"]
    assert [d["parents"] for d in designs] == [[], [1], [2], [2], [2]]
    assert [d["generation"] for d in designs] == [0, 1, 1, 2, 2]
    assert {d["origin"] for d in designs} == {Origin.IMPORTED.value}
    assert [d["metrics"]["openevolve"]["island"] for d in designs] == [0, 0, 1, 1, 0]
    assert [d["metrics"]["openevolve"]["in_archive"] for d in designs] == [
        False,
        True,
        False,
        False,
        True,
    ]


def test_a_checkpoint_keeps_scores_metrics_names_and_who_wrote_them(openevolve_run):
    run_dir, _, _ = openevolve_run
    initial, best, migrant, first, _ = designs_of(run_dir)
    assert (initial["status"], initial["fitness"]) == ("ok", -145.0)
    assert initial["name"] == "initial program init-000" and initial["proposer"] == "openevolve"
    assert best["fitness"] == -6.8 and best["metrics"]["excess_percent"] == 6.8
    assert best["thought"] == "Pack each item where it fits most tightly."
    assert best["proposer"] == "model-a" and best["llm_tokens"] == 700
    assert best["operator"] == "imported from OpenEvolve (iteration 1, island 0, diff)"
    assert "-    score = bins - item\n+    score = -(bins - item)" in best["diff"]
    assert migrant["name"] == "migrant migr-444" and migrant["metrics"]["openevolve"]["migrant"]
    assert "a migrant: a copy of best-111" in migrant["operator"]
    # No combined_score: the mean of the numeric metrics (not the flag, not the text), as
    # OpenEvolve ranks it, and said so.
    assert first["fitness"] == -7.0 and first["status"] == "ok"
    assert first["metrics"]["openevolve"]["fitness_from"] == "the mean of neg_excess, neg_worst"
    assert first["thought"] == "Change 1: first fit"  # no description: the changes' summary
    assert first["metrics"]["passed"] is True and first["metrics"]["note"] == "text"


def test_a_failed_evaluation_is_an_error_not_openevolves_zero(openevolve_run):
    run_dir, stdout, _ = openevolve_run
    broken = designs_of(run_dir)[4]
    assert broken["status"] == "error" and broken["fitness"] is None
    assert broken["error"].startswith("name 'waste_penalty' is not defined\nTraceback")
    facts = broken["metrics"]["openevolve"]
    assert facts["score"] == 0.0  # what OpenEvolve ranks it by: the mean of {"error": 0.0}
    assert facts["artifacts"] == {"failure_stage": "evaluation"}  # the rest is in the error
    assert broken["metrics"]["error"] == 0.0
    # OpenEvolve called it its best; the import says so, and ranks it nowhere.
    assert "OpenEvolve's own best: broke-3333 (#5)" in stdout
    assert "OpenEvolve's own best program (broke-3333, #5) is one whose evaluation failed" in stdout


def test_the_import_prints_its_summary(openevolve_run):
    run_dir, stdout, output = openevolve_run
    checkpoint = output / "checkpoints" / "checkpoint_10"
    assert f"(OpenEvolve, read {checkpoint}, fitness combined_score)" in stdout
    assert "programs: 5, imported: 5 (error: 1, ok: 4), parents no longer in the checkpoint: 0" in (
        stdout
    )
    assert "generations: initial, 1-2; islands (programs): 0 (3), 1 (2)" in stdout
    assert "1 programs have no combined_score" in stdout
    assert "best #2 iteration 1 (best-111): combined_score -6.8000 (no interval)" in stdout
    with Archive.open(run_dir, readonly=True) as archive:
        meta = archive.all_meta()
    assert meta["imported_from"] == "OpenEvolve" and meta["state"] == "imported"
    assert meta["source"] == str(checkpoint) and "config" not in meta
    assert meta["import"]["statuses"] == {"error": 1, "ok": 4}


def test_status_show_and_report_read_an_imported_checkpoint(openevolve_run):
    run_dir, _, output = openevolve_run
    status = cli("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert f"run {run_dir}: imported" in status.stdout
    assert "imported from OpenEvolve" in status.stdout and "5 scored, 0 pending" in status.stdout
    assert "by status: error 1, ok 4" in status.stdout
    table = cli("show", str(run_dir))
    assert table.returncode == 0 and "migrant migr-444" in table.stdout
    one = cli("show", str(run_dir), "--id", "5")
    assert one.returncode == 0 and "status error" in one.stdout
    assert "error: name 'waste_penalty' is not defined" in one.stdout
    report = cli("report", str(run_dir), "-o", str(output.parent / "report.html"))
    assert report.returncode == 0, report.stderr
    assert "migrant migr-444" in (output.parent / "report.html").read_text()


def test_replay_rescores_an_imported_program_under_our_binpack_task(openevolve_run, tmp_path):
    run_dir, _, _ = openevolve_run
    config = binpack_config(tmp_path)
    result = cli("replay", str(run_dir), "2", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "design #2: OpenEvolve recorded -6.8 on its own data; measured" in result.stdout
    assert "on binpack under" in result.stdout
    broken = cli("replay", str(run_dir), "5", "--config", str(config))
    assert broken.returncode == 1 and "NameError: name 'waste_penalty'" in broken.stdout
    with Archive.open(run_dir, readonly=True) as archive:
        rescore = archive.evaluations(2)[-1]
    assert rescore["purpose"] == "rescore" and rescore["status"] == "ok"


@pytest.mark.parametrize("imported", ["resume", "export"])
def test_an_imported_checkpoint_cannot_be_run_again(openevolve_run, tmp_path, imported):
    run_dir, _, output = openevolve_run
    args = ["resume", str(run_dir)]
    if imported == "export":
        args = ["export", str(run_dir), "1", "-o", str(tmp_path / "one.py")]
    result = cli(*args)
    assert result.returncode == 2
    checkpoint = output / "checkpoints" / "checkpoint_10"
    assert f"was imported from OpenEvolve ({checkpoint})" in result.stderr


@pytest.mark.parametrize("given", ["output", "checkpoints", "checkpoint"])
def test_a_checkpoint_is_found_from_its_output_folder_or_its_own(openevolve_run, given):
    _, _, output = openevolve_run
    path = {
        "output": output,
        "checkpoints": output / "checkpoints",
        "checkpoint": output / "checkpoints" / "checkpoint_10",
    }[given]
    assert find_checkpoint(path) == (output / "checkpoints" / "checkpoint_10").resolve()


def test_a_checkpoint_without_metadata_takes_islands_from_its_programs(tmp_path):
    folder = write_checkpoint(tmp_path / "checkpoint_1", openevolve_programs())
    summary = import_openevolve(folder, tmp_path / "run")
    assert summary.islands == {0: 3, 1: 2} and summary.peer_best is None


def test_a_parent_gone_from_the_population_is_no_parent_but_is_kept(tmp_path):
    programs = openevolve_programs()[:2]
    programs[1]["parent_id"] = "lost-9999"  # it lost its cell before the checkpoint
    summary = import_openevolve(write_checkpoint(tmp_path / "c", programs), tmp_path / "run")
    assert summary.parents_missing == 1
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        child = archive.get(2)
    assert child.parents == () and child.metrics["openevolve"]["parent_missing"] is True
    assert child.metrics["openevolve"]["parent_id"] == "lost-9999"


def test_a_failed_write_leaves_no_run_behind(tmp_path):
    """Everything is checked first; should writing still fail part way (here a folder stands
    where a design's code file goes), what was written is removed again."""
    folder = write_checkpoint(tmp_path / "c", openevolve_programs())
    run_dir = tmp_path / "run"
    (run_dir / "designs" / "00003_migrant_migr_444.py").mkdir(parents=True)
    with pytest.raises(IsADirectoryError):
        import_openevolve(folder, run_dir)
    assert not db_path(run_dir).exists()
    assert list(run_dir.glob("run.db*")) == []
    assert import_openevolve(folder, tmp_path / "elsewhere").programs == 5  # unharmed


def test_importing_into_a_run_directory_twice_exits_2(openevolve_run):
    run_dir, _, output = openevolve_run
    again = cli("import-openevolve", str(output), "--run-dir", str(run_dir))
    assert again.returncode == 2 and "already holds a run" in again.stderr
    with pytest.raises(PeerImportError, match="already holds a run"):
        import_shinka(PEERS_DATA / "shinka_results", run_dir)


# -- ShinkaEvolve's format ---------------------------------------------------------------------

# The programs table as ShinkaEvolve 0.0.7 makes it (its columns and their types).
SHINKA_SCHEMA = """
CREATE TABLE programs (
    id TEXT PRIMARY KEY, code TEXT NOT NULL, language TEXT NOT NULL, parent_id TEXT,
    archive_inspiration_ids TEXT, top_k_inspiration_ids TEXT, generation INTEGER NOT NULL,
    timestamp REAL NOT NULL, code_diff TEXT, combined_score REAL, public_metrics TEXT,
    private_metrics TEXT, text_feedback TEXT, complexity REAL, embedding TEXT,
    embedding_pca_2d TEXT, embedding_pca_3d TEXT, embedding_cluster_id INTEGER,
    correct BOOLEAN DEFAULT 0, children_count INTEGER NOT NULL DEFAULT 0, metadata TEXT,
    migration_history TEXT, island_idx INTEGER, system_prompt_id TEXT
);
CREATE TABLE archive (program_id TEXT PRIMARY KEY);
CREATE TABLE metadata_store (key TEXT PRIMARY KEY, value TEXT);
"""


def shinka_row(key: str, code: str, **fields: Any) -> dict[str, Any]:
    """A row of ShinkaEvolve's programs table, its JSON columns as JSON text."""
    row = {
        "id": key,
        "code": code,
        "language": "python",
        "parent_id": None,
        "archive_inspiration_ids": "[]",
        "top_k_inspiration_ids": "[]",
        "generation": 0,
        "timestamp": 1000.0,
        "code_diff": None,
        "combined_score": 0.0,
        "public_metrics": "{}",
        "private_metrics": "{}",
        "text_feedback": "",
        "complexity": 0.2,
        "embedding": json.dumps([0.1] * 8),
        "embedding_pca_2d": "[]",
        "embedding_pca_3d": "[]",
        "embedding_cluster_id": None,
        "correct": 1,
        "children_count": 0,
        "metadata": "{}",
        "migration_history": "[]",
        "island_idx": 0,
        "system_prompt_id": None,
    }
    for name, value in fields.items():
        row[name] = json.dumps(value) if isinstance(value, dict | list) else value
    return row


def write_shinka(path: Path, rows: list[dict[str, Any]], schema: str = SHINKA_SCHEMA) -> Path:
    """A ShinkaEvolve database holding `rows` (in a shuffled order), its best program named."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(schema)
        for row in random.Random(3).sample(rows, len(rows)):
            columns = ", ".join(row)
            marks = ", ".join("?" * len(row))
            db.execute(f"INSERT INTO programs ({columns}) VALUES ({marks})", list(row.values()))
        if "metadata_store" in schema:
            db.execute("INSERT INTO metadata_store VALUES ('best_program_id', 'best-1111')")
            db.execute("INSERT INTO archive VALUES ('best-1111')")
    db.close()
    return path


def shinka_rows() -> list[dict[str, Any]]:
    """The initial program, its copy on island 1, a diff child with inspirations, an
    incorrect one (its error only in what the evaluation printed), and a crossover."""
    model = {"model_name": "model-b", "api_costs": 0.002, "patch_type": "diff"}
    return [
        shinka_row(
            "init-0000",
            WORST_FIT,
            combined_score=-145.0,
            public_metrics={"excess_percent": 145.0},
            private_metrics={"worst": 150.0},
            text_feedback="excess per instance: [140.0, 150.0]",
            metadata={"patch_type": "init", "patch_name": "initial_program"},
        ),
        shinka_row(
            "copy-0001",
            WORST_FIT,
            combined_score=-145.0,
            island_idx=1,
            metadata={
                "patch_type": "init",
                "patch_name": "initial_program",
                "_is_island_copy": True,
                "_original_program_id": "init-0000",
            },
        ),
        shinka_row(
            "best-1111",
            BEST_FIT,
            parent_id="init-0000",
            generation=1,
            timestamp=1001.0,
            combined_score=-6.8,
            public_metrics={"excess_percent": 6.8},
            archive_inspiration_ids=["copy-0001"],
            top_k_inspiration_ids=["init-0000", "gone-7777"],
            code_diff="--- a/original.py\n+++ b/original.py\n-    score = bins - item\n",
            metadata={
                **model,
                "patch_name": "best_fit",
                "patch_description": "Pack each item where it fits most tightly.",
                "llm_result": {"input_tokens": 600, "output_tokens": 50},
            },
        ),
        shinka_row(
            "fail-2222",
            BROKEN,
            parent_id="best-1111",
            generation=2,
            timestamp=1002.0,
            correct=0,
            metadata={
                **model,
                "patch_name": "helper_call",
                "stdout_log": "==========Running program evaluation 1/1...==========\n"
                "Evaluation error: name 'waste_penalty' is not defined\n",
                "stderr_log": "",
            },
        ),
        shinka_row(
            "cross-3333",
            FIRST_FIT,
            parent_id="best-1111",
            generation=3,
            timestamp=1003.0,
            combined_score=-7.5,
            island_idx=0,
            archive_inspiration_ids=["init-0000"],
            metadata={**model, "patch_type": "cross", "patch_name": "first_fit"},
        ),
    ]


@pytest.fixture(scope="module")
def shinka_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("shinka") / "results"
    write_shinka(results / "programs.sqlite", shinka_rows())
    run_dir = results.parent / "run"
    result = cli("import-shinka", str(results), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout, results


def test_a_shinka_run_imports_parents_first_and_copies_after_their_original(shinka_run):
    run_dir, _, _ = shinka_run
    designs = designs_of(run_dir)
    keys = [d["metrics"]["shinka"]["id"] for d in designs]
    assert keys == ["init-0000", "copy-0001", "best-1111", "fail-2222", "cross-3333"]
    # Only parent_id makes a parent: a copy has none, a crossover's inspirations are context.
    assert [d["parents"] for d in designs] == [[], [], [1], [3], [3]]
    copy = designs[1]
    assert copy["name"] == "initial_program (copy on island 1)"
    assert copy["metrics"]["shinka"]["copy_of"] == [1]
    assert "a copy of init-000, island 1" in copy["operator"]
    child = designs[2]
    assert child["metrics"]["shinka"]["archive_inspirations"] == [2]
    assert child["metrics"]["shinka"]["top_k_inspirations"] == [1]  # gone-7777 is not here
    assert designs[4]["metrics"]["shinka"]["archive_inspirations"] == [1]
    crossover = designs[4]["operator"]
    assert crossover == "imported from ShinkaEvolve (generation 3, island 0, cross patch)"


def test_a_shinka_run_keeps_scores_metrics_patches_and_models(shinka_run):
    run_dir, _, _ = shinka_run
    initial, _, best, _, _ = designs_of(run_dir)
    assert (initial["fitness"], initial["metrics"]["excess_percent"]) == (-145.0, 145.0)
    assert initial["metrics"]["shinka"]["private_metrics"] == {"worst": 150.0}
    assert initial["summary"] == "excess per instance: [140.0, 150.0]"
    assert initial["name"] == "initial_program" and initial["proposer"] == "shinka"
    assert best["name"] == "best_fit" and best["thought"].startswith("Pack each item")
    assert (best["proposer"], best["llm_tokens"], best["llm_usd"]) == ("model-b", 650, 0.002)
    assert best["diff"].startswith("--- a/original.py")
    assert best["metrics"]["shinka"]["in_archive"] is True
    assert "embedding" not in json.dumps(best["metrics"])


def test_an_incorrect_program_is_invalid_with_its_printed_error(shinka_run):
    run_dir, stdout, _ = shinka_run
    failed = designs_of(run_dir)[3]
    assert failed["status"] == Status.INVALID.value and failed["fitness"] is None
    assert failed["error"] == "Evaluation error: name 'waste_penalty' is not defined"
    assert failed["metrics"]["shinka"]["combined_score"] == 0.0  # ShinkaEvolve's, kept aside
    assert "programs: 5, imported: 5 (invalid: 1, ok: 4)" in stdout
    assert "ShinkaEvolve's own best: best-1111 (#3)" in stdout


def test_status_show_report_and_replay_read_an_imported_shinka_run(shinka_run, tmp_path):
    run_dir, _, results = shinka_run
    status = cli("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert f"imported from ShinkaEvolve: {results / 'programs.sqlite'}" in status.stdout
    assert "best: #3 best_fit: combined_score -6.8000" in status.stdout
    report = cli("report", str(run_dir), "-o", str(tmp_path / "report.html"))
    assert report.returncode == 0, report.stderr
    result = cli("replay", str(run_dir), "3", "--config", str(binpack_config(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "design #3: ShinkaEvolve recorded -6.8 on its own data; measured" in result.stdout


def test_the_database_file_itself_imports_as_its_folder_does(shinka_run, tmp_path):
    _, _, results = shinka_run
    summary = import_shinka(results / "programs.sqlite", tmp_path / "run")
    assert summary.programs == 5 and summary.read == (results / "programs.sqlite").resolve()


def test_an_older_database_name_and_missing_optional_columns_still_import(tmp_path):
    schema = SHINKA_SCHEMA.replace("private_metrics TEXT,", "").replace(
        "system_prompt_id TEXT", "extra TEXT"
    )
    rows = [
        {k: v for k, v in r.items() if k not in ("private_metrics", "system_prompt_id")}
        for r in shinka_rows()
    ]
    write_shinka(tmp_path / "results" / "evolution_db.sqlite", rows, schema)
    summary = import_shinka(tmp_path / "results", tmp_path / "run")
    assert summary.programs == 5 and summary.statuses == {"invalid": 1, "ok": 4}


# -- the peers' own files (tests/data/peers) ----------------------------------------------------


def test_openevolves_own_checkpoint_imports(tmp_path):
    run_dir = tmp_path / "run"
    source = PEERS_DATA / "openevolve_checkpoint"
    result = cli("import-openevolve", str(source), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    stdout = result.stdout.replace("\n", " ")
    assert "programs: 7, imported: 7 (error: 2, ok: 5), parents no longer in the checkpoint: 1" in (
        stdout
    )
    # OpenEvolve's best_program.py is the failed program: {"error": 0.0} outranks every
    # negative combined_score. Imported, it has no fitness.
    best_info = json.loads((source / "best_program_info.json").read_text())
    assert best_info["metrics"] == {"error": 0.0}
    assert f"OpenEvolve's own best program ({best_info['id']}, #3) is one whose evaluation" in (
        stdout
    )
    designs = designs_of(run_dir)
    assert [d["status"] for d in designs].count("error") == 2
    failed = [d for d in designs if d["status"] == "error"]
    assert "NameError: name 'waste_penalty' is not defined" in failed[0]["error"]
    # A migrant copies its original's code and metrics, not the artifacts with its error.
    assert failed[1]["metrics"]["openevolve"]["migrant"] and failed[1]["parents"] == [3]
    assert "kept no error text" in failed[1]["error"]
    assert sum(1 for d in designs if d["metrics"]["openevolve"].get("migrant")) == 2
    assert sum(1 for d in designs if d["metrics"]["openevolve"].get("parent_missing")) == 1
    assert {d["proposer"] for d in designs} == {"openevolve", "scripted-editor"}
    ok = [d for d in designs if d["status"] == "ok"]
    assert max(d["fitness"] for d in ok) == pytest.approx(-6.8044217687)
    show = cli("show", str(run_dir))
    assert show.returncode == 0, show.stderr
    rescore = cli("replay", str(run_dir), "2", "--config", str(binpack_config(tmp_path)))
    assert rescore.returncode == 0, rescore.stdout + rescore.stderr
    assert "OpenEvolve recorded -6.80442" in rescore.stdout


def test_shinkas_own_database_imports(tmp_path):
    run_dir = tmp_path / "run"
    result = cli("import-shinka", str(PEERS_DATA / "shinka_results"), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "programs: 7, imported: 7 (invalid: 1, ok: 6)" in result.stdout
    designs = designs_of(run_dir)
    failed = [d for d in designs if d["status"] == "invalid"]
    assert [d["error"] for d in failed] == ["Evaluation error: name 'waste_penalty' is not defined"]
    copies = [d for d in designs if "copy_of" in d["metrics"]["shinka"]]
    assert [(c["name"], c["parents"], c["metrics"]["shinka"]["copy_of"]) for c in copies] == [
        ("initial_program (copy on island 1)", [], [1])
    ]
    assert {d["metrics"]["shinka"]["island"] for d in designs} == {0, 1}
    assert all(d["llm_tokens"] > 0 for d in designs if d["generation"] > 0)
    status = cli("status", str(run_dir))
    assert status.returncode == 0 and "by status: invalid 1, ok 6" in status.stdout
    best = max((d for d in designs if d["status"] == "ok"), key=lambda d: d["fitness"])
    rescore = cli(
        "replay", str(run_dir), str(best["id"]), "--config", str(binpack_config(tmp_path))
    )
    assert rescore.returncode == 0, rescore.stdout + rescore.stderr
    assert "on binpack under" in rescore.stdout


# -- a fresh run of each peer, where they are installed here -------------------------------------


@pytest.mark.parametrize("peer", ["openevolve", "shinka"])
def test_a_fresh_run_of_the_peer_imports(tmp_path, peer):
    """Where the peer is installed in this interpreter, run it on the same problem against
    the loopback model (tests/data/peers/generate.py) and import what it wrote."""
    if importlib.util.find_spec(peer) is None:
        pytest.skip(f"{peer} is not installed in this interpreter")
    made = subprocess.run(
        [sys.executable, str(GENERATE), "--only", peer, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-4000:]
    folder = "openevolve_checkpoint" if peer == "openevolve" else "shinka_results"
    source = tmp_path / "out" / folder
    command = "import-openevolve" if peer == "openevolve" else "import-shinka"
    result = cli(command, str(source), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    designs = designs_of(tmp_path / "run")
    assert len(designs) >= 4
    assert any(d["status"] == "ok" and d["fitness"] > -100 for d in designs)  # improved
    assert any(d["status"] != "ok" and "waste_penalty" in d["error"] for d in designs)
