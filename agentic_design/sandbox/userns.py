"""The sandbox for a user who is not root: a user namespace of the server's own.

An ordinary user may not make network, mount or pid namespaces, but may make a user namespace,
and in it they are root — over that namespace and those made from it, nothing else. So a
server not started by root enters one first thing (`enter`, its uid mapped to root inside),
then becomes pid 1 of a pid namespace of its own (`become_pid_1`), and confines its children
from there exactly as root's server does: the same namespaces (each child pid 1 of a fresh one,
made before the fork), the same private /tmp, capabilities dropped (inside the namespace, the
only place they were ever held), Landlock and the socket filter on top. Files keep their
owners: the server reads and writes what its user may, its cgroups (made before, as that user)
included.

Once, for the whole server, rather than per child: nothing is paid per evaluation (a child
entering a user namespace of its own would have to fork once more to be pid 1 of a pid
namespace, and a fork of a process that has imported torch costs milliseconds); the probes see
what the children will get; and RLIMIT_NPROC, which counts a user's processes per user
namespace, then counts this server's alone — a process cap as good as a pids cgroup
(`tasks_of` is the count outside one, over all of a user's processes).

Where the kernel or a security module forbids unprivileged user namespaces, `forbidden_by`
names the setting.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import select
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
_PR_SET_PDEATHSIG = 1

# (sysctl, the value that forbids, what it means and how to allow them)
_SETTINGS = (
    (
        "kernel.unprivileged_userns_clone",
        "0",
        "the kernel forbids unprivileged user namespaces (Debian's setting; "
        "`sysctl -w kernel.unprivileged_userns_clone=1` allows them)",
    ),
    (
        "kernel.apparmor_restrict_unprivileged_userns",
        "1",
        "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later; an AppArmor "
        "profile granting `userns,` to this interpreter, or "
        "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, allows them)",
    ),
    (
        "user.max_user_namespaces",
        "0",
        "no user namespace may be made (`sysctl -w user.max_user_namespaces=10000` allows them)",
    ),
)


def read_settings(proc_sys: str = "/proc/sys") -> dict[str, str]:
    """The values of the settings that can forbid user namespaces, where this kernel has them."""
    values = {}
    for name, _, _ in _SETTINGS:
        try:
            values[name] = Path(proc_sys, *name.split(".")).read_text().strip()
        except OSError:
            continue
    return values


def forbidden_by(settings: Mapping[str, str]) -> str | None:
    """Which setting forbids unprivileged user namespaces, said for people; None if none does."""
    for name, forbidding, why in _SETTINGS:
        if settings.get(name) == forbidding:
            return f"{name} = {forbidding}: {why}"
    return None


def enter() -> bool:
    """Move this process (a server, still single-threaded: the kernel refuses otherwise) into
    a new user namespace, its uid and gid mapped to root inside; OSError if it cannot. Whether
    no user namespace can be made within it, as it then asks."""
    uid, gid = os.getuid(), os.getgid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWUSER) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER) failed: {os.strerror(err)} (errno {err})")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/setgroups").write_text("deny")  # an unprivileged gid_map needs this first
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    # A design could otherwise make a user namespace of its own and hold every capability in
    # it again (Landlock and the socket filter would still bind it): allow none inside this one.
    try:
        Path("/proc/sys/user/max_user_namespaces").write_text("0")
    except OSError:
        return False
    return True


def become_pid_1() -> None:
    """Go on as pid 1 of a new pid namespace (in a user namespace, so that it is that one's):
    this process forks, and only the child returns; the parent stays outside, holding nothing,
    to wait for it and then end as it did, for whoever started the server to see.

    Why: root's server makes each child's pid namespace by pointing its children back at its
    own namespace (setns) before asking for a new one, which takes privileges over the
    namespace's owner — for a server in the host's pid namespace, the host's user namespace.
    In a pid namespace owned by its own user namespace, the server has them. And when it dies,
    everything in the namespace dies with it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWPID) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWPID) failed: {os.strerror(err)} (errno {err})")
    alive, watch = os.pipe()  # end-of-file on `alive` when the parent is gone
    pid = os.fork()
    if pid == 0:
        os.close(watch)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([alive], [], [], 0)[0]:  # it died before the line above
            os._exit(1)
        os.close(alive)
        return
    os.closerange(0, watch)
    os.closerange(watch + 1, 1 << 16)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep theirs
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def host_pid() -> int:
    """This process's pid as the rest of the machine sees it (/proc is the host's): where it
    is pid 1 of its own namespace, os.getpid() answers 1."""
    return int(os.readlink("/proc/self"))


def tasks_of(uid: int, proc: str = "/proc") -> int:
    """How many processes and threads run with real uid `uid`: what RLIMIT_NPROC counts for a
    process outside a user namespace of its own."""
    total = 0
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def python_for(uid: int, cwd: str = "/") -> tuple[list[str], dict[str, str]] | str:
    """How user `uid` runs this environment's Python, for a caller that is root (tests and
    benchmarks run as an ordinary user this way): (command, environment to add), or why not.

    This environment's interpreter if `uid` may run it with its packages; else the system's
    of the same version, with this virtual environment's packages as its user site
    (PYTHONUSERBASE), where an interpreter in root's home is not theirs to read."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates: list[tuple[list[str], dict[str, str]]] = [([sys.executable], {})]
    if sys.prefix != sys.base_prefix:
        for system in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
            candidates.append(([system], {"PYTHONUSERBASE": sys.prefix}))
    tried = []
    for command, env in candidates:
        try:
            check = subprocess.run(
                [*command, "-c", "import agentic_design, torch"],
                env={"PATH": "/usr/bin:/bin", "HOME": "/", **env},
                cwd=cwd,
                user=uid,
                group=uid,
                extra_groups=[],
                capture_output=True,
                text=True,
                timeout=300,  # against a hang only
            )
        except OSError as exc:  # not theirs to run at all
            tried.append(f"{command[0]}: {exc.strerror}")
            continue
        if check.returncode == 0:
            return command, env
        tried.append(f"{command[0]}: {(check.stderr.strip().splitlines() or ['?'])[-1]}")
    return f"no Python uid {uid} may run with this environment's packages ({'; '.join(tried)})"
