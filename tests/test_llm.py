"""The LLM layer against a real OpenAI-protocol server on loopback, through litellm."""

import base64
import threading
import time

import pytest

from agentic_design import redaction
from agentic_design.config import LLMConfig
from agentic_design.llm import (
    LLM,
    LLMConfigurationError,
    LLMError,
    RecordingWarning,
    ReplayMiss,
)
from agentic_design.store.archive import Archive

from .llm_server import Fault, ScriptedLLM

HELLO = [{"role": "user", "content": "Say hello."}]


def config(server: ScriptedLLM, **extra) -> LLMConfig:
    settings = {"model": "openai/gpt-4o-mini", "api_base": server.url, "timeout_s": 2}
    return LLMConfig(**{**settings, **extra})


@pytest.fixture
def archive(tmp_path):
    with Archive.create(tmp_path / "run") as a:
        yield a


def test_a_reply_carries_text_tokens_usd_and_latency_and_is_recorded(archive):
    with ScriptedLLM(answer=lambda request: "hello there") as server:
        reply = LLM(config(server), store=archive).complete(HELLO)
    assert reply.text == "hello there"
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0
    assert reply.usd > 0  # gpt-4o-mini is in litellm's local cost map
    assert reply.latency_s > 0
    (call,) = archive.recorded_llm_calls()
    assert call["response"] == "hello there" and call["error"] is None
    assert call["usd"] == reply.usd and call["model"] == "openai/gpt-4o-mini"
    assert archive.spend()["tokens"] == reply.tokens


