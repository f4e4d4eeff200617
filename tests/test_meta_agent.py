"""The LLM meta-agent: parsing, and real digits searches against a scripted OpenAI-protocol server
on loopback (faults, repair, replay without network)."""

import json
import re
import sqlite3

import pytest

from agentic_design import Archive, RunConfig, Search, Status

from .conftest import cli, small_digits_config
from .llm_server import ScriptedLLM

GOOD_CODE = """
from torch import nn

def build_model(input_shape, num_classes):
    hidden = {hidden}
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )

def train_recipe():
    return {{"optimizer": "adam", "lr": 0.01, "epochs": 6, "batch_size": 64}}
"""

BROKEN_CODE = """
from torch import nn

def build_model(input_shape, num_classes):
    raise ValueError("layer sizes do not line up: 64 != 65")
"""


def answer(name: str, code: str, thought: str = "an idea") -> str:
    return json.dumps({"thought": thought, "name": name, "code": code})


class Designer:
    """Answers like a model would: a fresh MLP width per proposal, the same design on review,
    a working design on repair."""

    def __init__(self) -> None:
        self.proposals = 0

    def __call__(self, request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        if "Reply with the word ok" in prompt:
            return "ok"
        if "Review your proposal" in prompt:
            return request["messages"][-2]["content"]  # unchanged after review
        if "failed when it was evaluated" in prompt:
            return answer("repaired MLP", GOOD_CODE.format(hidden=48), "fixed the sizes")
        self.proposals += 1
        return answer(f"MLP {self.proposals}", GOOD_CODE.format(hidden=8 + 4 * self.proposals))


def llm_config(server: ScriptedLLM, tmp_path, evaluations: int = 9, **meta) -> RunConfig:
    data = small_digits_config(tmp_path / "run", evaluations=evaluations)
    data["llm"] = {
        "model": "openai/gpt-4o-mini",
        "api_base": server.url,
        "timeout_s": 5,
        "concurrency": 2,
    }
    data["search"]["meta_agent"] = {"reflexion_rounds": 1, **meta}
    return RunConfig.from_dict(data)


# -- searches ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_meta_agent_search_records_model_tokens_and_usd(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        result = Search(llm_config(server, tmp_path), progress=False).run()
    assert result.total == 9 and result.stopped_by == "evaluations"
    assert "LLM meta-agent openai/gpt-4o-mini" in result.proposer
    archive = Archive.open(tmp_path / "run")
    proposed = [d for d in archive.designs() if d.proposer != "seed"]
    assert len(proposed) == 5
    for design in proposed:
        assert design.proposer == "openai/gpt-4o-mini"
        assert design.llm_tokens > 0 and design.llm_usd > 0
        assert design.status is Status.OK, design.error
        assert design.operator.startswith("llm ")
    spend = archive.spend()
    assert spend["usd"] == pytest.approx(sum(d.llm_usd for d in proposed))
    # propose + one review per design: every call recorded against its design
    calls = archive.recorded_llm_calls()
    assert len(calls) == 2 * len(proposed)
    assert {c["design_id"] for c in calls} == {d.id for d in proposed}


@pytest.mark.slow
def test_the_prompt_shows_the_task_the_archive_and_the_answer_format(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        Search(llm_config(server, tmp_path, evaluations=6), progress=False).run()
        first = server.requests[1]  # [0] is the preflight
    user = first["messages"][1]["content"]
    # behind an api_base the fenced format is asked for, not the provider's structured output
    assert "NAME: <a short name" in user and "```python\n<the complete Python module" in user
    assert "defining build_model" in user and "response_format" not in first
    assert "build_model(input_shape, num_classes)" in user
    # archive entries with the task's metric and its summary of each design
    assert re.search(r"#\d+ .*accuracy 0\.\d{4} \[0\.\d{3}, \d\.\d{3}\], [\d,]+ parameters", user)


@pytest.mark.slow
def test_with_30_percent_of_requests_faulted_the_search_completes(tmp_path):
    with ScriptedLLM(answer=Designer(), fault_rate=0.3, seed=3) as server:
        server.queue("ok")  # the preflight, which is not part of the run's record
        config = llm_config(server, tmp_path, evaluations=10)
        result = Search(config, progress=False, accept_estimate=True).run()
        faults = len(server.faults_served)
    assert result.total == 10
    assert Status.PENDING.value not in result.counts
    assert faults > 0
    archive = Archive.open(tmp_path / "run")
    # transport faults are recorded as failed attempts and retried; an empty answer is asked
    # again; an answer wrapped in prose is still found
    transport = [f for f in server.faults_served if f not in ("empty", "prose")]
    errors = [c for c in archive.recorded_llm_calls() if c["error"]]
    assert len(errors) == len(transport)
    assert all(d.status is not Status.PENDING for d in archive.designs())


@pytest.mark.slow
def test_a_broken_proposal_is_repaired_with_its_error_quoted(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        server.queue("ok")  # preflight
        server.queue(answer("broken MLP", BROKEN_CODE))  # first proposal
        server.queue(answer("broken MLP", BROKEN_CODE))  # its review keeps it
        # design 5 is broken; its repair is planned once it is in the snapshot (lag K + W = 4)
        config = llm_config(server, tmp_path, evaluations=10)
        Search(config, progress=False, accept_estimate=True).run()
        repair_prompts = [
            r["messages"][-1]["content"]
            for r in server.requests
            if "failed when it was evaluated" in r["messages"][-1]["content"]
        ]
    archive = Archive.open(tmp_path / "run")
    broken = next(d for d in archive.designs() if d.name == "broken MLP")
    assert broken.status is Status.ERROR and "64 != 65" in broken.error
    repaired = next(d for d in archive.designs() if d.parents == (broken.id,))
    assert repaired.operator == f"repair 1/3 of #{broken.id}"
    assert repaired.status is Status.OK
    assert any("64 != 65" in prompt for prompt in repair_prompts)


@pytest.mark.slow
def test_a_malformed_answer_is_asked_again_then_recorded_as_invalid(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        server.queue("ok", "I cannot decide.", "Still no JSON, sorry.")
        Search(llm_config(server, tmp_path, evaluations=5), progress=False).run()
        reask = server.requests[2]["messages"][-1]["content"]
    assert "no code was found" in reask
    archive = Archive.open(tmp_path / "run")
    unusable = archive.get(5)
    assert unusable.status is Status.INVALID
    assert "malformed answer (asked twice)" in unusable.error
    assert unusable.code == "Still no JSON, sorry."  # kept, not dropped


@pytest.mark.slow
def test_a_recorded_search_replays_exactly_without_the_server_on_a_busy_machine(
    tmp_path, busy_machine
):
    with ScriptedLLM(answer=Designer()) as server:
        config = llm_config(server, tmp_path, evaluations=8)
        # Training cut short by a tiny time limit: the steps taken depend on the machine.
        config = config.with_overrides(**{"task_budget.max_seconds": 0.05})
        Search(config, progress=False, accept_estimate=True).run()
    before = Archive.open(tmp_path / "run").designs()
    assert any(d.metrics.get("stopped_by") == "time" for d in before)
    # The server is gone, so any real call would fail; and the machine is now loaded.
    assert all(proc.poll() is None for proc in busy_machine)
    replayed = Search.replay(tmp_path / "run", tmp_path / "replayed", progress=False).run()
    assert replayed.stopped_by.value == "evaluations", replayed.reason
    after = Archive.open(replayed.run_dir).designs()
    # A difference says what the replayed design met (it once failed with no message kept).
    differs = [
        (a.id, a.status.value, a.error)
        for b, a in zip(before, after, strict=False)
        if (b.status, b.fitness) != (a.status, a.fitness)
    ]
    assert [(d.code_hash, d.status, d.fitness, d.parents) for d in before] == [
        (d.code_hash, d.status, d.fitness, d.parents) for d in after
    ], differs
    assert [d.metrics.get("steps") for d in before] == [d.metrics.get("steps") for d in after]


@pytest.mark.slow
def test_a_replay_that_diverges_stops_and_names_the_design(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        Search(llm_config(server, tmp_path, evaluations=7), progress=False).run()
    # Tamper with the recording: design 6's recorded score is not what its code gives.
    with sqlite3.connect(tmp_path / "run" / "run.db") as db:
        db.execute("UPDATE designs SET fitness = 0.25 WHERE id = 6")
    replayed = Search.replay(tmp_path / "run", tmp_path / "replayed", progress=False).run()
    assert replayed.stopped_by.value == "diverged"
    assert re.match(r"design 6 \(MLP \d\) scored", replayed.reason)
    assert "where the recording has 0.25" in replayed.reason


@pytest.mark.slow
def test_the_cli_runs_with_llm_and_replays_a_search(tmp_path, digits_config_file):
    with ScriptedLLM(answer=Designer()) as server:
        result = cli(
            "run",
            str(digits_config_file),
            "--llm",
            "openai/gpt-4o-mini",
            "--api-base",
            server.url,
            "--evaluations",
            "6",
            "--no-progress",
        )
    assert result.returncode == 0, result.stderr
    assert "LLM meta-agent" in result.stdout
    run_dir = tmp_path / "run"
    status = cli("status", str(run_dir))
    assert re.search(r"LLM spend: \d+ calls, \d+ tokens, \$0\.\d+", status.stdout)
    replay = cli("replay", str(run_dir), "--search", "--run-dir", str(tmp_path / "again"))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "reproduced all 6 designs" in replay.stdout
    with sqlite3.connect(tmp_path / "again" / "run.db") as db:
        assert db.execute("SELECT COUNT(*) FROM designs").fetchone()[0] == 6


@pytest.mark.slow
def test_a_usd_budget_stops_the_search_cleanly(tmp_path):
    with ScriptedLLM(answer=Designer()) as server:
        config = llm_config(server, tmp_path, evaluations=40)
        config = config.with_overrides(**{"budget.usd": 1e-6})
        result = Search(config, progress=False, accept_estimate=True).run()
    assert result.stopped_by == "usd"
    assert result.total < 40 and Status.PENDING.value not in result.counts


@pytest.mark.slow
def test_a_users_prompt_folder_overrides_a_template(tmp_path):
    custom = tmp_path / "my_prompts" / "meta"
    custom.mkdir(parents=True)
    custom.joinpath("system.j2").write_text(
        'You are a terse architect. Answer with JSON {"thought", "name", "code"} only.\n'
    )
    with ScriptedLLM(answer=Designer()) as server:
        config = llm_config(
            server, tmp_path, evaluations=5, prompts_dir=str(tmp_path / "my_prompts")
        )
        Search(config, progress=False).run()
        systems = {r["messages"][0]["content"] for r in server.requests[1:]}
    assert systems == {
        'You are a terse architect. Answer with JSON {"thought", "name", "code"} only.\n'
    }
