"""Agent design end to end: seed agents against scripted answers through the real broker and
sandbox, hostile agents contained and capped, and searches with the simulated model and with
the meta-agent proposing."""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.records import Origin
from agentic_design.resources import shipped_dir
from agentic_design.run.assemble import sandbox_for, sandbox_limits
from agentic_design.run.broker import Broker, BrokerLimits, BrokerReply, simulated_answerer
from agentic_design.run.evaluation import Evaluator
from agentic_design.tasks.agent.simulated import SimulatedModel
from agentic_design.tasks.agent.task import AgentTask

from .conftest import adas_archive, cli
from .llm_server import ScriptedLLM

FIELDS = re.compile(r"exactly these fields:\n(\{.*\})")


def agent_config(run_dir, evaluations: int, examples: int = 6, **extra) -> dict:
    return {
        "name": run_dir.name,
        "task": "arithmetic",
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "task_budget": {"examples": examples, "test_examples": examples},
        "agent_llm": {"model": "simulated"},
        "sandbox": {"workers": 2, "wall_s": 30},
        # Full evaluations only: these tests count each design's calls (cheap evaluations
        # first are tested in test_cheap_first.py and test_task_fidelity.py).
        "search": {
            "evolution": {"population": 6, "tournament": 2},
            "report": False,
            "fidelity": {"enabled": False},
        },
        **extra,
    }


def seed(name: str) -> str:
    return (shipped_dir("archive") / "agent" / f"{name}.py").read_text()


class Scripted:
    """The agents' model, scripted: at temperature 0 it is always wrong (999); above 0 the
    calls of one prompt (messages and temperature) cycle through right, right, wrong, right,
    wrong — so five samples of it vote for the truth, whatever else runs at the same time."""

    def __init__(self, truths: dict[str, str]) -> None:
        self.truths = truths
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, request: dict) -> str:
        system = request["messages"][0]["content"]
        fields = json.loads(FIELDS.search(system).group(1)) if FIELDS.search(system) else {}
        prompt = " ".join(m["content"] for m in request["messages"])
        question = max((q for q in self.truths if q in prompt), key=len, default="")
        truth = self.truths.get(question, "0")
        if request.get("temperature", 0) == 0:
            answer = "999"
        else:
            prompt = json.dumps([request["messages"], request.get("temperature")])
            with self.lock:
                k = self.counts[prompt] = self.counts.get(prompt, 0) + 1
            answer = truth if (k - 1) % 5 in (0, 1, 3) else str(int(truth) + 7)
        return json.dumps(
            {f: answer if f == "answer" else "yes" for f in fields} or {"answer": answer}
        )


def evaluate_with(task: AgentTask, answer, codes: dict[str, str], **limits) -> dict:
    config = RunConfig.from_dict(agent_config(shipped_dir("archive"), 1))
    config.sandbox.wall_s = 15
    broker = Broker(answer, BrokerLimits(**limits))
    with sandbox_for(config, task, workers=2) as sandbox:
        evaluator = Evaluator(
            task, "arithmetic", sandbox, limits=sandbox_limits(config, task), broker=broker
        )
        return {name: evaluator.evaluate(code, seed=0) for name, code in codes.items()}


def small_task(examples: int = 5, calls_per_example: int = 24) -> AgentTask:
    task = AgentTask()
    task.configure(
        {"examples": examples, "concurrency": 4, "max_calls_per_example": calls_per_example}
    )
    return task


# -- seed agents against scripted answers ----------------------------------------------------


