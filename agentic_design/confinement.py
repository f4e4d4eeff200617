"""Kernel-level confinement of a sandboxed child: namespaces, Landlock, cgroups, capabilities.

Each protection is probed once per sandbox server (`probe`) and then applied to every child.
What the kernel or the privileges at hand do not allow is reported, never silently skipped:
`Protection.enabled` is False with the reason in `detail`, and `agentic-design sandbox-info`
prints the whole report.

Everything here talks to Linux through ctypes: unshare(2), mount(2), prctl(2), capset(2) and the
three Landlock system calls.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 4096, 8192, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_PR_SET_CHILD_SUBREAPER = 36

# Landlock: the system call numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2

CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
_CGROUP_PREFIX = "agentic-design-"

# What a sandboxed child may read besides the interpreter, its libraries and its own directory.
_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/proc", "/sys")
_ETC_READABLE = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


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

    network_namespace: bool = False
    mount_namespace: bool = False
    pid_namespace: bool = False
    landlock_abi: int = 0
    cgroup: str | None = None  # the server's own pids cgroup directory
    memory_cgroup: str | None = None  # its children's memory cgroup
    drop_capabilities: bool = False
    socket_filter: bool = False  # seccomp: no socket but AF_UNIX (agentic_design.seccomp)
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


# -- probing: each check runs in a throw-away child, so the server itself stays unchanged ------


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


def _probe_socket_filter() -> str:
    from agentic_design import seccomp

    seccomp.install()
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


def _probe_mounts(staging: str) -> str:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount_private_tmp(1, staging)
    return "available"


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, 0, 1)
    return max(int(version), 0)


# The protections a caller may turn off (`Sandbox(disable=...)`), to debug a design or to see
# how the sandbox degrades on a machine that lacks one.
OPTIONAL = (
    "network namespace",
    "network filter",
    "private filesystem",
    "pid namespace",
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

    `devices` are the GPU device nodes the children may open besides the harmless ones, for
    `gpu` (a label, in the report), the one GPU this server is pinned to."""
    report: list[Protection] = []

    def note(name: str, ok: bool, detail: str) -> bool:
        report.append(Protection(name, ok, detail))
        return ok

    def check(name: str, probe_fn: Any, detail: str) -> bool:
        if name in disabled:
            return note(name, False, "turned off by the caller")
        return note(name, *_with_detail(_in_child(probe_fn), detail))

    netns = check(
        "network namespace",
        lambda: _probe_unshare(CLONE_NEWNET),
        "no network: a fresh namespace with no interfaces up",
    )
    socket_filter = check(
        "network filter",
        _probe_socket_filter,
        "seccomp: no socket of any family but Unix (no TCP, UDP, ICMP, raw or netlink), "
        "io_uring refused; holds with or without a network namespace",
    )
    staging = tempfile.mkdtemp(prefix="agentic-design-probe-")
    mountns = check(
        "private filesystem",
        lambda: _probe_mounts(staging),
        "a mount namespace: a size-capped tmpfs as /tmp and working directory; "
        + ", ".join(_HIDDEN_RUNTIME)
        + " hidden (no Unix sockets of the host)",
    )
    os.rmdir(staging)  # from out here: inside the probe it was hidden by the new /tmp
    pidns = check(
        "pid namespace",
        _probe_pid_namespace,
        "the design runs as pid 1 of its own namespace: every process it starts dies "
        "with it, and no other process is visible",
    )
    abi = 0 if "landlock" in disabled else landlock_abi()
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
    cgroup = None if "process limit" in disabled else make_cgroup(cgroup_name)
    if "process limit" in disabled:
        note("process limit", False, "turned off by the caller")
    elif cgroup is not None:
        note("process limit", True, f"pids cgroup {cgroup}, processes and threads capped")
    else:
        note(
            "process limit",
            False,
            "no writable pids cgroup; RLIMIT_NPROC does not bind root, so a fork bomb is "
            "stopped only by the wall-clock limit",
        )
    memory = None if "memory limit" in disabled else make_memory_cgroup(cgroup_name)
    if "memory limit" in disabled:
        note("memory limit", False, "turned off by the caller")
    elif memory is not None:
        note(
            "memory limit",
            True,
            f"memory cgroup {memory}: the evaluation's processes together, tmpfs and memfd "
            "included (and RLIMIT_AS per process)",
        )
    else:
        note(
            "memory limit",
            False,
            "no writable memory cgroup: only RLIMIT_AS, per process, which memfd and several "
            "processes together can exceed",
        )
    is_root = os.geteuid() == 0
    if "capabilities" in disabled:
        is_root = False
        note("capabilities", False, "turned off by the caller")
    elif is_root:
        note(
            "capabilities",
            True,
            "all capabilities dropped (bounding set too): root in the sandbox cannot raise its "
            "limits, mount, trace or load modules",
        )
    else:
        note("capabilities", True, f"runs unprivileged as uid {os.geteuid()}")
    note(
        "uid drop",
        False,
        "not used: capabilities are dropped and Landlock confines files instead"
        + (
            ""
            if _world_readable(Path(sys.base_prefix))
            else f"; the interpreter under {sys.base_prefix} is not readable by other users"
        ),
    )
    note("resource limits", True, "address space, CPU seconds, file size, open files")
    let_through = ", ".join((*_DEVICES, *devices))
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
        network_namespace=netns,
        mount_namespace=mountns,
        pid_namespace=pidns,
        landlock_abi=abi,
        cgroup=str(cgroup) if cgroup else None,
        memory_cgroup=str(memory) if memory else None,
        drop_capabilities=is_root,
        socket_filter=socket_filter,
        devices=devices,
        report=tuple(report),
    )


