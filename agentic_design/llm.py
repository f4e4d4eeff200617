"""LLM access for the meta-agent: litellm for every provider, tenacity for retries, a record of
every call, and replay of a recorded run without any network.

    llm = LLM(config.llm, store=archive)          # archive: records every attempt in llm_calls
    reply = llm.complete(messages, sample=0)      # text, tokens, USD, latency

Retried, with exponential back-off and jitter (and a server's Retry-After honoured): rate limits,
server errors, timeouts and dropped or truncated connections. Not retried: authentication, bad
requests, unknown models — those are the user's to fix, and `preflight` reports them before a
search starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agentic_design import redaction
from agentic_design.config import LLMConfig

Message = dict[str, str]


class LLMError(RuntimeError):
    """A call failed for good: retries exhausted, or an error no retry can fix."""


class LLMConfigurationError(LLMError):
    """The model cannot be used as configured (key, model name, server address)."""


class LLMCancelled(LLMError):
    """The caller no longer wants the answer: the call was not sent again (`sent`: whether
    an earlier attempt reached the model)."""

    def __init__(self, message: str, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class RecordingWarning(UserWarning):
    """A recording that cannot be replayed exactly (see `LLM`)."""


class ReplayMiss(LLMError):
    """Replaying a recording, a request came that the recording does not hold."""


@dataclass(frozen=True)
class _Call:
    """One request as it is recorded: its key, messages, parameters, design and purpose."""

    key: str
    messages: list[Message]
    params: dict[str, Any]
    design_id: int | None
    purpose: str | None


@dataclass(frozen=True)
class Embeddings:
    """The vectors of one embedding request, as float32 little-endian bytes, one per text."""

    vectors: list[bytes]
    tokens: int
    usd: float
    replayed: bool = False


@dataclass(frozen=True)
class LLMReply:
    """One completed call."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    usd: float
    latency_s: float
    model: str
    replayed: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class CallStore(Protocol):
    """Where calls are recorded and found again (the run's archive). `record_llm_call` is
    safe from several threads at once: the clients of several models share one store."""

    def record_llm_call(self, **call: Any) -> None: ...

    def recorded_llm_calls(self) -> list[dict[str, Any]]: ...


class CallBuffer:
    """A CallStore in memory: the calls an evaluation on a Ray node makes, sent back with its
    result to be recorded in the run's store. `recording`: calls recorded before (a resumed
    design's, or a replayed run's), answered again rather than asked (`LLM`)."""

    def __init__(self, recording: list[dict[str, Any]] | None = None) -> None:
        self._recording = list(recording or [])
        self._made: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record_llm_call(self, **call: Any) -> None:
        with self._lock:
            self._made.append({"at": time.time(), **call})

    def recorded_llm_calls(self) -> list[dict[str, Any]]:
        return list(self._recording)

    def drain(self) -> list[dict[str, Any]]:
        """The calls made since the last drain, in the order made."""
        with self._lock:
            made, self._made = self._made, []
        return made


def request_key(model: str, messages: list[Message], params: dict[str, Any], sample: int) -> str:
    """The identity of a request: the same key means the same question, asked the same way."""
    payload = {"model": model, "messages": messages, "params": params, "sample": sample}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_litellm() -> None:
    """Import litellm now (seconds of work), rather than in the first call: a Ray worker does
    it while it starts, not inside its first evaluation's wall-clock limit."""
    _litellm()


def _litellm() -> Any:
    # Lazily: importing litellm costs seconds, and without this variable it fetches its cost
    # map from the network at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def structured_output(config: LLMConfig) -> bool:
    """Whether to ask this model for the provider's structured output (a JSON schema): as
    configured, or — `auto` — where litellm says the model supports it. A model behind an
    `api_base` (vLLM, Ollama, a proxy) gets the fenced format under `auto`: what the server
    supports is not what litellm knows of the model's name."""
    if config.answer_format != "auto":
        return config.answer_format == "json_schema"
    if config.api_base:
        return False
    try:
        return bool(_litellm().supports_response_schema(model=config.model))
    except Exception:  # litellm raises several types for a model it does not know
        return False


