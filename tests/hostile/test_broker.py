"""Hostile agents against the broker: one that never reads its channel, one that queues its
whole allowance and leaves, one that listens for another design's replies, one that hogs the
model. Each runs in the real sandbox (a channel per child) against a real `Broker`; none may
hang the search, spend after its end, read what was not its own, or starve the next design.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from agentic_design.config import LLMConfig
from agentic_design.llm import LLM
from agentic_design.run.broker import Broker, BrokerLimits, BrokerReply, llm_answerer
from agentic_design.sandbox import Sandbox, SandboxLimits

from ..llm_server import Fault, ScriptedLLM
from .conftest import DISABLED

# Past any wall clock used here: a run still going by then is hung, not slow.
HUNG_S = 120.0

NEVER_READS = """
import json, os, socket, time

def main():
    s = socket.socket(fileno=os.dup(4))
    name = "x" * 200_000  # the broker once quoted it back in its refusal, whole
    for i in range(40):
        s.send(json.dumps({"id": str(i), name: 1}).encode())
    for i in range(2000):  # and calls it would answer, whose replies it never reads
        request = {"id": f"c{i}", "messages": [{"role": "user", "content": "y" * 2000}]}
        try:
            s.send(json.dumps(request).encode(), socket.MSG_DONTWAIT)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            return "the broker hung up"
    time.sleep(3600)
"""

QUEUES_AND_LEAVES = """
import time
from agentic_design.agents.channel import client

def main(calls, linger=1.0):
    for i in range(calls):
        client().submit([{"role": "user", "content": f"call {i}"}])
    time.sleep(linger)  # long enough for the broker to read them all
    return "gone"
"""

LEAVES_REPLIES_UNREAD = """
import json, os, socket, time

def main():
    s = socket.socket(fileno=os.dup(4))
    messages = [{"role": "user", "content": "secret of the first"}]
    for i in range(5):
        s.send(json.dumps({"id": f"mine{i}", "messages": messages}).encode())
    time.sleep(1.0)  # the replies arrive, and are left on the channel
    return "left"
"""

LISTENS = """
import os, select, socket

def main():
    s = socket.socket(fileno=os.dup(4))
    heard = []
    while select.select([s], [], [], 1.0)[0]:
        data = s.recv(1 << 20)
        if not data:
            break
        heard.append(data.decode(errors="replace"))
    return heard
"""

ASKS_ONCE = """
from agentic_design.agents.channel import client

def main():
    return client().call([{"role": "user", "content": "benign"}], timeout=60).text
