"""What a sandbox server can confine its children with on this machine, found out once
(`probe`) by trying each protection in a throw-away child, so that the server itself stays
unchanged; the answer is the `Plan` it applies to every child, and the report `agentic-design
sandbox-info` prints. What the kernel or the privileges at hand do not allow is reported,
never silently skipped: `Protection.enabled` is False with the reason in `detail`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agentic_design.sandbox import cgroups, landlock, userns
from agentic_design.sandbox.confinement import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    HIDDEN_RUNTIME,
    HOSTNAME,
    ConfinementError,
    Plan,
    Protection,
    _check,
    _libc,
    join_session_keyring,
    make_mounts_private,
    mount_private_tmp,
    mount_proc,
    name_host,
    next_child_in_new_pid_namespace,
)


def _in_child(check: Any) -> tuple[bool, str]:
    """Run `check()` in a forked child; (True, its text) if it returned, (False, why) if not."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            message, ok = str(check()), b"1"
        except Exception as exc:  # a probe reports any failure as "not available, because"
            message, ok = str(exc), b"0"
        os.write(write_end, ok + message.encode()[:2000])
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return data[:1] == b"1", data[1:].decode(errors="replace") or "the probe died"


def _probe_unshare(flag: int) -> str:
    _check(_libc.unshare(flag), "unshare")
    return "available"


def _probe_uts_namespace() -> str:
    _check(_libc.unshare(CLONE_NEWUTS), "unshare")
    name_host(HOSTNAME)
    return "available"


def _probe_session_keyring() -> str:
    join_session_keyring()
    return "available"


def _probe_socket_filter() -> str:
    from agentic_design.sandbox import seccomp

    seccomp.install()
    try:
        join_session_keyring()
    except ConfinementError as exc:
        if exc.errno != errno.EACCES:
            raise ConfinementError(f"the filter was installed but keyctl answered: {exc}") from exc
    else:
        raise ConfinementError("the filter was installed but keyctl could still be called")
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
    except PermissionError:
        return "available"
    raise ConfinementError("the filter was installed but a UDP socket could still be made")


def _probe_pid_namespace() -> str:
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    for _ in range(2):  # twice: the second namespace must work after the first one's end
        next_child_in_new_pid_namespace(own)
        pid = os.fork()
        if pid == 0:
            os._exit(0 if os.getpid() == 1 else 1)
        if os.waitpid(pid, 0)[1] != 0:
            raise ConfinementError("the child was not pid 1 of a new namespace")
    return "available"


def _probe_own_proc() -> str:
    """A /proc of a new pid namespace's own, mounted from inside it (a container's /proc with
    paths masked by mounts over them refuses this to a user namespace)."""
    _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    ok, why = _in_child(_mount_own_proc)
    if not ok:
        raise ConfinementError(why)
    return why


def _mount_own_proc() -> str:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    make_mounts_private()
    mount_proc()
    if [entry for entry in os.listdir("/proc") if entry.isdigit()] != ["1"]:
        raise ConfinementError("the new /proc shows other processes")
    return "available"


def _probe_mounts(staging: str) -> str:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount_private_tmp(1, staging)
    return "available"


# The protections a caller may turn off (`Sandbox(disable=...)`), to debug a design or to see
# how the sandbox degrades on a machine that lacks one ("user namespace": where a user's kernel
# forbids them).
OPTIONAL = (
    "user namespace",
    "network namespace",
    "network filter",
    "private filesystem",
    "pid namespace",
    "ipc namespace",
    "uts namespace",
    "landlock",
    "process limit",
    "memory limit",
    "capabilities",
)


