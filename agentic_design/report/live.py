"""The live view of a run (`agentic-design serve RUN_DIR`, `run --serve`): a page on a local
HTTP server that refreshes itself as the search goes — its state, best so far, budgets, recent
designs and failures, spend per model — beside the full report, rebuilt as the run changes.

Read-only: every request opens the store read-only and reads nothing else of the run directory
(SQLite makes its empty `-wal`/`-shm` side files where a finished run left none, as `status`
does); no path from a request ever reaches the filesystem. Only GET and HEAD, of three pages.

Safe to show: pages come from the report's autoescaping templates and carry the report's policy
(no script, nothing fetched from elsewhere) as a header too; the page refreshes itself by a
`<meta http-equiv="refresh">`, which needs no script. A Host header naming another host is
refused (a DNS-rebinding page cannot read the run), and the server listens on loopback unless
the user names another address.

Robust: a store that cannot be read is said in the page, which goes on refreshing.
"""

from __future__ import annotations

import argparse
import http.server
import ipaddress
import json
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from agentic_design.records import ArchiveError, Design, Status
from agentic_design.report import build_report, environment
from agentic_design.store.archive import Archive, db_path

__all__ = [
    "LiveServer",
    "LiveView",
    "LiveViewError",
    "Snapshot",
    "is_loopback",
    "read_snapshot",
    "render_live",
    "start_live_view",
]

# The report's own policy, sent as a header to every answer (its pages carry it as a meta tag).
POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
RECENT = 20  # designs shown, newest first
FAILURES = 10  # failed designs shown, newest first
REPORT_EVERY_S = 5.0  # the full report is rebuilt at most this often (matplotlib: 1-3 s)


class LiveViewError(RuntimeError):
    """The live view could not start (the address is taken, say)."""


# -- what the page shows ------------------------------------------------------------------------
@dataclass(frozen=True)
class Snapshot:
    """What the live page shows of a run at one moment. `state`: waiting (no store yet),
    starting, running, stopped, imported or unreadable (then `error` says why)."""

    run_dir: str
    name: str
    state: str
    state_line: str
    read_at: str
    version: str = ""  # changes whenever the run records something new
    error: str = ""
    proposer: str = ""
    fitness_name: str = "fitness"
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    test: dict[str, Any] | None = None  # the best's one score on the test split, at the stop
    budgets: list[dict[str, Any]] = field(default_factory=list)
    recent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    spend: dict[str, float] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether the run may still change (the page keeps refreshing either way)."""
        return self.state in ("waiting", "starting", "running", "unreadable")


def read_snapshot(run_dir: Path) -> Snapshot:
    """The run in `run_dir` as it stands now, read from its store opened read-only; a store not
    there yet, or one that cannot be read, is a snapshot that says so."""
    now = datetime.now().strftime("%H:%M:%S")
    name = run_dir.name
    if not db_path(run_dir).is_file():
        line = f"waiting for the run to start (no {db_path(run_dir).name} in {run_dir} yet)"
        nothing = {"evaluations": 0.0, "hours": 0.0, "usd": 0.0, "tokens": 0}
        configured = _configured_budget(run_dir)
        budgets = _budgets(configured, nothing) if configured else []
        return Snapshot(str(run_dir), name, "waiting", line, now, budgets=budgets)
    try:
        with Archive.open(run_dir, readonly=True) as archive:
            return _read(archive, run_dir, now)
    # The search writes the store meanwhile, in another process: a store caught while it is
    # being made, or locked past the timeout, is shown as such and read again next refresh.
    except (ArchiveError, sqlite3.Error, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        line = "the run's store could not be read just now"
        return Snapshot(str(run_dir), name, "unreadable", line, now, error=error)


def _read(archive: Archive, run_dir: Path, now: str) -> Snapshot:
    meta = archive.all_meta()
    counts = archive.counts()
    spend = archive.spend()
    context = archive.select_context(k_best=1, n_diverse=0, n_failures=FAILURES)
    best = context.best[0] if context.best else None
    last_event = archive.events(last=1)
    version = json.dumps(
        [sorted(counts.items()), spend["calls"], last_event[0]["id"] if last_event else 0]
    )
    state, line = _state(meta)
    searched_s = float(meta.get("searched_s") or 0.0)
    budget = meta.get("budget") or _configured_budget(run_dir)
    used = {
        "evaluations": archive.spent(),  # in full evaluations: a cheap one counts its share
        "hours": searched_s / 3600,
        "usd": float(spend["usd"]),
        "tokens": int(spend["tokens"]),
    }
    models = [{"model": model, **m} for model, m in archive.model_spend().items()]
    return Snapshot(
        run_dir=str(run_dir),
        name=archive.run_name,
        state=state,
        state_line=line,
        read_at=now,
        version=version,
        proposer=str(meta.get("proposer") or ""),
        fitness_name=str(meta.get("fitness_name") or "fitness"),
        total=sum(counts.values()),
        counts=dict(sorted(counts.items())),
        best=None if best is None else _row(best),
        test=meta.get("test") if isinstance(meta.get("test"), dict) else None,
        budgets=[] if meta.get("imported_from") else _budgets(budget, used),
        recent=[_row(d) for d in reversed(archive.recent(RECENT))],
        failures=[_row(d) for d in reversed(context.failures)],
        models=models,
        spend=spend,
    )


def _state(meta: dict[str, Any]) -> tuple[str, str]:
    """The run's state in a word, and in a line."""
    if meta.get("imported_from"):
        return "imported", f"imported from {meta['imported_from']}: {meta.get('source')}"
    state = meta.get("state")
    if state == "running":
        if _alive(meta.get("pid")):
            return "running", f"running (process {meta.get('pid')})"
        return "stopped", "stopped without finishing (killed?): resume it to continue"
    if state in ("finished", "interrupted"):
        summary = meta.get("summary") or {}
        stopped_by = meta.get("stopped_by") or summary.get("stopped_by") or state
        reason = summary.get("reason") or ""
        return "stopped", f"stopped by {stopped_by}" + (f": {reason}" if reason else "")
    return "starting", "starting: the store is made, the search not yet under way"


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _configured_budget(run_dir: Path) -> dict[str, Any]:
    """The budget in RUN_DIR/config.yaml (the search writes it before its store), else none."""
    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return {}
    budget = data.get("budget") if isinstance(data, dict) else None
    return budget if isinstance(budget, dict) else {}


