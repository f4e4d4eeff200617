"""A fork-server worker pool that runs untrusted design code in throw-away processes.

Each worker is a server process that imports the heavy modules once (`preload`), then forks a
fresh child for every evaluation. The child starts a new session, dies with its server, limits
its own resources, runs `entry(**args)` from the given code in a private temporary directory and
sends back JSON over a pipe. The server enforces the wall-clock limit by killing the child's
whole process group, and reaps whatever the child left behind (it is a child subreaper).
Nothing a child sends is ever unpickled, and the design's code never runs in the caller.

    with Sandbox(workers=2, preload=["torch"]) as sb:
        r = sb.run(code, entry="main", args={"x": 1}, limits=SandboxLimits(wall_s=10))
        r.status, r.value, r.error, r.stdout, r.stderr, r.wall_s
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import queue
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

# Status classes a sandboxed call can end in.
OK, INVALID, ERROR, TIMEOUT, MEMORY, KILLED, OUTPUT_LIMIT = (
    "ok",
    "invalid",
    "error",
    "timeout",
    "memory",
    "killed",
    "output_limit",
)

_HEADER = struct.Struct("!Q")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_RESULT_FD = 3
_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE
)


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start), not the code it was given."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits. `memory_mb` bounds the address space (RLIMIT_AS): right for CPU work;
    with CUDA, which reserves huge virtual ranges, pass None and bound GPU memory in the task."""

    wall_s: float = 60.0
    memory_mb: int | None = 4096
    cpu_s: float | None = None  # default: the wall limit times the thread count, plus slack
    file_mb: int = 64
    open_files: int = 256
    threads: int = 1
    output_bytes: int = 64_000  # stdout and stderr, each, kept from the end
    result_bytes: int = 16_000_000


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed call ended. `value` is the JSON data `entry` returned (status ok)."""

    status: str
    value: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK


def scrubbed_environment(threads: int = 1) -> dict[str, str]:
    """The caller's environment without anything that looks like a secret, threads pinned."""
    env = {k: v for k, v in os.environ.items() if not _SECRET_NAME.search(k)}
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    # The server must import this package and a user's task files exactly as the caller does.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# --- framing: an 8-byte length, then that many bytes of UTF-8 JSON ------------------------------


def _encode(payload: dict[str, Any]) -> bytes:
    """Raises TypeError or ValueError (NaN, infinity) for what is not plain JSON data."""
    data = json.dumps(payload, allow_nan=False).encode()
    return _HEADER.pack(len(data)) + data


