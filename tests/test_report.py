"""The run report: one self-contained HTML page, every model-written text escaped, bounded for
runs of any size, and still written when one of its sections fails."""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from agentic_design.records import Evaluation, Origin, Proposal, Status
from agentic_design.report import build_report, plots, sections, write_report
from agentic_design.report.capped import capped
from agentic_design.store.archive import Archive
from agentic_design.store.import_adas import import_adas

from .conftest import ADAS_ARCHIVES, ADAS_DATA, REPO, cli, small_digits_config

MGSM = ADAS_ARCHIVES["mgsm"]  # a small ADAS archive of our own (tests/data/adas)
# Ours too, with scores on other data sets' test splits (test_fitness_<set>)
MGSM_TRANSFER = ADAS_DATA / "mgsm_transfer_small_results.json"

# What models wrote, as hostile as it gets: each would run a script if it reached the page raw.
NAME = "<script>alert(1)</script>"
THOUGHT = "Try this <img src=x onerror=\"document.title='pwned'\"> trick"
CODE = "def build_model():\n    return '</pre><script>document.title=\"pwned\"</script>'\n"
ERROR = "ValueError: <iframe src=javascript:alert(2)></iframe>"
RUN_NAME = "</title><script>document.title='pwned'</script>"

# Every tag and attribute our templates write; anything else came from text we failed to escape.
OUR_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "nav",
    "a",
    "section",
    "table",
    "tr",
    "th",
    "td",
    "pre",
    "code",
    "img",
    "div",
    "span",
    "details",
    "summary",
    "strong",
}
OUR_ATTRIBUTES = {
    "lang",
    "charset",
    "http-equiv",
    "content",
    "name",
    "href",
    "id",
    "class",
    "src",
    "alt",
}


def evaluation(fitness: float, params: float, **metrics: object) -> Evaluation:
    return Evaluation(
        status=Status.OK,
        split="validation",
        seed=0,
        fitness=fitness,
        ci_low=fitness - 0.02,
        ci_high=fitness + 0.02,
        metrics={"params": params, **metrics},
        summary=f"{params} parameters",
    )


def hostile_run(run_dir: Path) -> Path:
    """A run of three generations whose model wrote markup everywhere it could."""
    meta = {
        "name": RUN_NAME,
        "task": "digits",
        "task_kind": "architecture",
        "fitness_name": "accuracy",
        "cost_metric": "params",
        "state": "finished",
        "started_at": time.time() - 90,
        "config": {"name": RUN_NAME, "task": "digits", "budget": {"evaluations": 4}},
        "budget": {"evaluations": 4, "hours": None},
        "summary": {"stopped_by": "evaluations", "best": {"id": 2, "name": NAME}},
        "sandbox": [
            {"name": "network namespace", "enabled": True, "detail": "no network"},
            {"name": "seccomp <b>filter</b>", "enabled": False, "detail": "kernel <i>says</i> no"},
        ],
    }
    with Archive.create(run_dir, meta=meta) as archive:
        seed = archive.add(
            Proposal(NAME, THOUGHT, CODE, operator="seed", origin=Origin.SEED),
            eval_seed=0,
            task_fingerprint="f",
        )
        archive.finish(seed, evaluation(0.80, 1000))
        child = archive.add(
            Proposal(
                f"child of {NAME}",
                THOUGHT,
                CODE,
                parents=(seed,),
                generation=1,
                operator="mutate: <svg onload=alert(3)>",
                proposer="openai/<b>gpt</b>",
            ),
            eval_seed=0,
            task_fingerprint="f",
        )
        archive.finish(child, evaluation(0.90, 5000, loss=float("nan")))
        broken = archive.add(
            Proposal("broken " + NAME, THOUGHT, CODE, parents=(child,), generation=2),
            eval_seed=0,
            task_fingerprint="f",
        )
        archive.finish(
            broken, Evaluation(status=Status.ERROR, split="validation", seed=0, error=ERROR)
        )
        archive.add(
            Proposal("in flight", "", CODE, parents=(child,)), eval_seed=0, task_fingerprint="f"
        )
    return run_dir


