"""The meta-agent against models that answer as real ones do: the realistic shapes, structured
output, SEARCH/REPLACE edits, and several models chosen by a bandit — each a real search of a
user's task (curve fitting: quick to evaluate) against a scripted server on loopback."""

from __future__ import annotations

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.records import Origin

from .conftest import cli
from .curve_designs import (
    SHAPES,
    ImprovingModel,
    curve_config,
    is_preflight,
    parent_code,
    prompt_of,
)
from .llm_server import ScriptedLLM

PRICES = {"input_per_mtok": 1.0, "output_per_mtok": 4.0}


def proposed(run_dir) -> list:
    return [d for d in Archive.open(run_dir).designs() if d.origin is Origin.SEARCH]


@pytest.mark.slow
def test_no_design_is_lost_to_the_shapes_real_models_answer_in(tmp_path):
    model = ImprovingModel()
    with ScriptedLLM(answer=model) as server:
        llm = {"model": "openai/realistic", "api_base": server.url}
        config = RunConfig.from_dict(
            curve_config(tmp_path / "run", 2 + 2 * len(SHAPES), llm, edit_format="full")
        )
        Search(config, progress=False).run()
        prompts = [prompt_of(r) for r in server.requests]
    designs = proposed(tmp_path / "run")
    assert len(designs) == 2 * len(SHAPES)
    for design in designs:
        assert design.status is Status.OK, (design.name, design.error, design.code)
        assert "def predict(x):\n\treturn" in design.code
    # the bare module has no name or thought to read; every other shape has both
    named = [d for d in designs if d.name != "untitled"]
    assert len(named) == len(designs) - 2
    assert all(d.name.startswith("curve ") and d.thought.startswith("move a") for d in named)
    # every shape was read at the first try: nothing was asked again
    assert not any("could not be used" in p for p in prompts)
    assert model.answers == len(designs)


@pytest.mark.slow
def test_structured_output_is_asked_for_where_configured(tmp_path):
    model = ImprovingModel(shapes=[SHAPES[0]])  # JSON, as a provider's structured output is
    with ScriptedLLM(answer=model) as server:
        llm = {"model": "openai/gpt-4o-mini", "api_base": server.url}
        llm["answer_format"] = "json_schema"
        Search(RunConfig.from_dict(curve_config(tmp_path / "run", 5, llm)), progress=False).run()
        asked = [r for r in server.requests if not is_preflight(r)]
    assert asked and all(r["response_format"]["type"] == "json_schema" for r in asked)
    schema = asked[0]["response_format"]["json_schema"]["schema"]
    assert set(schema["required"]) >= {"thought", "name"}
    assert schema["additionalProperties"] is False
    assert all(d.status is Status.OK for d in proposed(tmp_path / "run"))


class EditingModel(ImprovingModel):
    """Answers mutations with SEARCH/REPLACE edits; its first edit quotes the parent wrongly
    (spaces where the parent has a tab), then corrects itself when the block is quoted back."""

    def __init__(self) -> None:
        super().__init__()
        self.missed = False

    def __call__(self, request):
        prompt = prompt_of(request)
        if not self.missed and parent_code(prompt) and "<<<<<<< SEARCH" in prompt:
            self.missed = True
            return (
                "NAME: wrong quote\nTHOUGHT: t\n<<<<<<< SEARCH\n        return x\n=======\n"
                "        return 2.0 * x\n>>>>>>> REPLACE\n"
            )
        if "could not be used" in prompt:
            request = {**request, "messages": request["messages"][:-2]}  # answer the question
        return super().__call__(request)


@pytest.mark.slow
def test_mutations_answered_with_edits_are_applied_exactly_and_stored_as_a_diff(tmp_path):
    model = EditingModel()
    with ScriptedLLM(answer=model) as server:
        llm = {"model": "openai/editor", "api_base": server.url}
        config = curve_config(tmp_path / "run", 6, llm, edit_format="diff", modes={"mutate": 1.0})
        Search(RunConfig.from_dict(config), progress=False).run()
        prompts = [prompt_of(r) for r in server.requests]
    designs = proposed(tmp_path / "run")
    assert len(designs) == 4 and all(d.status is Status.OK for d in designs)
    # the unmatched block was quoted back, and the second answer's edits were used
    reask = next(p for p in prompts if "could not be used" in p)
    assert "SEARCH text does not occur in the parent exactly" in reask
    assert "        return x" in reask
    archive = Archive.open(tmp_path / "run")
    for design in designs:
        parent = archive.get(design.parents[0])
        old = next(line for line in parent.code.splitlines() if "return" in line)
        new = next(line for line in design.code.splitlines() if "return" in line)
        assert f"\n-{old}\n" in design.diff and f"\n+{new}\n" in design.diff
        assert "math.sin(3 * x)" in new and design.diff.startswith(f"--- #{parent.id}")
    shown = cli("show", str(tmp_path / "run"), "--id", str(designs[0].id))
    assert shown.returncode == 0 and "the change to its parent" in shown.stdout


class TwoModels:
    """One server, two models: `good` improves designs; `garbage` never writes one."""

    def __init__(self) -> None:
        self.good = ImprovingModel(shapes=[SHAPES[5]])

    def __call__(self, request):
        if request["model"] == "garbage" and not is_preflight(request):
            return "I am sorry, but I cannot help with designing that."
        return self.good(request)


@pytest.mark.slow
def test_the_bandit_sends_proposals_to_the_model_that_improves_designs_and_replays(tmp_path):
    with ScriptedLLM(answer=TwoModels()) as server:
        models = [
            {"model": "openai/good", "api_base": server.url, "prices": PRICES},
            {"model": "openai/garbage", "api_base": server.url, "prices": PRICES},
        ]
        config = curve_config(tmp_path / "run", 42, {"models": models, "choice": "bandit"})
        Search(RunConfig.from_dict(config), progress=False).run()
    designs = proposed(tmp_path / "run")
    assert len(designs) == 40
    good = [d for d in designs if d.proposer == "openai/good"]
    garbage = [d for d in designs if d.proposer == "openai/garbage"]
    assert len(good) + len(garbage) == 40 and garbage  # both were tried
    assert all(d.status is Status.INVALID for d in garbage)
    last = designs[-20:]
    assert sum(d.proposer == "openai/good" for d in last) >= 16
    # calls, spend and success rate per model
    spend = Archive.open(tmp_path / "run").model_spend()
    assert spend["openai/garbage"]["success_rate"] == 0 and spend["openai/good"]["usd"] > 0
    assert spend["openai/good"]["designs"] == len(good)
    status = cli("status", str(tmp_path / "run"))
    assert "openai/garbage" in status.stdout and "0%" in status.stdout
    # the recording reproduces the run with no server at all
    replayed = cli("replay", str(tmp_path / "run"), "--search", "--run-dir", str(tmp_path / "re"))
    assert replayed.returncode == 0, replayed.stderr
    again = proposed(tmp_path / "re")
    assert [(d.proposer, d.code_hash, d.fitness) for d in again] == [
        (d.proposer, d.code_hash, d.fitness) for d in designs
    ]
