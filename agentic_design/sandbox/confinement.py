"""Kernel-level confinement of a sandboxed child: namespaces, mounts, capabilities, keyrings.

Each protection is probed once per sandbox server (`probe`, which also says what is in force
and why any is not) and then applied to every child by the functions here, as the `Plan` says.
A server that is not root first enters a user namespace of its own
(`agentic_design.sandbox.userns`); the cgroups are in `agentic_design.sandbox.cgroups`.

Everything here talks to Linux through ctypes: unshare(2), setns(2), mount(2), prctl(2),
capset(2), sethostname(2) and keyctl(2); Landlock is in `agentic_design.sandbox.landlock`, the
seccomp filter (which then refuses keyctl to the design) in `agentic_design.sandbox.seccomp`.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
from dataclasses import dataclass
from pathlib import Path

from agentic_design.sandbox.seccomp import ARCHES

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 4096, 8192, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP = 1, 24
_PR_SET_CHILD_SUBREAPER = 36
_KEYCTL_JOIN_SESSION_KEYRING = 1
# The name a child of its own UTS namespace has: the host's would tell a design where it runs.
HOSTNAME = "sandbox"


class ConfinementError(OSError):
    """A protection that was probed as available could not be applied to a child."""


@dataclass(frozen=True)
class Protection:
    """One protection and whether it is in force, with how or why not."""

    name: str
    enabled: bool
    detail: str


@dataclass(frozen=True)
class Plan:
    """The protections a server applies to each child (from `probe`)."""

    user_namespace: bool = False  # the server is in one of its own (agentic_design.sandbox.userns)
    network_namespace: bool = False
    mount_namespace: bool = False
    pid_namespace: bool = False
    ipc_namespace: bool = False  # System V shared memory, message queues, semaphores of its own
    uts_namespace: bool = False  # a hostname of its own
    session_keyring: bool = False  # an empty session keyring of its own can be joined
    own_proc: bool = False  # a /proc of the child's pid namespace can be mounted
    landlock_abi: int = 0
    cgroup: str | None = None  # the pids cgroup its children join
    memory_cgroup: str | None = None  # the memory cgroup its children join (v2: the same)
    # What RLIMIT_NPROC counts where it caps processes (not root, no pids cgroup): the server's
    # "user namespace", or all of the "uid"'s processes; None where it is not used.
    process_rlimit: str | None = None
    drop_capabilities: bool = False
    socket_filter: bool = False  # seccomp: no socket but AF_UNIX (agentic_design.sandbox.seccomp)
    devices: tuple[str, ...] = ()  # GPU device nodes the child may open (its pinned GPU's)
    report: tuple[Protection, ...] = ()


def _errno_text(what: str) -> str:
    err = ctypes.get_errno()
    return f"{what} failed: {os.strerror(err)} (errno {err})"


def _check(result: int, what: str) -> None:
    if result != 0:
        raise ConfinementError(_errno_text(what))


def prctl(option: int, value: int) -> int:
    return int(_libc.prctl(option, value, 0, 0, 0))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# -- namespaces and mounts ---------------------------------------------------------------------


def unshare(plan: Plan) -> None:
    """The child's own network, mount, IPC and UTS namespaces, the last named `HOSTNAME` (its
    pid namespace is made before fork). What it makes in System V IPC dies with its namespace,
    when its last process ends."""
    flags = (
        (CLONE_NEWNET if plan.network_namespace else 0)
        | (CLONE_NEWNS if plan.mount_namespace else 0)
        | (CLONE_NEWIPC if plan.ipc_namespace else 0)
        | (CLONE_NEWUTS if plan.uts_namespace else 0)
    )
    if flags:
        _check(_libc.unshare(flags), "unshare")
    if plan.uts_namespace:
        name_host(HOSTNAME)


def name_host(name: str) -> None:
    """Set the hostname (in a UTS namespace of this process's own) and clear the domain name."""
    for call, value in ((_libc.sethostname, name.encode()), (_libc.setdomainname, b"(none)")):
        _check(call(value, len(value)), call.__name__)


def join_session_keyring() -> None:
    """Leave the server's session keyring for a new, empty one: keys the kernel looks up on
    this process's behalf are no longer searched for among the server's (the seccomp filter
    then refuses the design the keyring calls themselves)."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        raise ConfinementError(f"no keyctl number known for {platform.machine()}")
    number, join = ctypes.c_long(arch.keyctl), ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING)
    if _libc.syscall(number, join, None, ctypes.c_long(0), ctypes.c_long(0)) < 0:
        failure = ConfinementError(_errno_text("keyctl(KEYCTL_JOIN_SESSION_KEYRING)"))
        failure.errno = ctypes.get_errno()  # the message alone, as the report shows it
        raise failure


def next_child_in_new_pid_namespace(own_namespace: int) -> None:
    """Make the next fork's child pid 1 of a fresh pid namespace.

    unshare(CLONE_NEWPID) only changes the namespace of later children, and a namespace whose
    pid 1 has died takes no new processes; so first point this process's children back at its
    own namespace (`own_namespace`, an fd of /proc/self/ns/pid), then ask for a new one.
    """
    _check(_libc.setns(own_namespace, CLONE_NEWPID), "setns(CLONE_NEWPID)")
    _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")


def make_mounts_private() -> None:
    """Stop mounts made in this namespace from propagating back to the host."""
    _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")


# Where sockets and shared scratch space usually live: hidden behind empty tmpfs mounts, since
# no namespace or Landlock right stops a connect() to a pathname Unix socket.
HIDDEN_RUNTIME = ("/run", "/var/run", "/var/tmp", "/dev/shm")


def mount_private_tmp(size_mb: int, staging: str, keep: tuple[str, ...] = ()) -> str:
    """A fresh, size-capped tmpfs as /tmp (with the child's working directory, /tmp/work), and
    empty ones over the usual socket directories. Returns the working directory.

    `keep` are paths under the host's /tmp the child must still read (an installation or a
    checkout that lives there, a user's task file): bound read-only into the new tmpfs, which
    is built at `staging` and then moved onto /tmp.
    """
    make_mounts_private()
    flags = _MS_NOSUID | _MS_NODEV
    options = f"size={size_mb}m,mode=0700".encode()
    _check(_libc.mount(b"tmpfs", staging.encode(), b"tmpfs", flags, options), "mounting a tmpfs")
    for path in keep:
        real = os.path.realpath(path)
        if not real.startswith("/tmp/") or not os.path.exists(real):
            continue
        inside = os.path.join(staging, os.path.relpath(real, "/tmp"))
        if os.path.isdir(real):
            os.makedirs(inside, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            Path(inside).touch()  # a mount point for the file
        _check(_libc.mount(real.encode(), inside.encode(), None, _MS_BIND, None), f"binding {real}")
        # Flags the host's mount has stay: in a user namespace, dropping one is refused.
        kept = os.statvfs(real).f_flag & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC)
        remount = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | kept  # ST_* and MS_* bits agree here
        _check(_libc.mount(None, inside.encode(), None, remount, None), f"making {real} read-only")
    # The working directory is a folder of its own: Landlock's full rights on it must not reach
    # the read-only roots bound beside it (they keep their hidden paths hidden).
    os.mkdir(os.path.join(staging, "work"), 0o700)
    _check(_libc.mount(staging.encode(), b"/tmp", None, _MS_MOVE, None), "moving the tmpfs to /tmp")
    for path in HIDDEN_RUNTIME:
        if os.path.isdir(path) and not os.path.islink(path):
            _check(
                _libc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, b"size=1m,mode=0755"),
                f"hiding {path}",
            )
    return "/tmp/work"


def mount_proc() -> None:
    """A /proc that shows only this pid namespace's processes."""
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    _check(_libc.mount(b"proc", b"/proc", b"proc", flags, None), "mounting /proc")


def die_with_parent() -> None:
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def become_subreaper() -> None:
    prctl(_PR_SET_CHILD_SUBREAPER, 1)


# -- capabilities ------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Drop every capability, the bounding set first so that no exec can bring them back."""
    last = int(_read(Path("/proc/sys/kernel/cap_last_cap")).strip() or 40)
    for cap in range(last + 1):
        _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    header = _CapHeader(version=0x20080522, pid=0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