def _write_frame(fd: int, payload: dict[str, Any] | bytes) -> None:
    view = memoryview(payload if isinstance(payload, bytes) else _encode(payload))
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _NoFrame(Exception):
    """No complete frame came: "timeout", "eof", or the reason named for a watched fd."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_exact(
    fd: int, n: int, deadline: float | None = None, watch: dict[int, str] | None = None
) -> bytes:
    """Exactly n bytes from fd. Raises _NoFrame on EOF, at the deadline, or when one of the
    `watch` fds becomes readable first (a process exiting, a peer hanging up)."""
    watch = watch or {}
    chunks, remaining = [], n
    while remaining:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = select.select([fd, *watch], [], [], timeout)[0]
        if not ready:
            raise _NoFrame("timeout")
        if fd not in ready:
            raise _NoFrame(watch[ready[0]])
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise _NoFrame("eof")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(
    fd: int, deadline: float | None = None, watch: dict[int, str] | None = None, cap: int = 0
) -> dict[str, Any]:
    """One frame as a JSON object; raises _NoFrame ("too_big", "garbled" among the reasons)."""
    size = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline, watch))[0]
    if cap and size > cap:
        raise _NoFrame("too_big")
    try:
        payload = json.loads(_read_exact(fd, size, deadline, watch))
    except ValueError:
        raise _NoFrame("garbled") from None
    if not isinstance(payload, dict):
        raise _NoFrame("garbled")
    return payload


# --- the caller's side ------------------------------------------------------------------------


class _Worker:
    """One fork-server process and the pipes to it."""

    def __init__(self, preload: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            # The caller's pid is only there to tell whose server a process is (ps, tests).
            [sys.executable, "-m", "agentic_design.sandbox", str(os.getpid()), ",".join(preload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to_server = self.proc.stdin.fileno()
        self.from_server = self.proc.stdout.fileno()

    def wait_ready(self, timeout: float) -> None:
        reply = self.receive(time.monotonic() + timeout)
        if reply is None or reply.get("ready") is not True:
            self.kill()
            raise SandboxError(f"a sandbox worker failed to start (reply: {reply!r})")

    def receive(self, deadline: float | None) -> dict[str, Any] | None:
        try:
            return _read_frame(self.from_server, deadline)
        except _NoFrame:
            return None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class Sandbox:
    """A pool of `workers` warm fork-servers; `run` is safe to call from several threads.

    `preload` names modules each server imports once (`"torch"`), or `"module:function"` to
    import and call a function, for process-wide set-up every forked child then inherits.
    """

    def __init__(
        self,
        workers: int = 1,
        preload: list[str] | tuple[str, ...] = ("torch", "numpy"),
        limits: SandboxLimits | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.size = workers
        self.preload = list(preload)
        self.default_limits = limits or SandboxLimits()
        self.start_timeout_s = start_timeout_s
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = True

    def start(self) -> Sandbox:
        env = scrubbed_environment(self.default_limits.threads)
        # Start all servers at once: their imports overlap.
        workers = [_Worker(self.preload, env) for _ in range(self.size)]
        try:
            for worker in workers:
                worker.wait_ready(self.start_timeout_s)
        except SandboxError:
            for worker in workers:
                worker.kill()
            raise
        self._all = workers
        for worker in workers:
            self._idle.put(worker)
        self._closed = False
        return self

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every server; their children die with them (PR_SET_PDEATHSIG)."""
        with self._lock:
            self._closed = True
            for worker in self._all:
                worker.kill()
            self._all = []

    def run(
        self,
        code: str,
        entry: str = "main",
        args: dict[str, Any] | None = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxResult:
        """Run `entry(**args)` from `code` in a fresh sandboxed process; never raises for
        anything the code does."""
        if self._closed:
            raise SandboxError("the sandbox is not started (use it as a context manager)")
        limits = limits or self.default_limits
        frame = _encode(
            {"code": code, "entry": entry, "args": args or {}, "limits": asdict(limits)}
        )
        worker = self._idle.get()
        started = time.monotonic()
        try:
            _write_frame(worker.to_server, frame)
            # The server enforces wall_s itself; the margin only covers a server that hangs.
            reply = worker.receive(started + limits.wall_s + 30.0)
        except OSError:
            reply = None
        if reply is None:
            if self._closed:  # closed under us (the search was interrupted): nothing to replace
                worker.kill()
                return SandboxResult(status=KILLED, error="the sandbox was closed")
            worker = self._replace(worker)
            self._idle.put(worker)
            return SandboxResult(
                status=KILLED,
                error="the sandbox worker died or stopped answering; it was replaced",
                wall_s=time.monotonic() - started,
            )
        self._idle.put(worker)
        return SandboxResult(**reply)

    def _replace(self, dead: _Worker) -> _Worker:
        dead.kill()
        fresh = _Worker(self.preload, scrubbed_environment(self.default_limits.threads))
        fresh.wait_ready(self.start_timeout_s)
        with self._lock:
            self._all = [w for w in self._all if w is not dead] + [fresh]
            if self._closed:
                fresh.kill()
        return fresh


# --- the server's side (runs in `python -m agentic_design.sandbox`) ---------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> bool:
    return _libc.prctl(option, value, 0, 0, 0) == 0


def serve(preload: list[str]) -> None:
    """The fork-server loop: one request at a time from stdin, replies on the original stdout.

    The server notices its caller's death as end-of-file on stdin — whether it is idle or
    waiting for a child — and then kills the child's process group and exits. (Not
    PR_SET_PDEATHSIG: that follows the *thread* that started the server, and a worker replaced
    from an evaluation thread would die with that thread.)
    """
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # a stray print must never corrupt the protocol
    for name in preload:
        _preload(name)
    _write_frame(replies, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            request = _read_frame(requests)
        except _NoFrame:
            return  # the caller closed the pipe or died
        reply = _serve_one(request, SandboxLimits(**request["limits"]), requests)
        _write_frame(replies, asdict(reply))


def _preload(name: str) -> None:
    """Import `module`, or import `module:function` and call it: work every child inherits."""
    module_name, _, function = name.partition(":")
    module = importlib.import_module(module_name)
    if function:
        getattr(module, function)()


def _serve_one(request: dict[str, Any], limits: SandboxLimits, caller: int) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix="agentic-design-sandbox-")
    read_end, write_end = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            _child(request, limits, write_end, workdir)
        finally:
            os._exit(70)
    os.close(write_end)
    # Readable when the child exits: a grandchild holding the pipe open cannot stall us.
    exited = os.pidfd_open(pid)
    reply: dict[str, Any] | None = None
    why = ""
    try:
        watch = {exited: "died", caller: "caller_gone"}
        reply = _read_frame(read_end, started + limits.wall_s, watch, limits.result_bytes)
    except _NoFrame as exc:
        why = exc.reason
    finally:
        os.close(read_end)
        os.close(exited)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _, wait_status = os.waitpid(pid, 0)
    _reap_orphans()
    wall_s = time.monotonic() - started
    stdout = _tail(os.path.join(workdir, "stdout"), limits.output_bytes)
    stderr = _tail(os.path.join(workdir, "stderr"), limits.output_bytes)
    shutil.rmtree(workdir, ignore_errors=True)
    if why == "caller_gone":
        os._exit(0)  # nobody is left to answer; the child and its group are already gone
    if reply is not None:
        fields = _reply_fields(reply)
        if fields is not None:
            return SandboxResult(**fields, stdout=stdout, stderr=stderr, wall_s=wall_s)
        why = "garbled"
    status, error = _classify_death(why, wait_status, limits)
    return SandboxResult(status=status, error=error, stdout=stdout, stderr=stderr, wall_s=wall_s)


_STATUSES = {OK, INVALID, ERROR, TIMEOUT, MEMORY, KILLED, OUTPUT_LIMIT}
_TEXT = ("error", "error_type", "traceback")


def _reply_fields(reply: dict[str, Any]) -> dict[str, Any] | None:
    """The child's reply, checked: the code it ran could have written any frame to the pipe."""
    if reply.get("status") not in _STATUSES or not set(reply) <= {"status", "value", *_TEXT}:
        return None
    if any(not isinstance(reply.get(key), str | None) for key in _TEXT):
        return None
    return reply


def _classify_death(why: str, wait_status: int, limits: SandboxLimits) -> tuple[str, str]:
    if why == "timeout":  # the wall clock ran out before a whole reply came
        return TIMEOUT, f"exceeded the wall-clock limit of {limits.wall_s:g} s and was killed"
    if why == "too_big":
        return OUTPUT_LIMIT, f"the result exceeded {limits.result_bytes:,} bytes"
    if why == "garbled":
        return ERROR, "the reply sent back was not a valid result frame"
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        if sig == signal.SIGXCPU:
            return TIMEOUT, "exceeded its CPU-time limit"
        if sig == signal.SIGXFSZ:
            return OUTPUT_LIMIT, f"wrote a file over the {limits.file_mb} MB limit"
        return KILLED, f"killed by signal {name}"
    code = os.WEXITSTATUS(wait_status)
    return ERROR, f"the process exited with code {code} without returning a result"


def _reap_orphans() -> None:
    """Kill and reap every process re-parented to this server (daemonised grandchildren)."""
    me = str(os.getpid())
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2 :].split()[1] == me:
                found = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry), signal.SIGKILL)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        if not found:
            return


