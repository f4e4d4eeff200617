"""A real (small) digits search through the Python API: seeds first, every child traceable;
a user's own task searched in its own terms; a search run from another thread."""

import io
import json
import re
import threading
from pathlib import Path

import pytest
from rich.console import Console

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.config import ConfigError
from agentic_design.records import Origin

from .conftest import cli, small_digits_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("search") / "run"
    config = RunConfig.from_dict(small_digits_config(run_dir, evaluations=14))
    result = Search(config, progress=False).run()
    return result, Archive.open(run_dir)


@pytest.mark.slow
def test_the_search_spends_its_evaluation_budget_exactly(finished):
    result, archive = finished
    assert result.total == 14 == archive.total()
    assert result.stopped_by == "evaluations"
    assert Status.PENDING.value not in archive.counts()
    assert sum(result.counts.values()) == 14


@pytest.mark.slow
def test_seeds_come_first_and_children_record_parents_and_mutation(finished):
    _, archive = finished
    designs = archive.designs()
    seeds = [d for d in designs if d.origin is Origin.SEED]
    assert [d.id for d in seeds] == [1, 2, 3, 4]
    children = designs[4:]
    assert children and all(d.proposer == "evolution" for d in children)
    for child in children:
        assert child.parents and all(p < child.id for p in child.parents)
        assert child.operator and child.thought
        assert child.generation == 1 + max(archive.get(p).generation for p in child.parents)
    assert len({d.code_hash for d in designs}) == len(designs)


@pytest.mark.slow
def test_every_design_has_one_search_evaluation_and_the_best_a_test_score(finished):
    result, archive = finished
    for design in archive.designs():
        assert [e["purpose"] for e in archive.evaluations(design.id)].count("search") == 1
    best = archive.best()
    assert result.best.id == best.id
    assert best.fitness == max(d.fitness for d in archive.designs(Status.OK))
    test = archive.meta("test")
    assert test["design_id"] == best.id and 0.8 < test["fitness"] <= 1.0
    assert result.test.split == "test"


@pytest.mark.slow
def test_the_run_directory_holds_config_designs_and_metadata(finished):
    result, archive = finished
    assert (result.run_dir / "config.yaml").is_file()
    assert len(list((result.run_dir / "designs").glob("*.py"))) == 14
    assert "offline evolution" in archive.meta("proposer")
    assert archive.meta("state") == "finished"
    assert archive.meta("versions")["torch"] != "not installed"
    assert archive.meta("task_fingerprint") == archive.best().task_fingerprint
    protections = {p["name"]: p for p in archive.meta("sandbox")}
    assert {"network namespace", "landlock", "uid drop"} <= set(protections)
    assert all(p["detail"] for p in protections.values())


@pytest.mark.slow
def test_replay_reproduces_the_recorded_fitness_exactly(finished):
    _, archive = finished
    best = archive.best()
    replay = Archive.open(archive.run_dir).replay(best.id)
    assert replay.matches and replay.measured == best.fitness
    assert [e["purpose"] for e in archive.evaluations(best.id)][-1] == "replay"


@pytest.mark.slow
def test_a_new_run_refuses_to_overwrite_an_existing_one(finished):
    result, _ = finished
    config = RunConfig.from_dict(small_digits_config(result.run_dir))
    with pytest.raises(ConfigError, match="already holds a run"):
        Search(config, progress=False).run()


@pytest.mark.slow
def test_an_hours_budget_stops_the_search(tmp_path):
    config = RunConfig.from_dict(
        small_digits_config(
            tmp_path / "run", evaluations=500, budget={"evaluations": 500, "hours": 0.0005}
        )
    )
    result = Search(config, progress=False).run()
    assert result.stopped_by == "hours"
    assert 4 <= result.total < 500
    assert Status.PENDING.value not in result.counts


@pytest.mark.slow
def test_a_search_whose_seeds_all_fail_stops_with_a_reason_and_keeps_the_failures(tmp_path):
    task_file = tmp_path / "broken_seeds.py"
    task_file.write_text(
        "from agentic_design.records import Proposal\n"
        "from agentic_design.tasks.architecture import DigitsTask\n"
        "class BrokenSeeds(DigitsTask):\n"
        "    def seeds(self):\n"
        "        return [\n"
        "            Proposal(name='no model', thought='', code='x = 1\\n', proposer='seed'),\n"
        "            Proposal(name='crash', thought='', proposer='seed',\n"
        "                     code='def build_model(s, n):\\n    raise ValueError(\"nope\")\\n'),\n"
        "        ]\n"
    )
    config = RunConfig.from_dict(
        small_digits_config(tmp_path / "run", task=f"{task_file}:BrokenSeeds")
    )
    result = Search(config, progress=False).run()
    assert result.stopped_by == "no_parents"
    assert result.best is None and result.counts == {"invalid": 1, "error": 1}
    archive = Archive.open(tmp_path / "run")
    errors = [d.error for d in archive.designs()]
    assert "defines no function build_model" in errors[0]
    assert "ValueError: nope" in errors[1]