def probe(
    cgroup_name: str,
    disabled: frozenset[str] = frozenset(),
    devices: tuple[str, ...] = (),
    gpu: str = "",
) -> Plan:
    """Find out which protections this kernel and these privileges allow (less `disabled`).

    Not only a look: it makes the server's cgroups, and a server that is not root it moves into
    a user namespace of its own (after the cgroups, made as the user, which stay theirs inside;
    before anything starts a thread, as the kernel refuses a process with more than one) and
    makes pid 1 of a pid namespace of its own: there, probe returns in a new process, forked,
    while the one that called it waits outside for it to end (`userns.become_pid_1`).
    `devices` are the GPU device nodes the children may open besides the harmless ones, for
    `gpu` (a label, in the report), the one GPU this server is pinned to."""
    report: list[Protection] = []

    def note(name: str, ok: bool, detail: str) -> bool:
        report.append(Protection(name, ok, detail))
        return ok

    def check(name: str, probe_fn: Any, detail: str, without: str = "") -> bool:
        """Probe `name`: `detail` says what it gives, `without` what its absence costs."""
        if name in disabled:
            return note(name, False, "turned off by the caller")
        ok, why = _with_detail(_in_child(probe_fn), detail)
        return note(name, ok, why if ok or not without else f"{why}: {without}")

    root = os.geteuid() == 0
    made = cgroups.make(
        cgroup_name, pids="process limit" not in disabled, memory="memory limit" not in disabled
    )
    usern = False
    if "user namespace" in disabled:
        note("user namespace", False, "turned off by the caller")
    elif not root:
        usern = note("user namespace", *_enter_user_namespace())
    netns = check(
        "network namespace",
        lambda: _probe_unshare(CLONE_NEWNET),
        "no network: a fresh namespace with no interfaces up",
    )
    socket_filter = check(
        "network filter",
        _probe_socket_filter,
        "seccomp: no socket of any family but Unix (no TCP, UDP, ICMP, raw or netlink), "
        "io_uring refused; holds with or without a network namespace (and refuses the kernel "
        "keyring calls: see kernel keyrings)",
    )
    staging = tempfile.mkdtemp(prefix="agentic-design-probe-")
    mountns = check(
        "private filesystem",
        lambda: _probe_mounts(staging),
        "a mount namespace: a size-capped tmpfs as /tmp and working directory; "
        + ", ".join(HIDDEN_RUNTIME)
        + " hidden (no Unix sockets of the host)",
    )
    os.rmdir(staging)  # from out here: inside the probe it was hidden by the new /tmp
    pidns = check(
        "pid namespace",
        _probe_pid_namespace,
        "the design runs as pid 1 of its own namespace: every process it starts dies "
        "with it, and no other process is visible",
    )
    ipcns = check(
        "ipc namespace",
        lambda: _probe_unshare(CLONE_NEWIPC),
        "System V shared memory, message queues and semaphores of its own: the host's are out "
        "of sight, and what it makes is gone when it ends",
        without="the design shares the host's System V IPC namespace (shared memory, message "
        "queues, semaphores): the network filter, where in force, refuses its System V calls "
        "instead (it still sees the host's objects listed in /proc/sysvipc)",
    )
    utsns = check(
        "uts namespace",
        _probe_uts_namespace,
        f"a hostname of its own ({HOSTNAME!r}): it does not learn the host's name, and cannot "
        "change it",
        without="the design sees the host's name (and cannot change it without capabilities)",
    )
    keyring = _note_keyrings(note, socket_filter, _in_child(_probe_session_keyring))
    own_proc, why = (
        _in_child(_probe_own_proc) if mountns and pidns else (False, "no mount namespace")
    )
    if pidns and not own_proc:
        _replace(
            report,
            "pid namespace",
            "the design runs as pid 1 of its own namespace: every process it starts dies with "
            f"it; but it sees the host's /proc, where other processes are visible ({why})",
        )
    if usern and not (netns or mountns or pidns):
        # AppArmor's restriction lets the namespace be made, but with no privileges in it.
        reason = userns.forbidden_by(userns.read_settings())
        _replace(
            report,
            "user namespace",
            "entered, but no namespace could be made from it" + (f": {reason}" if reason else ""),
            enabled=False,
        )
    abi = 0 if "landlock" in disabled else landlock.abi()
    if "landlock" in disabled:
        note("landlock", False, "turned off by the caller")
    elif abi:
        parts = ["filesystem: read-only interpreter and libraries, writes only in its directory"]
        if abi >= 4:
            parts.append("TCP bind and connect denied")
        if abi >= 6:
            parts.append("no signals or abstract sockets beyond its own processes")
        note("landlock", True, f"ABI {abi}; " + "; ".join(parts))
    else:
        note("landlock", False, "the kernel has no Landlock (or it is disabled)")
    process_rlimit = _note_process_limit(note, made, disabled, root, usern)
    _note_memory_limit(note, made, disabled)
    drop = "capabilities" not in disabled and (root or usern)
    if "capabilities" in disabled:
        note("capabilities", False, "turned off by the caller")
    elif root:
        note(
            "capabilities",
            True,
            "all capabilities dropped (bounding set too): root in the sandbox cannot raise its "
            "limits, mount, trace or load modules",
        )
    elif usern:
        note(
            "capabilities",
            True,
            "root only inside its user namespace, and even there all capabilities are dropped "
            "(bounding set too) before the design runs",
        )
    else:
        note("capabilities", True, f"runs unprivileged as uid {os.getuid()}: none to drop")
    if root:
        note(
            "uid drop",
            False,
            "not used: capabilities are dropped and Landlock confines files instead"
            + (
                ""
                if world_readable(Path(sys.base_prefix))
                else f"; the interpreter under {sys.base_prefix} is not readable by other users"
            ),
        )
    else:
        note("uid drop", True, "not needed: the server runs as an ordinary user, not root")
    note("resource limits", True, "address space, CPU seconds, file size, open files")
    let_through = ", ".join((*landlock.DEVICES, *devices))
    pinned = f"; GPU {gpu}, pinned by CUDA_VISIBLE_DEVICES" if gpu else "; no GPU let through"
    if abi:
        note("device files", True, f"only {let_through}{pinned}")
    else:
        note(
            "device files",
            False,
            "without Landlock every device file the user may open is reachable"
            + (f"; GPU {gpu}, pinned by CUDA_VISIBLE_DEVICES only" if gpu else ""),
        )
    return Plan(
        user_namespace=usern,
        network_namespace=netns,
        mount_namespace=mountns,
        pid_namespace=pidns,
        ipc_namespace=ipcns,
        uts_namespace=utsns,
        session_keyring=keyring,
        own_proc=own_proc,
        landlock_abi=abi,
        cgroup=made.pids,
        memory_cgroup=made.memory,
        process_rlimit=process_rlimit,
        drop_capabilities=drop,
        socket_filter=socket_filter,
        devices=devices,
        report=tuple(report),
    )