def _retryable(exc: BaseException) -> bool:
    litellm = _litellm()
    permanent = (
        litellm.AuthenticationError,
        litellm.BadRequestError,
        litellm.NotFoundError,
        litellm.PermissionDeniedError,
    )
    if isinstance(exc, permanent):
        return False
    transient = (
        litellm.RateLimitError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.APIConnectionError,
        litellm.Timeout,
        _EmptyReply,
    )
    return isinstance(exc, transient)


class _EmptyReply(Exception):
    """The server answered 200 with no choices: treated like a dropped connection."""


def _retry_after(exc: BaseException | None) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


class LLM:
    """Completions from one configured model, recorded to `store`.

    `replay=True` answers every call from the store's recording instead, with no network at
    all. Otherwise the recording still serves as a cache: a request asked before (a resumed
    run re-planning what was in flight when it was killed) is answered from it, not paid for
    twice.
    """

    def __init__(self, config: LLMConfig, store: CallStore | None = None, *, replay: bool = False):
        if config.model is None:
            raise LLMConfigurationError("one LLM per model: use config.endpoints()")
        self.config = config
        self.model: str = config.model
        redaction.register(names=[config.api_key_env], urls=[config.api_base])
        self.store = store
        self.replaying = replay
        self._slots = threading.Semaphore(config.concurrency)
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=30.0, jitter=0.5)
        if replay and store is None:
            raise LLMConfigurationError("replaying needs a store holding a recording")
        # The recording, by design and request: each design's calls are answered from its own
        # recording, in the order that design made them, however designs interleave in time.
        recorded = store.recorded_llm_calls() if store is not None else []
        answered = [call for call in recorded if call.get("error") is None]
        # A recording made before calls carried their design (store version < 4): answered by
        # request alone, in the order recorded, whichever design asks.
        self._by_request_only = bool(answered) and all(
            call.get("design_id") is None for call in answered
        )
        self._warned = False
        self._recording_lock = threading.Lock()
        self._recording: dict[tuple[int | None, str], deque[dict[str, Any]]] = defaultdict(deque)
        for call in answered:
            self._recording[self._slot(call.get("design_id"), call["key"])].append(call)
        # What a request that was never answered failed with: a replay fails it the same way.
        self._failed: dict[tuple[int | None, str], str] = {
            self._slot(call.get("design_id"), call["key"]): call["error"]
            for call in (recorded if replay else [])
            if call.get("error") is not None
        }

    # -- the call --------------------------------------------------------------------------------
    def complete(
        self,
        messages: list[Message],
        *,
        sample: int = 0,
        design_id: int | None = None,
        cancelled: Callable[[], bool] | None = None,
        purpose: str | None = None,
        **params: Any,
    ) -> LLMReply:
        """One completion; `sample` tells apart repeated identical requests (a record key).
        `cancelled`, asked before every attempt (after waiting for a free slot, and between
        retries), stops the call with LLMCancelled once it says so. `purpose` (design, notes,
        judge, ...) is recorded with the call, for the run's accounting."""
        params = {
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            **params,
        }
        key = request_key(self.model, messages, params, sample)
        recorded = self._recorded(design_id, key)
        if recorded is None and "response_format" in params:
            # Recorded before the request asked for structured output (agents' calls did not):
            # the same messages, answered then.
            plain = {k: v for k, v in params.items() if k != "response_format"}
            recorded = self._recorded(design_id, request_key(self.model, messages, plain, sample))
        if recorded is not None:
            return recorded
        call = _Call(key, messages, params, design_id, purpose)
        return self._retrying(lambda: self._attempt(call), call, cancelled)

    def embed(
        self, texts: list[str], *, design_id: int | None = None, sample: int = 0
    ) -> Embeddings:
        """The embedding of each text (an embedding model: `litellm.embedding`), recorded and
        replayed as completions are: the vectors as float32 bytes, as the store keeps them."""
        messages: list[Message] = [{"role": "input", "content": text} for text in texts]
        params: dict[str, Any] = {"embedding": True}
        key = request_key(self.model, messages, params, sample)
        reply = self._recorded(design_id, key)
        if reply is None:
            call = _Call(key, messages, params, design_id, "embedding")
            reply = self._retrying(lambda: self._embed_attempt(call, texts), call, None)
        try:
            vectors = [base64.b64decode(text) for text in json.loads(reply.text)]
        except (ValueError, TypeError) as exc:
            raise LLMError(f"{self.model}: a recorded embedding is unreadable: {exc}") from None
        return Embeddings(vectors, reply.prompt_tokens, reply.usd, reply.replayed)

    def _retrying(
        self,
        attempt_once: Callable[[], LLMReply],
        call: _Call,
        cancelled: Callable[[], bool] | None,
    ) -> LLMReply:
        """One call, retried as the module says. A replay never calls: a request the recording
        saw fail for good fails again, with the recorded error; one it never saw diverges."""
        design_id = call.design_id
        if self.replaying:
            failed = self._failed.get(self._slot(design_id, call.key))
            if failed is not None:
                raise LLMError(f"{self.model}: {failed} (as recorded)")
            raise ReplayMiss(
                "the recording holds no answer for this request"
                + (f" of design #{design_id}" if design_id is not None else "")
                + ": the prompts or settings differ from the recorded run's"
            )
        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.config.retries),
            wait=self._wait,
            reraise=True,
        )
        try:
            with self._slots:
                for attempt in retrying:
                    with attempt:
                        if cancelled is not None and cancelled():
                            raise LLMCancelled(
                                f"{self.model}: the call was cancelled",
                                sent=attempt.retry_state.attempt_number > 1,
                            )
                        return attempt_once()
        except LLMError:
            raise
        except Exception as exc:
            litellm = _litellm()
            if isinstance(exc, litellm.AuthenticationError | litellm.NotFoundError):
                raise LLMConfigurationError(_describe(exc, self.config)) from None
            raise LLMError(
                f"{self.model}: {_describe(exc, self.config)} (gave up after "
                f"{self.config.retries} attempts)"
                if _retryable(exc)
                else f"{self.model}: {_describe(exc, self.config)}"
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        hinted = _retry_after(state.outcome.exception() if state.outcome else None)
        return max(backoff, hinted) if hinted is not None else backoff

    def _attempt(self, call: _Call) -> LLMReply:
        litellm = _litellm()
        started = time.monotonic()
        try:
            response = litellm.completion(
                model=self.model,
                messages=call.messages,
                api_base=self.config.api_base,
                api_key=self._api_key(),
                timeout=self.config.timeout_s,
                num_retries=0,
                max_retries=0,
                # A setting the model does not take (an o-series model's temperature, which a
                # folder's config may still give) is left out, as the provider requires.
                drop_params=True,
                **call.params,
            )
            if not response.choices:
                raise _EmptyReply("the server returned no choices")
        except Exception as exc:
            self._record(call, started, error=_describe(exc, self.config))
            raise
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        reply = LLMReply(
            text=text,
            prompt_tokens=prompt,
            completion_tokens=completion,
            usd=self._usd(response, prompt, completion),
            latency_s=time.monotonic() - started,
            model=self.model,
        )
        self._record(call, started, reply=reply)
        return reply

    def _embed_attempt(self, call: _Call, texts: list[str]) -> LLMReply:
        """One embedding request; its reply's text is the vectors, a JSON list of base64
        float32 (little-endian) strings, as recorded."""
        import numpy as np

        litellm = _litellm()
        started = time.monotonic()
        try:
            response = litellm.embedding(
                model=self.model,
                input=texts,
                api_base=self.config.api_base,
                api_key=self._api_key(),
                timeout=self.config.timeout_s,
                num_retries=0,
                max_retries=0,
            )
            data = sorted(response.data or [], key=lambda item: _field(item, "index") or 0)
            if len(data) != len(texts):
                raise _EmptyReply(f"the server returned {len(data)} embeddings for {len(texts)}")
            vectors = []
            for item in data:
                vector = _field(item, "embedding")
                if isinstance(vector, str):  # base64 float32, as the OpenAI API may send it
                    vector = np.frombuffer(base64.b64decode(vector), dtype="<f4")
                array = np.asarray(vector, dtype="<f4")
                if array.ndim != 1 or array.size == 0 or not np.isfinite(array).all():
                    raise LLMError(f"{self.model}: the server returned an unusable embedding")
                vectors.append(base64.b64encode(array.tobytes()).decode())
        except Exception as exc:
            self._record(call, started, error=_describe(exc, self.config))
            raise
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        reply = LLMReply(
            text=json.dumps(vectors),
            prompt_tokens=prompt,
            completion_tokens=0,
            usd=self._usd(response, prompt, 0, call_type="embedding"),
            latency_s=time.monotonic() - started,
            model=self.model,
        )
        self._record(call, started, reply=reply)
        return reply

    def _api_key(self) -> str | None:
        if self.config.api_key_env:
            return os.environ.get(self.config.api_key_env)
        if self.config.api_base and not os.environ.get("OPENAI_API_KEY"):
            return "none"  # local OpenAI-compatible servers (vLLM, Ollama) take any key
        return None  # litellm reads the provider's own variable

    def _usd(
        self, response: Any, prompt: int, completion: int, call_type: str = "completion"
    ) -> float:
        """Prices from the config win (a model litellm does not know, or a negotiated rate)."""
        prices = self.config.prices
        if prices is not None:
            return (prompt * prices.input_per_mtok + completion * prices.output_per_mtok) / 1e6
        try:
            cost = _litellm().completion_cost(completion_response=response, call_type=call_type)
            return float(cost)
        except Exception:  # litellm raises several types for a model it cannot price
            return 0.0

    # -- recording and replay ----------------------------------------------------------------
    def _record(
        self,
        call: _Call,
        started: float,
        *,
        reply: LLMReply | None = None,
        error: str | None = None,
    ) -> None:
        if self.store is None:
            return
        self.store.record_llm_call(
            key=call.key,
            model=self.model,
            request={"messages": call.messages, "params": call.params},
            response=reply.text if reply else None,
            error=error,
            prompt_tokens=reply.prompt_tokens if reply else 0,
            completion_tokens=reply.completion_tokens if reply else 0,
            usd=reply.usd if reply else 0.0,
            latency_s=time.monotonic() - started,
            design_id=call.design_id,
            purpose=call.purpose,
        )

    def _slot(self, design_id: int | None, key: str) -> tuple[int | None, str]:
        if not self._by_request_only:
            return (design_id, key)
        if design_id is not None and not self._warned:
            self._warned = True
            warnings.warn(
                "this run's recording does not say which design made each call: identical "
                "requests are answered in the order recorded, whichever design asks, so a "
                "replay on a busy machine may differ",
                RecordingWarning,
                stacklevel=4,
            )
        return (None, key)

    def _recorded(self, design_id: int | None, key: str) -> LLMReply | None:
        """The next recorded answer to this request of this design, or None."""
        with self._recording_lock:
            calls = self._recording.get(self._slot(design_id, key))
            if not calls:
                return None
            call = calls.popleft()
        return LLMReply(
            text=call["response"],
            prompt_tokens=call["prompt_tokens"],
            completion_tokens=call["completion_tokens"],
            usd=call["usd"],
            latency_s=0.0,
            model=call["model"],
            replayed=True,
        )

    # -- before a search ------------------------------------------------------------------------
    def preflight(self) -> None:
        """One cheap call; raise LLMConfigurationError with a clear message if it fails."""
        try:
            self.complete(
                [{"role": "user", "content": "Reply with the word ok."}],
                max_tokens=4,
                purpose="check",
            )
        except LLMError as exc:
            raise LLMConfigurationError(
                f"the LLM is not usable: {exc}. Check the model name, the API key "
                f"({self.config.api_key_env or 'the provider variable'}) and --api-base."
            ) from None


def _field(item: Any, name: str) -> Any:
    """A field of one item of an embedding response, a dict or an object as litellm gives."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _describe(exc: BaseException, config: LLMConfig) -> str:
    """What went wrong, for the user, the record and the agents: never a key. The provider's
    text is redacted before it is cut, so that no part of a key it echoed survives the cut."""
    text = redaction.redact(str(exc).replace("litellm.", "").strip())
    where = f" at {redaction.without_userinfo(config.api_base)}" if config.api_base else ""
    return f"{type(exc).__name__}{where}: {text[:300]}"
