"""The fork server behind `agentic_design.sandbox`: `python -m agentic_design.sandbox.server`.

The server imports the heavy modules once, probes which kernel protections it can apply, then
serves one request at a time: it forks a child (which confines itself and runs the code, see
`child`), waits for its one reply frame (or for the wall clock, or the child's death), kills
what is left and answers the caller.

A child's life, with every protection the kernel allows (see `probe.probe`):

    server (as root, or in a user namespace of its own) ── fork ──► child:
        in the server's cgroups, which cap its processes and threads and its memory;
        pid 1 of a fresh pid namespace, so every process it starts dies with it; a new session;
        dies with the server; new network, mount, IPC and UTS namespaces; a size-limited
        tmpfs as its working directory and a /proc that shows only its own processes;
        resource limits; Landlock (read-only interpreter and libraries, writes only in its
        directory, no TCP, no signals beyond its own processes); no capabilities; an empty
        session keyring; a scrubbed environment; the seccomp filter; then `entry(**args)`,
        whose JSON result goes back over fd 3 (and, with channels, its own channel at fd 4).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from agentic_design.sandbox import cgroups, child, confinement, probe, userns
from agentic_design.sandbox.confinement import Plan
from agentic_design.sandbox.devices import Pin, device_files
from agentic_design.sandbox.framing import NoFrame, read_frame, write_frame
from agentic_design.sandbox.pool import (
    ERROR,
    KILLED,
    MEMORY,
    OK,
    OUTPUT_LIMIT,
    STATUSES,
    TIMEOUT,
    SandboxLimits,
    SandboxResult,
)

_TEXT = ("error", "error_type", "traceback")


def serve(
    preload: list[str],
    disabled: frozenset[str] = frozenset(),
    channel: int | None = None,
    pin: Pin | None = None,
) -> None:
    """The server loop: requests on stdin, replies on the original stdout.

    `channel` is the fd of a control socket over which the caller sends, before each request,
    the far end of that child's own channel (`_Worker.open_channel`).

    `pin` is the GPU this server's children may use (its `CUDA_VISIBLE_DEVICES` is already set
    to it) and their share of its memory; without one, they see no GPU.

    The server notices its caller's death as end-of-file on stdin — idle or while a child
    runs — and then kills the child and exits. (Not PR_SET_PDEATHSIG: that follows the *thread*
    that started the server, and a worker replaced from an evaluation thread would die with it.)
    """
    confinement.become_subreaper()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    control = socket.socket(fileno=channel) if channel is not None else None
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # a stray print must never corrupt the protocol
    gpu = pin.gpu if pin is not None else None
    # Before the preload: entering a user namespace takes a process with one thread. (Named
    # by this pid: a user's server goes on in a child, but this process waits for it.)
    plan = probe.probe(
        cgroup_name=str(os.getpid()),
        disabled=disabled,
        devices=device_files(gpu),
        gpu=gpu.label() if gpu is not None else "",
    )
    try:
        for name in preload:
            _preload(name)
        _remove_stale_workdirs()
        pool = _Pool(plan)
        write_frame(
            replies,
            {
                "ready": True,
                "pid": userns.host_pid(),  # not 1, where it is its own namespace's
                "cgroup": plan.cgroup,
                "pin": (pin or Pin()).to_dict(),
                "protections": probe.report_dicts(plan),
            },
        )
        while True:
            try:
                request = read_frame(requests)
            except NoFrame:
                return  # the caller closed the pipe or died
            limits = SandboxLimits(**request["limits"])
            if pin is not None and pin.gpu is not None and limits.gpu_memory_fraction is None:
                limits = replace(limits, gpu_memory_fraction=pin.memory_fraction)
            nproc = pool.before_fork(limits)
            child_channel = _receive_channel(control) if control is not None else None
            try:
                reply = _serve_one(request, limits, plan, requests, child_channel, nproc)
                # An OOM kill in its cgroup explains a failure (the victim may have been a
                # helper process, the main one then timing out or erring).
                if reply.status != OK and pool.ran_out_of_memory():
                    reply = replace(
                        reply,
                        status=MEMORY,
                        error=f"exceeded the memory limit of {limits.memory_mb} MB "
                        "(its processes together) and was killed",
                    )
            except _CallerGone:
                return  # nobody is left to answer; the child and its group are already gone
            write_frame(replies, asdict(reply))
    finally:
        cgroups.remove(plan.cgroup)
        cgroups.remove(plan.memory_cgroup)


class _Pool:
    """Per-server state of the protections: the cgroups' limits and the pid namespace."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.own_pid_namespace = (
            os.open("/proc/self/ns/pid", os.O_RDONLY) if plan.pid_namespace else -1
        )
        self.cap: int | None = None
        self.memory_mb: int | str | None = "unset"  # the cap last written to the cgroup
        self.oom_kills = 0

    def before_fork(self, limits: SandboxLimits) -> int | None:
        """Set the limits for the next child; return its RLIMIT_NPROC, where that is the cap."""
        if self.plan.cgroup:
            cap = 1 + limits.max_processes  # the child itself, and what it may start
            if cap != self.cap:
                cgroups.limit_processes(self.plan.cgroup, cap)
                self.cap = cap
        if self.plan.memory_cgroup and limits.memory_mb != self.memory_mb:
            cgroups.set_memory_limit(self.plan.memory_cgroup, limits.memory_mb)
            self.memory_mb = limits.memory_mb
        if self.plan.memory_cgroup:
            self.oom_kills = cgroups.oom_kills(self.plan.memory_cgroup)
        if self.plan.pid_namespace:
            confinement.next_child_in_new_pid_namespace(self.own_pid_namespace)
        if self.plan.process_rlimit == "user namespace":
            # Only this server lives in its user namespace: its threads, and the process it
            # was forked from, waiting outside its pid namespace (userns.become_pid_1).
            running = len(os.listdir("/proc/self/task")) + 1
        elif self.plan.process_rlimit == "uid":
            running = userns.tasks_of(os.getuid())
        else:
            return None
        return running + 1 + limits.max_processes

    def ran_out_of_memory(self) -> bool:
        """Whether the kernel killed a process of the last child for its memory cgroup."""
        cgroup = self.plan.memory_cgroup
        return cgroup is not None and cgroups.oom_kills(cgroup) > self.oom_kills