def _with_detail(result: tuple[bool, str], detail: str) -> tuple[bool, str]:
    ok, why = result
    return (True, detail) if ok else (False, why)


def _world_readable(path: Path) -> bool:
    for part in [path, *path.parents]:
        with contextlib.suppress(OSError):
            if not os.stat(part).st_mode & 0o005:
                return False
    return True


def report_dicts(plan: Plan) -> list[dict[str, Any]]:
    return [asdict(p) for p in plan.report]


# -- cgroups ---------------------------------------------------------------------------------------


def make_cgroup(name: str) -> Path | None:
    """Create this server's pids cgroup (v1 `pids` hierarchy or v2 with the pids controller)."""
    for root in CGROUP_ROOTS:
        if not (root / "cgroup.procs").exists():
            continue
        if root == Path("/sys/fs/cgroup") and "pids" not in _read(root / "cgroup.controllers"):
            continue
        _remove_stale_cgroups(root)
        path = root / f"{_CGROUP_PREFIX}{name}"
        try:
            path.mkdir(exist_ok=True)
            (path / "pids.max").write_text("max")
        except OSError:
            continue
        return path
    return None


def make_memory_cgroup(name: str) -> Path | None:
    """A memory cgroup for this server's children, beneath the one this process is in (cgroup
    v1's `memory` hierarchy): it bounds an evaluation's processes together, memfd and tmpfs
    pages included, which per-process RLIMIT_AS cannot."""
    own = next(
        (
            line.split(":", 2)[2]
            for line in _read(Path("/proc/self/cgroup")).splitlines()
            if line.split(":")[1:2] == ["memory"]
        ),
        None,
    )
    if own is None:
        return None
    root = Path("/sys/fs/cgroup/memory") / own.strip().lstrip("/")
    if not (root / "memory.limit_in_bytes").exists():
        return None
    _remove_stale_cgroups(root)
    path = root / f"{_CGROUP_PREFIX}{name}"
    try:
        path.mkdir(exist_ok=True)
    except OSError:
        return None
    return path


def set_memory_limit(path: str, megabytes: int | None) -> None:
    """Cap the cgroup (None: no cap); the child joining it next starts from a clean count."""
    try:
        limit = "-1" if megabytes is None else str(megabytes * 1024 * 1024)
        Path(path, "memory.limit_in_bytes").write_text(limit)
    except OSError as exc:
        raise ConfinementError(f"setting the memory limit in {path} failed: {exc}") from None


