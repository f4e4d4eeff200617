"""The control run (`search.proposer: random_sampling`): parents drawn uniformly from every
working design, whatever its fitness, and the report that sets it beside the search of the
same task at equal evaluations."""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.proposers.selection import Uniform
from agentic_design.records import Design, Evaluation, Proposal
from agentic_design.report import build_report

from .conftest import cli
from .curve_designs import CURVE_TASK, ImprovingModel, curve_config, prompt_of
from .llm_server import ScriptedLLM
from .test_evolution import cnn, design


def fed(strategy: Uniform, designs: list[Design]) -> Uniform:
    for d in designs:
        strategy.add(d)
    return strategy


def history() -> list[Design]:
    """20 designs, fitter with each id; every fifth failed."""
    return [
        design(i, None, status=Status.ERROR) if i % 5 == 0 else design(i, i / 20)
        for i in range(1, 21)
    ]


# -- the strategy -------------------------------------------------------------------------------
def test_every_working_design_is_picked_about_equally_and_a_failed_one_never():
    uniform = fed(Uniform(size=8), history())
    rng = random.Random(0)
    picks = Counter(uniform.pick(rng, number=21).id for _ in range(16_000))
    working = [i for i in range(1, 21) if i % 5]
    assert sorted(picks) == working  # each of the 16, the failed four never
    # 1,000 each expected; a tournament would favour the fit ids (a bound of six sigmas).
    assert all(800 <= picks[i] <= 1_200 for i in working), picks
    # Its population is a bounded sample of the working designs, oldest first.
    population = [d.id for d in uniform.population(21)]
    assert len(population) == 8 and population == sorted(population)
    assert set(population) <= set(working)


def test_the_same_rng_draws_the_same_parents():
    first, second = fed(Uniform(8, seed=3), history()), fed(Uniform(8, seed=3), history())
    draws = [
        [strategy.pick(random.Random(7), n, exclude=[2]).id for n in range(21, 61)]
        for strategy in (first, second)
    ]
    assert draws[0] == draws[1] and 2 not in draws[0]
    assert [d.id for d in first.population(30)] == [d.id for d in second.population(30)]
    assert fed(Uniform(8, seed=4), history()).population(30) != first.population(30)


def test_exclusion_leaves_the_rest_and_nothing_left_is_an_error():
    uniform = fed(Uniform(8), history())
    working = [i for i in range(1, 21) if i % 5]
    assert uniform.pick(random.Random(0), 21, exclude=working[1:]).id == working[0]
    with pytest.raises(ValueError, match="no design to choose from"):
        uniform.pick(random.Random(0), 21, exclude=working)
    with pytest.raises(ValueError):
        Uniform(8).pick(random.Random(0), 1)


def test_a_draw_costs_the_same_at_100_000_designs():
    designs = [
        Design(
            id=i, run="", name="", thought="", code="", code_hash="", status=Status.OK, fitness=i
        )
        for i in range(1, 100_001)
    ]
    uniform = fed(Uniform(8), designs)
    rng = random.Random(0)
    started = time.perf_counter()
    for number in range(100_001, 120_001):
        uniform.pick(rng, number, exclude=[1, 2])
        if number % 10 == 0:
            uniform.population(number)
    # A scan of the 100,000 per draw would take minutes; an index into them, milliseconds.
    assert time.perf_counter() - started < 2.0


def test_followed_from_a_store_it_reads_only_what_is_new_and_draws_as_if_fed(tmp_path):
    archive = Archive.create(tmp_path / "run")
    for i in range(1, 41):
        design_id = archive.add(
            Proposal(f"d{i}", "", cnn(8 + i)), eval_seed=0, task_fingerprint="f"
        )
        failed = Evaluation(Status.ERROR, "validation", 0, error="boom")
        archive.finish(
            design_id, failed if i % 7 == 0 else Evaluation(Status.OK, "validation", 0, i)
        )
    followed, reads = Uniform(8, seed=1), []
    followed.follow(archive, 0, 10, outline=False)  # a resumed run: warmed from the store
    for upto in range(11, 41):
        reads.append(len(followed.follow(archive, upto - 1, upto, outline=False)))
    assert max(reads) == 1  # one new design a plan, however long the run
    whole = fed(Uniform(8, seed=1), archive.designs())
    assert followed.ids == whole.ids
    for number in (41, 42):
        assert followed.population(number) == whole.population(number)  # read whole
        one, other = random.Random(number), random.Random(number)
        assert followed.pick(one, number) == whole.pick(other, number)
    assert followed.held() == []  # ids only: the designs stay in the store