@pytest.mark.slow
def test_a_search_on_a_degraded_sandbox_runs_and_says_what_is_missing(tmp_path):
    log = io.StringIO()
    config = RunConfig.from_dict(
        small_digits_config(
            tmp_path / "run", evaluations=5, sandbox={"workers": 1, "disable": ["landlock"]}
        )
    )
    result = Search(config, console=Console(file=log, width=200), progress=False).run()
    assert result.total == 5 and result.best is not None
    assert "sandbox: no landlock: turned off by the caller" in log.getvalue()
    recorded = {p["name"]: p["enabled"] for p in Archive.open(tmp_path / "run").meta("sandbox")}
    assert recorded["landlock"] is False and recorded["network namespace"] is True


def test_an_unknown_protection_in_the_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"sandbox\.disable: .*unknown protections"):
        RunConfig.from_dict({"task": "digits", "sandbox": {"disable": ["firewall"]}})


CURVE_TASK = Path(__file__).parent / "data" / "curve_task.py"


@pytest.mark.slow
def test_a_users_task_without_torch_is_searched_in_its_own_terms(tmp_path):
    log = io.StringIO()
    config = RunConfig.from_dict(
        {
            "name": "curve",
            "task": f"{CURVE_TASK}:CurveFit",
            "run_dir": str(tmp_path / "run"),
            "budget": {"evaluations": 30},
            "sandbox": {"workers": 2, "wall_s": 30},
            "search": {"evolution": {"population": 8, "tournament": 3}},
        }
    )
    result = Search(config, console=Console(file=log, width=200), progress=False).run()
    assert result.stopped_by.value == "evaluations" and result.fitness_name == "-RMSE"
    archive = Archive.open(tmp_path / "run")
    seeds = [d for d in archive.designs() if d.origin is Origin.SEED]
    best_seed = max(d.fitness for d in seeds)
    assert result.best.fitness > best_seed + 0.05  # evolution improved on the best seed
    assert result.best.summary.startswith("RMSE ") and result.test.fitness < 0
    assert re.search(r"new best #\d+ .*: -RMSE -\d\.\d{4} .*; RMSE \d\.\d{3}", log.getvalue())
    shown = cli("show", str(tmp_path / "run"), "--top", "3")
    assert shown.returncode == 0 and "-RMSE" in shown.stdout and "RMSE 0." in shown.stdout


@pytest.mark.slow
def test_a_search_runs_from_a_thread_other_than_the_main_one(tmp_path):
    config = RunConfig.from_dict(small_digits_config(tmp_path / "run", evaluations=5))
    outcome: dict[str, object] = {}

    def search() -> None:
        try:
            outcome["result"] = Search(config, progress=False).run()
        except Exception as exc:  # reported below, with the thread's own error
            outcome["error"] = exc

    worker = threading.Thread(target=search)
    worker.start()
    worker.join(timeout=240)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].total == 5


@pytest.mark.slow
def test_the_pareto_front_keeps_every_design_no_other_beats_on_fitness_and_cost(finished):
    from agentic_design.store.pareto import cost_of, pareto_front

    _, archive = finished
    assert archive.meta("cost_metric") == "params"
    scored = [d for d in archive.designs() if d.status is Status.OK]
    front = pareto_front(archive.designs(), "params")

    def dominated(d):
        return any(
            (cost_of(o, "params") <= cost_of(d, "params") and o.fitness >= d.fitness)
            and (cost_of(o, "params") < cost_of(d, "params") or o.fitness > d.fitness)
            for o in scored
        )

    undominated = [d for d in scored if not dominated(d)]
    # of designs equal in fitness and in cost, the front keeps the first
    firsts = {(d.fitness, cost_of(d, "params")): d.id for d in reversed(undominated)}
    assert sorted(d.id for d in front) == sorted(firsts.values())
    costs = [cost_of(d, "params") for d in front]
    assert costs == sorted(costs) and [d.fitness for d in front] == sorted(d.fitness for d in front)
    shown = cli("show", str(archive.run_dir), "--pareto", "--json")
    assert [d["id"] for d in json.loads(shown.stdout)["designs"]] == [d.id for d in front]
    table = cli("show", str(archive.run_dir), "--pareto")
    assert "Pareto front of accuracy against params" in table.stdout


@pytest.mark.slow
def test_a_target_fitness_and_stagnation_stop_the_search_with_a_summary(tmp_path):
    target = small_digits_config(tmp_path / "target", evaluations=30)
    target["budget"]["target_fitness"] = 0.5
    result = Search(RunConfig.from_dict(target), progress=False).run()
    assert result.stopped_by == "target" and result.best.fitness >= 0.5
    assert result.total < 30
    summary = Archive.open(tmp_path / "target").meta("summary")
    assert summary["stopped_by"] == "target" and summary["best"]["id"] == result.best.id
    assert summary["designs"] == result.total and summary["test"]["status"] == "ok"

    stagnant = small_digits_config(tmp_path / "stagnant", evaluations=40)
    stagnant["budget"]["stagnation"] = 3
    result = Search(RunConfig.from_dict(stagnant), progress=False).run()
    archive = Archive.open(tmp_path / "stagnant")
    assert result.stopped_by == "stagnation" and result.total < 40
    assert archive.finished_after(result.best.id) >= 3
    assert "evaluations since the best" in archive.meta("summary")["reason"]
    shown = cli("status", str(tmp_path / "stagnant")).stdout
    assert f"budget evaluations: {result.total} of 40" in shown
    assert f"stagnation: {archive.finished_after(result.best.id)} evaluations since" in shown
    assert "evaluations per hour" in shown and "recent events:" in shown
    assert "stopped reason stagnation" in shown
