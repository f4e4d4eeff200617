"""The live view (`agentic-design serve`, `report.live`): a real server on loopback that shows a
run read-only as it goes, answers only GET and HEAD of its own pages, refuses other hosts, and
shows what a model wrote as text; checked against a real search in headless Chromium."""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
import yaml

from agentic_design.records import Proposal
from agentic_design.report.live import (
    LiveServer,
    LiveViewError,
    is_loopback,
    read_snapshot,
    start_live_view,
)
from agentic_design.store.archive import Archive

from .conftest import REPO
from .test_report import CODE, ERROR, NAME, RUN_NAME, chromium, evaluation, hostile_run

CURVE_TASK = REPO / "tests" / "data" / "curve_task.py"
HAS_CHROMIUM = bool(shutil.which("chromium") or shutil.which("chromium-browser"))
NO_CHROMIUM = "Chromium is not installed (.ci/run installs Debian's chromium package)"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveServer, Path]]:
    """A finished run whose model wrote markup everywhere, served on a free loopback port."""
    run_dir = hostile_run(tmp_path / "run")
    with serving(run_dir) as server:
        yield server, run_dir


class serving:
    """A real LiveServer on 127.0.0.1, serving in a thread for the `with` block."""

    def __init__(self, run_dir: Path, refresh: float = 5) -> None:
        self.server = LiveServer(run_dir, "127.0.0.1", 0, refresh)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def get(url: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and body of one request (an error status is an answer too)."""
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def raw(server: LiveServer, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A request with its path sent exactly as written (no client tidies `..` away)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", "127.0.0.1")
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_the_live_page_shows_the_run_with_what_a_model_wrote_as_text(served):
    server, _ = served
    status, headers, page = get(server.url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert html.escape(NAME, quote=False) in page  # the best design's name, as text
    assert html.escape(ERROR.splitlines()[0], quote=False) in page  # its failure's first line
    assert "&lt;/title&gt;&lt;script&gt;" in page  # the run's name, in the title too
    assert "stopped by evaluations" in page
    assert '<meta http-equiv="refresh" content="5">' in page
    assert re.search(r"<th>evaluations</th>\s*<td[^>]*>3</td>\s*<td[^>]*>4</td>", page)
    assert "CODE" not in page and html.escape(CODE) not in page  # no code on the live page


def test_every_answer_carries_the_reports_policy_and_no_caching(served):
    server, _ = served
    for path in ("", "report", "status.json", "nope"):
        _, headers, _ = get(server.url + path)
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_the_full_report_is_served_beside_the_live_page(served):
    server, run_dir = served
    status, _, page = get(server.url + "report")
    assert status == 200 and page.startswith("<!DOCTYPE html>")
    assert "Report: &lt;/title&gt;" in page and "<script" not in page.lower()
    assert 'href="/report"' in get(server.url)[2]
    assert not (run_dir / "report.html").exists()  # served, never written


def test_head_is_answered_without_a_body(served):
    server, _ = served
    status, headers, body = get(server.url, method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
def test_only_get_and_head_are_answered(served, method):
    server, _ = served
    status, headers, _ = get(server.url, method=method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/run.db",
        "/../run.db",
        "/%2e%2e/run.db",
        "/report/../run.db",
        "//etc/passwd",
        "/config.yaml",
        "/designs/",
        "/designs/00001_x.py",
        "/index.html",
    ],
)
def test_no_path_but_the_servers_own_pages_is_answered(served, path):
    server, _ = served
    status, body = raw(server, path)
    assert status == 404 and b"SQLite format" not in body and b"budget" not in body


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io", ""])
def test_a_request_naming_another_host_is_refused(served, host):
    server, _ = served
    assert get(server.url, Host=host)[0] == 400
    port = server.server_address[1]
    for ours in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST"):
        assert get(server.url, Host=ours)[0] == 200


def test_status_json_says_what_the_page_shows(served):
    server, _ = served
    data = json.loads(get(server.url + "status.json")[2])
    assert data["state"] == "stopped" and data["name"] == RUN_NAME
    assert data["best"]["name"] == f"child of {NAME}" and data["total"] == 4
    assert [d["status"] for d in data["recent"]] == ["pending", "error", "ok", "ok"]


def test_serving_a_finished_run_writes_nothing_into_it(tmp_path):
    run_dir = hostile_run(tmp_path / "run")

    def files() -> dict[str, str]:
        found = {}
        for path in sorted(run_dir.rglob("*")):
            if path.is_file():
                found[str(path.relative_to(run_dir))] = sha256(path.read_bytes()).hexdigest()
        return found

    before = files()
    with serving(run_dir) as server:
        for path in ("", "report", "status.json", "report", ""):
            assert get(server.url + path)[0] == 200
    after = files()
    # A read-only SQLite reader of a WAL store makes its side files where the writer left
    # none, as `status` and `show` do: an empty log and its index. Nothing else appears, and
    # nothing is written: the store and the log hold what they held.
    side = {"run.db-wal", "run.db-shm"}
    assert {k: v for k, v in after.items() if k not in side} == before
    assert after.get("run.db-wal", EMPTY) == EMPTY


EMPTY = sha256(b"").hexdigest()


def test_a_run_not_started_yet_is_awaited_and_then_shown(tmp_path):
    run_dir = tmp_path / "run"
    with serving(run_dir) as server:
        status, _, page = get(server.url)
        assert status == 200 and "waiting for the run to start" in page
        assert not run_dir.exists()  # the server made nothing
        hostile_run(run_dir)
        assert "stopped by evaluations" in get(server.url)[2]


def test_a_store_that_cannot_be_read_is_said_in_the_page(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.db").write_bytes(b"not a database at all " * 100)
    with serving(run_dir) as server:
        status, _, page = get(server.url)
        assert status == 200 and "Could not read the run" in page and "not a readable" in page
        assert "Traceback" not in page
        status, _, page = get(server.url + "report")
        assert status == 503 and "the report could not be built" in page
        assert "Traceback" not in page


def test_the_report_is_rebuilt_only_when_the_run_changed(served):
    server, run_dir = served
    server.report.every = 0  # no wait between builds: only the run's version decides
    first = get(server.url + "report")[2]
    assert get(server.url + "report")[2] == first  # the same page: the run did not change
    with Archive.open(run_dir) as archive:
        new = archive.add(Proposal("a newcomer", "", "x = 1\n"), eval_seed=0, task_fingerprint="f")
        archive.finish(new, evaluation(0.99, 10))  # the best now: shown in full
    assert "a newcomer" in get(server.url + "report")[2]


def test_loopback_is_told_from_other_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.com"]))


def test_a_port_taken_is_an_error_that_says_so(served):
    server, run_dir = served
    with pytest.raises(LiveViewError, match=r"cannot listen on 127\.0\.0\.1"):
        start_live_view(run_dir, "127.0.0.1", server.server_address[1])


@pytest.mark.slow
def test_the_live_view_of_a_search_runs_in_a_process_that_ends_with_its_parent(tmp_path):
    run_dir = hostile_run(tmp_path / "run")
    with start_live_view(run_dir, port=0) as view:
        assert get(view.url)[0] == 200
        process = view.process
    assert process.poll() is not None  # closed with the view
    # A parent killed outright takes its live view with it.
    script = (
        "import sys, time\nfrom pathlib import Path\n"
        "from agentic_design.report.live import start_live_view\n"
        f"view = start_live_view(Path({str(run_dir)!r}), port=0)\n"
        "print(view.process.pid, view.url, flush=True)\ntime.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child, url = parent.stdout.readline().split()
    assert get(url)[0] == 200
    parent.kill()
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 60
    while alive(int(child)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(int(child))


def alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # ours to reap, once orphaned: not ours
    except ChildProcessError:
        finished = 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not finished


@pytest.mark.slow
def test_the_serve_command_prints_its_url_and_stops_on_ctrl_c(tmp_path):
    run_dir = hostile_run(tmp_path / "run")
    command = [sys.executable, "-m", "agentic_design", "serve", str(run_dir), "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url and "read-only" in line, line
    assert "stopped by evaluations" in get(url.group())[2]
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped" in out and "Traceback" not in err


@pytest.mark.slow
def test_the_serve_command_refuses_a_port_in_use(served):
    server, run_dir = served
    command = ["serve", str(run_dir), "--port", str(server.server_address[1])]
    result = subprocess.run(
        [sys.executable, "-m", "agentic_design", *command],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2 and "cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


# -- against a real search ----------------------------------------------------------------------
def dump(url: str, folder: Path) -> str:
    """The page as headless Chromium built it (its DOM after loading)."""
    result = chromium("--dump-dom", url, cwd=folder)
    assert result.returncode == 0, result.stderr
    return result.stdout


def designs_shown(page: str) -> int:
    found = re.search(r'<p id="designs">designs: ([\d,]+)', page)
    assert found, page
    return int(found.group(1).replace(",", ""))


def wait_for(condition, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CHROMIUM, reason=NO_CHROMIUM)
def test_chromium_watches_a_real_search_go_and_stop(tmp_path):
    run_dir = tmp_path / "run"
    config = {
        "name": "curve-live",
        "task": f"{CURVE_TASK}:CurveFit",
        "run_dir": str(run_dir),
        "seed": 0,
        # Stopped by its hours, not its evaluations: it runs ~20 s however fast the machine.
        "budget": {"evaluations": 1_000_000, "hours": 0.006},
        "sandbox": {"workers": 2, "wall_s": 30},
        "search": {"evolution": {"population": 8, "tournament": 3}, "report": False},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    # The view starts first, as `run --serve` starts it: it waits for the store.
    with start_live_view(run_dir, port=0, refresh=2) as view:
        assert "waiting for the run to start" in dump(view.url, tmp_path)
        search = subprocess.Popen(
            [sys.executable, "-m", "agentic_design", "run", str(tmp_path / "config.yaml")],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: read_snapshot(run_dir).total >= 5, "designs")
            first = dump(view.url, tmp_path)
            counted = designs_shown(first)
            wait_for(lambda: read_snapshot(run_dir).total > counted + 10, "more designs")
            second = dump(view.url, tmp_path)
            assert search.wait(timeout=300) == 0
        finally:
            if search.poll() is None:
                search.kill()
        last = dump(view.url, tmp_path)
        report = dump(view.url + "report", tmp_path)
    assert 'id="state">running' in first and designs_shown(second) > designs_shown(first)
    assert 'class="state stopped" id="state">stopped by hours' in last
    assert designs_shown(last) >= designs_shown(second)
    assert 'id="best">#' in last and "curve-live" in report
    for page in (first, second, last, report):
        assert "<script" not in page.lower()
