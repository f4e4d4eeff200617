"""A fork-server worker pool that runs untrusted design code in throw-away, confined processes.

Each worker is a server process (`agentic_design.sandbox.server`) that imports the heavy modules
once (`preload`), then forks a fresh child for every call. The child is confined before the code
runs — namespaces, Landlock, a pids cgroup, resource limits, no capabilities, a scrubbed
environment, a private temporary directory (see `server` and `confinement`) — and sends
back JSON over a pipe. The server enforces the wall-clock limit by killing the child's whole
process group, and nothing a child started outlives it. Nothing a child sends is ever
unpickled, and the code never runs in the caller. `Sandbox.protections` says which protections
are in force on this machine and why any is not.

    with Sandbox(workers=2, preload=["torch"]) as sb:
        r = sb.run(code, entry="main", args={"x": 1}, limits=SandboxLimits(wall_s=10))
        r.status, r.value, r.error, r.stdout, r.stderr, r.wall_s
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agentic_design.sandbox.devices import Gpu, Pin, assign, pinned_environment, visible_gpus
from agentic_design.sandbox.framing import NoFrame, encode, read_frame, write_frame

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

STATUSES = frozenset({OK, INVALID, ERROR, TIMEOUT, MEMORY, KILLED, OUTPUT_LIMIT})

# How long a run waits for its channel handler to stop once the child is gone.
CHANNEL_STOP_S = 5.0

_SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE
)


ChannelHandler = Callable[[socket.socket, threading.Event], None]


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker could not start), not the code it was given."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-call limits.

    `memory_mb` bounds the evaluation's memory: its processes together through a memory cgroup
    where the machine has one, and each process's address space (RLIMIT_AS). With CUDA, which
    reserves huge ranges of virtual memory, `gpu_memory_fraction` is set — by the call, or by a
    worker pinned to a GPU (its share) when the call leaves it unset: RLIMIT_AS is then left off
    (the cgroup still bounds host memory) and torch's caching allocator refuses to grow past
    that share of the GPU.
    """

    wall_s: float = 60.0
    memory_mb: int | None = 4096
    cpu_s: float | None = None  # default: the wall limit times the thread count, plus slack
    file_mb: int = 64  # any one file, stdout and stderr included
    disk_mb: int = 256  # the private working directory, all files together
    open_files: int = 256
    max_processes: int = 64  # processes and threads, where a pids cgroup is available
    threads: int = 1
    output_bytes: int = 64_000  # stdout and stderr, each, kept from the end
    result_bytes: int = 16_000_000
    readable: tuple[str, ...] = ()  # extra read-only paths (the task's public data)
    hidden: tuple[str, ...] = ()  # paths kept unreadable even inside readable folders
    gpu_memory_fraction: float | None = None

    def __post_init__(self) -> None:
        # Limits travel as JSON, where a tuple arrives as a list.
        object.__setattr__(self, "readable", tuple(self.readable))
        object.__setattr__(self, "hidden", tuple(self.hidden))


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

    @property
    def ok(self) -> bool:
        return self.status == OK