"""


def channel_sandbox(workers: int) -> Sandbox:
    return Sandbox(workers, preload=["agentic_design.agents"], channel=True, disable=DISABLED)


@pytest.fixture(scope="module")
def sandbox():
    with channel_sandbox(2) as sb:
        yield sb


def run_in_thread(sandbox: Sandbox, code: str, session, **args) -> tuple[threading.Thread, list]:
    box: list = []

    def target() -> None:
        box.append(sandbox.run(code, args=args, limits=SandboxLimits(wall_s=5), on_channel=session))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_an_agent_that_never_reads_its_channel_cannot_hang_the_search(sandbox):
    broker = Broker(lambda *a: BrokerReply("z" * 20_000), BrokerLimits(max_calls=5000))
    session = broker.session(1)
    thread, box = run_in_thread(sandbox, NEVER_READS, session)
    thread.join(HUNG_S)
    assert not thread.is_alive(), "the evaluation hung on the broker"
    (result,) = box
    assert result.status in ("timeout", "ok")  # ended by its wall clock, or by the hang-up
    session.finish(timeout=30)
    metrics = session.metrics()
    assert metrics["llm_refused_calls"] >= 1
    assert any("unknown fields" in p for p in metrics["llm_refusals"])
    assert all(len(p) < 1000 for p in metrics["llm_refusals"])  # the name quoted short
    # and the sandbox still serves the next design
    calm = broker.session(2)
    assert sandbox.run(ASKS_ONCE, on_channel=calm).value.startswith("z")
    broker.close()


def test_calls_queued_by_a_design_that_left_never_reach_the_model(sandbox):
    started: list[float] = []
    release = threading.Event()

    def slow(messages, temperature, sample, design_id):
        started.append(time.monotonic())
        release.wait(HUNG_S)  # at the model until the design is gone
        return BrokerReply("late")

    broker = Broker(slow, BrokerLimits(max_calls=500), concurrency=4)
    session = broker.session(1)
    result = sandbox.run(QUEUES_AND_LEAVES, args={"calls": 300}, on_channel=session)
    ended = time.monotonic()
    assert result.value == "gone"
    release.set()
    session.finish(timeout=30)
    time.sleep(1.0)  # what was queued would be at the model now, were it still there
    assert len(started) == 4 and max(started) < ended  # the four at the model, no more
    metered = session.metrics()
    assert metered["llm_calls"] == 4 and metered["llm_cancelled_calls"] == 296
    # the next design is answered at once, not after the first one's queue
    assert sandbox.run(ASKS_ONCE, on_channel=broker.session(2)).value == "late"
    broker.close()


def test_a_design_cannot_read_replies_sent_to_another(sandbox):
    broker = Broker(lambda m, *a: BrokerReply(f"for: {m[0]['content']}"), BrokerLimits())
    # One worker for both runs, so the second child is the first one's successor.
    with channel_sandbox(1) as sb:
        first = sb.run(LEAVES_REPLIES_UNREAD, on_channel=broker.session(1))
        assert first.value == "left"
        heard = sb.run(LISTENS, on_channel=broker.session(2)).value
    assert heard == [], f"the second design read the first one's replies: {heard[:2]}"
    broker.close()


def test_one_design_cannot_take_the_whole_model_from_another(sandbox):
    blocked = threading.Event()

    def answer(messages, temperature, sample, design_id):
        if design_id == 1:
            blocked.wait(HUNG_S)  # the hog's calls sit at the model until released
        return BrokerReply(f"for design {design_id}")

    broker = Broker(answer, BrokerLimits(concurrency=2), concurrency=4)
    hog = broker.session(1)
    thread, box = run_in_thread(sandbox, QUEUES_AND_LEAVES.replace("gone", "x"), hog, calls=200)
    try:
        # The hog's 200 calls take at most its two slots of the four: another design's call
        # goes straight to a free one.
        benign = sandbox.run(ASKS_ONCE, on_channel=broker.session(2))
        assert benign.ok and benign.value == "for design 2", benign.error
    finally:
        blocked.set()
        thread.join(HUNG_S)
        broker.close()
    assert json.dumps(box[0].value) == '"x"'


def test_calls_waiting_at_the_model_are_not_sent_after_the_end(sandbox):
    """Calls already handed to the model's client, waiting for one of its connections or for
    a retry, are asked before each attempt whether their evaluation still runs."""
    server = ScriptedLLM(answer=lambda request: "answered", delay_s=1.0)
    server.queue(Fault.server_error())  # the first call fails once: a retry is due
    with server:
        config = LLMConfig(
            model="openai/m", api_base=server.url, concurrency=1, retries=3, timeout_s=30
        )
        broker = Broker(llm_answerer(LLM(config)), BrokerLimits(), concurrency=8)
        session = broker.session(1)
        result = sandbox.run(QUEUES_AND_LEAVES, args={"calls": 6}, on_channel=session)
        assert result.value == "gone"
        session.finish(timeout=60)
        sent = len(server.requests)
        time.sleep(2.5)  # a call still going would reach the server by now
        assert len(server.requests) == sent <= 2
    metrics = session.metrics()
    assert metrics["llm_cancelled_calls"] >= 6 - sent
    assert metrics["llm_calls"] + metrics["llm_cancelled_calls"] == 6
    broker.close()
