"""How an LLM search starts, through the real command line: the models' check runs beside the
seeds' evaluations and a failed one stops the search with exit 2, keeping what was evaluated;
a budget whose estimated spend is above `budget.usd` is refused before anything starts unless
accepted; and `run --serve` serves the run's live view while it goes."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from .conftest import cli
from .curve_designs import ImprovingModel, curve_config
from .llm_server import Fault, ScriptedLLM

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, server: ScriptedLLM, evaluations: int, **budget: float) -> Path:
    run_dir = tmp_path / "run"
    config = curve_config(run_dir, evaluations, {"model": "openai/m", "api_base": server.url})
    config["budget"].update(budget)
    config["llm"]["retries"] = 1
    config["llm"]["prices"] = {"input_per_mtok": 3.0, "output_per_mtok": 15.0}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _statuses(run_dir: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{run_dir / 'run.db'}?mode=ro", uri=True)) as db:
        return [status for (status,) in db.execute("SELECT status FROM designs ORDER BY id")]


def test_a_model_that_refuses_the_check_stops_the_search_with_exit_2(tmp_path):
    server = ScriptedLLM(answer=ImprovingModel())
    server.queue(Fault("auth"))  # the check's one call: a bad key
    with server:
        result = cli("run", str(_config(tmp_path, server, 6)), "--no-progress")
    assert result.returncode == 2, result.stderr
    assert "invalid api key" in result.stderr.lower() or "not usable" in result.stderr
    assert "what it evaluated before is saved" in result.stderr
    assert "Traceback" not in result.stderr
    # No design was proposed (the model was never asked anything but the check), and the seeds
    # recorded stay recorded: a pending one is re-evaluated by `resume`.
    assert len(server.requests) == 1
    statuses = _statuses(tmp_path / "run")
    assert len(statuses) == 2 and set(statuses) <= {"ok", "pending"}


def test_a_budget_estimated_above_its_usd_cap_is_refused_unless_accepted(tmp_path):
    server = ScriptedLLM(answer=ImprovingModel())
    with server:
        config = _config(tmp_path, server, 40, usd=0.0001)
        refused = cli("run", str(config), "--no-progress")
        assert refused.returncode == 2, refused.stderr
        assert "--accept-estimate" in refused.stderr and "Traceback" not in refused.stderr
        assert not (tmp_path / "run").exists()  # refused before anything started
        assert server.requests == []  # and before any call was paid for
        accepted = cli("run", str(config), "--no-progress", "--accept-estimate")
    assert accepted.returncode == 0, accepted.stderr
    assert "estimate:" in accepted.stderr
    # It stopped at the cap it was warned about.
    assert "stopped by: usd" in accepted.stdout


def test_run_serve_serves_the_live_view_and_stops_it_with_the_search(tmp_path):
    server = ScriptedLLM(answer=ImprovingModel())
    with server:
        config = _config(tmp_path, server, 8)
        result = cli("run", str(config), "--no-progress", "--serve", "--port", "0")
    assert result.returncode == 0, result.stderr
    assert "live view: http://127.0.0.1:" in result.stderr
    assert "estimate:" in result.stderr  # said beside the seeds, with no cap to hold
    assert "ok" in _statuses(tmp_path / "run")
    # A run resumed (here one that had finished) can be watched too.
    with server:
        resumed = cli("resume", str(tmp_path / "run"), "--no-progress", "--serve", "--port", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert "live view: http://127.0.0.1:" in resumed.stderr
