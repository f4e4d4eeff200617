"""Keys by value, not by name: a key kept under an unusual variable name (`api_key_env:
AGENT_LLM_PASSPHRASE`) or written into `api_base` reaches no design — not through the sandbox's
environment in any form a design can read, nor through the error a provider echoes back to an
agent's call."""

from __future__ import annotations

import base64

import pytest

from agentic_design import RunConfig, redaction
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for
from agentic_design.sandbox import pool

from ..llm_server import Fault, ScriptedLLM

KEY = "passphrase-0c4e7b19d2"
URL_PASSWORD = "url-pass-71d0e2"
BASIC = base64.b64encode(f"alice:{URL_PASSWORD}".encode()).decode()
SECRETS = [KEY, URL_PASSWORD, BASIC]


def agent_run(api_base: str) -> RunConfig:
    return RunConfig.from_dict(
        {
            "task": "arithmetic",
            "task_budget": {"examples": 2, "test_examples": 2},
            "agent_llm": {
                "model": "openai/agent-model",
                "api_base": api_base,
                "api_key_env": "AGENT_LLM_PASSPHRASE",
                "retries": 1,
                "timeout_s": 5,
            },
            "sandbox": {"workers": 1, "wall_s": 30},
        }
    )


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://alice:{URL_PASSWORD}@")


SNOOP = """
import glob, os

def main(secrets):
    places = {"os.environ": "\\n".join(f"{k}={v}" for k, v in os.environ.items()).encode()}
    parent = os.getppid()
    paths = [
        "/proc/self/environ", "/proc/self/cmdline", "/proc/1/environ", "/proc/1/cmdline",
        f"/proc/{parent}/environ", f"/proc/{parent}/cmdline",
        *glob.glob("/proc/[0-9]*/environ"), *glob.glob("/proc/[0-9]*/cmdline"),
        *glob.glob("/proc/self/task/*/environ"),
    ]
    for path in paths:
        try:
            with open(path, "rb") as f:
                places[path] = f.read()
        except OSError:
            pass
    def holds(data, text):
        return text.encode() in data
    return {
        "found": sorted(p for p, data in places.items() if any(holds(data, s) for s in secrets)),
        "plain": sorted(p for p, data in places.items() if holds(data, "plain-marker-55")),
    }
"""


def test_a_key_under_any_name_is_nowhere_a_design_can_read(monkeypatch):
    monkeypatch.setenv("AGENT_LLM_PASSPHRASE", KEY)
    monkeypatch.setenv("AGENTIC_TEST_DERIVED", f"Bearer {KEY}")  # a value holding the key
    monkeypatch.setenv("AGENTIC_TEST_PROXY", f"http://alice:{URL_PASSWORD}@proxy:3128")
    monkeypatch.setenv("AGENTIC_TEST_HEADER", f"Basic {BASIC}")
    monkeypatch.setenv("AGENTIC_TEST_PLAIN", "plain-marker-55")
    config = agent_run(with_userinfo("http://127.0.0.1:9/v1"))
    task = build_task(config)
    with sandbox_for(config, task, workers=1) as sandbox:
        result = sandbox.run(SNOOP, args={"secrets": SECRETS})
    assert result.status == "ok", result.error
    assert result.value["found"] == []
    # Not vacuous: the server's own environment block is readable, with what it may hold.
    assert "/proc/self/environ" in result.value["plain"]


AGENT = """
from agentic_design.agents import Agent, AgentError

def forward(self, task):
    try:
        Agent("solver")(task["question"])
        seen = "answered"
    except AgentError as exc:
        seen = str(exc)
    leaked = [s for s in {secrets!r} if s in seen]
    raise RuntimeError(
        f"leaked {{leaked}}; the provider's words: {{'invalid credentials' in seen}}"
    )
"""


@pytest.mark.parametrize("userinfo", [False, True], ids=["bearer", "basic"])
def test_an_agent_is_told_its_call_failed_but_not_the_key(monkeypatch, userinfo):
    monkeypatch.setenv("AGENT_LLM_PASSPHRASE", KEY)
    with ScriptedLLM() as server:
        server.queue(*[Fault.echo(400)] * 8)  # a proxy that echoes the request's headers
        config = agent_run(with_userinfo(server.url) if userinfo else server.url)
        task = build_task(config)
        with sandbox_for(config, task, workers=1) as sandbox:
            result = evaluator_for(config, task, sandbox).evaluate(
                AGENT.format(secrets=SECRETS), seed=0
            )
        sent = server.authorizations[0] or ""
    assert KEY in sent or BASIC in sent  # the echo did carry a key back to the broker
    (error,) = result.metrics["errors"]
    assert "leaked []" in error and "the provider's words: True" in error


def test_the_sandbox_and_redaction_know_providers_variables_by_the_same_names():
    assert redaction.SECRET_NAME.pattern == pool._SECRET_NAME.pattern
