"""The run store records LLM calls from several threads through one connection: the models of
the meta-agent and its embedding model share it, each calling from proposal threads."""

from __future__ import annotations

import threading

from agentic_design import Archive
from agentic_design.config import LLMConfig
from agentic_design.llm import LLM

from .llm_server import ScriptedLLM


def test_calls_recorded_from_many_threads_at_once_are_all_kept(tmp_path):
    archive = Archive.create(tmp_path / "run")
    errors: list[BaseException] = []

    def record(worker: int) -> None:
        try:
            for n in range(150):
                archive.record_llm_call(
                    key=f"{worker}-{n}",
                    model=f"model {worker % 2}",
                    request={"messages": [], "params": {}},
                    response="ok",
                    error=None,
                    prompt_tokens=1,
                    completion_tokens=1,
                    usd=0.0,
                    latency_s=0.0,
                    design_id=n,
                    purpose="design",
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(archive.recorded_llm_calls()) == 8 * 150


def test_two_clients_sharing_a_store_record_every_call_and_fail_none(tmp_path):
    """A completion model and an embedding model, each asked from four threads."""
    archive = Archive.create(tmp_path / "run")
    with ScriptedLLM(answer=lambda request: "an answer") as server:
        chat = LLM(LLMConfig(model="openai/chat", api_base=server.url, concurrency=4), archive)
        embed = LLM(LLMConfig(model="openai/embed", api_base=server.url, concurrency=4), archive)
        failures: list[BaseException] = []

        def ask(worker: int) -> None:
            try:
                for n in range(10):
                    number = worker * 100 + n
                    chat.complete([{"role": "user", "content": f"q {number}"}], design_id=number)
                    embed.embed([f"code {number}"], design_id=number)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=ask, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    calls = archive.recorded_llm_calls()
    assert len(calls) == 2 * 4 * 10 and all(call["error"] is None for call in calls)
    assert {call["purpose"] for call in calls} == {None, "embedding"}
