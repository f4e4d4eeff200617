"""Secrets by value: the one place that knows which values are keys, and takes them out of text
(`redact`) and out of a design's environment (`holds_secret`, which the sandbox is given).

A key is known by where it lives, not by what its variable is called:

- every variable a configured model reads its key from (`api_key_env`, however unusual its
  name), registered when a run is assembled and by each `LLM`;
- the providers' own variables (OPENAI_API_KEY, ANTHROPIC_API_KEY: a name like `SECRET_NAME`);
- the credentials written into a configured `api_base` (`http://user:password@host`).

Only names and addresses are registered; the values are read from the environment when asked,
so a key set or changed after registration still counts.

    redaction.register(names=["AGENT_LLM_PASSPHRASE"], urls=["http://u:p@host/v1"])
    redaction.redact(error_text)    # every known key, URL userinfo, `Bearer ...` -> [redacted]
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MARK = "[redacted]"

#: The providers' variables. The sandbox holds the same pattern for itself (it imports nothing
#: of the package); a test keeps the two equal.
SECRET_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE
)

#: Shorter keys are matched only whole (a variable holding exactly that value), never inside
#: text: a five-letter key would mark every word it happens to spell.
SHORTEST = 6
#: A provider's key is long; a short value under such a name is a setting, not a key
#: (DESKTOP_SESSION=ubuntu, TOKENIZERS_PARALLELISM=false).
SHORTEST_PROVIDER = 16

_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@'\"]+@")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/\-]{6,}=*")
_KEY_SETTING = re.compile(
    r"(?i)\b((?:x-)?api[_-]?key|access[_-]?token|password|passwd|secret)"
    r"([\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
)

_lock = threading.Lock()
_names: set[str] = set()
_from_urls: set[str] = set()


def register(names: Iterable[str | None] = (), urls: Iterable[str | None] = ()) -> None:
    """Remember the variables holding keys (`names`) and the credentials in `urls`;
    None and URLs without credentials are skipped."""
    found = {secret for url in urls if url for secret in _url_credentials(url)}
    with _lock:
        _names.update(name for name in names if name)
        _from_urls.update(found)


def known_values() -> set[str]:
    """Every key known now: the registered variables' values (read now), the credentials of
    registered URLs, and the providers' variables' values that look like keys."""
    with _lock:
        names, values = set(_names), set(_from_urls)
    for name, value in os.environ.items():
        provider = SECRET_NAME.search(name) and len(value) >= SHORTEST_PROVIDER
        # A provider-named value that names a file is a location (SSH_AUTH_SOCK), not a key.
        if name in names or (provider and not os.path.exists(value)):
            values.add(value)
    values.discard("")
    return values


def holds_secret(value: str) -> bool:
    """Whether an environment variable's value is a known key, or holds one inside it."""
    return any(
        value == secret or (len(secret) >= SHORTEST and secret in value)
        for secret in known_values()
    )


def redact(text: str) -> str:
    """`text` with every known key, every URL's userinfo, and what follows `Bearer`, `Basic`
    and `api_key=`-like settings replaced by MARK."""
    for secret in sorted(known_values(), key=len, reverse=True):
        if len(secret) >= SHORTEST:
            text = text.replace(secret, MARK)
    text = _URL_USERINFO.sub(rf"\1{MARK}@", text)
    text = _AUTH_SCHEME.sub(rf"\1\2{MARK}", text)
    return _KEY_SETTING.sub(rf"\1\2{MARK}", text)


def without_userinfo(url: str) -> str:
    """`url` as it may be shown: its user and password left out."""
    return _URL_USERINFO.sub(r"\1", url)


def _url_credentials(url: str) -> set[str]:
    """The secrets in a URL's userinfo, in each form a client or a server may write them:
    as written, percent-decoded, and as an HTTP Basic credential (base64 of user:password)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    user, password = parts.username, parts.password
    if password is None:  # a token given as the user alone: https://TOKEN@host
        return {user, unquote(user)} if user else set()
    userinfo = f"{unquote(user or '')}:{unquote(password)}"
    basic = base64.b64encode(userinfo.encode()).decode()
    return {password, unquote(password), userinfo, basic}
