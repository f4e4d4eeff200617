"""Cgroups for the sandbox: a cap on an evaluation's processes (pids) and on its memory.

Each server makes its own cgroups once (`make`), and every child it forks joins them before
the design runs (`join`), so the caps count an evaluation's processes, and only theirs.

cgroup v1 mounts each controller as a hierarchy of its own (`/sys/fs/cgroup/pids`,
`/sys/fs/cgroup/memory`) whose directories belong to root: only root makes cgroups there (or a
user an administrator handed one to). The pids cgroup is made at the top of its hierarchy, the
memory cgroup beneath the one this process is in.

cgroup v2 has one hierarchy, and two rules decide where a cgroup with limits can be made
(`find_v2_site`): a cgroup has the controllers its parent enables in `cgroup.subtree_control`,
and a cgroup holding processes of its own may enable none for its children (the "no internal
processes" rule; only the root cgroup is exempt). So the server's cgroup is a leaf made beneath
the nearest ancestor of its own cgroup that already enables pids and memory for its children
and that this user may write: for root, usually the slice above it; for an ordinary user, the
subtree systemd's user manager delegates to them (`user@UID.service/app.slice`, which a desktop
terminal or `systemd-run --user --scope` puts a process beneath). A login shell's
`session-N.scope` and what lies above it belong to root: no cgroup for a user there.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "agentic-design-"
V1_PIDS = Path("/sys/fs/cgroup/pids")
V1_MEMORY = Path("/sys/fs/cgroup/memory")
CONTROLLERS = ("pids", "memory")
_DELEGATE_HINT = (
    "start it under systemd's user manager, which delegates a subtree: "
    "`systemd-run --user --scope agentic-design ...`"
)


@dataclass(frozen=True)
class Cgroups:
    """The cgroups a server's children join: `pids` caps their processes and threads, `memory`
    their memory (on v2 both are the same leaf). Each is None where it could not be made, with
    the reason in `*_why_not`."""

    version: int = 0  # 1 or 2; 0 where neither hierarchy could be used
    pids: str | None = None
    memory: str | None = None
    pids_why_not: str = ""
    memory_why_not: str = ""

    def joined(self) -> list[str]:
        """The directories a child joins, each once."""
        return list(dict.fromkeys(p for p in (self.pids, self.memory) if p))


@dataclass(frozen=True)
class Site:
    """Where a cgroup v2 leaf can be made: beneath `parent`, with `controllers` (those of
    CONTROLLERS its parent enables); `parent` None, or a controller missing, `why_not` says why."""

    parent: Path | None
    controllers: tuple[str, ...] = ()
    why_not: str = ""


# -- reading /proc -----------------------------------------------------------------------------


def own_cgroups(proc_cgroup: str) -> dict[str, str]:
    """This process's cgroup per controller, from the text of /proc/self/cgroup; the v2
    hierarchy's under "" (its line is "0::/path")."""
    found: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if not controllers and number == "0":
            found[""] = path
        for controller in filter(None, controllers.split(",")):
            found[controller] = path
    return found


