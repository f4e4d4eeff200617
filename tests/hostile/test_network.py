"""Data leaving by UDP, ICMP or raw packets: stopped with every protection, and stopped as an
unprivileged user would have it (no namespaces, no cgroups: only Landlock, whose network rules
cover TCP alone, and the seccomp socket filter). Without the filter, the same user's sandbox
lets the datagram out — which is why the filter is there, and proof that this test can fail."""

from __future__ import annotations

import socket

import pytest

from agentic_design.sandbox import Sandbox, SandboxLimits

# What an ordinary user's sandbox lacks on a machine like CI's (root has all of these).
AS_A_USER = (
    "network namespace",
    "private filesystem",
    "pid namespace",
    "process limit",
    "memory limit",
    "capabilities",
)

EXFILTRATE = """
import socket

def main(port):
    tried = {}
    attempts = {
        "udp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(
            b"stolen", ("127.0.0.1", port)),
        "udp6": lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(
            b"stolen", ("::1", port)),
        "icmp": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
        "raw": lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP),
        "packet": lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW),
    }
    for name, attempt in attempts.items():
        try:
            attempt()
            tried[name] = "done"
        except OSError as exc:
            tried[name] = type(exc).__name__
    return tried
"""


def received(listener: socket.socket) -> bytes | None:
    try:
        return listener.recvfrom(100)[0]
    except TimeoutError:
        return None


@pytest.mark.parametrize(
    "disable, leaks",
    [
        ((), False),
        (AS_A_USER, False),
        ((*AS_A_USER, "network filter"), True),  # the control: what the filter stops
    ],
    ids=["every protection", "as a user", "as a user without the filter"],
)
def test_no_datagram_or_raw_packet_leaves(disable, leaks):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    try:
        with Sandbox(workers=1, preload=[], disable=disable) as sandbox:
            result = sandbox.run(EXFILTRATE, args={"port": port}, limits=SandboxLimits(wall_s=20))
            assert result.status == "ok", result.error
            tried = result.value
            if leaks:
                assert tried["udp"] == "done" and received(listener) == b"stolen"
                return
            assert received(listener) is None, "a datagram left the sandbox"
            assert tried["udp"] == tried["udp6"] == "PermissionError"
            assert tried["icmp"] == tried["raw"] == tried["packet"] == "PermissionError"
            # ...and the evaluation goes on: a Unix socket pair still works
            pair = sandbox.run(
                "import socket\ndef main():\n    a, b = socket.socketpair()\n"
                "    a.send(b'x')\n    return b.recv(1).decode()\n"
            )
            assert pair.value == "x"
    finally:
        listener.close()


def test_sandbox_info_names_the_filter_and_a_user_keeps_it():
    with Sandbox(workers=1, preload=[], disable=AS_A_USER) as sandbox:
        report = {p["name"]: p for p in sandbox.protections}
    assert report["network filter"]["enabled"]
    assert "Unix" in report["network filter"]["detail"]
    assert not report["network namespace"]["enabled"]
