"""The fork-server sandbox: every way a call can end has its status, and the pool survives."""

import os
import signal
import time
from pathlib import Path

import pytest

from agentic_design.sandbox import Sandbox, SandboxLimits


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2, preload=["torch"]) as sb:
        yield sb


def run(sandbox, body: str, **limits):
    code = "import os, sys, time\n\ndef main(**args):\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )
    return sandbox.run(code, entry="main", args={}, limits=SandboxLimits(**limits))


def test_value_stdout_and_stderr_come_back(sandbox):
    result = run(sandbox, "print('to out'); print('to err', file=sys.stderr)\nreturn {'a': [1, 2]}")
    assert result.status == "ok" and result.value == {"a": [1, 2]}
    assert result.stdout == "to out\n" and result.stderr == "to err\n"


def test_arguments_arrive_as_json(sandbox):
    result = sandbox.run("def f(x, y):\n    return x * y\n", entry="f", args={"x": 6, "y": 7})
    assert result.value == 42


@pytest.mark.parametrize(
    "body, limits, status, message",
    [
        ("raise KeyError('missing')", {}, "error", "KeyError: 'missing'"),
        ("while True:\n    pass", {"wall_s": 1}, "timeout", "wall-clock limit of 1 s"),
        ("x = bytearray(8 * 1024**3)", {"memory_mb": 1024}, "memory", "MemoryError"),
        ("os._exit(3)", {}, "error", "exited with code 3"),
        ("sys.exit(0)", {}, "error", "SystemExit"),
        ("import ctypes\nctypes.string_at(0)", {}, "killed", "SIGSEGV"),
        ("return float('nan')", {}, "error", "not JSON data"),
        ("return object()", {}, "error", "not JSON data"),
        ("return 'x' * 2_000_000", {"result_bytes": 1_000_000}, "output_limit", "exceeded"),
        ("os.abort()", {}, "killed", "killed by signal"),
    ],
)
def test_each_failure_has_its_status_and_the_pool_keeps_serving(
    sandbox, body, limits, status, message
):
    result = run(sandbox, body, **limits)
    assert result.status == status, result
    assert message in (result.error or "")
    assert run(sandbox, "return 1").value == 1


def test_an_unknown_entry_is_invalid(sandbox):
    result = sandbox.run("x = 1\n", entry="main")
    assert result.status == "invalid" and "no function 'main'" in result.error


def test_secrets_are_scrubbed_from_the_environment(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    with Sandbox(workers=1, preload=[]) as fresh:
        result = fresh.run("import os\ndef main():\n    return dict(os.environ)\n")
    assert result.status == "ok"
    assert not any("sk-secret" in v for v in result.value.values())
    assert "OPENAI_API_KEY" not in result.value


def test_each_call_runs_in_its_own_removed_directory(sandbox):
    first = run(sandbox, "open('scratch.txt', 'w').write('x')\nreturn os.listdir('.')")
    second = run(sandbox, "return os.path.exists('scratch.txt')")
    assert first.value == ["scratch.txt"] and second.value is False
    servers = [str(info["pid"]) for info in sandbox.servers()]
    left = [
        p for p in Path("/tmp").glob("agentic-design-sandbox-*") if p.name.split("-")[3] in servers
    ]
    assert left == []  # the server's side of each working directory is removed too


def test_two_workers_run_in_parallel(sandbox):
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run(sandbox, "time.sleep(1)\nreturn 1"), range(2)))
    assert [r.value for r in results] == [1, 1]
    assert time.monotonic() - started < 1.8


def test_the_warm_pool_has_small_overhead(sandbox):
    run(sandbox, "return 0")
    started = time.monotonic()
    for _ in range(10):
        run(sandbox, "return 0")
    assert (time.monotonic() - started) / 10 < 0.5  # a fresh `import torch` costs seconds


def test_a_forged_reply_frame_is_rejected(sandbox):
    body = (
        "import json, struct\n"
        "data = json.dumps({'status': 'ok', 'value': 1, 'stdout': 'forged'}).encode()\n"
        "os.write(3, struct.pack('!Q', len(data)) + data)\n"
        "os._exit(0)"
    )
    result = run(sandbox, body)
    assert result.status == "error" and "not a valid result frame" in result.error
    assert run(sandbox, "return 2").value == 2


def test_a_child_that_dies_is_reported_at_once_even_if_a_grandchild_holds_its_pipe(sandbox):
    body = "if os.fork() == 0:\n    time.sleep(30)\nos._exit(1)"
    started = time.monotonic()
    result = run(sandbox, body, wall_s=20)
    assert result.status == "error" and "exited with code 1" in result.error
    assert time.monotonic() - started < 5


def test_a_server_that_dies_mid_call_is_reported_and_replaced():
    from concurrent.futures import ThreadPoolExecutor

    with Sandbox(workers=1, preload=[]) as sandbox:
        (before,) = sandbox.servers()
        # Call from a short-lived thread: the replacement server must outlive that thread.
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(run, sandbox, "time.sleep(30)")
            time.sleep(0.5)
            os.kill(before["pid"], signal.SIGKILL)
            result = pending.result()
        assert result.status == "killed" and "replaced" in result.error
        time.sleep(0.5)
        assert [run(sandbox, "return 3").value for _ in range(3)] == [3, 3, 3]
        (after,) = sandbox.servers()
        assert after["pid"] != before["pid"]


def test_with_protections_turned_off_it_still_works_and_says_so(tmp_path):
    from agentic_design.sandbox import OPTIONAL_PROTECTIONS as OPTIONAL

    with Sandbox(workers=1, preload=[], disable=list(OPTIONAL)) as degraded:
        report = {p["name"]: p for p in degraded.protections}
        assert all(not report[name]["enabled"] for name in OPTIONAL)
        assert all(report[name]["detail"] == "turned off by the caller" for name in OPTIONAL)
        assert run(degraded, "return 5").value == 5
        # without a pid namespace the server still reaps a daemonised grandchild
        body = "if os.fork() == 0:\n    os.setsid()\n    time.sleep(300)\nreturn os.getpid()"
        result = run(degraded, body)
        (server,) = degraded.servers()
        deadline = time.monotonic() + 5
        children = Path(f"/proc/{server['pid']}/task/{server['pid']}/children")
        while children.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert result.status == "ok" and children.read_text().split() == []


def test_unknown_protection_names_are_refused():
    with pytest.raises(ValueError, match="cannot disable"):
        Sandbox(disable=["firewall"])
