"""What a sandboxed child does once the server forked it: confine itself (cgroups, namespaces,
a private /tmp and /proc, resource limits, a scrubbed environment, Landlock, no capabilities,
the socket filter), call `entry(**args)`, and send its one JSON reply frame over fd 3. A design's
exception becomes a reply with its status and a traceback trimmed of this package's frames.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import resource
import signal
import sys
import tempfile
import traceback
import types
from collections.abc import Iterator
from typing import Any

from agentic_design.sandbox import cgroups, confinement, landlock, seccomp
from agentic_design.sandbox.confinement import ConfinementError, Plan
from agentic_design.sandbox.framing import encode, write_frame
from agentic_design.sandbox.pool import (
    ERROR,
    INVALID,
    MEMORY,
    OK,
    OUTPUT_LIMIT,
    STATUSES,
    SandboxLimits,
)

_RESULT_FD = 3
_CHANNEL_FD = 4  # agentic_design.agents.channel.CHANNEL_FD: the broker, for sandbox=channel
_CHILD_PID = [0]  # the child's own pid, set first thing after fork
# Kept in the child's scrubbed environment: CUDA reads them when the child first uses it, and
# the server's were set by its caller to pin it to one GPU (or to none, with an empty list).
_CUDA_ENVIRONMENT = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "CUBLAS_WORKSPACE_CONFIG")


def run_child(
    request: dict[str, Any],
    limits: SandboxLimits,
    plan: Plan,
    workdir: str,
    result_fd: int,
    out: int,
    err: int,
    channel: int | None,
    nproc: int | None,
) -> None:
    """Confine this freshly forked process, run the entry point, send one reply frame."""
    _CHILD_PID[0] = os.getpid()
    os.setsid()
    confinement.die_with_parent()
    if channel is not None:  # out of the way of the fds set below, then to its own number
        channel = fcntl.fcntl(channel, fcntl.F_DUPFD, 64)
    os.dup2(result_fd, _RESULT_FD)
    if channel is not None:
        os.dup2(channel, _CHANNEL_FD)
    os.dup2(out, 1)
    os.dup2(err, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.closerange((_RESULT_FD if channel is None else _CHANNEL_FD) + 1, 1 << 16)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    try:
        for cgroup in dict.fromkeys(c for c in (plan.cgroup, plan.memory_cgroup) if c):
            cgroups.join(cgroup)
        confinement.unshare(plan)
        if plan.session_keyring:  # before the seccomp filter, which refuses keyctl
            confinement.join_session_keyring()
        if plan.mount_namespace:
            # From here on the child sees its own /tmp; what it prints still goes to the files
            # the server opened in the host's /tmp.
            keep = tuple(landlock.readable_roots(limits.readable))
            workdir = confinement.mount_private_tmp(limits.disk_mb, workdir, keep)
            if plan.own_proc:
                confinement.mount_proc()
        _apply_limits(limits, nproc)
        os.chdir(workdir)
        _scrub_environment(workdir)
        if plan.landlock_abi:
            readable = landlock.readable_paths(limits.readable, limits.hidden)
            landlock.restrict_filesystem(plan.landlock_abi, workdir, readable, plan.devices)
        if plan.drop_capabilities:
            confinement.drop_capabilities()
        if plan.socket_filter:  # last: nothing above may need a socket, and the channel is open
            seccomp.install(deny_sysv_ipc=not plan.ipc_namespace)
    except (ConfinementError, OSError) as exc:
        _send(
            {
                "status": ERROR,
                "error": f"the sandbox could not be set up: {exc}",
                "error_type": type(exc).__name__,
            }
        )
    _set_threads(limits)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives until exit
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    reply = _call(request)
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    _send(reply)


def _send(reply: dict[str, Any]) -> None:
    """Send the one reply frame and exit. Only the child itself answers: a process the design
    forked that returns through here just exits."""
    if os.getpid() != _CHILD_PID[0]:
        os._exit(0)
    try:
        frame = encode(reply)
    except (TypeError, ValueError) as exc:  # not JSON data, or NaN / infinity in it
        failure = _failure(ERROR, exc, None)
        failure["error"] = f"the result is not JSON data: {failure['error']}"
        frame = encode(failure)
    with contextlib.suppress(OSError):
        write_frame(_RESULT_FD, frame)
    os._exit(0)


def cpu_limit(limits: SandboxLimits) -> int:
    """CPU seconds: by default the wall limit times the thread count, plus slack."""
    return int(limits.cpu_s or limits.wall_s * max(1, limits.threads) + 5) + 1


def _apply_limits(limits: SandboxLimits, nproc: int | None) -> None:
    cpu = cpu_limit(limits)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    settings = [
        (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if nproc is not None:  # the process cap where there is no pids cgroup (not root)
        settings.append((resource.RLIMIT_NPROC, nproc))
    # Not with CUDA (gpu_memory_fraction set): it reserves far more address space than it uses;
    # the memory cgroup still bounds host memory, torch's allocator the GPU's.
    if limits.memory_mb is not None and limits.gpu_memory_fraction is None:
        settings.append((resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024))
    for which, value in settings:
        resource.setrlimit(which, (value, value))


def _scrub_environment(workdir: str) -> None:
    # The server's environment is already free of secrets; the child keeps even less.
    cuda = {k: os.environ[k] for k in _CUDA_ENVIRONMENT if k in os.environ}
    os.environ.clear()
    os.environ.update(
        {"HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **cuda}
    )
    # tempfile settled its folder in the server, before the fork (the host's /tmp, which the
    # child may not write): let it look again, so that it finds TMPDIR.
    tempfile.tempdir = None


def _set_threads(limits: SandboxLimits) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        return
    torch.set_num_threads(limits.threads)
    if limits.gpu_memory_fraction is not None and torch.cuda.is_available():
        # RLIMIT_AS cannot bound GPU memory (and must be off with CUDA): torch's allocator can.
        torch.cuda.set_per_process_memory_fraction(limits.gpu_memory_fraction)


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
    except OSError as exc:
        # EFBIG: a file (stdout and stderr included) reached the file-size limit.
        status = OUTPUT_LIMIT if exc.errno == errno.EFBIG else ERROR
        return _failure(status, exc, None)
    except RecursionError as exc:
        return _failure(ERROR, exc, "maximum recursion depth exceeded")
    except BaseException as exc:  # the design's own failure, whatever it is, is the result
        status = getattr(type(exc), "sandbox_status", ERROR)
        return _failure(status if status in STATUSES else ERROR, exc, None)
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


# The package this sandbox ships in (agentic_design: the evaluation entry, the tasks), as its
# modules' code objects name it.
_FRAMEWORK = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
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
