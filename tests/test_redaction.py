"""Keys known by value: what `redaction` takes out of text and out of a sandbox's environment."""

from __future__ import annotations

from agentic_design import redaction
from agentic_design.sandbox.pool import scrubbed_environment


def test_a_registered_key_is_read_when_asked_and_redacted_anywhere_in_text(monkeypatch):
    redaction.register(names=["REDACTION_TEST_PASSPHRASE"])
    monkeypatch.setenv("REDACTION_TEST_PASSPHRASE", "first-key-3a9c")
    assert redaction.redact("got first-key-3a9c back") == "got [redacted] back"
    monkeypatch.setenv("REDACTION_TEST_PASSPHRASE", "second-key-77d1")  # changed since
    assert redaction.redact("first-key-3a9c, second-key-77d1") == "first-key-3a9c, [redacted]"


def test_credentials_in_a_url_are_known_in_every_form_a_client_sends_them():
    redaction.register(urls=["http://bob:p%40ss-word-91@proxy.example/v1"])
    text = "http://bob:p%40ss-word-91@host/v1 sent p@ss-word-91 as Ym9iOnBAc3Mtd29yZC05MQ=="
    assert redaction.redact(text) == "http://[redacted]@host/v1 sent [redacted] as [redacted]"
    assert redaction.without_userinfo("https://u:p@host:8000/v1") == "https://host:8000/v1"


def test_echoed_headers_and_settings_are_redacted_and_plain_errors_kept():
    echoed = "headers {'Authorization': 'Bearer sk-unknown-123456', 'x-api-key': 'zzz-999'}"
    assert redaction.redact(echoed) == (
        "headers {'Authorization': 'Bearer [redacted]', 'x-api-key': '[redacted]'}"
    )
    plain = "RateLimitError: 429 rate limited; max_tokens=4096, prompt_tokens: 12"
    assert redaction.redact(plain) == plain


def test_a_short_key_is_matched_whole_never_inside_text(monkeypatch):
    redaction.register(names=["REDACTION_TEST_PIN"])
    monkeypatch.setenv("REDACTION_TEST_PIN", "ab12")
    monkeypatch.setenv("REDACTION_TEST_COPY", "ab12")
    monkeypatch.setenv("REDACTION_TEST_WORDS", "grab12 apples")
    assert redaction.redact("grab12 apples") == "grab12 apples"
    env = scrubbed_environment(holds_secret=redaction.holds_secret)
    assert "REDACTION_TEST_PIN" not in env and "REDACTION_TEST_COPY" not in env
    assert env["REDACTION_TEST_WORDS"] == "grab12 apples"


def test_providers_keys_are_known_without_registering_but_not_their_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "pk-live-0123456789abcdef")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("REDACTION_TEST_TOKEN_FILE", str(tmp_path))  # a location, not a key
    monkeypatch.setenv("REDACTION_TEST_DERIVED", "Bearer pk-live-0123456789abcdef")
    known = redaction.known_values()
    assert "pk-live-0123456789abcdef" in known
    assert "false" not in known and str(tmp_path) not in known
    env = scrubbed_environment(holds_secret=redaction.holds_secret)
    assert "REDACTION_TEST_DERIVED" not in env and "PATH" in env