def _budgets(budget: dict[str, Any], used: dict[str, float]) -> list[dict[str, Any]]:
    """Each budget the run was given: what it has used of it, and the limit (None: none)."""
    rows = []
    for what, value in used.items():
        limit = budget.get(what)
        limit = limit if isinstance(limit, int | float) and not isinstance(limit, bool) else None
        rows.append({"what": what, "used": value, "limit": limit, "share": _share(value, limit)})
    return rows


def _share(used: float, limit: float | None) -> float | None:
    return None if not limit else min(1.0, max(0.0, used / limit))


def _row(d: Design) -> dict[str, Any]:
    """A design as the page shows it (the first line of its error, if it failed)."""
    error = (d.error or "").strip().splitlines()
    return {
        "id": d.id,
        "name": d.name,
        "status": d.status.value,
        "ok": d.status is Status.OK,
        "fitness": d.fitness,
        "fidelity": d.fidelity,  # the share of a full evaluation its fitness comes from
        "ci_low": d.ci_low,
        "ci_high": d.ci_high,
        "proposer": d.proposer,
        "summary": d.summary,
        "error": error[0][:300] if error else "",
    }


def render_live(snapshot: Snapshot, refresh: float) -> str:
    """The live page of `snapshot`, refreshing itself every `refresh` seconds."""
    return (
        environment()
        .get_template("live.html.j2")
        .render(s=snapshot, refresh=max(1, round(refresh)))
    )


# -- the full report, rebuilt as the run changes ------------------------------------------------
class ReportCache:
    """The run's full report, rebuilt when the store changed since the last build, at most every
    `every` seconds; while one request rebuilds it the others get the last one built."""

    def __init__(self, run_dir: Path, every: float = REPORT_EVERY_S) -> None:
        self.run_dir = run_dir
        self.every = every
        self._lock = threading.Lock()
        self._html: str | None = None
        self._version: str | None = None
        self._built_at = 0.0

    def page(self) -> str:
        if self._lock.acquire(blocking=self._html is None):
            try:
                self._refresh()
            finally:
                self._lock.release()
        assert self._html is not None
        return self._html

    def _refresh(self) -> None:
        if self._html is not None and time.monotonic() - self._built_at < self.every:
            return
        version = read_snapshot(self.run_dir).version
        if self._html is not None and version and version == self._version:
            return
        with Archive.open(self.run_dir, readonly=True) as archive:
            self._html = build_report(archive).html
        self._version, self._built_at = version, time.monotonic()