@pytest.mark.slow
def test_seed_agents_score_what_the_script_implies(tmp_path):
    task = small_task()
    truths = {e.question: e.answer for e in task.examples("validation")}
    with ScriptedLLM(answer=Scripted(truths)) as server:
        config = agent_config(tmp_path / "run", evaluations=8, examples=5)
        config["agent_llm"] = {"model": "openai/agent-model", "api_base": server.url}
        Search(RunConfig.from_dict(config), progress=False).run()
    designs = {d.name: d for d in Archive.open(tmp_path / "run").designs()}
    assert len(designs) == 8 and all(d.status is Status.OK for d in designs.values())
    cot, sc, debate = designs["Chain of thought"], designs["Self-consistency"], designs["Debate"]
    assert cot.fitness == 0.0  # temperature 0: the script's wrong answer
    assert sc.fitness == 1.0  # five samples: three right, two wrong, the vote picks the truth
    assert sc.metrics["calls_per_example"] == 5.0
    assert debate.metrics["calls_per_example"] == 6.0  # 3 debaters x 2 rounds, no judge
    # every call was recorded under its design (the best's final test too)
    archive = Archive.open(tmp_path / "run")
    calls = archive.recorded_llm_calls()
    per_design = {d.id: sum(c["design_id"] == d.id for c in calls) for d in designs.values()}
    tested = archive.best().id
    for design, calls_each in ((sc, 5), (debate, 6), (cot, 1)):
        assert per_design[design.id] == calls_each * 5 * (2 if design.id == tested else 1)
    # the server is gone: a replay answers the agent's calls from the run's recording
    replayed = archive.replay(sc.id)
    assert replayed.matches and replayed.measured == 1.0


# -- hostile agents ------------------------------------------------------------------------------

LOOP = "def forward(self, task):\n    while True:\n        pass\n"
OVER_CAP = """
from agentic_design.agents import Agent

def forward(self, task):
    return [Agent("x")(task["question"], sample=i) for i in range(20)][-1]["answer"]
"""
FLOOD = """
from agentic_design.agents import Agent, AgentError

def forward(self, task):
    for i in range(100_000):
        try:
            Agent("x")(task["question"], sample=i)
        except AgentError:
            pass
"""
FORGED = """
import os, socket, json

def forward(self, task):
    s = socket.socket(fileno=os.dup(4))
    s.send(b"\\x00garbage{")
    s.send(json.dumps({"id": "a", "messages": [{"role": "root", "content": "x"}]}).encode())
    s.send(json.dumps({"id": "b", "messages": [], "extra": 1}).encode())
    try:
        s.send(b"x" * 400_000)
    except OSError:
        pass
    from agentic_design.agents import Agent
    return Agent("solver")(task["question"])["answer"]
"""
NETWORK_AND_KEYS = """
import os, socket

def forward(self, task):
    found = {{k: v for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k}}
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2)
        reached = "reached the host"
    except OSError as exc:
        reached = f"no network: {{type(exc).__name__}}"
    raise RuntimeError(f"{{reached}}; keys seen: {{found}}")
"""
CLOSES_CHANNEL = """
import os
from agentic_design.agents import Agent

def forward(self, task):
    os.close(4)
    return Agent("solver")(task["question"])["answer"]
"""