def test_prices_from_the_config_price_a_model_litellm_does_not_know(archive):
    with ScriptedLLM(answer=lambda request: "x" * 400) as server:
        llm = LLM(
            config(
                server,
                model="openai/my-local-model",
                prices={"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            ),
            store=archive,
        )
        reply = llm.complete(HELLO)
    expected = (reply.prompt_tokens * 1.0 + reply.completion_tokens * 2.0) / 1e6
    assert reply.usd == pytest.approx(expected) and reply.usd > 0


@pytest.mark.parametrize(
    "fault", [Fault.server_error(), Fault.truncated(), Fault.drop(), Fault.rate_limit(None)]
)
def test_transient_faults_are_retried_and_every_attempt_recorded(archive, fault):
    with ScriptedLLM(answer=lambda request: "recovered") as server:
        server.queue(fault, fault)
        reply = LLM(config(server), store=archive).complete(HELLO)
        assert len(server.requests) == 3
    assert reply.text == "recovered"
    calls = archive.recorded_llm_calls()
    assert [c["error"] is None for c in calls] == [False, False, True]


def test_retry_after_is_honoured(archive):
    with ScriptedLLM(answer=lambda request: "after the wait") as server:
        server.queue(Fault.rate_limit(retry_after=1.5))
        started = time.monotonic()
        reply = LLM(config(server), store=archive).complete(HELLO)
    assert reply.text == "after the wait"
    assert time.monotonic() - started >= 1.5


def test_a_hang_past_the_timeout_is_retried(archive):
    with ScriptedLLM(answer=lambda request: "fast now") as server:
        server.queue(Fault.hang(seconds=5))
        reply = LLM(config(server, timeout_s=0.5), store=archive).complete(HELLO)
    assert reply.text == "fast now"
    assert "Timeout" in archive.recorded_llm_calls()[0]["error"]


def test_retries_give_up_with_a_clear_error(archive):
    with ScriptedLLM() as server:
        server.queue(*[Fault.server_error()] * 3)
        with pytest.raises(LLMError, match="gave up after 3 attempts"):
            LLM(config(server, retries=3), store=archive).complete(HELLO)
    assert len(archive.recorded_llm_calls()) == 3


@pytest.mark.parametrize("kind", ["auth", "bad_request"])
def test_authentication_and_bad_requests_are_not_retried(archive, kind):
    with ScriptedLLM() as server:
        server.queue(Fault(kind))
        with pytest.raises(LLMError):
            LLM(config(server), store=archive).complete(HELLO)
        assert len(server.requests) == 1


def test_concurrency_is_limited(archive):
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def answer(request):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.2)
        with lock:
            in_flight -= 1
        return "done"

    with ScriptedLLM(answer=answer) as server:
        llm = LLM(config(server, concurrency=2), store=archive)
        threads = [
            threading.Thread(target=llm.complete, args=(HELLO,), kwargs={"sample": i})
            for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak == 2
    assert len(archive.recorded_llm_calls()) == 6


def test_a_recording_replays_with_the_server_gone(archive):
    with ScriptedLLM(answer=lambda request: request["messages"][-1]["content"].upper()) as server:
        llm = LLM(config(server), store=archive)
        server.queue(Fault.server_error())
        first = [llm.complete([{"role": "user", "content": w}]).text for w in ("a", "b")]
        settings = config(server)
    replayed = LLM(settings, store=archive, replay=True)
    again = [replayed.complete([{"role": "user", "content": w}]) for w in ("a", "b")]
    assert [r.text for r in again] == first == ["A", "B"]
    assert all(r.replayed for r in again)
    with pytest.raises(ReplayMiss):
        replayed.complete([{"role": "user", "content": "never asked"}])


def test_preflight_reports_an_unreachable_server(archive):
    server = ScriptedLLM()
    server.start()
    settings = config(server, retries=2, timeout_s=1)
    server.stop()  # nothing listens there any more
    with pytest.raises(LLMConfigurationError, match="not usable"):
        LLM(settings, store=archive).preflight()


def test_a_request_asked_before_is_answered_from_the_record_not_paid_twice(archive):
    with ScriptedLLM(answer=lambda request: "first answer") as server:
        LLM(config(server), store=archive).complete(HELLO, sample=7)
        again = LLM(config(server), store=archive).complete(HELLO, sample=7)  # as on resume
        fresh = LLM(config(server), store=archive).complete(HELLO, sample=8)
        assert len(server.requests) == 2
    assert again.text == "first answer" and again.replayed
    assert not fresh.replayed
    assert len(archive.recorded_llm_calls()) == 2


# -- recordings by design ----------------------------------------------------------------------


def varied(server_answers):
    """A model that answers identical requests differently (as at temperature > 0)."""
    answers = iter(server_answers)
    return lambda request: next(answers)


def test_each_design_is_answered_from_its_own_recording_whoever_asks_first(archive):
    with ScriptedLLM(answer=varied(["for #1", "for #2"])) as server:
        llm = LLM(config(server), store=archive)
        recorded = [llm.complete(HELLO, design_id=d).text for d in (1, 2)]
        settings = config(server)
    assert recorded == ["for #1", "for #2"]  # the same request, different answers
    replayed = LLM(settings, store=archive, replay=True)
    # the replay's second design asks first, as on a busy machine
    assert replayed.complete(HELLO, design_id=2).text == "for #2"
    assert replayed.complete(HELLO, design_id=1).text == "for #1"
    with pytest.raises(ReplayMiss, match="design #3"):
        replayed.complete(HELLO, design_id=3)  # another design's recording answers no one else


@pytest.mark.parametrize("order", [(3, 1), (1, 3)], ids=["3 then 1", "1 then 3"])
def test_a_rescore_is_answered_from_its_own_design_and_its_calls_recorded_under_it(archive, order):
    with ScriptedLLM(answer=varied(["#1 in the run", "fresh", "fresh again"])) as server:
        LLM(config(server), store=archive).complete(HELLO, design_id=1)
        # rescores: #3 never asked it, so the model answers and it is recorded under #3;
        # #1 is answered from its own recording, whichever comes first
        rescored = {
            d: LLM(config(server), store=archive).complete(HELLO, design_id=d) for d in order
        }
        assert len(server.requests) == 2
    assert rescored[1].text == "#1 in the run" and rescored[1].replayed
    assert rescored[3].text == "fresh" and not rescored[3].replayed
    assert [c["response"] for c in archive.recorded_llm_calls(3)] == ["fresh"]
    assert len(archive.recorded_llm_calls(1)) == 1


def test_a_recording_without_designs_replays_in_request_order_with_a_warning(archive):
    with ScriptedLLM(answer=varied(["first", "second"])) as server:
        llm = LLM(config(server), store=archive)
        recorded = [llm.complete(HELLO).text for _ in range(2)]  # no design: as before version 4
        settings = config(server)
    replayed = LLM(settings, store=archive, replay=True)
    with pytest.warns(RecordingWarning, match="whichever design asks"):
        assert [replayed.complete(HELLO, design_id=d).text for d in (2, 1)] == recorded


# -- keys never leave in an error ------------------------------------------------------------

KEY = "sk-passphrase-6f1d2c9e"  # under an unusual name: no pattern on names would find it
URL_PASSWORD = "url-pass-8a3e77"


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://alice:{URL_PASSWORD}@")


def leaks(text: str) -> list[str]:
    """Which of the keys (in any form a client sends them) appear in `text`."""
    basic = base64.b64encode(f"alice:{URL_PASSWORD}".encode()).decode()
    return [s for s in (KEY, URL_PASSWORD, basic) if s in text]


def test_an_error_shows_the_api_base_without_its_credentials(archive):
    with ScriptedLLM() as server:
        server.queue(Fault("bad_request"))
        with pytest.raises(LLMError) as raised:
            LLM(config(server, api_base=with_userinfo(server.url)), store=archive).complete(HELLO)
        address = server.url.removeprefix("http://")
    assert leaks(str(raised.value)) == [] and f"at http://{address}" in str(raised.value)
    (call,) = archive.recorded_llm_calls()
    assert leaks(call["error"]) == [] and address in call["error"]


@pytest.mark.parametrize("userinfo", [False, True], ids=["bearer", "basic"])
def test_a_provider_echoing_the_authorization_header_hands_on_no_key(
    archive, monkeypatch, userinfo
):
    monkeypatch.setenv("AGENT_LLM_PASSPHRASE", KEY)
    with ScriptedLLM() as server:
        server.queue(Fault.echo(400))
        api_base = with_userinfo(server.url) if userinfo else server.url
        settings = config(server, api_base=api_base, api_key_env="AGENT_LLM_PASSPHRASE")
        with pytest.raises(LLMError) as raised:
            LLM(settings, store=archive).complete(HELLO)
    sent = server.authorizations[0] or ""
    assert KEY in sent or URL_PASSWORD in base64.b64decode(sent.split()[-1]).decode()
    assert "invalid credentials" in str(raised.value)  # the provider's words still come through
    assert leaks(str(raised.value)) == []
    (call,) = archive.recorded_llm_calls()
    assert leaks(call["error"]) == []


def test_the_store_records_no_registered_key_whoever_hands_it_an_error(archive, monkeypatch):
    # A call log from a Ray node, or any caller that did not redact its error first.
    monkeypatch.setenv("AGENT_LLM_PASSPHRASE", KEY)
    redaction.register(names=["AGENT_LLM_PASSPHRASE"])
    error = f"BadRequestError: echo {{'x-api-key': '{KEY}', 'url': 'http://u:{KEY}@h'}}"
    archive.record_llm_call(key="k", model="m", request={}, error=error)
    (call,) = archive.recorded_llm_calls()
    assert KEY not in call["error"] and "BadRequestError: echo" in call["error"]
