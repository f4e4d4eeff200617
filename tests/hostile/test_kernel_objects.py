"""Designs that reach for the kernel's shared objects: System V IPC (shared memory, message
queues, semaphores), keyrings and the hostname.

The host (this test process) holds a secret in each: a shared memory segment and a message
queue of mode 0600, and a key in its session keyring, put there before the module's sandbox
starts so that its server inherits the keyring (as a search's server inherits its login
session's). A design must not read them, and what it makes must not outlive it. Where the
sandbox has no IPC namespace (an ordinary user's, without a user namespace), the report must
say so and the network filter must refuse the System V calls; where it has no UTS namespace
(or neither namespace nor filter), the report must say so, and the test then must fail: strict
xfail, the proof that it can.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import secrets
import socket
from pathlib import Path

import pytest

from agentic_design.sandbox import Sandbox

from .conftest import DISABLED

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.syscall.restype = ctypes.c_long

IPC_CREAT, IPC_EXCL, IPC_NOWAIT, IPC_RMID = 0o1000, 0o2000, 0o4000, 0
# add_key, request_key, keyctl (asm/unistd_64.h; asm-generic/unistd.h for aarch64)
KEY_CALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}.get(platform.machine())
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
KEYCTL_SETPERM, KEYCTL_UNLINK, KEYCTL_READ, KEYCTL_INVALIDATE = 5, 9, 11, 21
KEY_POS_ALL = 0x3F000000  # every right to whoever possesses it, none to anyone else

SECRET = b"the-host-secret-" + secrets.token_hex(8).encode()
# System V keys of this run's own: the host's objects, and those the design will make
HOST_KEY, DESIGN_KEY = (0x5EC00000 | secrets.randbelow(1 << 19) << 1 | bit for bit in (0, 1))
KEY_NAME = f"agentic-design-test:{secrets.token_hex(4)}"  # the host's key in its keyring
PLANTED = f"agentic-design-planted:{secrets.token_hex(4)}"  # the key a design tries to leave

# Prepended to every design below: libc and the kernel's calls through ctypes.
PREAMBLE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.syscall.restype = ctypes.c_long
def failed(result):
    return result is None or result in (-1, 2**64 - 1)
def errno_or(result):  # what a call made, or minus its errno
    return -ctypes.get_errno() if failed(result) else result
"""


def design(body: str) -> str:
    return PREAMBLE + body


def _fail(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def keyctl(*args: int) -> int:
    assert KEY_CALLS is not None
    return int(_libc.syscall(ctypes.c_long(KEY_CALLS[2]), *(ctypes.c_long(a) for a in args)))


def sysvipc(kind: str) -> dict[int, str]:
    """The host's System V objects of one kind (shm, msg, sem), by key: their lines."""
    lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return {int(line.split()[0]) & 0xFFFFFFFF: line for line in lines}


def host_keys() -> str:
    """/proc/keys as this process sees it (the keys it may view)."""
    return Path("/proc/keys").read_text()


@pytest.fixture(scope="module", autouse=True)
def host_key():
    """A secret in this process's session keyring (the kernel makes one if it had none), only
    its possessors may even see, made before the module's sandbox starts: its server inherits
    the keyring. Autouse, so that it comes first. None where the kernel keeps no keys."""
    if KEY_CALLS is None:
        yield None
        return
    serial = int(
        _libc.syscall(
            ctypes.c_long(KEY_CALLS[0]),
            b"user",
            KEY_NAME.encode(),
            SECRET,
            ctypes.c_size_t(len(SECRET)),
            ctypes.c_long(KEY_SPEC_SESSION_KEYRING),
        )
    )
    if serial < 0:
        yield None
        return
    keyctl(KEYCTL_SETPERM, serial, KEY_POS_ALL)
    yield serial
    keyctl(KEYCTL_INVALIDATE, serial)


@pytest.fixture
def host_shm():
    """A root-owned (when root runs the tests), mode-0600 segment holding the secret: its id."""
    shmid = _libc.shmget(HOST_KEY, 4096, IPC_CREAT | IPC_EXCL | 0o600)
    if shmid < 0:
        _fail("shmget")
    address = _libc.shmat(shmid, None, 0)
    ctypes.memmove(address, SECRET, len(SECRET))
    _libc.shmdt(ctypes.c_void_p(address))
    yield shmid
    _libc.shmctl(shmid, IPC_RMID, None)


class _Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 128)]


@pytest.fixture
def host_queue():
    """A mode-0600 message queue with the secret in it: its id."""
    msqid = _libc.msgget(HOST_KEY, IPC_CREAT | IPC_EXCL | 0o600)
    if msqid < 0:
        _fail("msgget")
    message = _Message(1, SECRET)
    if _libc.msgsnd(msqid, ctypes.byref(message), ctypes.c_size_t(len(SECRET)), 0) != 0:
        _fail("msgsnd")
    yield msqid
    _libc.msgctl(msqid, IPC_RMID, None)


