"""The LLM broker: sandboxed agents' calls, served from the search process.

An agent in the sandbox has no network and no key; it reaches its model only over the channel
the sandbox made for that one child (`agents/channel.py`). For each evaluation the evaluator
opens a `BrokerSession` that serves that channel while the design runs:

- every message is untrusted: size-capped by the socket read, checked field by field (an id,
  1 to `max_messages` messages of known roles, a bounded prompt, a temperature in [0, 2], a
  sample index, an example id) — anything else is refused with an error the agent sees;
- calls are served concurrently (`concurrency` at once across evaluations, each evaluation's
  own share at most) by `answer`: the agents' model through `llm.py` (retries, the recording
  that lets `replay RUN ID` run offline, tokens and USD), or the simulated model;
- the broker never waits on a design: replies it does not read are dropped past a bound and
  its session closed, and when its evaluation ends its queued calls never reach the model;
- each evaluation may make at most `max_calls` calls and use `max_tokens` tokens; beyond them a
  call gets an error instead of an answer, and a flood (`flood` times the cap of refused calls)
  is no longer read at all;
- calls, tokens and USD are metered for the design and per example.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import select
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any

from agentic_design.agents.channel import MAX_MESSAGE, Reply

ROLES = frozenset({"system", "user", "assistant"})


# What answers one call: the same record the agent's side receives.
BrokerReply = Reply

# (messages, temperature, sample, design id) -> the reply; raises BrokerCallError.
Answerer = Callable[[list[dict[str, str]], float, int, int | None], BrokerReply]


class BrokerCallError(RuntimeError):
    """The model could not answer this call (its error is passed on to the agent)."""


class BrokerCancelled(BrokerCallError):
    """The evaluation ended before the call reached the model: it was never sent."""


# The session and the checked request a call is answered for, while an answerer runs: an
# answerer that waits (for a slot at the model, between retries) asks the session whether the
# evaluation is still going, and reads what else the request asks (the reply's JSON fields).
answering_for: contextvars.ContextVar[tuple[BrokerSession, dict[str, Any]] | None] = (
    contextvars.ContextVar("answering_for", default=None)
)


@dataclass(frozen=True)
class BrokerLimits:
    """Per evaluation, and per call."""

    max_calls: int = 1000
    max_calls_per_example: int | None = None  # each example's own cap: deterministic refusals
    max_tokens: int | None = None
    max_messages: int = 64
    max_chars: int = 200_000
    flood: int = 3  # refused calls beyond flood x max_calls: stop reading the channel
    # One evaluation's calls at the model at once (None: the broker's whole concurrency); the
    # rest wait in the session's own queue, so that a design cannot crowd out another's calls.
    concurrency: int | None = None
    # Replies the agent has not read yet, beyond what the socket buffers: past either bound
    # the agent is not reading its channel, and its session is closed.
    outbox_messages: int = 256
    outbox_bytes: int = 16 * 1024 * 1024


class Refused(ValueError):
    """A request that is not served; the message is sent back to the agent."""


class Broker:
    """Serves agents' calls with `answer`, `concurrency` at a time across all evaluations;
    `fresh`, if given, makes each evaluation an answerer of its own (a model with state, like
    the simulated one's call counts, that must not leak between evaluations)."""

    def __init__(
        self,
        answer: Answerer,
        limits: BrokerLimits,
        concurrency: int = 16,
        fresh: Callable[[], Answerer] | None = None,
    ) -> None:
        self.answer = answer
        self.fresh = fresh
        self.limits = limits
        self.concurrency = concurrency
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="broker")

    def session(
        self,
        design_id: int | None,
        max_calls: int | None = None,
        max_calls_per_example: int | None = None,
    ) -> BrokerSession:
        limits = self.limits
        if max_calls is not None:
            limits = replace(limits, max_calls=max_calls)
        if max_calls_per_example is not None:
            limits = replace(limits, max_calls_per_example=max_calls_per_example)
        return BrokerSession(self, limits, design_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class BrokerSession:
    """One evaluation's calls: call it as the sandbox's `on_channel` handler.

    Nothing here ever blocks on the design. Replies are written without waiting: what the
    socket cannot take waits in a bounded outbox, flushed whenever the channel is writable,
    and an agent that lets it overflow has its session closed. The session's calls go to the
    shared pool `limits.concurrency` at a time, the rest queued here. When the evaluation ends
    (the child is gone, or the session was closed) the queued calls are dropped and nothing more
    of this design reaches the model; calls already at the model finish and are metered.
    """

    def __init__(self, broker: Broker, limits: BrokerLimits, design_id: int | None) -> None:
        self.broker = broker
        self.answer = broker.fresh() if broker.fresh is not None else broker.answer
        self.limits = limits
        self.design_id = design_id
        self.ended = threading.Event()  # set once: nothing more is sent to the model or agent
        # Reentrant: cancelling a future runs its done-callback, which takes the lock, at once.
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._queue: deque[dict[str, Any]] = deque()  # checked calls waiting for a slot
        self._running: dict[Future[None], dict[str, Any]] = {}  # at the pool: the request
        self._outbox: deque[bytes] = deque()
        self._outbox_bytes = 0
        self._slots = min(limits.concurrency or broker.concurrency, broker.concurrency)
        self.calls = 0  # served: sent to the model
        self.cancelled = 0  # accepted, but dropped unsent when the evaluation ended
        self.refused = 0
        self.failed = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.usd = 0.0
        self.per_example: dict[str, dict[str, float]] = defaultdict(
            lambda: {"calls": 0, "tokens": 0, "usd": 0.0}
        )
        self.problems: list[str] = []  # what was refused, the first few

    # -- serving (the sandbox's channel thread) ---------------------------------------------
    def __call__(self, sock: socket.socket, stop: threading.Event) -> None:
        sock.setblocking(False)
        with self._lock:
            self._sock = sock
        try:
            self._serve_channel(sock, stop)
        finally:
            self.close()  # the child is gone: late answers go nowhere

    def _serve_channel(self, sock: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set() and not self.ended.is_set():
            with self._lock:
                writing = [sock] if self._outbox else []
            try:
                readable, writable, _ = select.select([sock], writing, [], 0.05)
            except (OSError, ValueError):
                return
            if writable:
                with self._lock:
                    self._flush()
            if not readable:
                continue
            try:
                data, _, flags, _ = sock.recvmsg(MAX_MESSAGE + 1)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            if not data:
                return  # the far end closed
            try:
                request = self._check(data, truncated=bool(flags & socket.MSG_TRUNC))
            except Refused as exc:
                self._refuse(data, str(exc))
                if self.refused > self.limits.flood * self.limits.max_calls:
                    self._note("a flood of refused calls: the channel is no longer read")
                    self.close(hang_up=True)
                    return
                continue
            with self._lock:
                self._queue.append(request)
                self._dispatch()

    def _check(self, data: bytes, truncated: bool) -> dict[str, Any]:
        if truncated or len(data) > MAX_MESSAGE:
            raise Refused(f"a message over {MAX_MESSAGE:,} bytes")
        try:
            request = json.loads(data)
        except (ValueError, RecursionError):
            raise Refused("a message that is not JSON") from None
        if not isinstance(request, dict):
            raise Refused("a message that is not a JSON object")
        unknown = set(request) - {"id", "messages", "temperature", "sample", "example", "fields"}
        if unknown:
            # Quoted short: a refusal must never be bigger than what provoked it.
            names = ", ".join(_quote(name) for name in sorted(unknown)[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise Refused(f"unknown fields {names}{more}")
        if not isinstance(request.get("id"), str) or not 0 < len(request["id"]) <= 64:
            raise Refused("the id must be a string of 1 to 64 characters")
        messages = request.get("messages")
        if not isinstance(messages, list) or not 0 < len(messages) <= self.limits.max_messages:
            raise Refused(f"messages must be a list of 1 to {self.limits.max_messages}")
        chars = 0
        for m in messages:
            if (
                not isinstance(m, dict)
                or set(m) != {"role", "content"}
                or m["role"] not in ROLES
                or not isinstance(m["content"], str)
            ):
                raise Refused('each message must be {"role": system|user|assistant, "content"}')
            chars += len(m["content"])
        if chars > self.limits.max_chars:
            raise Refused(
                f"the prompt has {chars:,} characters; the limit is {self.limits.max_chars:,}"
            )
        temperature = request.get("temperature", 0.0)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise Refused("the temperature must be a number")
        if not 0.0 <= temperature <= 2.0:
            raise Refused("the temperature must be in [0, 2]")
        sample = request.get("sample", 0)
        if isinstance(sample, bool) or not isinstance(sample, int) or not 0 <= sample < 100_000:
            raise Refused("the sample index must be an integer in [0, 100000)")
        example = request.get("example")
        if example is not None and (not isinstance(example, str) or len(example) > 64):
            raise Refused("the example id must be a string of at most 64 characters")
        fields = request.get("fields", [])
        if (
            not isinstance(fields, list)
            or len(fields) > 32
            or not all(isinstance(f, str) and 0 < len(f) <= 64 for f in fields)
            or len(set(fields)) != len(fields)
        ):
            raise Refused("fields must be at most 32 distinct names of 1 to 64 characters")
        with self._lock:
            tokens = self.prompt_tokens + self.completion_tokens
            per_example = self.limits.max_calls_per_example
            # An example's own cap refuses the same calls however the examples interleave,
            # so it is asked first; the evaluation's cap alone would refuse whichever
            # examples came last (it still bounds calls made outside any example).
            if per_example is not None and self.per_example[example or "-"]["calls"] >= per_example:
                raise Refused(f"this example's cap of {per_example} LLM calls is reached")
            if self.calls >= self.limits.max_calls:
                raise Refused(
                    f"this evaluation's cap of {self.limits.max_calls} LLM calls is reached"
                )
            if self.limits.max_tokens is not None and tokens >= self.limits.max_tokens:
                raise Refused(
                    f"this evaluation's cap of {self.limits.max_tokens} tokens is reached"
                )
            self.calls += 1
            self.per_example[example or "-"]["calls"] += 1
        return {
            **request,
            "temperature": float(temperature),
            "sample": sample,
            "example": example,
            "fields": fields,
        }

    def _dispatch(self) -> None:
        """Send queued calls to the shared pool while this session has free slots (under the
        lock)."""
        while self._queue and len(self._running) < self._slots and not self.ended.is_set():
            request = self._queue.popleft()
            future = self.broker._pool.submit(self._serve, request)
            self._running[future] = request
            future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._running.pop(future, None)
            self._dispatch()

    def _serve(self, request: dict[str, Any]) -> None:
        if self.ended.is_set():  # started after the end: it never reaches the model
            with self._lock:
                self._uncount(request)
            return
        reply: dict[str, Any] = {"id": request["id"]}
        token = answering_for.set((self, request))
        try:
            answer = self.answer(
                request["messages"], request["temperature"], request["sample"], self.design_id
            )
        except BrokerCancelled:
            with self._lock:
                self._uncount(request)
            return
        except BrokerCallError as exc:
            with self._lock:
                self.failed += 1
            reply["error"] = str(exc)[:2000]
        else:
            tokens = answer.prompt_tokens + answer.completion_tokens
            with self._lock:
                self.prompt_tokens += answer.prompt_tokens
                self.completion_tokens += answer.completion_tokens
                self.usd += answer.usd
                stats = self.per_example[request.get("example") or "-"]
                stats["tokens"] += tokens
                stats["usd"] += answer.usd
            reply.update(
                text=answer.text,
                prompt_tokens=answer.prompt_tokens,
                completion_tokens=answer.completion_tokens,
                usd=answer.usd,
            )
        finally:
            answering_for.reset(token)
        self._send(reply)

    def _uncount(self, request: dict[str, Any]) -> None:
        """A call accepted but never sent to the model (under the lock)."""
        self.calls -= 1
        self.per_example[request.get("example") or "-"]["calls"] -= 1
        self.cancelled += 1

    def _refuse(self, data: bytes, why: str) -> None:
        with self._lock:
            self.refused += 1
        self._note(why)
        try:
            call_id = json.loads(data).get("id")
        except (ValueError, AttributeError, RecursionError):
            call_id = None
        if isinstance(call_id, str) and 0 < len(call_id) <= 64:
            self._send({"id": call_id, "error": f"refused by the broker: {why}"})

    def _send(self, reply: dict[str, Any]) -> None:
        data = _encode(reply)
        with self._lock:
            if self.ended.is_set():
                return
            self._outbox.append(data)
            self._outbox_bytes += len(data)
            if (
                len(self._outbox) > self.limits.outbox_messages
                or self._outbox_bytes > self.limits.outbox_bytes
            ):
                self._note("the agent did not read its replies: its session was closed")
                self._end(hang_up=True)
                return
            self._flush()

    def _flush(self) -> None:
        """Write what the socket takes now, never waiting (under the lock)."""
        sock = self._sock
        while self._outbox and sock is not None and not self.ended.is_set():
            try:
                sock.send(self._outbox[0], socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                return  # full: the channel thread writes the rest when it drains
            except OSError:
                self._end(hang_up=False)  # the far end is gone
                return
            self._outbox_bytes -= len(self._outbox.popleft())

    def _note(self, problem: str) -> None:
        with self._lock:
            if len(self.problems) < 5 and problem not in self.problems:
                self.problems.append(problem)

    # -- the end -----------------------------------------------------------------------------
    def close(self, hang_up: bool = False) -> None:
        """End the session: drop queued calls and unsent replies; with `hang_up`, also shut
        the channel, so that the agent's waiting calls fail at once. Never waits."""
        with self._lock:
            self._end(hang_up)

    def _end(self, hang_up: bool) -> None:
        if self.ended.is_set():
            return
        self.ended.set()
        while self._queue:
            self._uncount(self._queue.popleft())
        for future, request in list(self._running.items()):
            if future.cancel():  # still waiting in the shared pool: never started
                self._running.pop(future, None)
                self._uncount(request)
        self._outbox.clear()
        self._outbox_bytes = 0
        if hang_up and self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def finish(self, timeout: float | None = None) -> None:
        """After the evaluation: end the session and wait (at most `timeout`) for the calls
        already at the model; their cost counts, though nobody reads their answers."""
        self.close()
        with self._lock:
            running = list(self._running)
        wait(running, timeout=timeout)

    def metrics(self) -> dict[str, Any]:
        """The evaluation's LLM use, for its metrics."""
        with self._lock:
            found: dict[str, Any] = {
                "llm_calls": self.calls,
                "llm_failed_calls": self.failed,
                "llm_refused_calls": self.refused,
                "llm_tokens": self.prompt_tokens + self.completion_tokens,
                "llm_usd": round(self.usd, 8),
            }
            if self.cancelled:
                found["llm_cancelled_calls"] = self.cancelled
            if self.problems:
                found["llm_refusals"] = list(self.problems)
            return found


def _quote(name: str, limit: int = 40) -> str:
    return repr(name if len(name) <= limit else name[:limit] + "...")


def _encode(reply: dict[str, Any]) -> bytes:
    """A reply as one message that fits the channel: long text is cut, never the JSON."""
    data = json.dumps(reply).encode()
    if len(data) <= MAX_MESSAGE:
        return data
    for field in ("text", "error"):
        if isinstance(reply.get(field), str):
            reply = {**reply, field: reply[field][: MAX_MESSAGE // 8]}
    return json.dumps(reply).encode()


# -- what answers ------------------------------------------------------------------------------


def llm_answerer(llm: Any) -> Answerer:
    """The agents' model through `llm.LLM`: retried, recorded (and replayed), priced. A failed
    call's error goes to the agent with every key redacted (a provider may echo one)."""
    from agentic_design import redaction
    from agentic_design.llm import LLMCancelled, LLMError, structured_output

    structured = structured_output(llm.config)

    def answer(
        messages: list[dict[str, str]], temperature: float, sample: int, design_id: int | None
    ) -> BrokerReply:
        session, request = answering_for.get() or (None, {})
        params: dict[str, Any] = {}
        if structured and request.get("fields"):
            params["response_format"] = json_fields_schema(request["fields"])
        try:
            reply = llm.complete(
                messages,
                sample=sample,
                design_id=design_id,
                temperature=temperature,
                cancelled=session.ended.is_set if session is not None else None,
                **params,
            )
        except LLMCancelled as exc:
            if exc.sent:  # an attempt reached the model and failed; no retry followed
                raise BrokerCallError(redaction.redact(str(exc))) from None
            raise BrokerCancelled("the evaluation ended before the call was sent") from None
        except LLMError as exc:
            raise BrokerCallError(redaction.redact(str(exc))) from None
        return BrokerReply(reply.text, reply.prompt_tokens, reply.completion_tokens, reply.usd)

    return answer


def json_fields_schema(fields: list[str]) -> dict[str, Any]:
    """The structured-output request for a reply of these string fields (what ADAS asked its
    models for with JSON mode; a schema where the model takes one)."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "reply",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {field: {"type": "string"} for field in fields},
                "required": list(fields),
                "additionalProperties": False,
            },
        },
    }


def simulated_answerer(model: Any) -> Answerer:
    """The simulated model (`agent_llm: simulated`): free; tokens are estimated at four
    characters each, so that costs still compare across designs."""

    def answer(
        messages: list[dict[str, str]], temperature: float, sample: int, design_id: int | None
    ) -> BrokerReply:
        text = model.complete(messages, temperature=temperature, sample=sample)
        prompt = sum(len(m["content"]) for m in messages) // 4 + 1
        return BrokerReply(text, prompt, len(text) // 4 + 1, 0.0)

    return answer