def _replace(report: list[Protection], name: str, detail: str, enabled: bool = True) -> None:
    """Say more (or less) of a protection already in the report."""
    index = next(i for i, p in enumerate(report) if p.name == name)
    report[index] = Protection(name, enabled, detail)


def _note_keyrings(note: Any, socket_filter: bool, session: tuple[bool, str]) -> bool:
    """Report what keeps the design from the kernel's keyrings; return whether a session
    keyring of the child's own can be joined."""
    joined, why = session
    own = (
        "an empty session keyring of its own"
        if joined
        else f"no session keyring of its own ({why}): the kernel's own key look-ups search the "
        "server's"
    )
    if socket_filter:
        note(
            "kernel keyrings",
            True,
            f"keyctl, add_key and request_key refused (seccomp): no key of the user's can be "
            f"read, none planted; {own}",
        )
    else:
        note(
            "kernel keyrings",
            False,
            "without the seccomp filter keyctl, add_key and request_key are allowed: a design "
            f"can read the user's keys and plant its own, which outlive it; {own}",
        )
    return joined


def _enter_user_namespace() -> tuple[bool, str]:
    """Move the server into a user namespace of its own: (True, how) or (False, why not)."""
    uid = os.getuid()
    try:
        nested_refused = userns.enter()
    except OSError as exc:
        reason = userns.forbidden_by(userns.read_settings())
        return False, (f"{reason} ({exc.strerror})" if reason else str(exc.strerror or exc))
    parts = [
        f"the server's own, uid {uid} root inside it: from there the network, mount and pid "
        "namespaces a user may not make otherwise"
    ]
    try:
        userns.become_pid_1()
    except OSError as exc:  # the probes that follow say what that costs
        parts.append(f"but the server could not become pid 1 of a pid namespace ({exc.strerror})")
    else:
        parts.append("the server pid 1 of a pid namespace of its own")
    if nested_refused:
        parts.append("no user namespace can be made within")
    parts.append("RLIMIT_NPROC counts this server's processes alone")
    return True, "; ".join(parts)


def _note_process_limit(
    note: Any, made: cgroups.Cgroups, disabled: frozenset[str], root: bool, usern: bool
) -> str | None:
    """Report how processes are capped; return what RLIMIT_NPROC counts where it caps them."""
    if "process limit" in disabled:
        note("process limit", False, "turned off by the caller")
        return None
    if made.pids:
        note(
            "process limit",
            True,
            f"pids cgroup {made.pids} (cgroup v{made.version}): processes and threads capped",
        )
        return None
    if root:
        note(
            "process limit",
            False,
            f"no pids cgroup ({made.pids_why_not}); RLIMIT_NPROC does not bind root, so a fork "
            "bomb is stopped only by the wall-clock limit",
        )
        return None
    if usern:
        note(
            "process limit",
            True,
            "RLIMIT_NPROC, which in this server's own user namespace counts its processes and "
            "threads alone: set to them plus the call's max_processes "
            f"(no pids cgroup: {made.pids_why_not})",
        )
        return "user namespace"
    note(
        "process limit",
        True,
        f"RLIMIT_NPROC, which counts every process and thread of uid {os.getuid()}: set at each "
        "call to their number then plus its max_processes, so the user's other programs "
        f"draw on the same allowance (no pids cgroup: {made.pids_why_not})",
    )
    return "uid"


def _note_memory_limit(note: Any, made: cgroups.Cgroups, disabled: frozenset[str]) -> None:
    if "memory limit" in disabled:
        note("memory limit", False, "turned off by the caller")
    elif made.memory:
        note(
            "memory limit",
            True,
            f"memory cgroup {made.memory} (cgroup v{made.version}): the evaluation's processes "
            "together, tmpfs and memfd included (and RLIMIT_AS per process)",
        )
    else:
        note(
            "memory limit",
            False,
            f"no memory cgroup ({made.memory_why_not}): only RLIMIT_AS, per process, which "
            "memfd and several processes together can exceed",
        )


def _with_detail(result: tuple[bool, str], detail: str) -> tuple[bool, str]:
    ok, why = result
    return (True, detail) if ok else (False, why)


def world_readable(path: Path) -> bool:
    """Whether every user may read `path` (and reach it: every folder above it)."""
    for part in [path, *path.parents]:
        with contextlib.suppress(OSError):
            if not os.stat(part).st_mode & 0o005:
                return False
    return True


def report_dicts(plan: Plan) -> list[dict[str, Any]]:
    return [asdict(p) for p in plan.report]