@pytest.fixture
def design_objects():
    """Removes from the host whatever a design left there under DESIGN_KEY or PLANTED (only a
    sandbox that failed leaves any), after the test has looked."""
    yield
    shmid, msqid = _libc.shmget(DESIGN_KEY, 0, 0), _libc.msgget(DESIGN_KEY, 0)
    semid = _libc.semget(DESIGN_KEY, 0, 0)
    if shmid >= 0:
        _libc.shmctl(shmid, IPC_RMID, None)
    if msqid >= 0:
        _libc.msgctl(msqid, IPC_RMID, None)
    if semid >= 0:
        _libc.semctl(semid, 0, IPC_RMID)
    if KEY_CALLS is not None:
        for line in host_keys().splitlines():
            if PLANTED in line:
                for keyring in (KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING):
                    keyctl(KEYCTL_UNLINK, int(line.split()[0], 16), keyring)


def ipc_of_its_own(hostile, request) -> bool:
    """Whether the design has an IPC namespace. Without one the report must say so, and the
    network filter must refuse its System V calls (False: the test checks the refusals);
    with neither, the test must fail (strict xfail)."""
    if hostile.in_force("ipc namespace"):
        return True
    if not hostile.in_force("network filter"):
        expect_a_namespace(hostile, request, "ipc namespace", "System V")
        return True  # the xfail: it is expected to reach the host's objects
    detail = hostile.detail("ipc namespace")
    assert detail == "turned off by the caller" or "refuses its System V calls" in detail
    return False


def expect_a_namespace(hostile, request, name: str, shared: str) -> None:
    """Where `name` is not in force, the report must say so and what is shared, and the test
    must then fail (strict xfail): a design reaches the host's `shared`."""
    if hostile.in_force(name):
        return
    detail = hostile.detail(name)
    assert detail == "turned off by the caller" or shared in detail, detail
    request.applymarker(pytest.mark.xfail(strict=True, reason=f"no {name}: {detail}"))


def test_the_hosts_shared_memory_and_messages_cannot_be_read(
    hostile, request, host_shm, host_queue
):
    own = ipc_of_its_own(hostile, request)
    body = """
found = {}
by_key = libc.shmget(args["key"], 0, 0)
found["shmget"] = errno_or(by_key)
for shmid in {args["shmid"], by_key}:  # the host's id, guessed, and the key's
    address = libc.shmat(shmid, None, 0o10000) if shmid >= 0 else None  # SHM_RDONLY
    found[f"shm {shmid}"] = (
        errno_or(address) if failed(address) else ctypes.string_at(address, 64).hex()
    )
found["msgget"] = errno_or(libc.msgget(args["key"], 0))
buffer = ctypes.create_string_buffer(8 + 128)
got = libc.msgrcv(args["msqid"], buffer, 128, 0, 0o4000)  # IPC_NOWAIT
found["msgrcv"] = errno_or(got) if failed(got) else buffer.raw[8 : 8 + got].hex()
found["listed"] = [open(f"/proc/sysvipc/{kind}").read() for kind in ("shm", "msg")]
return found
"""
    args = {"key": HOST_KEY, "shmid": host_shm, "msqid": host_queue}
    result = hostile.run(design(body), args=args)
    assert result.status == "ok", result.error
    found = result.value
    assert SECRET.hex() not in str(found), found
    assert found["shmget"] != host_shm and found["msgget"] != host_queue, found
    if own:
        assert not any(str(HOST_KEY) in listed for listed in found["listed"]), found["listed"]
    else:  # every call refused (the host's objects stay listed in /proc/sysvipc)
        refused = [found["shmget"], found["msgget"], found["msgrcv"], found[f"shm {host_shm}"]]
        assert refused == [-errno.EACCES] * 4, found
    # and the secret message is still the host's, unread
    message = _Message()
    got = _libc.msgrcv(host_queue, ctypes.byref(message), ctypes.c_size_t(128), 0, IPC_NOWAIT)
    assert message.mtext[: max(got, 0)] == SECRET