class Tags(html.parser.HTMLParser):
    """The tags and attributes of a page, as a browser's parser would see them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag + "." + name, value) for name, value in attrs]


def assert_only_our_markup(page: str) -> None:
    parsed = Tags(page)
    assert parsed.tags <= OUR_TAGS, parsed.tags - OUR_TAGS
    names = {name.split(".")[1] for name, _ in parsed.attributes}
    assert names <= OUR_ATTRIBUTES, names - OUR_ATTRIBUTES
    for name, value in parsed.attributes:
        if name == "img.src":
            assert (value or "").startswith("data:image/png;base64,")
        if name == "a.href":
            assert (value or "").startswith("#")  # links within the page only


def test_text_a_model_wrote_is_shown_escaped_and_never_as_markup(tmp_path):
    archive = Archive.open(hostile_run(tmp_path / "run"), readonly=True)
    report = build_report(archive)
    page = report.html
    assert report.failed == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&gt;" in page
    assert "&lt;iframe src=javascript:alert(2)&gt;" in page  # the failed design's error
    assert "&lt;/title&gt;&lt;script&gt;" in page  # the run's name, in the title too
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert_only_our_markup(page)
    # No external URL: the policy forbids them, and the page names none.
    assert "default-src 'none'; img-src data:" in page
    assert "http://" not in page and "https://" not in page


def test_no_template_marks_a_value_safe():
    templates = (REPO / "prompts" / "report").glob("*.j2")
    for template in templates:
        text = template.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text


def test_every_section_is_there_with_its_plots(tmp_path):
    run_dir = hostile_run(tmp_path / "run")
    report = write_report(Archive.open(run_dir, readonly=True), tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert page == report.html
    for key, title, _ in sections.SECTIONS:
        assert f'<section id="{key}">' in page and f"<h2>{title}</h2>" in page
    assert page.count('<img class="plot"') == 3  # progress, cost, lineage
    assert "first reached at evaluation 2" in page  # 0.90, by the second evaluation
    # The Pareto front is the cheap seed and the fitter child; the failed design has no cost.
    front = page.split('<section id="cost">')[1].split("</section>")[0]
    assert "#1" in front and "#2" in front and "#3" not in front
    assert "Not in force during this run: seccomp &lt;b&gt;filter&lt;/b&gt;." in page
    assert "evaluations: 4" in page  # the configuration, as YAML
    assert "1 design failed: error 1" in page and "in flight" not in page
    assert not list(tmp_path.glob(".report.html.*"))  # written atomically, nothing left over


def test_outlines_read_a_cost_past_nan_and_refuse_what_is_no_number(tmp_path):
    with Archive.create(tmp_path / "run") as archive:
        for metrics in (
            {"params": 10, "loss": float("nan")},
            {"params": float("inf")},
            {"params": True},
            {"params": "12"},
            {},
            {"params": 2.5},
        ):
            design = archive.add(Proposal("d", "", "x = 1\n"), eval_seed=0, task_fingerprint="f")
            archive.finish(design, Evaluation(Status.OK, "validation", 0, 0.5, metrics=metrics))
        costs = [o["cost"] for o in archive.outlines("params")]
        assert costs == [10, float("inf"), None, None, None, 2.5]
        assert [o["cost"] for o in archive.outlines(None)] == [None] * 6
        # The report keeps finite costs only.
        points = sections.data.load_points(archive, "params")
        assert [p.cost for p in points] == [10.0, None, None, None, None, 2.5]


def test_an_empty_run_and_a_running_one_get_a_report(tmp_path):
    with Archive.create(tmp_path / "empty") as empty:
        report = build_report(empty)
    assert report.failed == []
    assert "No design has been scored yet" in report.html and "<img" not in report.html
    with Archive.create(
        tmp_path / "live", meta={"state": "running", "cost_metric": "params"}
    ) as live:
        live.add(Proposal("pending", "", "x = 1\n"), eval_seed=0, task_fingerprint="f")
        report = build_report(live)
    assert report.failed == []
    assert "was running when this report was written" in report.html
    assert "1: pending 1" in report.html


def test_a_failing_section_is_shown_in_its_place_and_the_rest_stand(tmp_path, monkeypatch):
    def broken(*args: object) -> str:
        raise RuntimeError("no <fonts> here")

    monkeypatch.setattr(sections.plots, "cost", broken)
    report = build_report(Archive.open(hostile_run(tmp_path / "run"), readonly=True))
    assert [(f.key, f.error) for f in report.failed] == [("cost", "RuntimeError: no <fonts> here")]
    assert "could not be made:</strong> RuntimeError: no &lt;fonts&gt; here" in report.html
    assert report.html.count('<img class="plot"') == 2  # progress and lineage
    assert '<section id="sandbox">' in report.html and "network namespace" in report.html


# The broker's refusal of a call at a cap, as an agent's example fails with it (run/broker.py).
AT_EXAMPLE_CAP = (
    "AgentError: the LLM call failed: refused by the broker: "
    "this example's cap of 24 LLM calls is reached"
)
AT_EVALUATION_CAP = (
    "AgentError: the LLM call failed: refused by the broker: "
    "this evaluation's cap of 960 LLM calls is reached"
)


def agent_run(run_dir: Path, designs: dict[str, tuple[float, dict[str, int]]]) -> Path:
    """An agent run whose designs (name -> fitness, errors of their 40 examples) are scored."""
    meta = {"task": "arithmetic", "task_kind": "agent", "fitness_name": "accuracy"}
    with Archive.create(run_dir, meta=meta) as archive:
        for name, (fitness, errors) in designs.items():
            design = archive.add(Proposal(name, "", "x = 1\n"), eval_seed=0, task_fingerprint="f")
            metrics = {"examples": 40, "failed_examples": sum(errors.values()), "errors": errors}
            archive.finish(design, Evaluation(Status.OK, "validation", 0, fitness, metrics=metrics))
    return run_dir


def design_block(page: str, design_id: int) -> str:
    return page.split(f'id="design-{design_id}">')[1].split('<div class="design"')[0]


def test_the_report_says_which_designs_the_call_cap_decided(tmp_path):
    run_dir = agent_run(
        tmp_path / "run",
        {
            "Vote of <b>seven</b>": (0.6, {AT_EXAMPLE_CAP: 12, "ValueError: <i>no</i>": 2}),
            "Chain of thought": (0.5, {"ValueError: no answer": 1}),
            "Debate": (0.4, {AT_EXAMPLE_CAP: 3, AT_EVALUATION_CAP: 2}),
        },
    )
    report = build_report(Archive.open(run_dir, readonly=True))
    page = report.html
    assert report.failed == []
    assert_only_our_markup(page)
    line = (
        "capped: 12 of 40 examples failed at the cap of 24 LLM calls per example; "
        "raise task_budget.max_calls_per_example"
    )
    assert f'<tr><th>capped</th><td class="bad">{line}</td></tr>' in design_block(page, 1)
    overview = page.split('<section id="overview">')[1].split("</section>")[0]
    assert f'<p class="bad">{line}</p>' in overview  # the best design was decided by the cap
    assert "capped" not in design_block(page, 2)
    assert (
        "capped: 5 of 40 examples failed at the cap of 24 LLM calls per example (3) and the "
        "evaluation&#39;s cap of 960 LLM calls (2); raise task_budget.max_calls_per_example"
    ) in design_block(page, 3)


@pytest.mark.parametrize(
    "metrics",
    [
        {},
        {"errors": "this example's cap of 24 LLM calls is reached"},
        {"errors": {"ValueError: this example's cap of many LLM calls is reached": 3}},
        {"errors": {AT_EXAMPLE_CAP: True}},
        {"errors": {AT_EXAMPLE_CAP: -2}},
        {"errors": {AT_EXAMPLE_CAP: "5"}},
    ],
)
def test_metrics_that_show_no_refusal_at_a_cap_mark_nothing(metrics):
    assert capped(metrics) is None


def test_the_report_shows_imported_scores_on_other_test_sets(tmp_path):
    import_adas(MGSM_TRANSFER, tmp_path / "run")
    page = build_report(Archive.open(tmp_path / "run", readonly=True)).html
    assert_only_our_markup(page)
    best = design_block(page, 4)  # Unit Tracker, 0.500
    assert "<h4>ADAS's test scores on other data sets</h4>" in best
    assert "<tr><th>gsm8k</th><td>0.6040 (95% CI 0.570 to 0.638)</td></tr>" in best
    assert (
        "<tr><th>GPQA</th><td>unreadable: fitness &#39;95% Bootstrap Confidence Interval: "
        "evaluation failed&#39; is not ADAS&#39;s form"
    ) in best
    assert (
        "<tr><th>DROP</th><td>0.6970 (interval flagged: median 0.697 lies outside the interval "
        "[0.64, 0.659])</td></tr>"
    ) in design_block(page, 3)
    assert "<tr><th>test_sets.DROP.flagged</th><td>1</td></tr>" in page  # the summary
    # a set's name is text, whatever it looks like
    path = tmp_path / "mgsm_results.json"
    code = "def forward(self, taskInfo):\n    return '1'\n"
    score = "95% Bootstrap Confidence Interval: (20.0%, 40.0%), Median: 30.0%"
    path.write_text(
        json.dumps([{"name": "a", "code": code, "fitness": score, "test_fitness_<script>x": score}])
    )
    import_adas(path, tmp_path / "hostile")
    page = build_report(Archive.open(tmp_path / "hostile", readonly=True)).html
    assert_only_our_markup(page)
    assert "<tr><th>&lt;script&gt;x</th><td>0.3000 (95% CI 0.200 to 0.400)</td></tr>" in page


def test_a_big_run_gives_a_bounded_report(tmp_path):
    """300 generations in one line of descent, the best with long code and long thoughts: the
    report lists a fixed number of ancestors and front members, and clips every text."""
    designs, long_text = 300, 10
    proposals = [
        Proposal(
            f"d{i}",
            "why " * (5_000 if i >= designs - long_text else 1),
            "x = 1\n" * (10_000 if i >= designs - long_text else 1),
            parents=(i,) if i else (),  # ids count from 1: the previous design
            generation=i,
        )
        for i in range(designs)
    ]
    with Archive.create(tmp_path / "run", meta={"cost_metric": "params"}) as archive:
        ids = archive.add_many(proposals, eval_seed=0, task_fingerprint="f")
        for i, design_id in enumerate(ids):
            archive.finish(design_id, evaluation(i / designs, 1000 + i))
        report = build_report(archive)
    page = report.html
    assert report.failed == []
    lineage = page.split('<section id="lineage">')[1].split("</section>")[0]
    assert lineage.count("<tr>") == 1 + sections.ANCESTRY_ROWS  # the header, then the nearest
    assert f"{designs} of {designs} ancestry members are drawn" in lineage
    assert page.count('class="design" id="design-') == sections.TOP_DESIGNS
    # Each design is costlier and fitter than its parent: all are on the Pareto front.
    assert f"and {designs - sections.FRONT_ROWS} more designs on the front" in page
    assert page.count("more characters of the code not shown") == sections.TOP_DESIGNS
    assert page.count("more characters of the thought not shown") == sections.TOP_DESIGNS
    # The best designs hold 80 kB of text each; the page shows each clipped.
    assert len(page) < 1_000_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A real run of each kind of task (architecture, heuristic, agent) and an imported one."""
    root = tmp_path_factory.mktemp("runs")
    digits = small_digits_config(root / "digits", evaluations=6)  # 4 seeds, 2 children
    digits["search"]["report"] = True
    configs = {
        "digits": digits,
        "binpack": {
            "task": "binpack",
            "task_params": {"items": 200, "instances": 2},
            "run_dir": str(root / "binpack"),
            "budget": {"evaluations": 6},
            "sandbox": {"workers": 2, "wall_s": 60},
            "search": {"evolution": {"population": 4, "tournament": 2}},
        },
        "agents": {
            **yaml.safe_load((REPO / "examples" / "agents.yaml").read_text()),
            "run_dir": str(root / "agents"),
            "budget": {"evaluations": 12},  # 8 seeds, 4 children
        },
    }
    for name, config in configs.items():
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        result = cli("run", str(path), "--no-progress")
        assert result.returncode == 0, result.stderr
        # Every search writes its report when it stops (the command below writes it again).
        assert f"report: {root / name / 'report.html'}" in result.stdout + result.stderr
        assert "<html" in (root / name / "report.html").read_text()
    result = cli("import-adas", str(MGSM), "--run-dir", str(root / "adas"))
    assert result.returncode == 0, result.stderr
    return {name: root / name for name in [*configs, "adas"]}


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, task, plots, cost",
    [
        ("digits", "digits", 3, "params"),
        ("binpack", "binpack", 2, None),
        ("agents", "arithmetic", 3, "tokens_per_example"),
        ("adas", "adas:mgsm", 1, None),
    ],
)
def test_the_report_command_covers_every_kind_of_run(runs, kind, task, plots, cost):
    result = cli("report", str(runs[kind]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {runs[kind] / 'report.html'}"
    assert "warning" not in result.stderr
    page = (runs[kind] / "report.html").read_text()
    assert 'class="failed"' not in page
    assert page.count('<img class="plot"') == plots
    assert_only_our_markup(page)
    assert f"<tr><th>task</th><td>{task}</td></tr>" in page
    if cost:
        assert f"against its {cost} (lower is better)" in page
    else:
        assert "names no cost metric" in page
    with Archive.open(runs[kind], readonly=True) as archive:
        protections = archive.meta("sandbox")
    if kind == "adas":
        assert protections is None
        assert_adas_report(page, "Plan, Solve, Check", PLAN_SOLVE_CHECK_IDEA)  # the best
    else:
        assert f"task: {task}" in page  # the configuration
        assert protections and all(f"<td>{p['name']}</td>" in page for p in protections)


# From the thought of our MGSM archive's best design, which the report shows with it.
PLAN_SOLVE_CHECK_IDEA = "Separate planning from calculation, and check the result independently."


def assert_adas_report(page: str, best: str, thought: str) -> None:
    """What the report of an imported ADAS run says: no sandbox, lineage or configuration of
    ours; ADAS's best design with its thought."""
    assert "recorded no sandbox protections" in page
    assert "no lineage to draw" in page and "holds no configuration" in page
    assert best in page and thought in page


@pytest.mark.slow
def test_the_report_of_a_real_adas_archive(real_adas_archives, tmp_path):
    run_dir = tmp_path / "adas"
    result = cli("import-adas", str(real_adas_archives["mgsm"]), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    result = cli("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {run_dir / 'report.html'}"
    assert "warning" not in result.stderr
    page = (run_dir / "report.html").read_text()
    assert 'class="failed"' not in page
    assert page.count('<img class="plot"') == 1
    assert_only_our_markup(page)
    assert "<tr><th>task</th><td>adas:mgsm</td></tr>" in page
    assert "names no cost metric" in page
    best_thought = "The core idea of role-playing where agents assume roles"  # ADAS's words
    assert_adas_report(page, "Dynamic Role-Playing Architecture", best_thought)


def test_a_report_that_cannot_be_made_at_the_stop_loses_nothing(tmp_path, monkeypatch):
    from agentic_design import RunConfig, Search, report

    def broken(archive, path):
        raise RuntimeError("matplotlib is broken here")

    monkeypatch.setattr(report, "write_report", broken)
    config = small_digits_config(tmp_path / "run", evaluations=5)
    config["search"]["report"] = True
    result = Search(RunConfig.from_dict(config), progress=False).run()
    assert result.total >= 4 and result.best is not None and result.test is not None
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert archive.meta("state") == "finished" and archive.meta("summary")
        (failed,) = archive.events("report_failed")
    assert failed["data"]["error"] == "RuntimeError: matplotlib is broken here"
    assert not (tmp_path / "run" / "report.html").exists()


@pytest.mark.slow
def test_the_report_command_says_what_is_wrong_with_bad_input(tmp_path):
    result = cli("report", str(tmp_path / "nope"))
    assert result.returncode == 2 and "no run found" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    run_dir = hostile_run(tmp_path / "run")
    result = cli("report", str(run_dir), "-o", str(tmp_path / "missing" / "r.html"))
    assert result.returncode == 2 and "cannot write the report" in result.stderr
    assert "Traceback" not in result.stderr


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with a profile of its own (runs beside others do not share one)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary is not None
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={cwd / 'profile'}",
            "--allow-file-access-from-files",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


# A page of ours that loads a report in a frame and writes what it finds into its own DOM:
# whether the report's images decoded, and whether anything from the report's text ran.
PROBE = """<!DOCTYPE html><html><head><title>probe</title></head><body>
<iframe id="report" src="REPORT" width="1280" height="800"></iframe>
<script>
document.getElementById("report").addEventListener("load", (event) => {
  const doc = event.target.contentDocument;
  const found = {
    title: doc.title,
    images: [...doc.images].map((i) => [i.complete, i.naturalWidth, i.naturalHeight]),
    scripts: doc.querySelectorAll("script, iframe, svg").length,
    planted: doc.querySelectorAll("img[src='x']").length,
    shown: doc.body.innerText.includes("<script>alert(1)<\\/script>"),
  };
  const out = document.createElement("pre");
  out.id = "found";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});
</script></body></html>"""


def probe(page: Path, folder: Path) -> dict:
    (folder / "probe.html").write_text(PROBE.replace("REPORT", page.name))
    result = chromium("--dump-dom", (folder / "probe.html").as_uri(), cwd=folder)
    assert result.returncode == 0, result.stderr
    found = result.stdout.split('<pre id="found">')[1].split("</pre>")[0]
    return json.loads(html.unescape(found))


@pytest.mark.slow
@pytest.mark.skipif(
    not (shutil.which("chromium") or shutil.which("chromium-browser")),
    reason="Chromium is not installed (.ci/run installs Debian's chromium package)",
)
def test_chromium_shows_the_plots_and_runs_nothing_a_model_wrote(tmp_path):
    report = write_report(
        Archive.open(hostile_run(tmp_path / "run"), readonly=True), tmp_path / "report.html"
    )
    # The report as written, and without its script-forbidding policy: escaping alone holds.
    unguarded = tmp_path / "unguarded.html"
    policy = report.html.split('<meta http-equiv="Content-Security-Policy"')[1].split(">")[0]
    unguarded.write_text(report.html.replace(policy, ' content=""'))
    for page in (tmp_path / "report.html", unguarded):
        found = probe(page, tmp_path)
        assert found["title"] == f"agentic-design report: {RUN_NAME}"  # no script renamed it
        assert found["scripts"] == 0 and found["planted"] == 0 and found["shown"]
        assert len(found["images"]) == 3
        for complete, width, height in found["images"]:
            assert complete and (width, height) == (1000, 420)  # decoded, at the plots' size
    shot = tmp_path / "report.png"
    result = chromium(
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        (tmp_path / "report.html").as_uri(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    # On screen: the plots' blue (best so far, lineage) and red (the Pareto front) are painted.
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=int)
    for colour in (plots.BEST, plots.FRONT):
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).max(axis=2) < 40).sum() > 1_000
