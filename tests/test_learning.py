"""The meta-agent learns from its run, against a loopback model that answers design, notes,
judge, variant and embedding requests in the shapes real models write: the prompts carry the
notes and the variant in force, a proposal that repeats an earlier idea is sent back once and,
repeated again, recorded not_novel without being evaluated, the model's counts say so, and
`replay --search` reproduces the whole run without the server."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentic_design import Archive, RunConfig, Search
from agentic_design.config import ConfigError
from agentic_design.records import Status

from .conftest import cli
from .curve_designs import curve_config, prompt_of
from .learning_designs import LearningModel, learning_config
from .llm_server import ScriptedLLM, hashed_embedding

pytestmark = pytest.mark.slow


def test_notes_novelty_and_variants_are_recorded_shown_counted_and_replayed(tmp_path):
    server = ScriptedLLM(answer=LearningModel())
    with server:
        result = Search(learning_config(tmp_path / "run", server), progress=False).run()
    assert result.stopped_by == "evaluations", result.reason
    archive = Archive.open(tmp_path / "run")
    designs = archive.designs()

    # Notes: versioned, each written from a snapshot, and later prompts carry them.
    notes = archive.notes()
    assert len(notes) >= 2, notes
    assert [n.version for n in notes] == list(range(1, len(notes) + 1))
    assert all("## What helped" in n.text and "Let me know" not in n.text for n in notes)
    prompts = [r["messages"][-1]["content"] for r in server.requests if "messages" in r]
    carrying = [p for p in prompts if "What this run has learned so far (notes, version" in p]
    assert carrying and all("Moving the slope" in p for p in carrying)

    # Novelty: repeats were sent back; those repeated again are not_novel and not evaluated.
    checked = [d for d in designs if d.novelty is not None]
    sent_back = [d for d in checked if d.novelty.get("sent_back")]
    not_novel = [d for d in designs if d.status is Status.NOT_NOVEL]
    assert sent_back and not_novel, [d.novelty for d in checked]
    assert {d.id for d in not_novel} <= {d.id for d in sent_back}
    for design in not_novel:
        assert design.evaluation_cost == 0 and design.fitness is None
        assert archive.evaluations(design.id)[0]["metrics"] == {"stage": "novelty"}
        assert "too close to design #" in (design.error or "")
    retried = [p for p in prompts if "Your proposal is too close to design #" in p]
    assert len(retried) == len(sent_back)
    counts = archive.model_spend()["openai/m"]
    assert counts["sent_back"] == len(sent_back) and counts["not_novel"] == len(not_novel)
    embedded = dict(archive.embeddings("openai/embed"))
    assert set(embedded) >= {d.id for d in designs if d.status is Status.OK}
    assert not set(embedded) & {d.id for d in not_novel}

    # Variants: the starting three and the meta-agent's, each design credited to one.
    variants = archive.variants()
    assert len(variants) > 3 and variants[3].parent is not None
    assert "Change one coefficient at a time" in variants[3].text
    assert not variants[3].text.startswith(('"', "Here is"))
    written = [d for d in designs if d.operator.startswith("llm ")]
    assert written and all(d.variant is not None for d in written)
    assert any(variants[3].text in p for p in prompts)

    # The run's own accounting says what each part cost.
    purposes = archive.spend_by_purpose()
    assert {"design", "notes", "judge", "embedding", "variant"} <= set(purposes)

    # Replayed without the server: the same designs, notes, variants and verdicts.
    replayed = cli(
        "replay", str(tmp_path / "run"), "--search", "--run-dir", str(tmp_path / "again")
    )
    assert replayed.returncode == 0, replayed.stderr
    again = Archive.open(tmp_path / "again")
    assert [(d.code_hash, d.status, d.fitness) for d in again.designs()] == [
        (d.code_hash, d.status, d.fitness) for d in designs
    ]
    assert [n.text for n in again.notes()] == [n.text for n in notes]
    assert [v.text for v in again.variants()] == [v.text for v in variants]
    assert [d.novelty for d in again.designs()] == [d.novelty for d in designs]


class UnhelpfulModel(LearningModel):
    """Notes answered with code, judgements that say nothing, and every fourth design marked
    as a draft, which the embedding server cannot embed."""

    def __init__(self) -> None:
        super().__init__()
        self.designs = 0

    def __call__(self, request: dict[str, Any]) -> str:
        prompt = prompt_of(request) if "messages" in request else ""
        if "You keep the notes of this design search" in prompt:
            return "```python\ndef predict(x):\n    return 2.5 * x\n```"
        if "Judge whether the proposed design" in prompt:
            return "Hmm, that is hard to say without running it."
        reply = super().__call__(request)
        if "```" in reply or "def predict" in reply:
            with self._lock:
                self.designs += 1
                draft = self.designs % 4 == 0
            if draft:
                reply = reply.replace("def predict(x):", "# draft\ndef predict(x):", 1)
            elif self.designs % 5 == 0:
                reply = reply.replace("def predict(x):", "# wide\ndef predict(x):", 1)
        return reply


def _embed_unless_draft(text: str) -> list[float]:
    """No vector for a draft; one of another length for a wide design."""
    if "# draft" in text:
        return []
    return hashed_embedding(text, dim=32 if "# wide" in text else 64)


def test_learning_calls_that_fail_or_answer_nothing_cost_the_run_nothing(tmp_path):
    """An embedding that cannot be made, or one of another length than the others, lets the
    proposal through unchecked, a judge that says
    neither lets it through, notes answered with code keep the notes as they were (none); and
    the replay fails the same calls the same way."""
    server = ScriptedLLM(answer=UnhelpfulModel(), embed=_embed_unless_draft)
    with server:
        result = Search(learning_config(tmp_path / "run", server, 16), progress=False).run()
    assert result.stopped_by == "evaluations", result.reason
    archive = Archive.open(tmp_path / "run")
    designs = archive.designs()
    assert archive.notes() == []
    reasons = [d.novelty["reason"] for d in designs if d.novelty]
    assert any(r.startswith("not checked: the embedding call failed") for r in reasons), reasons
    assert any(r.startswith("not checked: the embedding is unusable") for r in reasons), reasons
    # A design that could not be embedded is left out of the comparisons, not in their way:
    # the proposals after it are checked again (here the judge, asked, says nothing usable).
    unchecked = [d.id for d in designs if d.novelty and d.novelty["reason"].startswith("not")]
    judged = [d.id for d in designs if d.novelty and d.novelty.get("judge")]
    assert judged and max(judged) > min(unchecked)
    unclear = [d for d in designs if d.novelty and d.novelty.get("judge") == "unclear"]
    assert unclear and all(d.status is not Status.NOT_NOVEL for d in unclear)
    assert not [d for d in designs if d.status is Status.NOT_NOVEL]
    failed = [c for c in archive.recorded_llm_calls() if c["error"]]
    assert failed and all(c["purpose"] == "embedding" for c in failed)

    replayed = cli("replay", str(tmp_path / "run"), "--search", "--run-dir", str(tmp_path / "r"))
    assert replayed.returncode == 0, replayed.stderr
    again = Archive.open(tmp_path / "r").designs()
    assert [(d.code_hash, d.status, d.novelty) for d in again] == [
        (d.code_hash, d.status, d.novelty) for d in designs
    ]


def test_a_learning_run_killed_with_sigkill_resumes_its_notes_variants_and_index(tmp_path):
    """Killed mid-run, a search resumes what it learned from its store: the notes go on from
    the last version, the variants from the population recorded, the embeddings from the
    cache; nothing is recorded twice, and no answered request is paid for again."""
    server = ScriptedLLM(answer=LearningModel(), delay_s=0.05)
    with server:
        path = tmp_path / "config.yaml"
        config = learning_config(tmp_path / "run", server, evaluations=30)
        path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentic_design", "run", str(path), "--no-progress"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = tmp_path / "run" / "run.db"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _finished(db) < 14:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Archive.open(tmp_path / "run", readonly=True) as killed:
            notes_before = killed.notes()
            embedded_before = dict(killed.embeddings("openai/embed"))
        asked_before = len(server.requests)
        assert notes_before, "the kill should come after the first notes"
        result = cli("resume", str(tmp_path / "run"), "--no-progress")
        assert result.returncode == 0, result.stderr
    archive = Archive.open(tmp_path / "run")
    notes = archive.notes()
    assert [n.version for n in notes] == list(range(1, len(notes) + 1))
    assert notes[: len(notes_before)] == notes_before and len(notes) > len(notes_before)
    assert [v.id for v in archive.variants()] == list(range(1, len(archive.variants()) + 1))
    embedded = dict(archive.embeddings("openai/embed"))
    assert {i: embedded[i] for i in embedded_before} == embedded_before
    designs = archive.designs()
    assert all(d.status.final for d in designs)
    # Every answered request was paid for once: the resumed run took what was answered
    # before the kill from the recording, not from the server.
    answered = [(c["design_id"], c["key"]) for c in archive.recorded_llm_calls() if c["response"]]
    assert len(answered) == len(set(answered))
    assert len(server.requests) > asked_before  # and it did ask what was new


def _finished(db: Path) -> int:
    if not db.exists():
        return 0
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM designs WHERE status != 'pending'"
            ).fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(count)


def test_a_novelty_check_without_the_meta_agent_is_refused_before_anything_starts(tmp_path):
    data = curve_config(tmp_path / "run", 4, {"model": "openai/m"})
    del data["llm"]
    data["search"]["novelty"] = {"judge": True}
    with pytest.raises(ConfigError, match=r"search\.novelty checks the meta-agent's proposals"):
        Search(RunConfig.from_dict(data), progress=False).run()
    assert not (tmp_path / "run").exists()
