"""The broker's side of a call that asks for JSON fields: where the agents' model takes
structured output, the fields become its JSON schema; elsewhere the request is sent as before
(and a recording made before still answers it). Served over a real socket pair, to the real
loopback server."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from agentic_design.config import LLMConfig
from agentic_design.llm import LLM
from agentic_design.run.broker import Broker, BrokerLimits, llm_answerer
from agentic_design.store.archive import Archive

from .llm_server import ScriptedLLM

FIELDS = ["thinking", "answer"]


def ask(answerer, requests: list[dict]) -> list[dict]:
    """Send `requests` through a broker session over a socket pair; the replies in order."""
    broker = Broker(answerer, BrokerLimits())
    session = broker.session(1)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stop = threading.Event()
    serving = threading.Thread(target=session, args=(ours, stop))
    serving.start()
    replies = []
    try:
        for request in requests:
            theirs.send(json.dumps(request).encode())
            replies.append(json.loads(theirs.recv(1 << 20)))
    finally:
        stop.set()
        serving.join()
        session.finish()
        broker.close()
    return replies


def request(call_id: str, **extra) -> dict:
    return {"id": call_id, "messages": [{"role": "user", "content": "2 + 2?"}], **extra}


def settings(server: ScriptedLLM, answer_format: str) -> LLMConfig:
    return LLMConfig(
        model="openai/agents", api_base=server.url, answer_format=answer_format, timeout_s=5
    )


def test_fields_become_the_models_json_schema_where_it_takes_one(tmp_path):
    reply = json.dumps({"thinking": "2 and 2", "answer": "4"})
    with ScriptedLLM(answer=lambda r: reply) as server, Archive.create(tmp_path / "r") as store:
        llm = LLM(settings(server, "json_schema"), store=store)
        replies = ask(llm_answerer(llm), [request("a", fields=FIELDS), request("b")])
    assert [r["text"] for r in replies] == [reply, reply]
    structured, plain = server.requests
    schema = structured["response_format"]["json_schema"]["schema"]
    assert schema["required"] == FIELDS and set(schema["properties"]) == set(FIELDS)
    assert "response_format" not in plain  # no fields asked: nothing to structure


def test_a_server_behind_api_base_is_asked_as_before_under_auto():
    with ScriptedLLM(answer=lambda r: "4") as server:
        ask(llm_answerer(LLM(settings(server, "auto"))), [request("a", fields=FIELDS)])
    assert "response_format" not in server.requests[0]


def test_a_recording_made_before_fields_were_asked_for_still_answers(tmp_path):
    with ScriptedLLM(answer=lambda r: "recorded") as server, Archive.create(tmp_path / "r") as s:
        LLM(settings(server, "json_schema"), store=s).complete(
            request("x")["messages"], design_id=1, temperature=0.0
        )  # as an agent's call was recorded before: no response_format
        replayed = LLM(settings(server, "json_schema"), store=s, replay=True)
        (reply,) = ask(llm_answerer(replayed), [request("a", fields=FIELDS)])
    assert reply["text"] == "recorded" and len(server.requests) == 1


@pytest.mark.parametrize(
    "fields",
    [["answer", "answer"], [""], ["x" * 65], "answer", [1], [f"f{i}" for i in range(33)]],
    ids=["repeated", "empty", "long", "not a list", "not names", "too many"],
)
def test_fields_are_checked_like_every_other_part_of_a_request(fields):
    (reply,) = ask(lambda *a: pytest.fail("asked the model"), [request("a", fields=fields)])
    assert "fields must be" in reply["error"]