def _receive_channel(control: socket.socket) -> int | None:
    """The far end of the next child's own channel, which the caller sends just before its
    request (`_Worker.open_channel`); None if none came (the child then runs without one)."""
    if not select.select([control], [], [], 5.0)[0]:
        return None
    try:
        _, fds, _, _ = socket.recv_fds(control, 64, 4)
    except OSError:
        return None
    for extra in fds[1:]:
        os.close(extra)
    return fds[0] if fds else None


def _preload(name: str) -> None:
    """Import `module`, or import `module:function` and call it: work every child inherits."""
    module_name, _, function = name.partition(":")
    module = importlib.import_module(module_name)
    if function:
        getattr(module, function)()


_WORKDIR_PREFIX = "agentic-design-sandbox-"


def _remove_stale_workdirs() -> None:
    """Working directories of servers that were killed before they could remove them."""
    for path in Path(tempfile.gettempdir()).glob(f"{_WORKDIR_PREFIX}*"):
        owner = path.name.removeprefix(_WORKDIR_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(path, ignore_errors=True)


def _serve_one(
    request: dict[str, Any],
    limits: SandboxLimits,
    plan: Plan,
    caller: int,
    channel: int | None,
    nproc: int | None,
) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{userns.host_pid()}-")
    # Opened here, outside the child's mount namespace, so that what it prints stays readable
    # after its private tmpfs is gone.
    out = os.open(os.path.join(workdir, "stdout"), os.O_WRONLY | os.O_CREAT, 0o600)
    err = os.open(os.path.join(workdir, "stderr"), os.O_WRONLY | os.O_CREAT, 0o600)
    read_end, write_end = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            os.close(read_end)
            child.run_child(request, limits, plan, workdir, write_end, out, err, channel, nproc)
        finally:
            os._exit(70)
    for fd in (write_end, out, err) if channel is None else (write_end, out, err, channel):
        os.close(fd)  # the channel's far end is the child's alone
    # Readable when the child exits: a grandchild holding the pipe open cannot stall us.
    exited = os.pidfd_open(pid)
    reply: dict[str, Any] | None = None
    why = ""
    try:
        watch = {exited: "died", caller: "caller_gone"}
        reply = read_frame(read_end, started + limits.wall_s, watch, limits.result_bytes)
    except NoFrame as exc:
        why = exc.reason
        if why == "eof":  # the child closed its end of the pipe; let it finish, within limits
            remaining = max(0.0, started + limits.wall_s - time.monotonic())
            ready = select.select([exited, caller], [], [], remaining)[0]
            why = "caller_gone" if caller in ready else "eof" if ready else "timeout"
    finally:
        os.close(read_end)
        os.close(exited)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _, wait_status, usage = os.wait4(pid, 0)
    if not plan.pid_namespace:  # with one, they died with the namespace
        _reap_orphans()
    wall_s = time.monotonic() - started
    stdout = _tail(os.path.join(workdir, "stdout"), limits.output_bytes)
    stderr = _tail(os.path.join(workdir, "stderr"), limits.output_bytes)
    shutil.rmtree(workdir, ignore_errors=True)
    if why == "caller_gone":
        raise _CallerGone
    if reply is not None:
        fields = _reply_fields(reply)
        if fields is not None:
            return SandboxResult(**fields, stdout=stdout, stderr=stderr, wall_s=wall_s)
        why = "garbled"
    cpu_s = usage.ru_utime + usage.ru_stime
    status, error = _classify_death(why, wait_status, cpu_s, limits)
    return SandboxResult(status=status, error=error, stdout=stdout, stderr=stderr, wall_s=wall_s)


class _CallerGone(Exception):
    """The caller closed its pipe (or died) while a child was running."""


def _reply_fields(reply: dict[str, Any]) -> dict[str, Any] | None:
    """The child's reply, checked: the code it ran could have written any frame to the pipe."""
    if reply.get("status") not in STATUSES or not set(reply) <= {"status", "value", *_TEXT}:
        return None
    if any(not isinstance(reply.get(key), str | None) for key in _TEXT):
        return None
    return reply


def _classify_death(
    why: str, wait_status: int, cpu_s: float, limits: SandboxLimits
) -> tuple[str, str]:
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
        # As pid 1 of its namespace the child ignores SIGXCPU at the soft limit, and the
        # kernel's SIGKILL at the hard one ends it: tell that apart by the CPU time it used.
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= child.cpu_limit(limits)):
            return TIMEOUT, f"exceeded its CPU-time limit ({cpu_s:.1f} s of CPU)"
        if sig == signal.SIGXFSZ:
            return OUTPUT_LIMIT, f"wrote a file (or its output) over the {limits.file_mb} MB limit"
        return KILLED, f"killed by signal {name}"
    code = os.WEXITSTATUS(wait_status)
    return ERROR, f"the process exited with code {code} without returning a result"


def _reap_orphans() -> None:
    """Kill and reap every process re-parented to this server (daemonised grandchildren)."""
    deadline = time.monotonic() + 5.0
    if os.getpid() == 1:  # a user's server, pid 1 of its own namespace: all else in it goes
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # confined to the namespace; never reaches its pid 1
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    time.sleep(0.01)
            except ChildProcessError:
                return
        return
    me = str(os.getpid())
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


if __name__ == "__main__":
    # argv[1] is the caller's pid, there only to tell whose server a process is (ps, tests).
    # argv[4], where given, is the fd of the control socket that hands over each child's own
    # channel ("-": no channels); argv[5] the server's device pin as JSON (`devices.Pin`).
    channel_arg = sys.argv[4] if len(sys.argv) > 4 else "-"
    serve(
        [name for name in sys.argv[2].split(",") if name],
        frozenset(name for name in sys.argv[3].split(",") if name),
        None if channel_arg == "-" else int(channel_arg),
        Pin.from_dict(json.loads(sys.argv[5])) if len(sys.argv) > 5 else None,
    )