# -- a control search ---------------------------------------------------------------------------
def curve_run(run_dir: Path, proposer: str, evaluations: int) -> dict:
    return {
        "name": run_dir.name,
        "task": f"{CURVE_TASK}:CurveFit",
        "run_dir": str(run_dir),
        "seed": 0,
        "budget": {"evaluations": evaluations},
        "sandbox": {"workers": 2, "wall_s": 30},
        "search": {
            "proposer": proposer,
            "evolution": {"population": 8, "tournament": 3},
            "report": False,
        },
    }


def in_lower_half(designs: list[Design], child: Design) -> bool:
    """Whether the child's parent was among the less fit half of the working designs before it."""
    before = [d for d in designs if d.id < child.id and d.status is Status.OK]
    ranked = sorted(before, key=lambda d: d.fitness or 0.0)
    return child.parents[0] in {d.id for d in ranked[: len(ranked) // 2]}


@pytest.mark.slow
def test_a_control_search_draws_its_parents_from_all_over_the_run(tmp_path):
    config = RunConfig.from_dict(curve_run(tmp_path / "control", "random_sampling", 50))
    result = Search(config, progress=False).run()
    assert result.total == 50
    assert result.proposer.startswith(
        "random sampling (control: parents drawn uniformly, no selection pressure; "
    )
    with Archive.open(tmp_path / "control", readonly=True) as archive:
        assert archive.meta("proposer") == result.proposer
        designs = archive.designs()
    by_id = {d.id: d for d in designs}
    children = [d for d in designs if d.parents]
    assert len(children) == 48  # the two seeds, then children of them and of each other
    assert all(by_id[p].status is Status.OK for c in children for p in c.parents)
    # Selection would choose the fitter half (a tournament of three: an eighth of the time
    # from the less fit half, and aging evolution never a parent older than its population of
    # eight); without it, about half the parents are the less fit, and many are old.
    lower = sum(in_lower_half(designs, child) for child in children) / len(children)
    assert lower >= 0.3, lower
    assert sum(child.parents[0] <= child.id - 20 for child in children) >= 5
    assert len({child.parents[0] for child in children}) >= 15


@pytest.mark.slow
def test_with_an_llm_the_control_is_the_meta_agent_shown_a_uniform_sample(tmp_path):
    model = ImprovingModel()
    with ScriptedLLM(answer=model) as server:
        llm = {"model": "openai/gpt-4o-mini", "api_base": server.url}
        data = curve_config(tmp_path / "run", 10, llm)
        data["search"].update(proposer="random_sampling", report=False)
        result = Search(RunConfig.from_dict(data), progress=False).run()
    assert result.proposer.startswith("random sampling (control: ")
    assert "LLM meta-agent openai/gpt-4o-mini" in result.proposer
    prompts = [prompt_of(r) for r in server.requests if "## What has been tried" in prompt_of(r)]
    assert prompts
    # No design is shown for being the best: only a uniform sample, and parents drawn so.
    assert not any("The best design so far" in prompt for prompt in prompts)
    assert all("some drawn at random, whatever their score" in prompt for prompt in prompts)
    assert not any("the best and some of the most different" in prompt for prompt in prompts)
    designs = Archive.open(tmp_path / "run", readonly=True).designs()
    assert any(d.parents for d in designs)


# -- the report ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """In runs/: a search and its control on the curve task, an older control, a control of
    another task started later, and a store that cannot be read; elsewhere, a lone copy of the
    search."""
    root = tmp_path_factory.mktemp("control")
    folder = root / "runs"
    for name, proposer, evaluations in (
        ("search", "evolution", 24),
        ("control", "random_sampling", 30),
    ):
        config = RunConfig.from_dict(curve_run(folder / name, proposer, evaluations))
        Search(config, progress=False).run()
    with Archive.open(folder / "control", readonly=True) as control:
        started = control.meta("started_at")
    for name, changes in (
        ("control-old", {"started_at": started - 3_600}),
        ("control-other-task", {"started_at": started + 3_600, "task_fingerprint": "another"}),
    ):
        shutil.copytree(folder / "control", folder / name)
        with Archive.open(folder / name) as copy:
            copy.set_meta_many(changes)
    (folder / "broken").mkdir()
    (folder / "broken" / "run.db").write_bytes(b"not a store " * 100)
    shutil.copytree(folder / "search", root / "lone" / "search")
    return {
        "search": folder / "search",
        "control": folder / "control",
        "lone": root / "lone" / "search",
    }


def section(page: str) -> str:
    return page.split('<section id="control">')[1].split("</section>")[0]


def best_at(run_dir: Path, evaluations: int) -> Design:
    """The fittest of a run's first finished designs by id (the earlier of equals)."""
    with Archive.open(run_dir, readonly=True) as archive:
        done = [d for d in archive.designs() if d.status is not Status.PENDING][:evaluations]
    return max((d for d in done if d.status is Status.OK), key=lambda d: d.fitness or 0.0)


def row(best: Design) -> str:
    return (
        f'<td class="num">{best.fitness:.4f}</td>'
        f"<td>95% CI {best.ci_low:.3f} to {best.ci_high:.3f}</td>"
    )


@pytest.mark.slow
def test_the_search_is_set_beside_its_control_at_equal_evaluations(runs):
    report = build_report(Archive.open(runs["search"], readonly=True))
    assert report.failed == []
    shown = section(report.html)
    search, control = best_at(runs["search"], 24), best_at(runs["control"], 24)
    assert "At 24 evaluations each" in shown  # the smaller run's 24, not the control's 30
    rows = shown.split("<tr>")[2:]
    assert rows[0].startswith("<td>search (this run)</td>") and row(search) in rows[0]
    assert rows[1].startswith("<td>control</td>") and row(control) in rows[1]
    assert f"({runs['control']})" in rows[1]  # the latest control of this task, not the old one
    assert f"{search.fitness - control.fitness:+.4f}" in shown  # the gap
    assert shown.count('<img class="plot"') == 1
    assert "broken (ArchiveError: " in shown  # the unreadable store, skipped and named


@pytest.mark.slow
def test_the_control_is_set_beside_the_search_the_same_way(runs):
    shown = section(build_report(Archive.open(runs["control"], readonly=True)).html)
    rows = shown.split("<tr>")[2:]
    assert rows[0].startswith("<td>search</td>") and row(best_at(runs["search"], 24)) in rows[0]
    assert rows[1].startswith("<td>control (this run)</td>")
    assert row(best_at(runs["control"], 24)) in rows[1]


@pytest.mark.slow
def test_a_run_with_nothing_beside_it_says_so(runs):
    report = build_report(Archive.open(runs["lone"], readonly=True))
    assert report.failed == []
    shown = section(report.html)
    assert "No control run of this task was found beside this run" in shown
    assert "<table>" not in shown and "<img" not in shown


@pytest.mark.slow
def test_the_report_command_takes_the_control_it_is_given(runs, tmp_path):
    page = tmp_path / "report.html"
    result = cli("report", str(runs["lone"]), "--control", str(runs["control"]), "-o", str(page))
    assert result.returncode == 0, result.stderr
    shown = section(page.read_text())
    assert "The other run was named for this report." in shown
    assert row(best_at(runs["control"], 24)) in shown
    result = cli("report", str(runs["lone"]), "--control", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and "no run found" in result.stderr
    assert "Traceback" not in result.stderr