def cgroup2_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(the cgroup at the mount's root, where it is mounted) of each cgroup2 mount, from the
    text of /proc/self/mountinfo."""
    mounts = []
    for line in mountinfo.splitlines():
        left, dash, right = line.partition(" - ")
        fields = left.split()
        if dash and right.split()[:1] == ["cgroup2"] and len(fields) >= 5:
            mounts.append((_unescape(fields[3]), _unescape(fields[4])))
    return mounts


def _unescape(field: str) -> str:
    """mountinfo writes a space, tab, newline or backslash in a path as an octal escape."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


# -- cgroup v2: where -------------------------------------------------------------------------


def find_v2_site(proc_cgroup: str, mountinfo: str, uid: int) -> Site:
    """Where user `uid` can make a cgroup v2 leaf with the pids and memory controllers, or why
    nowhere: the nearest cgroup, from this process's own up to the hierarchy's root, that
    enables at least one of them for its children and that `uid` may write.

    (This process's own cgroup qualifies only where it is the root, the one cgroup that may
    hold processes and enable controllers for its children at once; the text of both /proc
    files is given so that any tree can be described, a fake one included.)"""
    own = own_cgroups(proc_cgroup).get("")
    if own is None:
        return Site(None, why_not="this process is in no cgroup v2 (no 0:: line in its cgroups)")
    mounted = [
        (Path(mountpoint, own[len(root) :].lstrip("/")), mountpoint)
        for root, mountpoint in cgroup2_mounts(mountinfo)
        if own == root or own.startswith(root.rstrip("/") + "/")
    ]
    if not mounted:
        return Site(None, why_not=f"its cgroup v2 {own} is not mounted here")
    here, mountpoint = mounted[0]
    refused = ""
    top = Path(mountpoint)
    for candidate in (here, *(p for p in here.parents if p.is_relative_to(top))):
        enabled = _read(candidate / "cgroup.subtree_control").split()
        found = tuple(c for c in CONTROLLERS if c in enabled)
        if found and _may_write(candidate, uid):
            missing = [c for c in CONTROLLERS if c not in found]
            why = f"{candidate} does not enable {' or '.join(missing)} for its children"
            return Site(candidate, found, why if missing else "")
        if found and not refused:
            refused = (
                f"the nearest cgroup that enables {' and '.join(found)} for its children, "
                f"{candidate}, belongs to uid {_owner(candidate)}, not {uid}; {_DELEGATE_HINT}"
            )
    return Site(
        None,
        why_not=refused
        or f"no cgroup from {here} up enables pids or memory for its children "
        "(cgroup.subtree_control); one that holds processes may not (cgroup v2's "
        "no-internal-processes rule)",
    )


def _may_write(cgroup: Path, uid: int) -> bool:
    """Whether `uid` may make a cgroup in `cgroup` and move processes within it: root, or the
    owner of the directory and of its cgroup.procs (what delegating a subtree hands over)."""
    if uid == 0:
        return True
    try:
        return all(os.stat(p).st_uid == uid for p in (cgroup, cgroup / "cgroup.procs"))
    except OSError:
        return False


def _owner(path: Path) -> int | str:
    try:
        return os.stat(path).st_uid
    except OSError:
        return "?"


# -- making them ---------------------------------------------------------------------------------


def make(name: str, pids: bool = True, memory: bool = True) -> Cgroups:
    """Make this server's cgroups (named `agentic-design-<name>`), on v1 where the pids or
    memory controller is mounted there and on v2 otherwise; only those asked for."""
    if not (pids or memory):
        return Cgroups()
    proc_cgroup = _read(Path("/proc/self/cgroup"))
    own = own_cgroups(proc_cgroup)
    which = version(own)
    if which == 1:
        return _make_v1(name, own, pids, memory)
    if which == 2:
        site = find_v2_site(proc_cgroup, _read(Path("/proc/self/mountinfo")), os.geteuid())
        return _make_v2(name, site, pids, memory)
    why = "no cgroup hierarchy is mounted here (/proc/self/cgroup is empty)"
    return Cgroups(pids_why_not=why, memory_why_not=why)


def version(own: dict[str, str]) -> int:
    """Which hierarchy holds the pids and memory controllers (`own_cgroups`' answer): 1 where
    either is mounted as a v1 hierarchy (a hybrid machine's v2 then has neither), else 2 if
    there is a v2 hierarchy, else 0."""
    if "pids" in own or "memory" in own:
        return 1
    return 2 if "" in own else 0


def _make_v1(name: str, own: dict[str, str], pids: bool, memory: bool) -> Cgroups:
    pids_dir = memory_dir = None
    pids_why = memory_why = ""
    if pids:
        pids_dir, pids_why = _make_dir(V1_PIDS, name, "pids.max", "cgroup v1")
    if pids_dir is not None and (pids_why := _try_write(pids_dir / "pids.max", "max")):
        pids_dir = None
    if memory:
        below = own.get("memory", "/").strip().lstrip("/")
        memory_dir, memory_why = _make_dir(
            V1_MEMORY / below, name, "memory.limit_in_bytes", "cgroup v1"
        )
    return Cgroups(1, _text(pids_dir), _text(memory_dir), pids_why, memory_why)


def _make_v2(name: str, site: Site, pids: bool, memory: bool) -> Cgroups:
    wanted = [c for c, asked in zip(CONTROLLERS, (pids, memory), strict=True) if asked]
    usable = [c for c in wanted if c in site.controllers]
    why = {c: f"cgroup v2: {site.why_not}" for c in wanted if c not in usable}
    leaf = None
    if site.parent is not None and usable:
        leaf, failure = _make_dir(site.parent, name, f"{usable[0]}.max", "cgroup v2")
        # Made, but are its limits ours to set?
        if leaf and "pids" in usable and (failure := _try_write(leaf / "pids.max", "max")):
            remove(str(leaf))
            leaf = None
        if leaf is None:
            why.update({c: failure for c in usable})
    return Cgroups(
        2,
        _text(leaf if "pids" in usable else None),
        _text(leaf if "memory" in usable else None),
        why.get("pids", ""),
        why.get("memory", ""),
    )


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _try_write(path: Path, value: str) -> str:
    """Write a cgroup file; "" if it worked, else why not."""
    try:
        path.write_text(value)
    except OSError as exc:
        return f"cannot write {path} ({exc.strerror})"
    return ""


def _make_dir(parent: Path, name: str, control: str, what: str) -> tuple[Path | None, str]:
    """Make `parent`/agentic-design-<name>; (it, "") or (None, why not)."""
    if not (parent / "cgroup.procs").exists():
        return None, f"{what}: {parent} is not mounted here"
    _remove_stale(parent)
    path = parent / f"{PREFIX}{name}"
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        return None, f"{what}: cannot make a cgroup in {parent} ({exc.strerror}); {_who_may(what)}"
    if not (path / control).exists():
        with contextlib.suppress(OSError):
            path.rmdir()
        return None, f"{what}: the cgroup made in {parent} has no {control}"
    return path, ""


def _who_may(what: str) -> str:
    if os.geteuid() == 0:
        return "this root may not write there (a container's read-only cgroups?)"
    if what.startswith("cgroup v1"):
        return "on cgroup v1 only root makes cgroups; a user gets them from cgroup v2's delegation"
    return f"it is not delegated to this user; {_DELEGATE_HINT}"


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups of servers that died without cleaning up."""
    for path in parent.glob(f"{PREFIX}*"):
        owner = path.name.removeprefix(PREFIX).split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                path.rmdir()


def remove(path: str | None) -> None:
    """Remove a server's cgroup on its exit (it is empty by then: its children are gone)."""
    if path:
        with contextlib.suppress(OSError):
            Path(path).rmdir()


# -- using them -------------------------------------------------------------------------------


def join(path: str) -> None:
    """Move this process (a freshly forked child) into a cgroup: all it starts is counted."""
    try:
        Path(path, "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        raise OSError(exc.errno, f"joining the cgroup {path} failed: {exc.strerror}") from None


def limit_processes(path: str, maximum: int) -> None:
    _write(path, "pids.max", str(maximum))


def processes(path: str) -> int:
    """How many processes and threads the cgroup holds now."""
    return int(_read(Path(path, "pids.current")).strip() or 0)


def set_memory_limit(path: str, megabytes: int | None) -> None:
    """Cap the cgroup's memory (None: no cap), on v1 or v2 (told apart by their files)."""
    if Path(path, "memory.max").exists():
        _write(path, "memory.max", "max" if megabytes is None else str(megabytes << 20))
        if Path(path, "memory.swap.max").exists():  # v1's limit holds no swap either
            _write(path, "memory.swap.max", "max" if megabytes is None else "0")
    else:
        limit = "-1" if megabytes is None else str(megabytes << 20)
        _write(path, "memory.limit_in_bytes", limit)


def oom_kills(path: str) -> int:
    """How many processes the kernel's OOM killer has killed in this cgroup so far."""
    events = Path(path, "memory.events")
    text = _read(events if events.exists() else Path(path, "memory.oom_control"))
    for line in text.splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def _write(path: str, control: str, value: str) -> None:
    try:
        Path(path, control).write_text(value)
    except OSError as exc:
        raise OSError(exc.errno, f"setting {control} in {path} failed: {exc.strerror}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""
