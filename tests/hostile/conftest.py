"""A warm sandbox shared by the hostile designs, and the checks every one of them must pass:
the server that ran the design is the same process afterwards, it has no process of the
design left, and it still serves.

`AGENTIC_DESIGN_HOSTILE_DISABLE` (protections, comma-separated) turns protections off in the
shared sandbox: test_as_a_user.py runs these designs as an ordinary user with it, to see a
user's sandbox where the kernel forbids user namespaces."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agentic_design.sandbox import Sandbox, SandboxLimits, SandboxResult


class Hostile:
    """Runs a hostile program: `body` is the body of `main()`, indented by us."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def run(self, body: str, args: dict | None = None, **limits: object) -> SandboxResult:
        lines = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
        code = "import os, sys, time, signal\n\ndef main(**args):\n" + lines
        return self.sandbox.run(code, args=args or {}, limits=SandboxLimits(**limits))

    @property
    def server(self) -> dict:
        (info,) = self.sandbox.servers()
        return info

    def in_force(self, protection: str) -> bool:
        return any(p["name"] == protection and p["enabled"] for p in self.server["protections"])

    def detail(self, protection: str) -> str:
        return next(p["detail"] for p in self.server["protections"] if p["name"] == protection)


DISABLED = [p for p in os.environ.get("AGENTIC_DESIGN_HOSTILE_DISABLE", "").split(",") if p]


@pytest.fixture(scope="module")
def sandbox():
    preload = ["torch", "numpy", "agentic_design.run.evaluation"]
    with Sandbox(workers=1, preload=preload, disable=DISABLED) as sb:
        yield sb


def children_of(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def hostile(sandbox):
    runner = Hostile(sandbox)
    before = runner.server["pid"]
    yield runner
    assert runner.server["pid"] == before, "the server was replaced: it did not survive"
    assert os.path.exists(f"/proc/{before}")
    deadline = time.monotonic() + 5
    while children_of(before) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert children_of(before) == [], "a process of the design outlived its evaluation"
    assert runner.run("return 'still serving'").value == "still serving"