def test_what_a_design_makes_in_system_v_ipc_does_not_outlive_it(hostile, request, design_objects):
    own = ipc_of_its_own(hostile, request)
    body = """
made = {}
size = 64 * 1024 * 1024
made["shm"] = errno_or(libc.shmget(args["key"], size, 0o1000 | 0o600))  # IPC_CREAT
address = libc.shmat(made["shm"], None, 0) if made["shm"] >= 0 else None
made["attached"] = not failed(address)
if made["attached"]:
    ctypes.memset(address, 0x5A, size)  # really there: 64 MB held in the segment
made["msg"] = errno_or(libc.msgget(args["key"], 0o1000 | 0o600))
buffer = ctypes.create_string_buffer(b"\\x01" + bytes(7) + b"left behind")
made["msgsnd"] = errno_or(libc.msgsnd(made["msg"], buffer, 11, 0o4000))
made["sem"] = errno_or(libc.semget(args["key"], 4, 0o1000 | 0o600))
return made
"""
    result = hostile.run(design(body), args={"key": DESIGN_KEY})
    assert result.status == "ok", result.error
    made = result.value
    if own:  # it could make them all, in its own namespace: what it may not is leave them
        assert made["attached"] and made["msgsnd"] == 0, made
        assert min(made["shm"], made["msg"], made["sem"]) >= 0, made
    else:  # it could make none
        assert [made["shm"], made["msg"], made["sem"]] == [-errno.EACCES] * 3, made
    for kind in ("shm", "msg", "sem"):
        assert DESIGN_KEY not in sysvipc(kind), f"the design's {kind} outlived it"


@pytest.mark.skipif(KEY_CALLS is None, reason=f"no key calls known for {platform.machine()}")
def test_the_hosts_keyrings_are_out_of_reach_and_nothing_is_planted(
    hostile, host_key, design_objects
):
    if host_key is None:
        pytest.skip("this kernel keeps no keys (add_key failed)")
    assert KEY_NAME in host_keys()  # the host sees its own key: possession makes it visible
    body = """
add_key, request_key, keyctl = args["calls"]
got = {}
buffer = ctypes.create_string_buffer(256)
def key_call(number, *call_args):
    return errno_or(libc.syscall(ctypes.c_long(number), *call_args))
got["read"] = key_call(keyctl, ctypes.c_long(11), ctypes.c_long(args["serial"]), buffer,
                       ctypes.c_long(256))  # KEYCTL_READ
got["read data"] = buffer.raw.hex()
got["session id"] = key_call(keyctl, ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(0))
got["request_key"] = key_call(request_key, b"user", args["name"].encode(), None,
                              ctypes.c_long(0))
for keyring in (-3, -4):  # its session keyring, its uid's keyring
    got[f"add_key {keyring}"] = key_call(add_key, b"user", args["planted"].encode(), b"x",
                                         ctypes.c_size_t(1), ctypes.c_long(keyring))
got["listed"] = open("/proc/keys").read()
return got
"""
    args = {"calls": KEY_CALLS, "serial": host_key, "name": KEY_NAME, "planted": PLANTED}
    result = hostile.run(design(body), args=args)
    assert result.status == "ok", result.error
    got = result.value
    assert SECRET.hex() not in got.pop("read data")
    # the session keyring it sees is not the host's: the host's key is not even visible there
    assert KEY_NAME not in got.pop("listed")
    refused = -errno.EACCES  # by the seccomp filter
    assert got == {
        "read": refused,
        "session id": refused,
        "request_key": refused,
        "add_key -3": refused,
        "add_key -4": refused,
    }
    assert PLANTED not in host_keys(), "a key the design planted outlived it"


@pytest.fixture
def host_name():
    """The host's name, put back if a sandbox that failed let a design change it."""
    name = socket.gethostname()
    yield name
    if socket.gethostname() != name:
        with contextlib.suppress(OSError):
            socket.sethostname(name)


RENAME = """
before = os.uname().nodename
refused = libc.sethostname(b"renamed-by-a-design", 19)
return {"before": before, "sethostname": errno_or(refused), "after": os.uname().nodename}
"""


def test_the_design_does_not_learn_the_hosts_name_nor_change_it(hostile, request, host_name):
    expect_a_namespace(hostile, request, "uts namespace", "host's name")
    result = hostile.run(design(RENAME))
    assert result.status == "ok", result.error
    assert socket.gethostname() == host_name
    assert result.value["before"] == "sandbox" != host_name
    assert result.value["sethostname"] == -errno.EPERM  # no capabilities, even in its own


def test_a_design_with_capabilities_renames_only_its_own_namespace(host_name):
    # Capabilities turned off: a root design may call sethostname; it must stay inside.
    with Sandbox(workers=1, preload=[], disable=["capabilities", *DISABLED]) as sandbox:
        renamed = sandbox.run(design("import os\n\ndef main():\n" + _indented(RENAME)))
    assert renamed.status == "ok", renamed.error
    assert socket.gethostname() == host_name
    if renamed.value["sethostname"] == 0:
        assert renamed.value["after"] == "renamed-by-a-design"


def _indented(body: str) -> str:
    return "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