# -- the server ---------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback interface only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LiveServer(http.server.ThreadingHTTPServer):
    """The live view's HTTP server for one run directory (`serve_forever` to run it)."""

    daemon_threads = True

    def __init__(self, run_dir: Path, host: str = "127.0.0.1", port: int = 0, refresh: float = 5):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.run_dir = Path(run_dir)
        self.refresh = refresh
        self.report = ReportCache(self.run_dir)
        wildcard = host.strip("[]") in ("0.0.0.0", "::", "")
        # The names a browser may give as Host; any, when the user bound every interface.
        self.hosts = None if wildcard else {host.strip("[]"), "localhost", "127.0.0.1", "::1"}
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that closed its connection mid-answer is no error of ours.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _hostname(header: str) -> str:
    """The host a Host header names, without its port ("[::1]:8765" -> "::1")."""
    if header.startswith("["):
        return header[1 : header.find("]")]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Handler(http.server.BaseHTTPRequestHandler):
    server: LiveServer

    def version_string(self) -> str:
        return "agentic-design"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def __getattr__(self, name: str) -> Any:
        # Every other method (POST, PUT, DELETE, and any the client invents) is refused alike:
        # the base class looks up `do_<METHOD>` and would answer 501 where none is defined.
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _refuse(self) -> None:
        self._send(405, "text/plain", b"only GET and HEAD\n", True, Allow="GET, HEAD")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page refreshing every few seconds would fill the terminal."""

    def _answer(self, body: bool) -> None:
        host = _hostname((self.headers.get("Host") or "").lower())
        if self.server.hosts is not None and host not in self.server.hosts:
            self._send(400, "text/plain", b"unknown Host\n", body)
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/":
            snapshot = read_snapshot(self.server.run_dir)
            page = render_live(snapshot, self.server.refresh)
            self._send(200, "text/html; charset=utf-8", page.encode(), body)
        elif path == "/report":
            self._report(body)
        elif path == "/status.json":
            data = json.dumps(asdict(read_snapshot(self.server.run_dir)), default=str)
            self._send(200, "application/json", data.encode(), body)
        else:
            self._send(404, "text/plain", b"not found: this server shows /, /report\n", body)

    def _report(self, body: bool) -> None:
        try:
            page = self.server.report.page()
        except (ArchiveError, sqlite3.Error, OSError) as exc:
            snapshot = read_snapshot(self.server.run_dir)
            failed = f"the report could not be built: {type(exc).__name__}: {exc}"
            html = render_live(Snapshot(**{**asdict(snapshot), "error": failed}), 5)
            self._send(503, "text/html; charset=utf-8", html.encode(), body)
            return
        self._send(200, "text/html; charset=utf-8", page.encode(), body)

    def _send(self, code: int, kind: str, data: bytes, body: bool, **extra: str) -> None:
        self.send_response(code)
        for name, value in {**HEADERS, **extra, "Content-Type": kind}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)


# -- beside a search: the live view in a process of its own ------------------------------------
@dataclass
class LiveView:
    """A live view served by a child process (`start_live_view`); `close` ends it."""

    url: str
    process: subprocess.Popen[str]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_live_view(
    run_dir: Path, host: str = "127.0.0.1", port: int = 8765, refresh: float = 5.0
) -> LiveView:
    """Serve the live view of `run_dir` from a child process; return once it listens.

    A process, not a thread: building the report (matplotlib) takes seconds of CPU, which in
    the search's own process would hold its GIL against the search. The child runs in a session
    of its own (a Ctrl-C meant for the search does not reach it), and ends when its parent
    does, even if the parent is killed."""
    command = [
        sys.executable,
        "-m",
        "agentic_design.report.live",
        str(run_dir),
        f"--host={host}",
        f"--port={port}",
        f"--refresh={refresh}",
        f"--parent={os.getpid()}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http://"):
        process.kill()
        process.wait()
        process.stdout.close()
        raise LiveViewError(line.removeprefix("error: ") or "the live view did not start in 60 s")
    return LiveView(url=line, process=process)


def _watch_parent(parent: int, server: LiveServer) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    server.shutdown()


def _main(argv: list[str] | None = None) -> int:
    """The child process of `start_live_view`: prints its URL (or `error: ...`), then serves."""
    parser = argparse.ArgumentParser(prog="python -m agentic_design.report.live")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--refresh", type=float, default=5.0)
    parser.add_argument("--parent", type=int)
    args = parser.parse_args(argv)
    try:
        server = LiveServer(args.run_dir, args.host, args.port, args.refresh)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 2
    print(server.url, flush=True)
    if args.parent is not None:
        threading.Thread(target=_watch_parent, args=(args.parent, server), daemon=True).start()
    with server:
        server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