def scrubbed_environment(
    threads: int = 1, holds_secret: Callable[[str], bool] | None = None
) -> dict[str, str]:
    """The caller's environment without anything that looks like a secret, threads pinned:
    no variable named like one, and none whose value `holds_secret` (the caller knows its keys
    by value, whatever their variables are called). A server's environment block stays in its
    memory for every child to read (/proc/self/environ), however the child clears its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not _SECRET_NAME.search(k) and not (holds_secret and holds_secret(v))
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    # The server must import this package and a user's task files exactly as the caller does.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# --- the caller's side ------------------------------------------------------------------------


class _Worker:
    """One fork-server process and the pipes to it."""

    def __init__(
        self,
        preload: list[str],
        env: dict[str, str],
        disable: list[str],
        channel: bool = False,
        pin: Pin | None = None,
    ) -> None:
        # With channels: a control socket to the server, over which each run hands it the far
        # end of that run's own channel (`Sandbox.run`), which its child finds at fd 4.
        self.control: socket.socket | None = None
        self.pin = pin or Pin()
        far = None
        if channel:
            self.control, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(
            # The caller's pid is only there to tell whose server a process is (ps, tests).
            [
                sys.executable,
                "-m",
                "agentic_design.sandbox.server",
                str(os.getpid()),
                ",".join(preload),
                ",".join(disable),
                str(far.fileno()) if far is not None else "-",
                json.dumps(self.pin.to_dict()),
            ],
            pass_fds=(far.fileno(),) if far is not None else (),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Pinned here, before the server imports torch: the one GPU its children may use.
            env=pinned_environment(env, self.pin.gpu),
            close_fds=True,
            # Its own session: a signal to the caller's process group (Ctrl-C, `timeout`) must
            # not kill a server before it cleans up; it follows the caller by end-of-file.
            start_new_session=True,
        )
        if far is not None:
            far.close()  # the server holds it now
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.to_server = self.proc.stdin.fileno()
        self.from_server = self.proc.stdout.fileno()
        self.info: dict[str, Any] = {}

    def wait_ready(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for the server's greeting; return its report of the protections in force."""
        reply = self.receive(time.monotonic() + timeout)
        if reply is None or reply.get("ready") is not True:
            self.kill()
            raise SandboxError(
                "a sandbox worker failed to start; run `python -m agentic_design.sandbox.server "
                "0 torch` to see why"
            )
        self.info = reply
        return list(reply.get("protections", []))

    def receive(self, deadline: float | None) -> dict[str, Any] | None:
        try:
            return read_frame(self.from_server, deadline)
        except NoFrame:
            return None

    def hang_up(self) -> None:
        """End-of-file on the server's requests: it stops its child, cleans up and exits."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()  # type: ignore[union-attr]

    def kill(self, grace_s: float = 0.0) -> None:
        """Stop the server, with SIGKILL if it has not exited within `grace_s`."""
        if grace_s > 0:
            self.hang_up()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.control is not None:
            self.control.close()

    def open_channel(self) -> socket.socket | None:
        """A new channel for the next child: the far end goes to the server, which gives it
        to that child alone; ours is returned. A socket pair per child, so that nothing one
        child sent or left unread can reach the next (SOCK_SEQPACKET: whole messages only)."""
        if self.control is None:
            return None
        ours, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self.control, [b"channel"], [far.fileno()])
        except OSError:
            ours.close()
            return None  # the server is gone: the run finds that out itself
        finally:
            far.close()
        return ours


class Sandbox:
    """A pool of `workers` warm fork-servers; `run` is safe to call from several threads.

    `preload` names modules each server imports once (`"torch"`), or `"module:function"` to
    import and call a function, for process-wide set-up every forked child then inherits.
    `disable` turns protections off by name (see `probe.OPTIONAL`): for debugging, and to
    see how the sandbox behaves on a machine without them. `channel=True` gives every child a
    message channel back to the caller (fd 4), served during a `run` by its `on_channel`.

    `gpus` are the GPUs the workers may use, each worker pinned to one of them (see
    `devices.assign`; `()`: none, the children see no GPU). Left out, the workers use the GPUs
    this process sees if `limits` sets `gpu_memory_fraction`, and none otherwise.

    `holds_secret(value)` says which environment values the servers must not inherit besides
    those of variables named like a secret: the caller's keys, known by value.
    """

    def __init__(
        self,
        workers: int = 1,
        preload: list[str] | tuple[str, ...] = ("torch", "numpy"),
        limits: SandboxLimits | None = None,
        start_timeout_s: float = 120.0,
        disable: list[str] | tuple[str, ...] = (),
        channel: bool = False,
        gpus: Sequence[Gpu] | None = None,
        holds_secret: Callable[[str], bool] | None = None,
    ) -> None:
        from agentic_design.sandbox.probe import OPTIONAL

        unknown = set(disable) - set(OPTIONAL)
        if unknown:
            raise ValueError(f"cannot disable {sorted(unknown)}: choose from {list(OPTIONAL)}")
        self.disable = list(disable)
        self.channel = channel
        self.holds_secret = holds_secret
        self.size = workers
        self.preload = list(preload)
        self.default_limits = limits or SandboxLimits()
        fraction = self.default_limits.gpu_memory_fraction
        if gpus is None:
            gpus = visible_gpus() if fraction is not None else ()
        self.pins = assign(workers, gpus, fraction)  # devices.DeviceError: too many to share
        self.start_timeout_s = start_timeout_s
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = True
        self.protections: list[dict[str, Any]] = []

    def start(self) -> Sandbox:
        env = scrubbed_environment(self.default_limits.threads, self.holds_secret)
        # Start all servers at once: their imports overlap.
        workers = [_Worker(self.preload, env, self.disable, self.channel, pin) for pin in self.pins]
        try:
            for worker in workers:
                self.protections = worker.wait_ready(self.start_timeout_s)
        except BaseException:  # a failed start, or Ctrl-C while the servers import
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
        """Stop every server; their children die with them."""
        with self._lock:
            self._closed = True
            for worker in self._all:  # all at once, then wait for each
                worker.hang_up()
            for worker in self._all:
                worker.kill(grace_s=2.0)
            self._all = []
            while not self._idle.empty():  # a restarted pool must not meet these again
                self._idle.get_nowait()

    def servers(self) -> list[dict[str, Any]]:
        """Each live server's greeting: its `pid`, its `cgroup` (or None), its device `pin`,
        `protections`."""
        with self._lock:
            return [dict(worker.info) for worker in self._all]

    def run(
        self,
        code: str,
        entry: str = "main",
        args: dict[str, Any] | None = None,
        limits: SandboxLimits | None = None,
        on_channel: ChannelHandler | None = None,
    ) -> SandboxResult:
        """Run `entry(**args)` from `code` in a fresh sandboxed process; never raises for
        anything the code does. `on_channel(sock, stop)` serves the child's channel on a thread
        of its own until `stop` is set, when the child is gone (a sandbox made with
        `channel=True`)."""
        if self._closed:
            raise SandboxError("the sandbox is not started (use it as a context manager)")
        if on_channel is not None and not self.channel:
            raise ValueError("on_channel needs a sandbox made with channel=True")
        limits = limits or self.default_limits
        frame = encode({"code": code, "entry": entry, "args": args or {}, "limits": asdict(limits)})
        worker = self._idle.get()
        if self._closed:  # closed while this call waited for a worker
            return SandboxResult(status=KILLED, error="the sandbox was closed")
        started = time.monotonic()
        channel = worker.open_channel()
        serving = stop = None
        if on_channel is not None and channel is not None:
            stop = threading.Event()
            serving = threading.Thread(
                target=on_channel, args=(channel, stop), name="channel", daemon=True
            )
            serving.start()
        try:
            write_frame(worker.to_server, frame)
            # The server enforces wall_s itself; the margin only covers a server that hangs.
            reply = worker.receive(started + limits.wall_s + 30.0)
        except OSError:
            reply = None
        finally:
            if serving is not None and stop is not None:
                stop.set()
                # A handler must stop promptly when told; one that does not is left behind
                # (a daemon thread) rather than hang this run and its caller.
                serving.join(CHANNEL_STOP_S)
            if channel is not None:
                channel.close()
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
        fresh = _Worker(
            self.preload,
            scrubbed_environment(self.default_limits.threads, self.holds_secret),
            self.disable,
            self.channel,
            dead.pin,
        )
        fresh.wait_ready(self.start_timeout_s)
        with self._lock:
            self._all = [w for w in self._all if w is not dead] + [fresh]
            if self._closed:
                fresh.kill()
        return fresh