def oom_kills(path: str) -> int:
    """How many processes the kernel's OOM killer has killed in this cgroup so far."""
    for line in _read(Path(path, "memory.oom_control")).splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def join_cgroup(path: str) -> None:
    """Move this process (a freshly forked child) into a cgroup."""
    try:
        Path(path, "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        raise ConfinementError(f"joining the cgroup {path} failed: {exc}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _remove_stale_cgroups(root: Path) -> None:
    """Remove the empty cgroups of servers that died without cleaning up."""
    for path in root.glob(f"{_CGROUP_PREFIX}*"):
        owner = path.name.removeprefix(_CGROUP_PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                path.rmdir()


def remove_cgroup(path: str | None) -> None:
    """Leave the cgroup (back to its parent) if in it, and remove it; a server calls this on
    exit."""
    if path:
        with contextlib.suppress(OSError):
            if str(os.getpid()) in _read(Path(path, "cgroup.procs")).split():
                Path(path).parent.joinpath("cgroup.procs").write_text(str(os.getpid()))
            Path(path).rmdir()


def enter_cgroup(path: str) -> None:
    """Move this process (the server) into its cgroup: every child it forks starts there."""
    try:
        Path(path, "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        raise ConfinementError(f"joining the pids cgroup {path} failed: {exc}") from None


def cgroup_processes(path: str) -> int:
    """How many processes and threads the cgroup holds now."""
    return int(_read(Path(path, "pids.current")).strip() or 0)


def limit_processes(path: str, maximum: int) -> None:
    try:
        Path(path, "pids.max").write_text(str(maximum))
    except OSError as exc:
        raise ConfinementError(f"setting pids.max in {path} failed: {exc}") from None


# -- namespaces and mounts ---------------------------------------------------------------------


def unshare(plan: Plan) -> None:
    """The child's own network and mount namespaces (its pid namespace is made before fork)."""
    flags = (CLONE_NEWNET if plan.network_namespace else 0) | (
        CLONE_NEWNS if plan.mount_namespace else 0
    )
    if flags:
        _check(_libc.unshare(flags), "unshare")


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
_HIDDEN_RUNTIME = ("/run", "/var/run", "/var/tmp", "/dev/shm")


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
        _check(
            _libc.mount(None, inside.encode(), None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY, None),
            f"making {real} read-only",
        )
    # The working directory is a folder of its own: Landlock's full rights on it must not reach
    # the read-only roots bound beside it (they keep their hidden paths hidden).
    os.mkdir(os.path.join(staging, "work"), 0o700)
    _check(_libc.mount(staging.encode(), b"/tmp", None, _MS_MOVE, None), "moving the tmpfs to /tmp")
    for path in _HIDDEN_RUNTIME:
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


# -- Landlock ----------------------------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= 1 << 13  # REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def readable_paths(extra: tuple[str, ...] = (), hidden: tuple[str, ...] = ()) -> list[str]:
    """What a child may read: `readable_roots(extra)` less everything beneath `hidden`.

    Landlock only grants, so a hidden path inside a granted folder is cut out by granting that
    folder's other entries one by one instead.
    """
    hide = [os.path.realpath(h) for h in hidden if os.path.exists(h)]
    return _without(readable_roots(extra), hide)


def readable_roots(extra: tuple[str, ...] = ()) -> list[str]:
    """The folders and files a child may read: the interpreter's installation (its libraries
    included), this package, system libraries and `extra`.

    Not the caller's other import roots (its working directory, a script's folder): a data
    cache or a user's files may lie there.
    """
    prefixes = [os.path.realpath(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    candidates = [
        *prefixes,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(Path(__file__).resolve().parent),  # this package, wherever it is installed from
        *(p for p in sys.path if p and _beneath(os.path.realpath(p), prefixes)),
        *_SYSTEM_READABLE,
        *_ETC_READABLE,
        *extra,
    ]
    roots: list[str] = []
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in roots:
            roots.append(real)
    return [r for r in roots if not _beneath(r, [o for o in roots if o != r])]


def _beneath(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _without(roots: list[str], hidden: list[str]) -> list[str]:
    """`roots`, with each hidden path cut out by descending into the folders that hold one."""
    kept: list[str] = []
    for root in roots:
        # Resolved first: a symlink (a venv's lib64 -> lib) would otherwise grant what its
        # target hides.
        real = os.path.realpath(root)
        inside = [h for h in hidden if _beneath(h, [real])]
        if not inside:
            kept.append(real)
        elif real not in inside and os.path.isdir(real):
            children = [os.path.join(real, name) for name in sorted(os.listdir(real))]
            kept.extend(_without(children, inside))
    return list(dict.fromkeys(kept))


def restrict_filesystem(
    abi: int, workdir: str, readable: list[str], devices: tuple[str, ...] = ()
) -> None:
    """Landlock: read-only `readable`, full access beneath `workdir`, read and write on a few
    harmless device files and on `devices` (a pinned GPU's nodes), nothing else; with ABI 4+
    no TCP at all, with ABI 6+ no signals or abstract sockets outside this domain."""
    handled = _fs_rights(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=(_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
        scoped=(_SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL) if abi >= 6 else 0,
    )
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise ConfinementError(_errno_text("landlock_create_ruleset"))
    try:
        for path in readable:
            _allow(ruleset, path, _FS_READ)
        for device in (*_DEVICES, *devices):
            # CUDA drives its device nodes by ioctl (a right since ABI 5); harmless on the rest.
            _allow(ruleset, device, _FS_READ_FILE | _FS_WRITE_FILE | (handled & _FS_IOCTL_DEV))
        _allow(ruleset, workdir, handled)
        _check(prctl(_PR_SET_NO_NEW_PRIVS, 1), "PR_SET_NO_NEW_PRIVS")
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist here needs no rule
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        result = _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        _check(result, f"landlock_add_rule({path})")
    finally:
        os.close(fd)


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
