"""The command line: bad input exits 2 with a message; a real run can be shown, replayed,
exported, killed and resumed."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, cli, small_digits_config


@pytest.mark.parametrize(
    "config_text, message",
    [
        (None, "config file not found"),
        ("task: digits\nbudget: {evaluations: 3\n", "YAML syntax error at line"),
        ("task: imagenet\n", "unknown task 'imagenet'"),
        ("task: digits\nbudget:\n  evaluations: zero\n", "budget.evaluations"),
        ("task: digits\nsandbox:\n  workerz: 2\n", "sandbox.workerz: unknown setting"),
        (
            "task: digits\nllm:\n  model: openai/gpt-4o-mini\n  api_base: http://127.0.0.1:9/v1\n"
            "  retries: 1\n  timeout_s: 2\n",
            "the LLM is not usable",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(tmp_path, config_text, message):
    path = tmp_path / "config.yaml"
    if config_text is not None:
        path.write_text(config_text)
    result = cli("run", str(path), "--run-dir", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_llm_on_the_command_line_replaces_a_list_of_models(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "task: digits\nllm:\n  retries: 1\n  timeout_s: 2\n  models:\n"
        "    - {model: openai/listed-a, api_base: 'http://127.0.0.1:9/v1'}\n"
        "    - {model: openai/listed-b, api_base: 'http://127.0.0.1:9/v1'}\n"
    )
    listed = cli("run", str(path), "--run-dir", str(tmp_path / "a"), "--no-progress")
    assert listed.returncode == 2 and "openai/listed-a" in listed.stderr  # each is checked
    given = cli(
        "run", str(path), "--run-dir", str(tmp_path / "b"), "--no-progress",
        "--llm", "openai/given", "--api-base", "http://127.0.0.1:9/v1",
    )  # fmt: skip
    assert given.returncode == 2 and "the LLM is not usable" in given.stderr
    assert "openai/given" in given.stderr and "listed" not in given.stderr


def test_bad_option_values_exit_2(digits_config_file, tmp_path):
    result = cli("run", str(digits_config_file), "--workers", "0", "--no-progress")
    assert result.returncode == 2 and "sandbox.workers" in result.stderr
    result = cli("run", str(digits_config_file), "--evaluations", "many")
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["status", "{missing}"], "no run found"),
        (["show", "{missing}"], "no run found"),
        (["resume", "{missing}"], "no run to resume"),
        (["replay", "{missing}", "1"], "no run found"),
        (["export", "{missing}", "1", "-o", "x.py"], "no run found"),
    ],
)
def test_commands_on_a_missing_run_exit_2(tmp_path, args, message):
    args = [a.replace("{missing}", str(tmp_path / "nope")) for a in args]
    result = cli(*args)
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    config = root / "digits.yaml"
    config.write_text(yaml.safe_dump(small_digits_config(root / "run", evaluations=10)))
    result = cli("run", str(config), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "validation accuracy" in result.stdout and "95% CI" in result.stdout
    assert "by status:" in result.stdout and "offline evolution" in result.stdout
    return root / "run"


@pytest.mark.slow
def test_show_json_follows_the_documented_shape(run_dir):
    result = cli("show", str(run_dir), "--json")
    payload = json.loads(result.stdout)
    assert payload["run"]["task"] == "digits"
    assert len(payload["designs"]) == 10
    first = payload["designs"][0]
    for key in (
        "id",
        "name",
        "status",
        "fitness",
        "ci_low",
        "ci_high",
        "metrics",
        "parents",
        "generation",
        "proposer",
        "llm_tokens",
        "llm_usd",
        "code",
    ):
        assert key in first
    fitnesses = [d["fitness"] for d in payload["designs"] if d["fitness"] is not None]
    assert fitnesses == sorted(fitnesses, reverse=True)
    top = json.loads(cli("show", str(run_dir), "--json", "--top", "3").stdout)
    assert len(top["designs"]) == 3


@pytest.mark.slow
def test_show_one_design_prints_its_code(run_dir):
    result = cli("show", str(run_dir), "--id", "1")
    assert result.returncode == 0
    assert "def build_model" in result.stdout
    assert cli("show", str(run_dir), "--id", "999").returncode == 2


@pytest.mark.slow
def test_status_reports_a_finished_run(run_dir):
    result = cli("status", str(run_dir))
    assert result.returncode == 0
    assert "finished" in result.stdout and " evaluated, 0 pending" in result.stdout
    # The budget in full evaluations (cheap ones count their share), spent to the last design.
    spent = re.search(r"budget evaluations: ([\d.]+) of 10", result.stdout)
    assert spent and 10 <= float(spent.group(1)) < 11.25


@pytest.mark.slow
def test_replay_reproduces_exactly(run_dir):
    best = json.loads(cli("show", str(run_dir), "--json", "--top", "1").stdout)["designs"][0]
    result = cli("replay", str(run_dir), str(best["id"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reproduced exactly" in result.stdout
    assert repr(best["fitness"]) in result.stdout


@pytest.mark.slow
def test_export_runs_without_this_package(run_dir, tmp_path):
    best = json.loads(cli("show", str(run_dir), "--json", "--top", "1").stdout)["designs"][0]
    target = tmp_path / "best_model.py"
    assert cli("export", str(run_dir), str(best["id"]), "-o", str(target)).returncode == 0
    # Block the package outright: importing it from the exported file would fail loudly.
    check = (
        "import sys, runpy; sys.modules['agentic_design'] = None; "
        f"runpy.run_path({str(target)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", check], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "output shape (2, 10)" in result.stdout


def test_tasks_lists_the_built_ins():
    result = cli("tasks")
    assert result.returncode == 0
    assert "mnist1d" in result.stdout and "digits" in result.stdout


def _finished(db: Path) -> dict[int, float | None]:
    """Finished designs by id, read as `status` would read a live run (empty before it starts)."""
    if not db.exists():
        return {}
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        try:
            rows = conn.execute("SELECT id, fitness FROM designs WHERE status != 'pending'")
        except sqlite3.OperationalError:  # the schema is not written yet
            return {}
        return dict(rows.fetchall())


def _sandbox_processes_of(pid: int) -> list[int]:
    """Live sandbox servers (and their forked children, which share the command line) of pid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"agentic_design.sandbox.server" in argv and str(pid).encode() in argv and state != "Z":
            found.append(int(entry))
    return found


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_without_losing_or_repeating_work(tmp_path):
    config = small_digits_config(
        tmp_path / "run", evaluations=24, train={"max_epochs": 20, "max_seconds": 3}
    )
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentic_design", "run", str(path), "--no-progress"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = tmp_path / "run" / "run.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(_finished(db)) >= 8:
            break
        time.sleep(0.05)
    assert _sandbox_processes_of(proc.pid), "the run's sandbox servers should be alive"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _finished(db)
    assert 8 <= len(before) < 24
    deadline = time.monotonic() + 10
    while _sandbox_processes_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sandbox_processes_of(proc.pid) == [], "processes of the killed run outlived it"

    status = cli("status", str(tmp_path / "run"))
    assert "stopped without finishing" in status.stdout

    result = cli("resume", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 0, result.stderr
    after = _finished(db)
    assert len(after) == 24
    assert {i: after[i] for i in before} == before  # nothing finished was lost or changed
    with sqlite3.connect(db) as conn:
        per_design = conn.execute(
            "SELECT design_id, COUNT(*) FROM evaluations WHERE purpose = 'search' "
            "GROUP BY design_id"
        ).fetchall()
        assert len(per_design) == 24 and {n for _, n in per_design} == {1}
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert "resumed" in kinds


@pytest.mark.slow
def test_sigint_stops_cleanly_and_the_run_can_be_resumed(tmp_path):
    config = small_digits_config(
        tmp_path / "run", evaluations=30, train={"max_epochs": 20, "max_seconds": 3}
    )
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = _start_run(path)
    db = tmp_path / "run" / "run.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_finished(db)) < 6:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert _sandbox_processes_of(proc.pid) == []
    with sqlite3.connect(db) as conn:
        state = conn.execute("SELECT value FROM meta WHERE key = 'state'").fetchone()[0]
    assert json.loads(state) == "interrupted"
    result = cli("resume", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert len(_finished(db)) == 30


# `python -m agentic_design`, after saying on stderr that the interpreter itself has started:
# a Ctrl-C before that lands in Python's own start-up (site), which is not ours to handle.
_ANNOUNCED_MAIN = (
    "import runpy, sys; sys.stderr.write('started\\n'); sys.stderr.flush(); "
    "runpy.run_module('agentic_design', run_name='__main__', alter_sys=True)"
)


def _start_run(config: Path, announce: bool = False) -> subprocess.Popen:
    """`agentic-design run CONFIG` in a child that takes Ctrl-C as a terminal would deliver it:
    a shell's background job (how suites are often started) ignores SIGINT, and children
    inherit that, so the child restores the default first."""
    command = ["-c", _ANNOUNCED_MAIN] if announce else ["-m", "agentic_design"]
    return subprocess.Popen(
        [sys.executable, *command, "run", str(config), "--no-progress"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _no_sandbox_left(pid: int, within_s: float = 20) -> bool:
    """Servers follow their caller by end-of-file: give them a moment to notice and go."""
    deadline = time.monotonic() + within_s
    while _sandbox_processes_of(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _sandbox_processes_of(pid) == []


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["importing", "starting", "before_any_design"])
def test_ctrl_c_at_any_moment_exits_130_with_one_line(tmp_path, moment):
    config = small_digits_config(tmp_path / "run", evaluations=30)
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = _start_run(path, announce=moment == "importing")
    db = tmp_path / "run" / "run.db"
    if moment == "importing":
        # Python is running; a moment more (runpy finding the package, a few ms) and the
        # command line's own modules are being imported, which takes a second or so. A Ctrl-C
        # that lands later still must end the run the same way.
        assert proc.stderr is not None and proc.stderr.readline() == "started\n"
        time.sleep(0.1)
    else:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not db.exists():
            time.sleep(0.01)  # the run store exists: the sandbox is being started
        if moment == "before_any_design":
            while time.monotonic() < deadline and not _sandbox_processes_of(proc.pid):
                time.sleep(0.01)
    assert moment == "importing" or not _finished(db)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert _no_sandbox_left(proc.pid)


def test_a_run_directory_that_cannot_be_created_is_bad_input(digits_config_file):
    result = cli("run", str(digits_config_file), "--run-dir", "/proc/nope")
    assert result.returncode == 2, result.stderr
    assert "cannot create the run directory /proc/nope" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_paths_in_a_config_are_read_against_its_folder(tmp_path):
    folder = tmp_path / "some" / "dir"
    folder.mkdir(parents=True)
    (folder / "tiny.py").write_text(
        "from agentic_design.tasks.architecture import DigitsTask\n"
        "class Tiny(DigitsTask):\n"
        "    def seeds(self):\n"
        "        return super().seeds()[:1]\n"
    )
    config = small_digits_config(tmp_path / "unused", evaluations=2, task="tiny.py:Tiny")
    config["run_dir"] = "runs/tiny"  # relative: beside the config, not the current directory
    (folder / "tiny.yaml").write_text(yaml.safe_dump(config))
    result = cli("run", str(folder / "tiny.yaml"), "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "runs" / "tiny" / "run.db").is_file()


def test_sandbox_info_says_which_protections_are_in_force():
    result = cli("sandbox-info")
    assert result.returncode == 0
    for name in ("network namespace", "landlock", "uid drop", "resource limits"):
        assert name in result.stdout


@pytest.fixture(scope="module")
def capped_run(tmp_path_factory) -> Path:
    """A real agent search whose cap, 3 LLM calls per example, is below what four of its eight
    seeds need: self-consistency (5 calls), debate (6) and quality-diversity (5) fail every
    example, self-refine those whose critic objects."""
    root = tmp_path_factory.mktemp("capped")
    config = yaml.safe_load((REPO / "examples" / "agents.yaml").read_text())
    config.update(run_dir=str(root / "run"), budget={"evaluations": 8})
    config["task_budget"] = {"examples": 10, "max_calls_per_example": 3}
    config["search"]["report"] = False
    path = root / "agents.yaml"
    path.write_text(yaml.safe_dump(config))
    result = cli("run", str(path), "--no-progress")
    assert result.returncode == 0, result.stderr
    return root / "run"


def _failed_at_the_cap(metrics: dict) -> int:
    """The examples whose error is the broker's refusal at the per-example cap."""
    refusal = "this example's cap of 3 LLM calls is reached"
    return sum(n for error, n in metrics.get("errors", {}).items() if refusal in error)


@pytest.mark.slow
def test_show_says_which_designs_the_call_cap_decided(capped_run):
    payload = json.loads(cli("show", str(capped_run), "--json").stdout)
    designs = {d["name"]: d for d in payload["designs"]}
    failed = {name: _failed_at_the_cap(d["metrics"]) for name, d in designs.items()}
    # every seed that needs more than 3 calls an example met the cap; those that need fewer
    # never did
    assert failed["Self-consistency"] == failed["Debate"] == failed["Quality-diversity"] == 10
    assert 0 < failed["Self-refine"] < 10
    assert failed["Chain of thought"] == failed["Step back"] == 0
    table = cli("show", str(capped_run))
    assert table.returncode == 0, table.stderr
    rows = {line.split("│")[2].strip(): line for line in table.stdout.splitlines() if "│" in line}
    for name, n in failed.items():
        assert (f"ok, capped {n}/10" in rows[name]) == (n > 0), rows[name]
    assert "capped: examples failed at the LLM call cap" in table.stdout
    for name, d in designs.items():
        one = cli("show", str(capped_run), "--id", str(d["id"]))
        assert one.returncode == 0, one.stderr
        line = (
            f"capped: {failed[name]} of 10 examples failed at the cap of 3 LLM calls per "
            "example; raise task_budget.max_calls_per_example"
        )
        assert (line in one.stdout) == (failed[name] > 0), one.stdout[:400]


@pytest.mark.slow
def test_a_run_without_a_capped_design_marks_none(run_dir):
    table = cli("show", str(run_dir))
    assert table.returncode == 0 and "capped" not in table.stdout
