"""A seccomp filter that keeps an evaluation off the network, namespace or not, and out of the
kernel's keyrings.

Installed in each sandboxed child before the design runs, it lets `socket(2)` create Unix
sockets only: any other family (IPv4, IPv6, raw packets, netlink...) fails with EACCES, so a
design can neither connect nor send a datagram anywhere, whether or not the child could get a
network namespace (an unprivileged user often cannot). Sockets opened before the filter — the
agents' broker channel — keep working. It also refuses `io_uring_setup` (io_uring can create
sockets without calling socket(2)), a new user namespace (in one, a design that runs as root
would get back the capabilities the sandbox dropped), the x32 ABI's system calls, and every
call made through another architecture's ABI (on x86-64, the i386 `socketcall` by `int 0x80`).

And it refuses `keyctl`, `add_key` and `request_key` with EACCES: no namespace separates the
keyrings of a uid (its user keyring is every one of its processes'), so without the filter a
design could read the keys of the user that runs the search, and plant keys that outlive it.
(The child also joins an empty session keyring of its own before the filter is installed, so
that what the kernel looks up on its behalf is not searched for in the server's.) Where the
child has no IPC namespace of its own (an ordinary user without a user namespace), it refuses
the System V IPC calls as well, so that the host's shared memory, queues and semaphores are
neither read nor left holding what a design made.

It is a classic BPF program handed to the kernel with `prctl`, written here rather than
through libseccomp because it is a dozen instructions and needs no native library. Once
installed it cannot be removed, by the child or anything it starts.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket
import struct
from dataclasses import dataclass

# prctl(2) and seccomp(2)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# BPF instruction classes and modes (linux/bpf_common.h)
BPF_LD, BPF_W, BPF_ABS = 0x00, 0x00, 0x20
BPF_ALU, BPF_AND = 0x04, 0x50
BPF_JMP, BPF_JEQ, BPF_JGE, BPF_K = 0x05, 0x10, 0x30, 0x00
BPF_RET = 0x06

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16  # args[0]'s low half (little-endian)

X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True)
class Arch:
    """What the filter needs to know of one architecture's system call ABI."""

    audit: int  # AUDIT_ARCH_* as seccomp_data.arch reports it
    socket: int
    io_uring_setup: int
    unshare: int
    clone: int
    clone3: int
    add_key: int
    request_key: int
    keyctl: int
    sysv_ipc: tuple[int, ...]  # shm*, msg*, sem*: refused where the child shares the host's
    x32: bool  # whether numbers with X32_SYSCALL_BIT set reach the x32 ABI


# The numbers: asm/unistd_64.h (x86-64), asm-generic/unistd.h (aarch64).
ARCHES = {
    "x86_64": Arch(0xC000003E, socket=41, io_uring_setup=425, unshare=272, clone=56,
                   clone3=435, add_key=248, request_key=249, keyctl=250,
                   sysv_ipc=(29, 30, 31, 64, 65, 66, 67, 68, 69, 70, 71, 220), x32=True),
    "aarch64": Arch(0xC00000B7, socket=198, io_uring_setup=425, unshare=97, clone=220,
                    clone3=435, add_key=217, request_key=218, keyctl=219,
                    sysv_ipc=tuple(range(186, 198)), x32=False),
}  # fmt: skip


class SeccompError(OSError):
    """The filter could not be installed."""


def supported() -> str | None:
    """None when this machine can take the filter, else why not."""
    if platform.system() != "Linux":
        return "seccomp is Linux's"
    if platform.machine() not in ARCHES:
        return f"no socket filter written for {platform.machine()}"
    try:
        with open("/proc/self/status") as f:
            if not any(line.startswith("Seccomp:") for line in f):
                return "the kernel was built without seccomp"
    except OSError:
        return "cannot read /proc/self/status"
    return None


def _instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def socket_filter(arch: Arch, deny_sysv_ipc: bool = False) -> list[bytes]:
    """The BPF program: allow everything but a non-Unix socket(2), io_uring_setup, the three
    keyring calls, a new user namespace (unshare or clone with CLONE_NEWUSER; clone3, whose
    flags a filter cannot read, answers ENOSYS and the C library falls back to clone), x32
    calls and other ABIs, which all fail with an errno. With `deny_sysv_ipc` (a child without
    an IPC namespace of its own) the System V IPC calls are refused too."""
    deny = SECCOMP_RET_ERRNO | errno.EACCES
    no_such_call = SECCOMP_RET_ERRNO | errno.ENOSYS
    load, jeq, jge = BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K
    ret, bits = BPF_RET | BPF_K, BPF_ALU | BPF_AND | BPF_K
    # (code, k, label taken, label not taken): jumps are resolved to the relative offsets BPF
    # wants once every label's place is known.
    program: list[tuple[int, int, str | None, str | None] | str] = [
        (load, OFFSET_ARCH, None, None),
        (jeq, arch.audit, "native", "no such call"),
        "native",
        (load, OFFSET_NR, None, None),
        # x32 numbers carry a high bit; where there is no x32, no number reaches the bound
        (jge, X32_SYSCALL_BIT if arch.x32 else 0xFFFFFFFF, "deny", None),
        (jeq, arch.io_uring_setup, "deny", None),
        (jeq, arch.add_key, "deny", None),
        (jeq, arch.request_key, "deny", None),
        (jeq, arch.keyctl, "deny", None),
        *[(jeq, number, "deny", None) for number in (arch.sysv_ipc if deny_sysv_ipc else ())],
        (jeq, arch.clone3, "no such call", None),
        (jeq, arch.unshare, "flags", None),
        (jeq, arch.clone, "flags", None),
        (jeq, arch.socket, "family", "allow"),
        "family",
        (load, OFFSET_ARG0, None, None),
        (jeq, socket.AF_UNIX, "allow", "deny"),
        "flags",  # unshare's and clone's first argument
        (load, OFFSET_ARG0, None, None),
        (bits, CLONE_NEWUSER, None, None),
        (jeq, 0, "allow", "deny"),
        "allow",
        (ret, SECCOMP_RET_ALLOW, None, None),
        "deny",
        (ret, deny, None, None),
        "no such call",
        (ret, no_such_call, None, None),
    ]
    places: dict[str, int] = {}
    for item in program:
        if isinstance(item, str):
            places[item] = sum(1 for i in program[: program.index(item)] if not isinstance(i, str))
    code: list[bytes] = []
    for item in program:
        if isinstance(item, str):
            continue
        op, k, taken, not_taken = item
        here = len(code)
        jt = places[taken] - here - 1 if taken else 0
        jf = places[not_taken] - here - 1 if not_taken else 0
        code.append(_instruction(op, k, jt, jf))
    return code


def install(deny_sysv_ipc: bool = False) -> None:
    """Install the filter in this process (and so in all it starts). SeccompError if the
    kernel refuses it; never call it in the search process."""
    why_not = supported()
    if why_not:
        raise SeccompError(why_not)
    program = b"".join(socket_filter(ARCHES[platform.machine()], deny_sysv_ipc))
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(program, len(program))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buffer))
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SeccompError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_buffer, 0, 0) != 0:
        code = ctypes.get_errno()
        raise SeccompError(code, f"installing the seccomp filter failed: {errno.errorcode[code]}")