def _tail(path: str, limit: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError:
        return ""
    text = data.decode(errors="replace")
    return f"[... {size - limit:,} bytes cut ...]\n{text}" if size > limit else text


def _child(request: dict[str, Any], limits: SandboxLimits, result_fd: int, workdir: str) -> None:
    """Confine this freshly forked process, run the entry point, send one reply frame."""
    os.setsid()
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    os.dup2(result_fd, _RESULT_FD)
    os.closerange(_RESULT_FD + 1, 1 << 16)
    os.chdir(workdir)
    out = os.open("stdout", os.O_WRONLY | os.O_CREAT, 0o600)
    err = os.open("stderr", os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    _apply_limits(limits)
    os.environ.clear()
    os.environ.update(
        {"HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    )
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(limits.threads)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives until exit
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    reply = _call(request)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        frame = _encode(reply)
    except (TypeError, ValueError) as exc:  # not JSON data, or NaN / infinity in it
        failure = _failure(ERROR, exc, None)
        failure["error"] = f"the result is not JSON data: {failure['error']}"
        frame = _encode(failure)
    _write_frame(_RESULT_FD, frame)
    os._exit(0)


def _apply_limits(limits: SandboxLimits) -> None:
    cpu = limits.cpu_s or limits.wall_s * max(1, limits.threads) + 5
    settings = [
        (resource.RLIMIT_CPU, int(cpu) + 1),
        (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.memory_mb is not None:
        settings.append((resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024))
    for which, value in settings:
        resource.setrlimit(which, (value, value))


def _call(request: dict[str, Any]) -> dict[str, Any]:
    module = types.ModuleType("sandboxed")
    try:
        exec(compile(request["code"], "<sandboxed>", "exec"), module.__dict__)
        entry = module.__dict__.get(request["entry"])
        if not callable(entry):
            return {
                "status": INVALID,
                "error": f"the code defines no function {request['entry']!r}",
            }
        value = entry(**request["args"])
    except MemoryError as exc:
        return _failure(MEMORY, exc, "ran out of its memory limit")
    except RecursionError as exc:
        return _failure(ERROR, exc, "maximum recursion depth exceeded")
    except BaseException as exc:  # the design's own failure, whatever it is, is the result
        status = getattr(type(exc), "sandbox_status", ERROR)
        return _failure(status, exc, None)
    return {"status": OK, "value": value}


def _failure(status: str, exc: BaseException, summary: str | None) -> dict[str, Any]:
    message = str(exc) or summary or type(exc).__name__
    lines = list(_without_framework_frames(traceback.TracebackException.from_exception(exc)))
    # Keep the frames nearest the error: those are the ones a person or an LLM can act on.
    trimmed = "".join(lines[:1] + lines[-12:]) if len(lines) > 13 else "".join(lines)
    return {
        "status": status,
        "error": f"{type(exc).__name__}: {message}"[:2000],
        "error_type": type(exc).__name__,
        "traceback": trimmed[-4000:],
    }


_FRAMEWORK = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Call plumbing that appears twice per layer in every torch traceback and says nothing.
_PLUMBING = (os.path.join("torch", "nn", "modules", "module.py"),)


def _without_framework_frames(te: traceback.TracebackException) -> Iterator[str]:
    """Format a traceback without this package's own frames: what is left is the code that
    ran and the libraries it called, which is what a person or an LLM can act on."""
    for link in (te, te.__cause__, te.__context__):
        if link is not None:
            kept = [
                f
                for f in link.stack
                if not f.filename.startswith(_FRAMEWORK) and not f.filename.endswith(_PLUMBING)
            ]
            link.stack = traceback.StackSummary.from_list(kept)
    return te.format()


if __name__ == "__main__":
    serve([name for name in sys.argv[2].split(",") if name])
