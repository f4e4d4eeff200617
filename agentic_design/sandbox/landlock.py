"""Landlock for a sandboxed child: what it may read, where it may write, no TCP, no signals out.

A Landlock ruleset only grants: everything its handled rights cover is denied unless a rule
allows it beneath some path. The child gets read-only rights on the interpreter's installation,
this package, system libraries and its task's inputs (`readable_paths`, with hidden paths cut
out), read and write on a few device files (and its pinned GPU's), every right beneath its
working directory, and with newer ABIs no TCP (4) and no signals or abstract Unix sockets
beyond its own processes (6). Talked to through ctypes: the three Landlock system calls.
"""

from __future__ import annotations

import ctypes
import os
import site
import sys
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_NO_NEW_PRIVS = 38

# Landlock: the system call numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2

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
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


def abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or disabled."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, 0, 1)
    return max(int(version), 0)


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


#: The package this sandbox ships in (agentic_design): its children import the task and the
#: evaluation entry from it. Only its location is known here; nothing of it is imported.
PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


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
    if site.ENABLE_USER_SITE and site.getusersitepackages() in sys.path:
        # `pip install --user`: an ordinary user's packages, outside the installation
        prefixes.append(os.path.realpath(site.getusersitepackages()))
    candidates = [
        *prefixes,
        os.path.dirname(os.path.realpath(sys.executable)),
        PACKAGE_DIR,  # the package, wherever it is installed from
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
        _check(-1, "landlock_create_ruleset")
    try:
        for path in readable:
            _allow(ruleset, path, _FS_READ)
        for device in (*DEVICES, *devices):
            # CUDA drives its device nodes by ioctl (a right since ABI 5); harmless on the rest.
            _allow(ruleset, device, _FS_READ_FILE | _FS_WRITE_FILE | (handled & _FS_IOCTL_DEV))
        _allow(ruleset, workdir, handled)
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
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


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what} failed: {os.strerror(err)} (errno {err})")