@pytest.mark.slow
def test_hostile_agents_are_contained_capped_and_recorded(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-agents")
    task = small_task(examples=3, calls_per_example=10)  # the broker's cap: 30 calls
    truths = task.simulation_answers()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served = []

    def answer(messages, temperature, sample, design_id):
        served.append(1)
        return simulated_answerer(SimulatedModel(truths, 1.0))(
            messages, temperature, sample, design_id
        )

    try:
        results = evaluate_with(
            task,
            answer,
            {
                "loop": LOOP,
                "over_cap": OVER_CAP,
                "flood": FLOOD,
                "forged": FORGED,
                "network": NETWORK_AND_KEYS.format(port=port),
                "closes": CLOSES_CHANNEL,
            },
            flood=3,
        )
    finally:
        listener.close()
    # the endless loop: stopped at the wall clock, nothing else affected
    assert results["loop"].status is Status.TIMEOUT
    # over the cap (3 x 20 calls wanted): 30 served; each example that met a refusal failed
    # with its reason at once, and the evaluation was scored
    over = results["over_cap"]
    assert over.status is Status.OK and over.metrics["llm_calls"] == 30
    assert over.metrics["llm_refused_calls"] == over.metrics["failed_examples"] >= 2
    assert any("example's cap of 10 LLM calls" in e for e in over.metrics["errors"])
    # a flood: refused until it is three times the cap, then the channel is shut; the
    # design's next call fails at once (no wait for the wall clock), recorded with what it did.
    # (How many calls were served by then depends on timing: an example slower than the
    # others may meet the shut channel before its own cap.)
    flood = results["flood"]
    assert flood.status is Status.OK and flood.metrics["llm_calls"] <= 30
    assert flood.metrics["failed_examples"] == 3
    assert any("BrokerUnavailable" in e for e in flood.metrics["errors"])
    assert flood.metrics["llm_refused_calls"] == 3 * 30 + 1
    assert any("flood" in p for p in flood.metrics["llm_refusals"])
    assert len(served) <= 30 * 5  # the model answered only what the caps let through
    # forged frames refused one by one; the genuine call after them answered
    forged = results["forged"]
    assert forged.status is Status.OK and forged.fitness == 1.0
    assert forged.metrics["llm_refused_calls"] >= 3 * 3
    # no network, no keys: each example failed with its own error, kept
    network = results["network"].metrics
    assert network["failed_examples"] == 3 and results["network"].fitness == 0.0
    (error,) = network["errors"]
    assert "no network" in error and "sk-test" not in error and "keys seen: {}" in error
    # an agent that closes its channel fails its examples with the reason, nothing more
    closed = results["closes"]
    assert closed.metrics["failed_examples"] == 3
    assert any(
        "BrokerUnavailable" in e or "Bad file descriptor" in e for e in closed.metrics["errors"]
    )


def test_the_broker_checks_every_field_of_a_request():
    session = Broker(lambda *a: BrokerReply("ok"), BrokerLimits(max_calls=2)).session(7)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stop = threading.Event()
    serving = threading.Thread(target=session, args=(ours, stop))
    serving.start()
    good = {"id": "1", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5}
    requests = [
        {**good, "temperature": 3},
        {**good, "temperature": True},
        {**good, "sample": -1},
        {**good, "messages": [{"role": "user", "content": 5}]},
        {**good, "example": "x" * 65},
        {**good, "id": ""},
        good,
        {**good, "id": "2"},
        {**good, "id": "3"},  # over the cap of two calls
    ]
    replies = []
    for request in requests:
        theirs.send(json.dumps(request).encode())
        if request["id"]:
            replies.append(json.loads(theirs.recv(1 << 20)))
    stop.set()
    serving.join()
    session.finish()
    errors = [r.get("error", "") for r in replies]
    assert "[0, 2]" in errors[0] and "must be a number" in errors[1]
    assert "sample index" in errors[2] and '"role"' in errors[3] and "example id" in errors[4]
    assert replies[5]["text"] == "ok" and replies[6]["text"] == "ok"
    assert "cap of 2 LLM calls" in errors[7]
    assert session.metrics()["llm_calls"] == 2 and session.metrics()["llm_refused_calls"] == 7


# -- searches ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_offline_agent_search_finds_an_agent_that_beats_chain_of_thought(tmp_path):
    config = RunConfig.from_dict(agent_config(tmp_path / "run", evaluations=10, examples=20))
    result = Search(config, progress=False).run()
    # the simulated model's draws depend on each evaluation's own calls only: the same run
    # again (two evaluations at a time, finishing in any order) gives the same designs
    again = Search(config.with_overrides(run_dir=str(tmp_path / "again")), progress=False).run()
    outcome = [(d.code_hash, d.fitness) for d in Archive.open(tmp_path / "run").designs()]
    assert outcome == [(d.code_hash, d.fitness) for d in Archive.open(tmp_path / "again").designs()]
    assert again.test.fitness == result.test.fitness
    archive = Archive.open(tmp_path / "run")
    assert archive.replay(result.best.id).matches
    cot = next(d for d in archive.designs() if d.name == "Chain of thought")
    assert result.best.fitness > cot.fitness + 0.1
    assert result.best.metrics["calls_per_example"] > 1.0  # paid for in calls
    assert result.test is not None and result.test.status is Status.OK
    shown = cli("show", str(tmp_path / "run"), "--id", str(result.best.id))
    assert "calls_per_example" in shown.stdout


def meta_agent_and_agents(truths: dict[str, str]):
    """One server for both models: the meta-agent writes a self-consistency agent; the
    agents' calls are answered by the script above."""
    agents = Scripted(truths)
    written = itertools.count(1)

    def answer(request: dict) -> str:
        system = request["messages"][0]["content"]
        if "exactly these fields" in system:
            return agents(request)
        if "Reply with the word ok" in request["messages"][-1]["content"]:
            return "ok"
        # a new role each time: the same code twice would be refused as a duplicate
        role = f"a careful math tutor, voter {next(written)},"
        design = seed("self_consistency").replace("a careful math tutor", role)
        return f"NAME: voting solver\nTHOUGHT: sample and vote.\n```python\n{design}```\n"

    return answer


@pytest.mark.slow
def test_the_meta_agent_designs_agents_against_the_loopback_server(tmp_path):
    task = small_task(examples=4)
    truths = task.simulation_answers()
    with ScriptedLLM(answer=meta_agent_and_agents(truths)) as server:
        config = agent_config(tmp_path / "run", evaluations=10, examples=4)
        config["search"]["meta_agent"] = {"reflexion_rounds": 0}
        path = tmp_path / "agents.yaml"
        path.write_text(json.dumps(config))
        run = cli(
            "run", str(path), "--no-progress",
            "--llm", "openai/designer", "--api-base", server.url,
            "--agent-llm", "openai/agent-model", "--agent-api-base", server.url,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    archive = Archive.open(tmp_path / "run")
    written = [d for d in archive.designs() if d.origin is Origin.SEARCH]
    assert len(written) == 2 and all(d.proposer == "openai/designer" for d in written)
    assert all(d.status is Status.OK and d.metrics["calls_per_example"] == 5.0 for d in written)
    assert all(d.name == "voting solver" for d in written)
    models = {c["model"] for c in archive.recorded_llm_calls()}
    assert models == {"openai/designer", "openai/agent-model"}


# ADAS's MGSM agents: ours (tests/data/adas) and, where they are here, ADAS's own, with the number
# of calls each of our first four makes per question against the script (a reviewer that never
# says 'True' lets the critique run its 3 rounds; the debate is 2 debaters x 2 rounds + 1).
OUR_ADAS_CALLS = {
    "Step-by-Step Reasoner": 1.0,
    "Majority Vote over Samples": 5.0,
    "Critique and Revise": 7.0,
    "Two-Voice Debate": 5.0,
}


@pytest.mark.slow
@pytest.mark.parametrize("source", ["ours", "real"])
def test_agents_written_for_adas_run_unmodified_through_our_broker(request, source):
    from agentic_design.config import LLMConfig
    from agentic_design.llm import LLM
    from agentic_design.run.broker import llm_answerer

    entries = json.loads(adas_archive(request, source, "mgsm").read_text())
    codes = {e["name"]: e["code"] for e in entries[:4]}
    task = small_task(examples=3)
    with ScriptedLLM(answer=Scripted(task.simulation_answers())) as server:
        config = LLMConfig(model="openai/agent-model", api_base=server.url, concurrency=8)
        results = evaluate_with(task, llm_answerer(LLM(config)), codes)
    for name, evaluation in results.items():
        assert evaluation.status is Status.OK, (name, evaluation.error)
        assert evaluation.metrics["failed_examples"] == 0, evaluation.metrics.get("errors")
        assert evaluation.metrics["llm_calls"] >= 3, name
    assert results[entries[0]["name"]].metrics["calls_per_example"] == 1.0  # chain of thought
    if source == "ours":
        calls = {name: r.metrics["calls_per_example"] for name, r in results.items()}
        assert calls == OUR_ADAS_CALLS
        assert all(r.metrics["llm_calls"] == 3 * calls[name] for name, r in results.items())


@pytest.mark.slow
@pytest.mark.parametrize("source, recorded, total", [("ours", 0.315, 7), ("real", 0.305, 36)])
def test_an_imported_adas_agent_is_scored_under_a_config_of_ours(
    request, tmp_path, source, recorded, total
):
    from agentic_design.store.import_adas import import_adas

    run_dir = tmp_path / "mgsm"
    import_adas(adas_archive(request, source, "mgsm"), run_dir)
    config = agent_config(tmp_path / "unused", evaluations=1, examples=3)
    path = tmp_path / "agents.yaml"
    path.write_text(json.dumps(config))
    assert "--config CONFIG" in cli("replay", str(run_dir), "1").stderr  # what to give
    task = small_task(examples=3)
    with ScriptedLLM(answer=Scripted(task.simulation_answers())) as server:
        result = cli(
            "replay", str(run_dir), "1", "--config", str(path),
            "--agent-llm", "openai/agent-model", "--agent-api-base", server.url,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The chain-of-thought agent (design 1, in both archives) asks each question once, above
    # temperature 0: the first of the script's cycle, the right answer
    assert f"ADAS recorded {recorded} on its own data; measured 1.0 on arithmetic" in result.stdout
    with Archive.open(run_dir, readonly=True) as archive:
        calls = archive.recorded_llm_calls()
        assert len(calls) == 3 and {c["design_id"] for c in calls} == {1}
        assert archive.total() == total  # the imported designs stay as they were


class Planner:
    """The agents' model for the decomposing seed: the planner splits each question in two
    (the second part using the first's answer), a solver answers a part "7" or, given that
    answer, "11", and the combiner answers with the truth."""

    def __init__(self, truths: dict[str, str]) -> None:
        self.truths = truths
        self.prompts: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, messages, temperature, sample, design_id) -> BrokerReply:
        system, user = messages[0]["content"], messages[-1]["content"]
        with self.lock:
            self.prompts.append(user)
        if '"parts"' in system:
            plan = [{"question": "How many at first?", "uses": []},
                    {"question": "How many after the change?", "uses": [0]}]  # fmt: skip
            return BrokerReply(json.dumps({"parts": json.dumps(plan)}))
        if "from the answers to its parts" in system:
            question = max((q for q in self.truths if q in user), key=len)
            return BrokerReply(json.dumps({"thinking": "t", "answer": self.truths[question]}))
        answer = "11" if "Answer: 7" in user else "7"
        return BrokerReply(json.dumps({"thinking": "t", "answer": answer}))


@pytest.mark.slow
def test_a_seed_agent_decomposes_its_question_through_the_broker():
    task = small_task(examples=3)
    planner = Planner(task.simulation_answers())
    result = evaluate_with(task, planner, {"decompose": seed("decompose")})["decompose"]
    assert result.status is Status.OK and result.fitness == 1.0, result.metrics
    assert result.metrics["calls_per_example"] == 4.0  # plan, two parts, combine
    assert result.metrics["llm_calls"] == 12
    # the second part was given the first's answer; the combiner saw both parts' answers
    second = [p for p in planner.prompts if "Question:\nHow many after the change?" in p]
    first = "Sub-question: How many at first? Answer: 7"
    assert len(second) == 3 and all(first in p for p in second)
    combined = [p for p in planner.prompts if "Answer: 11" in p and "Answer: 7" in p]
    assert len(combined) == 3


@pytest.mark.slow
def test_a_plan_that_restates_its_question_is_answered_directly_not_failed():
    """The planner's last part is the question itself (a cycle in the task graph): each example
    is answered directly instead, at the cost of the plan and one answer."""
    task = small_task(examples=3)
    truths = task.simulation_answers()

    def answer(messages, temperature, sample, design_id) -> BrokerReply:
        system, user = messages[0]["content"], messages[-1]["content"]
        question = max((q for q in truths if q in user), key=len)
        if '"parts"' in system:
            plan = [{"question": "How many at first?", "uses": []},
                    {"question": question, "uses": [0]}]  # fmt: skip
            return BrokerReply(json.dumps({"parts": json.dumps(plan)}))
        return BrokerReply(json.dumps({"thinking": "t", "answer": truths[question]}))

    result = evaluate_with(task, answer, {"decompose": seed("decompose")})["decompose"]
    assert result.status is Status.OK and result.metrics["failed_examples"] == 0, result.metrics
    assert result.fitness == 1.0 and result.metrics["calls_per_example"] == 2.0
    assert result.metrics["agent_events"] == {"plan restates the question, answered directly": 3}
