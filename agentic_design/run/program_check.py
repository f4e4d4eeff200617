"""Run untrusted programs to see whether each runs to its end: scoring code a design produced
(HumanEval's tests against an agent's function, `check_programs`), and checking one part of a
design written on its own (`check_module`). Only ever called inside the sandbox.

Each program runs in a process of its own, forked from the sandboxed evaluation, so that one
that loops, exits, crashes the interpreter or wrecks its globals costs only itself. It passes
when it runs to its end without an exception within `timeout_s` and exits normally; output is
thrown away. A program that leaves JSON data in a global `RESULT` hands it back with its
verdict. A program that ends its own process early (`os._exit(0)` before the tests) is caught
by a sentinel the parent waits for, written only after the program has run; a program that
finds and writes that sentinel itself is not caught, nor one that writes a result frame for
the whole run: code that sets out to forge its own result can. So a verdict read here is only
as trustworthy as the programs that ran: HumanEval's answers run here to say what they return,
and are judged by programs that hold none of their code (`tasks/agent/recorded_tests.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
import traceback

PASSED = b"\x00passed\x00"
ERROR_CHARS = 300
RESULT_BYTES = 1 << 20  # the most JSON one program may hand back in `RESULT`


def check_programs(
    programs: dict[str, str], timeout_s: float = 5.0, parallel: int = 4
) -> dict[str, dict[str, object]]:
    """key -> {"passed": bool, "error": str} for each program, at most `parallel` at once;
    with "value", the JSON data a passed program left in its global `RESULT`."""
    waiting = list(programs.items())
    running: dict[int, tuple[str, int, float, list[bytes]]] = {}  # read fd -> key, pid, ...
    results: dict[str, dict[str, object]] = {}
    while waiting or running:
        while waiting and len(running) < parallel:
            key, source = waiting.pop(0)
            read_fd, pid = _start(source, [fd for fd in running])
            running[read_fd] = (key, pid, time.monotonic() + timeout_s, [])
        deadline = min(entry[2] for entry in running.values())
        ready, _, _ = select.select(list(running), [], [], max(0.0, deadline - time.monotonic()))
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk and sum(map(len, running[fd][3])) <= len(PASSED) + RESULT_BYTES:
                running[fd][3].append(chunk)
            elif not chunk:  # the program's process closed its end: it has finished
                key, pid, _, chunks = running.pop(fd)
                os.close(fd)
                results[key] = _verdict(pid, b"".join(chunks))
        now = time.monotonic()
        for fd in [fd for fd, entry in running.items() if entry[2] <= now]:
            key, pid, _, _ = running.pop(fd)
            os.close(fd)
            _kill(pid)
            results[key] = {"passed": False, "error": f"timed out after {timeout_s:g} s"}
    return {key: results[key] for key in programs}


def _start(source: str, other_fds: list[int]) -> tuple[int, int]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        for fd in other_fds:
            os.close(fd)
        _run_child(source, write_fd)
    os.close(write_fd)
    return read_fd, pid


def _run_child(source: str, write_fd: int) -> None:
    os.setpgid(0, 0)  # its own process group: a timeout kills whatever it started, too
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    code = 1
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        exec(compile(source, "<answer>", "exec"), namespace)
        result = json.dumps(namespace["RESULT"], allow_nan=False) if "RESULT" in namespace else ""
        message, code = PASSED + result.encode(), 0
    except BaseException as exc:  # any failure, SystemExit too, is the program's verdict
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        message = text[:ERROR_CHARS].encode(errors="replace")
        if isinstance(exc, AssertionError) or not str(exc):
            frames = traceback.extract_tb(sys.exc_info()[2])
            line = next((f.lineno for f in reversed(frames) if f.filename == "<answer>"), None)
            message += f" (line {line})".encode() if line else b""
    try:
        os.write(write_fd, message)
    finally:
        os._exit(code)


def _verdict(pid: int, data: bytes) -> dict[str, object]:
    _, status = os.waitpid(pid, 0)
    if data.startswith(PASSED) and os.waitstatus_to_exitcode(status) == 0:
        if data == PASSED:
            return {"passed": True, "error": ""}
        if len(data) > len(PASSED) + RESULT_BYTES:
            return {"passed": False, "error": f"its RESULT is longer than {RESULT_BYTES} bytes"}
        try:
            value = json.loads(data[len(PASSED) :])
        except (ValueError, RecursionError):
            return {"passed": False, "error": "its RESULT did not come back as JSON data"}
        return {"passed": True, "error": "", "value": value}
    if data and not data.startswith(PASSED):
        return {"passed": False, "error": data.decode(errors="replace")[:ERROR_CHARS]}
    code = os.waitstatus_to_exitcode(status)
    how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
    return {"passed": False, "error": f"the program {how} before its end"}


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            target()
    os.waitpid(pid, 0)


def check_module(code: str, names: list[str], check: str = "") -> dict[str, object]:
    """Run `code` as a module, see that it defines each of `names`, then run `check` (a few
    statements exercising it) in the module's namespace. Raises on any failure: the sandbox
    reports the exception, the part's author reads it."""
    namespace: dict[str, object] = {"__name__": "part"}
    exec(compile(code, "<part>", "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    if missing:
        raise NameError(f"the code does not define {', '.join(missing)}")
    if check.strip():
        exec(compile(check, "<check>", "exec"), namespace)
    return {"defined": sorted(n for n in namespace if not n.startswith("__"))[:50]}
