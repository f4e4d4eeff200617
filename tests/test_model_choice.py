"""Choosing the meta-agent's model: fixed weights and the UCB1 bandit, on a real run store."""

from __future__ import annotations

from collections import Counter

import pytest

from agentic_design.config import ConfigError, RunConfig
from agentic_design.proposers.model_choice import UCB1, FixedWeights, model_choice
from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.store.archive import Archive


def add(archive: Archive, model: str, fitness: float | None, parents=(), usd=0.01) -> int:
    proposal = Proposal(
        name="d",
        thought="",
        code=f"x = {archive.total()}\n",
        parents=parents,
        proposer=model,
        llm_usd=usd,
        origin=Origin.SEARCH if model != "seed" else Origin.SEED,
    )
    design_id = archive.add(proposal, eval_seed=0, task_fingerprint="f")
    if fitness is None:
        evaluation = Evaluation(Status.INVALID, "validation", 0, error="malformed answer")
    else:
        evaluation = Evaluation(Status.OK, "validation", 0, fitness, fitness, fitness)
    archive.finish(design_id, evaluation)
    return design_id


@pytest.fixture
def archive(tmp_path):
    with Archive.create(tmp_path / "run") as a:
        add(a, "seed", 0.5)
        yield a


def test_fixed_weights_give_each_model_its_share_reproducibly(archive):
    choice = FixedWeights({"a": 3.0, "b": 1.0}, seed=4)
    picks = [choice.choose(archive, n, 1) for n in range(2, 402)]
    assert picks == [
        FixedWeights({"a": 3.0, "b": 1.0}, seed=4).choose(archive, n, 1) for n in range(2, 402)
    ]
    assert 0.68 < Counter(picks)["a"] / 400 < 0.82


def test_the_bandit_tries_every_model_then_favours_improvement_per_dollar(archive):
    bandit = UCB1(["cheap", "dear", "broken"], seed=0)
    first = {bandit.choose(archive, n, 1) for n in range(2, 40)}
    assert first == {"cheap", "dear", "broken"}  # untried models come first, drawn at random
    # cheap and dear both improve their parent by 0.1; cheap costs a tenth as much
    add(archive, "cheap", 0.6, parents=(1,), usd=0.001)
    add(archive, "dear", 0.6, parents=(1,), usd=0.01)
    add(archive, "broken", None, usd=0.001)
    assert bandit.choose(archive, 10, archive.total()) == "cheap"
    scores = bandit.scores()  # values 1, 0.1 and 0, each with the same exploration bonus
    assert scores["cheap"] - scores["dear"] == pytest.approx(0.9)
    assert scores["dear"] - scores["broken"] == pytest.approx(0.1)


def test_a_design_without_parents_is_measured_against_the_best_before_it(archive):
    bandit = UCB1(["a", "b"], seed=0)
    add(archive, "a", 0.7)  # beats the best before it (the seed, 0.5) by 0.2
    add(archive, "b", 0.6)  # beats nothing: the best before it is 0.7
    bandit.choose(archive, 10, archive.total())
    assert bandit.arms["a"].reward == pytest.approx(0.2) and bandit.arms["b"].reward == 0.0


def test_the_bandit_counts_each_design_once_however_often_it_is_asked(archive):
    bandit = UCB1(["a", "b"], seed=0)
    add(archive, "a", 0.7)
    add(archive, "b", None)
    for number in range(4, 20):
        bandit.choose(archive, number, archive.total())
    assert (bandit.arms["a"].proposals, bandit.arms["b"].proposals) == (1, 1)


def test_one_model_or_fixed_weights_need_no_bandit():
    assert isinstance(model_choice({"a": 1.0}, "bandit", 0), FixedWeights)
    assert isinstance(model_choice({"a": 1.0, "b": 1.0}, "weights", 0), FixedWeights)
    assert isinstance(model_choice({"a": 1.0, "b": 1.0}, "bandit", 0), UCB1)


def test_models_are_configured_as_a_list_with_their_own_servers_and_prices():
    config = RunConfig.from_dict(
        {
            "task": "digits",
            "llm": {
                "models": [
                    {"model": "openai/a", "api_base": "http://127.0.0.1:1/v1", "weight": 2},
                    {"model": "anthropic/b", "prices": {"input_per_mtok": 1, "output_per_mtok": 5}},
                ],
                "temperature": 0.3,
            },
        }
    )
    a, b = config.llm.endpoints()
    assert (a.model, a.api_base, a.temperature, a.prices) == (
        "openai/a",
        "http://127.0.0.1:1/v1",
        0.3,
        None,
    )
    assert b.prices.output_per_mtok == 5 and b.api_base is None
    assert config.llm.weights() == {"openai/a": 2.0, "anthropic/b": 1.0}


@pytest.mark.parametrize(
    "llm, problem",
    [
        ({}, "give either llm.model or llm.models"),
        ({"model": "x", "models": [{"model": "y"}]}, "not both"),
        ({"models": [{"model": "y"}, {"model": "y"}]}, r"names \['y'\] more than once"),
        ({"models": [{"model": "y"}], "api_base": "http://x"}, "for each model"),
        ({"models": []}, "at least 1 item"),
        ({"models": [{"model": "y", "weight": 0}]}, r"models\.0\.weight"),
    ],
)
def test_a_wrong_models_block_is_a_config_error_naming_it(llm, problem):
    with pytest.raises(ConfigError, match=problem):
        RunConfig.from_dict({"task": "digits", "llm": llm})
