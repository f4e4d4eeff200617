"""Every evaluation counts (issue 22), in real searches: fingerprints, cheap evaluations first
and tuned constants together keep the search's guarantees — the same seed gives the same run,
a recorded LLM search replays design for design, a resumed one goes on as if never stopped —
and the run's records say what each number is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentic_design import RunConfig, Search
from agentic_design.records import Status
from agentic_design.store.archive import Archive

from .conftest import cli, small_digits_config
from .llm_server import ScriptedLLM


def binpack_config(run_dir: Path, evaluations: int = 30, **search: Any) -> RunConfig:
    """A small bin-packing search with all three on: fingerprints, one instance in two first,
    and a tuning step every eighth design."""
    return RunConfig.from_dict(
        {
            "name": run_dir.name,
            "task": "binpack",
            "task_params": {"distribution": "weibull", "items": 400, "instances": 2},
            "run_dir": str(run_dir),
            "seed": 0,
            "budget": {"evaluations": evaluations},
            "sandbox": {"workers": 2, "wall_s": 60},
            "search": {
                "evolution": {"population": 8, "tournament": 3, "mutations_per_child": 1},
                "fidelity": {"enabled": True, "levels": [0.5]},
                "tune": {"every": 8, "trials": 4},
                "report": False,
                **search,
            },
        }
    )


def outcome(run_dir: Path) -> list[tuple[Any, ...]]:
    with Archive.open(run_dir, readonly=True) as archive:
        return [
            (
                d.code_hash,
                d.status.value,
                d.fitness,
                d.fidelity,
                d.evaluation_cost,
                d.behaviour,
                d.behaviour_of,
                d.parents,
            )
            for d in archive.designs()
        ]


@pytest.mark.slow
def test_the_same_seed_gives_the_same_run_with_all_of_it_on(tmp_path):
    first = Search(binpack_config(tmp_path / "a"), progress=False).run()
    second = Search(binpack_config(tmp_path / "b"), progress=False).run()
    assert outcome(first.run_dir) == outcome(second.run_dir)
    with Archive.open(first.run_dir, readonly=True) as archive:
        statuses = {d.status for d in archive.designs()}
        assert Status.SCREENED_OUT in statuses  # cheap evaluations first did screen some out
        tuned = [d for d in archive.designs() if d.proposer == "tune"]
        assert tuned and all(d.operator.startswith("tune ") for d in tuned)
        trials = archive.events("tune_trial")
        assert {t["design_id"] for t in trials} == {d.id for d in tuned}
        assert all(t["data"]["share"] == 0.5 for t in trials)
        # The budget, in full evaluations: trials, cheap and full evaluations, to the last one.
        assert 30 <= archive.spent() < 30 + 1.5 + 4 * 0.5
        best = archive.best()
        assert best is not None and best.fidelity == 1.0


@pytest.mark.slow
def test_a_stopped_search_resumes_to_the_same_run(tmp_path):
    whole = Search(binpack_config(tmp_path / "whole", evaluations=24), progress=False).run()
    Search(binpack_config(tmp_path / "parts", evaluations=12), progress=False).run()
    # The same run given more budget goes on from where it stopped (`resume` reads the saved
    # configuration; here the budget is raised as a user would before resuming).
    with Archive.open(tmp_path / "parts") as archive:
        config = archive.run_config().model_dump(mode="json")
        config["budget"]["evaluations"] = 24
        archive.set_meta("config", config)
    Search.resume(tmp_path / "parts", progress=False).run()
    assert outcome(tmp_path / "parts") == outcome(whole.run_dir)


@pytest.mark.slow
def test_a_meta_agent_search_with_cheap_evaluations_and_tuning_replays_exactly(tmp_path):
    from .test_meta_agent import Designer

    data = small_digits_config(tmp_path / "run", evaluations=9)
    data["llm"] = {"model": "openai/gpt-4o-mini", "api_base": "", "timeout_s": 5}
    data["search"]["meta_agent"] = {"reflexion_rounds": 0}
    data["search"]["tune"] = {"every": 4, "trials": 3, "constants": 2}
    data["search"]["fidelity"] = {"enabled": True}  # a quarter of the steps first
    data["search"]["behaviour"] = True
    with ScriptedLLM(answer=Designer()) as server:
        data["llm"]["api_base"] = server.url
        Search(RunConfig.from_dict(data), progress=False).run()
    recorded = outcome(tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        # Every design evaluated cheaply first (seeds too, on their way to the full one).
        assert all(d.evaluation_cost > 1 or d.fidelity < 1 for d in archive.designs(Status.OK))
        assert any(d.proposer == "tune" for d in archive.designs())
    # The server is gone: every answer comes from the recording.
    replayed = Search.replay(tmp_path / "run", tmp_path / "replayed", progress=False).run()
    assert replayed.stopped_by.value == "evaluations", replayed.reason
    assert outcome(replayed.run_dir) == recorded


@pytest.mark.slow
def test_show_and_status_say_which_share_a_number_comes_from(tmp_path):
    result = Search(binpack_config(tmp_path / "run"), progress=False).run()
    with Archive.open(result.run_dir, readonly=True) as archive:
        screened = archive.designs(Status.SCREENED_OUT)[0]
    one = cli("show", str(result.run_dir), "--id", str(screened.id))
    assert one.returncode == 0 and "from a cheap evaluation: 50% of a full one" in one.stdout
    table = cli("show", str(result.run_dir), "--top", "100")
    assert "@50%" in table.stdout
    status = cli("status", str(result.run_dir))
    assert "screened_out" in status.stdout and "budget evaluations: " in status.stdout


def test_cheap_levels_for_a_task_that_offers_none_are_a_configuration_error(tmp_path):
    curve = Path(__file__).parent / "data" / "curve_task.py"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"task: {curve}:CurveFit\nbudget: {{evaluations: 5}}\n"
        "search: {fidelity: {enabled: true, levels: [0.5]}}\n"
    )
    result = cli("run", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "search.fidelity.levels: the task curve offers no cheap evaluations" in result.stderr
    assert "Traceback" not in result.stderr
