"""The sandbox's wire format: an 8-byte big-endian length, then that many bytes of UTF-8 JSON.

Both sides of the sandbox use it: the caller and its servers, and each server and its forked
child. What a child writes is untrusted, so reading checks the size cap, rejects what is not
plain JSON data (NaN, infinity, absurd nesting) and never unpickles anything.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct("!Q")


def encode(payload: dict[str, Any]) -> bytes:
    """Raises TypeError or ValueError (NaN, infinity) for what is not plain JSON data."""
    data = json.dumps(payload, allow_nan=False).encode()
    return HEADER.pack(len(data)) + data


def write_frame(fd: int, payload: dict[str, Any] | bytes) -> None:
    view = memoryview(payload if isinstance(payload, bytes) else encode(payload))
    while view:
        written = os.write(fd, view)
        view = view[written:]


class NoFrame(Exception):
    """No complete frame came: "timeout", "eof", or the reason named for a watched fd."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_exact(
    fd: int, n: int, deadline: float | None = None, watch: dict[int, str] | None = None
) -> bytes:
    """Exactly n bytes from fd. Raises NoFrame on EOF, at the deadline, or when one of the
    `watch` fds becomes readable first (a process exiting, a peer hanging up)."""
    watch = watch or {}
    chunks, remaining = [], n
    while remaining:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready = select.select([fd, *watch], [], [], timeout)[0]
        if not ready:
            raise NoFrame("timeout")
        if fd not in ready:
            raise NoFrame(watch[ready[0]])
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise NoFrame("eof")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_frame(
    fd: int, deadline: float | None = None, watch: dict[int, str] | None = None, cap: int = 0
) -> dict[str, Any]:
    """One frame as a JSON object; raises NoFrame ("too_big", "garbled" among the reasons)."""
    size = HEADER.unpack(read_exact(fd, HEADER.size, deadline, watch))[0]
    if cap and size > cap:
        raise NoFrame("too_big")
    try:
        payload = json.loads(read_exact(fd, size, deadline, watch), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # a forged frame: NaN, infinity, absurd nesting
        raise NoFrame("garbled") from None
    if not isinstance(payload, dict):
        raise NoFrame("garbled")
    return payload
