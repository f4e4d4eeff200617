"""The LLM broker: its overhead per call, and what concurrent calls buy an agent evaluation.

    python benchmarks/broker.py [--calls 200] [--examples 50] [--delay 0.3]

1. Overhead: a sandboxed design makes `--calls` calls one after another through the channel and
   the broker to the loopback OpenAI-protocol test server (no added latency), timed inside the
   sandbox; the same calls made directly with `llm.LLM` in this process give the baseline. The
   difference is what the broker adds per call (channel, checks, metering). For reference, the
   round trip with an answerer that returns at once (no LLM, no HTTP) is printed too.
2. Concurrency: an agent evaluation of `--examples` examples x 5 calls each, the server adding
   `--delay` seconds to every answer, with 16 examples in flight against one at a time.
Goals: overhead at most 2 ms a call; 16 in flight at least 12x faster.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from agentic_design.config import LLMConfig, RunConfig
from agentic_design.llm import LLM
from agentic_design.run.assemble import sandbox_for, sandbox_limits
from agentic_design.run.broker import Broker, BrokerLimits, BrokerReply, llm_answerer
from agentic_design.run.evaluation import Evaluator
from agentic_design.sandbox import Sandbox, SandboxLimits
from agentic_design.store.archive import Archive
from agentic_design.tasks.agent.task import AgentTask

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.llm_server import ScriptedLLM  # the test server, reused

ANSWER = '{"thinking": "t", "answer": "1"}'
SEQUENTIAL = """
import time
from agentic_design.agents.channel import client

def main(calls):
    messages = [{"role": "user", "content": "Reply with 1."}]
    client().call(messages, sample=10**4 - 1)  # the first call starts the reader thread
    started = time.perf_counter()
    for i in range(calls):
        client().call(messages, sample=i)
    return (time.perf_counter() - started) / calls
"""
FIVE_CALLS = """
from agentic_design.agents import Agent

def forward(self, task):
    answer = None
    for i in range(5):
        answer = Agent("a solver", temperature=0.7)(task["question"], sample=i)
    return answer["answer"]
"""


def direct_per_call(server: ScriptedLLM, calls: int) -> float:
    with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as store:
        llm = LLM(LLMConfig(model="openai/scripted", api_base=server.url), store=store)
        llm.complete([{"role": "user", "content": "warm up"}], sample=10**4 - 1)
        started = time.perf_counter()
        for i in range(calls):
            llm.complete([{"role": "user", "content": "Reply with 1."}], sample=i)
        return (time.perf_counter() - started) / calls


def brokered_per_call(answer, calls: int) -> float:
    broker = Broker(answer, BrokerLimits(max_calls=calls + 10))
    with Sandbox(workers=1, preload=["agentic_design.agents"], channel=True) as sandbox:
        result = sandbox.run(
            SEQUENTIAL,
            args={"calls": calls},
            limits=SandboxLimits(wall_s=300),
            on_channel=broker.session(None),
        )
    broker.close()
    assert result.ok, result.error
    return float(result.value)


def evaluation_seconds(server: ScriptedLLM, examples: int, in_flight: int) -> float:
    task = AgentTask()
    task.configure({"examples": examples, "concurrency": in_flight})
    config = RunConfig.from_dict(
        {"task": "arithmetic", "agent_llm": {"model": "simulated"}, "sandbox": {"wall_s": 600}}
    )
    with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as store:
        llm = LLM(
            LLMConfig(model="openai/scripted", api_base=server.url, concurrency=16), store=store
        )
        broker = Broker(llm_answerer(llm), BrokerLimits(), concurrency=16)
        with sandbox_for(config, task, workers=1) as sandbox:
            evaluator = Evaluator(
                task, "arithmetic", sandbox, limits=sandbox_limits(config, task), broker=broker
            )
            started = time.perf_counter()
            evaluation = evaluator.evaluate(FIVE_CALLS, seed=0)
            elapsed = time.perf_counter() - started
        broker.close()
    assert evaluation.metrics["llm_calls"] == 5 * examples, evaluation
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    with ScriptedLLM(answer=lambda request: ANSWER) as server:
        direct = direct_per_call(server, args.calls)
        with tempfile.TemporaryDirectory() as folder, Archive.create(Path(folder)) as store:
            llm = LLM(LLMConfig(model="openai/scripted", api_base=server.url), store=store)
            brokered = brokered_per_call(llm_answerer(llm), args.calls)
    instant = brokered_per_call(lambda *a: BrokerReply(ANSWER), args.calls)
    print(f"direct LLM call (loopback, no latency)   {direct * 1000:7.2f} ms")
    print(f"the same through sandbox + broker        {brokered * 1000:7.2f} ms")
    print(
        f"broker overhead per call                 {(brokered - direct) * 1000:7.2f} ms"
        "  (goal <= 2 ms)"
    )
    print(f"round trip, answerer returning at once   {instant * 1000:7.2f} ms")
    with ScriptedLLM(answer=lambda request: ANSWER, delay_s=args.delay) as server:
        parallel = evaluation_seconds(server, args.examples, 16)
        serial = evaluation_seconds(server, args.examples, 1)
    print(f"{args.examples} examples x 5 calls, {args.delay} s a call:")
    print(f"  16 in flight  {parallel:7.2f} s")
    print(f"  one at a time {serial:7.2f} s")
    print(f"  speed-up      {serial / parallel:7.2f}x  (goal >= 12x)")


if __name__ == "__main__":
    main()
