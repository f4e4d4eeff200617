"""The seccomp socket filter, installed in a forked process of the test: only Unix sockets can
be made there, sockets made before it still work, no keyring call gets through, and what it
starts inherits it."""

from __future__ import annotations

import ast
import ctypes
import errno
import os
import platform
import socket
import threading

import pytest

from agentic_design.sandbox import seccomp

pytestmark = pytest.mark.skipif(seccomp.supported() is not None, reason=str(seccomp.supported()))


def in_filtered_child(probe, deny_sysv_ipc: bool = False) -> object:
    """Run `probe()` in a forked child with the filter installed; return what it returned."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            seccomp.install(deny_sysv_ipc)
            result = repr(probe())
        except BaseException as exc:  # reported to the parent, whatever it is
            result = repr(("raised", type(exc).__name__, str(exc)))
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return ast.literal_eval(text)  # the child's repr of plain data


def errno_of(make) -> int | str:
    try:
        made = make()
    except OSError as exc:
        return exc.errno
    made.close()
    return "made"


def test_only_unix_sockets_can_be_made():
    def probe():
        return {
            family.name: errno_of(lambda f=family, t=kind: socket.socket(f, t))
            for family, kind in (
                (socket.AF_INET, socket.SOCK_STREAM),
                (socket.AF_INET, socket.SOCK_DGRAM),
                (socket.AF_INET6, socket.SOCK_DGRAM),
                (socket.AF_PACKET, socket.SOCK_RAW),
                (socket.AF_NETLINK, socket.SOCK_RAW),
                (socket.AF_UNIX, socket.SOCK_STREAM),
            )
        }

    assert in_filtered_child(probe) == {
        "AF_INET": errno.EACCES,
        "AF_INET6": errno.EACCES,
        "AF_PACKET": errno.EACCES,
        "AF_NETLINK": errno.EACCES,
        "AF_UNIX": "made",
    }


def test_a_udp_datagram_never_leaves_and_an_open_channel_still_works():
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    near, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

    def probe():
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"secret", ("127.0.0.1", port))
            sent = "sent"
        except PermissionError:
            sent = "refused"
        far.send(b"over the channel")
        return sent

    try:
        assert in_filtered_child(probe) == "refused"
        assert near.recv(100) == b"over the channel"
        with pytest.raises(TimeoutError):
            listener.recvfrom(100)
    finally:
        listener.close()
        near.close()
        far.close()


def test_processes_it_starts_are_filtered_too_and_io_uring_is_refused():
    def probe():
        pid = os.fork()
        if pid == 0:
            os._exit(7 if errno_of(socket.socket) == errno.EACCES else 1)
        grandchild = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)
        number = seccomp.ARCHES[platform.machine()].io_uring_setup
        result = libc.syscall(number, 4, params)
        return grandchild, result, ctypes.get_errno()

    assert in_filtered_child(probe) == (7, -1, errno.EACCES)


def test_the_search_process_itself_is_never_filtered():
    # the filters above lived in forked children only
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()


def test_no_user_namespace_can_be_made_yet_threads_and_processes_still_start():
    def probe():
        libc = ctypes.CDLL(None, use_errno=True)
        refused = (libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER
        done = []
        worker = threading.Thread(target=lambda: done.append(True))  # clone3, then clone
        worker.start()
        worker.join()
        pid = os.fork()
        if pid == 0:
            os._exit(5)
        return refused, done, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    assert in_filtered_child(probe) == ((-1, errno.EACCES), [True], 5)


def test_the_keyring_calls_are_refused_whatever_keyring_they_name():
    arch = seccomp.ARCHES[platform.machine()]
    key_spec_session, key_spec_user, keyctl_get_keyring_id = -3, -4, 0

    def probe():
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        calls = {
            "keyctl": (arch.keyctl, keyctl_get_keyring_id, key_spec_session, 0),
            "add_key": (arch.add_key, b"user", b"planted", b"x", 1, key_spec_user),
            "request_key": (arch.request_key, b"user", b"anything", None, 0),
        }
        refused = {}
        for name, (number, *args) in calls.items():
            wrapped = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
            refused[name] = (libc.syscall(ctypes.c_long(number), *wrapped), ctypes.get_errno())
        return refused

    denied = (-1, errno.EACCES)
    assert in_filtered_child(probe) == {"keyctl": denied, "add_key": denied, "request_key": denied}


def test_system_v_ipc_is_refused_only_where_the_child_shares_the_hosts():
    ipc_private, ipc_creat = 0, 0o1000

    def probe():
        libc = ctypes.CDLL(None, use_errno=True)
        made = {}
        for name in ("shmget", "msgget", "semget"):
            size = 4096 if name == "shmget" else 1
            ident = getattr(libc, name)(ipc_private, size, ipc_creat | 0o600)
            made[name] = (ident >= 0, ctypes.get_errno() if ident < 0 else 0)
            if ident >= 0:  # a private object of this test: removed at once (IPC_RMID, 0)
                control = getattr(libc, name.replace("get", "ctl"))
                control(ident, 0, 0) if name == "semget" else control(ident, 0, None)
        return made

    refused = (False, errno.EACCES)
    assert in_filtered_child(probe, deny_sysv_ipc=True) == dict.fromkeys(
        ("shmget", "msgget", "semget"), refused
    )
    assert all(ok for ok, _ in in_filtered_child(probe).values())  # an IPC namespace's own
