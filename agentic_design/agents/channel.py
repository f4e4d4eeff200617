"""The sandboxed side of the broker channel: LLM calls from an agent, over fd 4.

The sandbox (made with `channel=True`) hands every child one end of a socket pair made before
the fork; the broker in the search process holds the other. A call is one JSON message out, one
back, matched by id, so any number of threads can have calls in flight at once:

    request  {"id", "messages": [{"role", "content"}...], "temperature", "sample", "example",
              "fields" (optional: the JSON fields the reply should hold)}
    reply    {"id", "text", "error", "prompt_tokens", "completion_tokens", "usd"}

Nothing here holds a key or opens a connection: the sandbox has no network, and the broker
decides what is asked of which model, and how often.
"""

from __future__ import annotations

import contextvars
import json
import os
import socket
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

CHANNEL_FD = 4
MAX_MESSAGE = 256 * 1024  # bytes, either way; the broker refuses bigger requests

#: The example an agent is working on, for the broker's per-example metering.
current_example: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_example", default=None
)


class BrokerUnavailable(RuntimeError):
    """No broker channel here (the code runs outside an agent evaluation), or it closed."""


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0


class CallFailed(RuntimeError):
    """The broker answered with an error: the model failed, or a cap was reached."""


@dataclass(frozen=True)
class Pending:
    """A call sent and not yet answered (`BrokerClient.submit`)."""

    id: str
    event: threading.Event
    box: list[dict[str, Any]]


class BrokerClient:
    """Calls over the channel; safe to use from many threads."""

    def __init__(self, fd: int = CHANNEL_FD) -> None:
        try:
            self._sock = socket.socket(fileno=os.dup(fd))
        except OSError as exc:
            raise BrokerUnavailable(
                "no broker channel: agents run only inside an agent evaluation"
            ) from exc
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._closed: str | None = None
        self._reader = threading.Thread(target=self._read, name="broker-reader", daemon=True)
        self._reader.start()

    def call(
        self,
        messages: list[dict[str, str]],
        temperature: float = 0.0,
        sample: int = 0,
        timeout: float | None = None,
    ) -> Reply:
        return self.wait(self.submit(messages, temperature, sample), timeout)

    def submit(
        self,
        messages: list[dict[str, str]],
        temperature: float = 0.0,
        sample: int = 0,
        fields: Sequence[str] = (),
    ) -> Pending:
        """Send one call without waiting for its reply (`wait` collects it): several calls
        in flight from one thread. `fields`: the reply is to be a JSON object of these string
        fields (the broker asks the model for that where it can)."""
        call_id = uuid.uuid4().hex
        request: dict[str, Any] = {
            "id": call_id,
            "messages": messages,
            "temperature": temperature,
            "sample": sample,
            "example": current_example.get(),
        }
        if fields:
            request["fields"] = list(fields)
        data = json.dumps(request).encode()
        if len(data) > MAX_MESSAGE:
            raise CallFailed(f"the request is {len(data):,} bytes; the limit is {MAX_MESSAGE:,}")
        pending = Pending(call_id, threading.Event(), [])
        with self._lock:
            if self._closed:
                raise BrokerUnavailable(self._closed)
            self._waiting[call_id] = (pending.event, pending.box)
        try:
            with self._send_lock:
                self._sock.sendall(data)
        except OSError:
            self._forget(call_id)
            raise
        return pending

    def wait(self, pending: Pending, timeout: float | None = None) -> Reply:
        """The reply to a submitted call; CallFailed or BrokerUnavailable if there is none."""
        try:
            if not pending.event.wait(timeout):
                raise CallFailed(f"no answer from the broker within {timeout} s")
        finally:
            self._forget(pending.id)
        if not pending.box:
            raise BrokerUnavailable(self._closed or "the broker channel closed")
        reply = pending.box[0]
        if reply.get("error"):
            raise CallFailed(str(reply["error"]))
        return Reply(
            text=str(reply.get("text") or ""),
            prompt_tokens=int(reply.get("prompt_tokens") or 0),
            completion_tokens=int(reply.get("completion_tokens") or 0),
            usd=float(reply.get("usd") or 0.0),
        )

    def _forget(self, call_id: str) -> None:
        with self._lock:
            self._waiting.pop(call_id, None)

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(MAX_MESSAGE)
            except OSError as exc:
                data, why = b"", f"the broker channel failed: {exc}"
            else:
                why = "the broker channel closed"
            if not data:
                with self._lock:
                    self._closed = why
                    for event, _ in self._waiting.values():
                        event.set()  # with no reply: BrokerUnavailable
                return
            try:
                reply = json.loads(data)
                slot = self._waiting.get(reply["id"])
            except (ValueError, KeyError, TypeError):
                continue  # not ours to read
            if slot is not None:
                slot[1].append(reply)
                slot[0].set()


_client: tuple[int, BrokerClient] | None = None
_client_lock = threading.Lock()


def client() -> BrokerClient:
    """This process's client (made on first use; a forked process makes its own)."""
    global _client
    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), BrokerClient())
        return _client[1]
