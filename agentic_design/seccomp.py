"""A seccomp filter that keeps an evaluation off the network, namespace or not.

Installed in each sandboxed child before the design runs, it lets `socket(2)` create Unix
sockets only: any other family (IPv4, IPv6, raw packets, netlink...) fails with EACCES, so a
design can neither connect nor send a datagram anywhere, whether or not the child could get a
network namespace (an unprivileged user often cannot). Sockets opened before the filter — the
agents' broker channel — keep working. It also refuses `io_uring_setup` (io_uring can create
sockets without calling socket(2)), the x32 ABI's system calls, and every call made through
another architecture's ABI (on x86-64, the i386 `socketcall` by `int 0x80`).

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
BPF_JMP, BPF_JEQ, BPF_JGE, BPF_K = 0x05, 0x10, 0x30, 0x00
BPF_RET = 0x06

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16  # args[0]'s low half (little-endian)

X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class Arch:
    """What the filter needs to know of one architecture's system call ABI."""

    audit: int  # AUDIT_ARCH_* as seccomp_data.arch reports it
    socket: int
    io_uring_setup: int
    x32: bool  # whether numbers with X32_SYSCALL_BIT set reach the x32 ABI


ARCHES = {
    "x86_64": Arch(audit=0xC000003E, socket=41, io_uring_setup=425, x32=True),
    "aarch64": Arch(audit=0xC00000B7, socket=198, io_uring_setup=425, x32=False),
}


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


def socket_filter(arch: Arch) -> list[bytes]:
    """The BPF program: allow everything but a non-Unix socket(2), io_uring_setup, x32 calls
    and other ABIs, which fail with an errno."""
    deny = SECCOMP_RET_ERRNO | errno.EACCES
    wrong_abi = SECCOMP_RET_ERRNO | errno.ENOSYS
    load, jeq, jge = BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JGE | BPF_K
    ret = BPF_RET | BPF_K
    # Jumps are relative: jt (taken) and jf (not taken) count the instructions to skip.
    return [
        _instruction(load, OFFSET_ARCH),  # 0
        _instruction(jeq, arch.audit, jt=1),  # 1: the native ABI goes on at 3
        _instruction(ret, wrong_abi),  # 2
        _instruction(load, OFFSET_NR),  # 3
        # 4: x32 numbers carry a high bit; where there is no x32, no number reaches the bound
        _instruction(jge, X32_SYSCALL_BIT if arch.x32 else 0xFFFFFFFF, jt=5),  # -> 10
        _instruction(jeq, arch.io_uring_setup, jt=4),  # 5: -> 10
        _instruction(jeq, arch.socket, jt=1),  # 6: -> 8
        _instruction(ret, SECCOMP_RET_ALLOW),  # 7: any other call
        _instruction(load, OFFSET_ARG0),  # 8: socket's family
        _instruction(jeq, socket.AF_UNIX, jt=1),  # 9: -> 11
        _instruction(ret, deny),  # 10
        _instruction(ret, SECCOMP_RET_ALLOW),  # 11: a Unix socket
    ]


def install() -> None:
    """Install the filter in this process (and so in all it starts). SeccompError if the
    kernel refuses it; never call it in the search process."""
    why_not = supported()
    if why_not:
        raise SeccompError(why_not)
    program = b"".join(socket_filter(ARCHES[platform.machine()]))
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
