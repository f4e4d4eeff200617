"""The LLM broker: sandboxed agents' calls, served from the search process.

An agent in the sandbox has no network and no key; it reaches its model only over the channel
the sandbox opened before the fork (`agents/channel.py`). For each evaluation the evaluator
opens a `BrokerSession` that serves that channel while the design runs:

- every message is untrusted: size-capped by the socket read, checked field by field (an id,
  1 to `max_messages` messages of known roles, a bounded prompt, a temperature in [0, 2], a
  sample index, an example id) — anything else is refused with an error the agent sees;
- calls are served concurrently (`concurrency` at once) by `answer`: the agents' model through
  `llm.py` (retries, the recording that lets `replay RUN ID` run offline, tokens and USD), or
  the simulated model;
- each evaluation may make at most `max_calls` calls and use `max_tokens` tokens; beyond them a
  call gets an error instead of an answer, and a flood (`flood` times the cap of refused calls)
  is no longer read at all;
- calls, tokens and USD are metered for the design and per example.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections import defaultdict
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


@dataclass(frozen=True)
class BrokerLimits:
    """Per evaluation, and per call."""

    max_calls: int = 1000
    max_calls_per_example: int | None = None  # each example's own cap: deterministic refusals
    max_tokens: int | None = None
    max_messages: int = 64
    max_chars: int = 200_000
    flood: int = 3  # refused calls beyond flood x max_calls: stop reading the channel


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
    """One evaluation's calls: call it as the sandbox's `on_channel` handler."""

    def __init__(self, broker: Broker, limits: BrokerLimits, design_id: int | None) -> None:
        self.broker = broker
        self.answer = broker.fresh() if broker.fresh is not None else broker.answer
        self.limits = limits
        self.design_id = design_id
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._closed = False
        self._in_flight: list[Future[None]] = []
        self.calls = 0  # served: sent to the model
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
        try:
            self._read(sock, stop)
        finally:
            with self._send_lock:
                self._closed = True  # the child is gone: late answers go nowhere

    def _read(self, sock: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            try:
                data, _, flags, _ = sock.recvmsg(MAX_MESSAGE + 1)
            except BlockingIOError:
                continue
            except OSError:
                return
            try:
                request = self._check(data, truncated=bool(flags & socket.MSG_TRUNC))
            except Refused as exc:
                self._refuse(sock, data, str(exc))
                if self.refused > self.limits.flood * self.limits.max_calls:
                    self._note("a flood of refused calls: the channel is no longer read")
                    return
                continue
            future = self.broker._pool.submit(self._serve, sock, request)
            with self._lock:
                self._in_flight.append(future)

    def _check(self, data: bytes, truncated: bool) -> dict[str, Any]:
        if truncated or len(data) > MAX_MESSAGE:
            raise Refused(f"a message over {MAX_MESSAGE:,} bytes")
        try:
            request = json.loads(data)
        except (ValueError, RecursionError):
            raise Refused("a message that is not JSON") from None
        if not isinstance(request, dict):
            raise Refused("a message that is not a JSON object")
        unknown = set(request) - {"id", "messages", "temperature", "sample", "example"}
        if unknown:
            raise Refused(f"unknown fields {sorted(unknown)}")
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
        with self._lock:
            tokens = self.prompt_tokens + self.completion_tokens
            if self.calls >= self.limits.max_calls:
                raise Refused(
                    f"this evaluation's cap of {self.limits.max_calls} LLM calls is reached"
                )
            per_example = self.limits.max_calls_per_example
            # An example's own cap refuses the same calls however the examples interleave;
            # the evaluation's cap alone would refuse whichever examples came last.
            if per_example is not None and self.per_example[example or "-"]["calls"] >= per_example:
                raise Refused(f"this example's cap of {per_example} LLM calls is reached")
            if self.limits.max_tokens is not None and tokens >= self.limits.max_tokens:
                raise Refused(
                    f"this evaluation's cap of {self.limits.max_tokens} tokens is reached"
                )
            self.calls += 1
            self.per_example[example or "-"]["calls"] += 1
        return {**request, "temperature": float(temperature), "sample": sample, "example": example}

    def _serve(self, sock: socket.socket, request: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": request["id"]}
        try:
            answer = self.answer(
                request["messages"], request["temperature"], request["sample"], self.design_id
            )
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
        self._send(sock, reply)

    def _refuse(self, sock: socket.socket, data: bytes, why: str) -> None:
        with self._lock:
            self.refused += 1
        self._note(why)
        try:
            call_id = json.loads(data).get("id")
        except (ValueError, AttributeError, RecursionError):
            call_id = None
        if isinstance(call_id, str) and 0 < len(call_id) <= 64:
            self._send(sock, {"id": call_id, "error": f"refused by the broker: {why}"})

    def _send(self, sock: socket.socket, reply: dict[str, Any]) -> None:
        data = json.dumps(reply).encode()[:MAX_MESSAGE]
        with self._send_lock:
            if self._closed:
                return
            try:
                sock.sendall(data)
            except OSError:
                self._closed = True

    def _note(self, problem: str) -> None:
        with self._lock:
            if len(self.problems) < 5 and problem not in self.problems:
                self.problems.append(problem)

    # -- after the evaluation ------------------------------------------------------------------
    def finish(self, timeout: float | None = None) -> None:
        """Wait for calls still being answered (their cost counts, though nobody reads them)."""
        with self._lock:
            pending = list(self._in_flight)
        wait(pending, timeout=timeout)

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
            if self.problems:
                found["llm_refusals"] = list(self.problems)
            return found


# -- what answers ------------------------------------------------------------------------------


def llm_answerer(llm: Any) -> Answerer:
    """The agents' model through `llm.LLM`: retried, recorded (and replayed), priced."""
    from agentic_design.llm import LLMError

    def answer(
        messages: list[dict[str, str]], temperature: float, sample: int, design_id: int | None
    ) -> BrokerReply:
        try:
            reply = llm.complete(
                messages, sample=sample, design_id=design_id, temperature=temperature
            )
        except LLMError as exc:
            raise BrokerCallError(str(exc)) from None
        return BrokerReply(reply.text, reply.prompt_tokens, reply.completion_tokens, reply.usd)

    return answer


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
