"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Tests point litellm at it through `api_base`, exactly as a user points it at vLLM or Ollama.
Answers are scripted; faults are injected on demand, one per request, from a queue:

    server = ScriptedLLM(answer=lambda request: '{"thought": ...}')
    server.queue(Fault.rate_limit(retry_after=0.2), Fault.server_error(), "plain answer")
    with server:
        ... api_base=server.url ...

It only ever binds to the loopback address.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str]
Embed = Callable[[str], list[float]]

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


def hashed_embedding(text: str, dim: int = 64) -> list[float]:
    """A deterministic embedding for tests: the text's words and identifiers, each hashed (with
    hashlib: Python's own hash() is salted per process) into one of `dim` buckets, counted.
    Code that differs by a line comes out about 0.99 similar; unrelated code far less."""
    vector = [0.0] * dim
    for token in _TOKEN.findall(text):
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dim] += 1.0
    if not any(vector):
        vector[0] = 1.0  # an embedding model never answers the zero vector
    return vector


@dataclass(frozen=True)
class Fault:
    """One injected failure. `kind`: rate_limit, server_error, hang, truncated, empty, drop,
    prose (the real answer wrapped in chatter), auth (401), bad_request (400), echo (a proxy
    that puts the request's Authorization header and the rest of its headers in its error
    body, with `status`)."""

    kind: str
    retry_after: float | None = None
    seconds: float = 0.0
    status: int = 400

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.1) -> Fault:
        return cls("rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        return cls("server_error")

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        return cls("truncated")

    @classmethod
    def empty(cls) -> Fault:
        return cls("empty")

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def echo(cls, status: int = 400) -> Fault:
        return cls("echo", status=status)


@dataclass
class ScriptedLLM:
    """The server. `answer(request)` writes the content of replies not taken from the queue;
    `fault_rate` injects a random retryable fault (seeded) into that share of requests.

    It also answers OpenAI embeddings requests (a path ending in /embeddings) with `embed`'s
    vector for each input; they take their turn in the same queue of faults (a string queued
    is ignored for them: the vectors always come from `embed`) and are kept in `requests` and
    in `embedding_requests`."""

    answer: Answer = field(default=lambda request: "ok")
    delay_s: float = 0.0
    fault_rate: float = 0.0
    seed: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults_served: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)  # each request's header
    embed: Embed = hashed_embedding
    embedding_requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[str | Fault] = deque()
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._server: ThreadingHTTPServer | None = None

    def queue(self, *steps: str | Fault) -> None:
        with self._lock:
            self._script.extend(steps)

    @property
    def url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedLLM:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _next(self, request: dict[str, Any], *, embedding: bool = False) -> str | Fault:
        with self._lock:
            self.requests.append(request)
            if embedding:
                self.embedding_requests.append(request)
            if self._script:
                return self._script.popleft()
            if self.fault_rate and self._rng.random() < self.fault_rate:
                kinds = ("rate_limit", "server_error", "truncated", "drop", "empty", "prose")
                return Fault(self._rng.choice(kinds), retry_after=0.05)
        return "" if embedding else self.answer(request)


def _completion(request: dict[str, Any], content: str) -> dict[str, Any]:
    prompt_chars = sum(len(str(m.get("content", ""))) for m in request.get("messages", []))
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(content) // 4)
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "scripted"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _embeddings(server: ScriptedLLM, request: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI embeddings response: one vector per input, as floats or, when the client
    asks for base64, as base64 of little-endian float32."""
    texts = request.get("input", "")
    texts = [texts] if isinstance(texts, str) else list(texts)
    as_base64 = request.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = [float(x) for x in server.embed(str(text))]
        embedding: Any = vector
        if as_base64:
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = max(1, sum(len(str(t)) for t in texts) // 4)
    return {
        "object": "list",
        "data": data,
        "model": request.get("model", "scripted"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _handler_for(server: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # /v1/models, for clients that list models
            self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            server.authorizations.append(self.headers.get("Authorization"))
            embedding = self.path.rstrip("/").endswith("/embeddings")
            step = server._next(request, embedding=embedding)
            if server.delay_s:
                time.sleep(server.delay_s)

            def reply(content: str) -> dict[str, Any]:
                return _embeddings(server, request) if embedding else _completion(request, content)

            if isinstance(step, str):
                self._json(200, reply(step))
                return
            server.faults_served.append(step.kind)
            if step.kind == "rate_limit":
                headers = {} if step.retry_after is None else {"Retry-After": f"{step.retry_after}"}
                error = {"error": {"message": "rate limited", "type": "rate_limit"}}
                self._json(429, error, headers)
            elif step.kind == "server_error":
                self._json(500, {"error": {"message": "internal error", "type": "server_error"}})
            elif step.kind == "auth":
                self._json(401, {"error": {"message": "invalid api key", "type": "auth_error"}})
            elif step.kind == "bad_request":
                self._json(400, {"error": {"message": "bad request", "type": "invalid_request"}})
            elif step.kind == "echo":
                seen = f"{self.headers.get('Authorization')!r} for {self.path}"
                message = f"invalid credentials {seen}; headers: {dict(self.headers)}"
                self._json(step.status, {"error": {"message": message, "type": "echo"}})
            elif step.kind == "hang":
                time.sleep(step.seconds)
                self._json(200, reply("too late"))
            elif step.kind == "empty":
                nothing = _embeddings(server, {**request, "input": []}) if embedding else None
                self._json(200, nothing or _completion(request, ""))
            elif step.kind == "prose" and embedding:  # no chatter around vectors
                self._json(200, _embeddings(server, request))
            elif step.kind == "prose":
                answer = server.answer(request)
                text = f"Sure! Here is what I came up with:\n\n{answer}\n\nHope it helps."
                self._json(200, _completion(request, text))
            elif step.kind == "truncated":
                body = json.dumps(reply("cut")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
            elif step.kind == "drop":
                self.close_connection = True  # no response at all

        def _json(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler
