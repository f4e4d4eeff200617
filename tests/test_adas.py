"""Importing ADAS archives: archives in ADAS's format (small ones of our own, and ADAS's three
real ones where they are here) become runs with ADAS's scores on our 0-1 scale; impossible
intervals are flagged, never trusted; repeats are marked; bad files exit 2; an imported run can be
shown but not re-run."""

import json
from pathlib import Path

import pytest
import yaml

from agentic_design.records import Origin, Status
from agentic_design.store.archive import Archive
from agentic_design.store.import_adas import (
    MAX_FIELD_CHARS,
    MAX_TEST_SET_NAME_CHARS,
    MAX_TEST_SETS,
    TRANSFER,
    AdasImportError,
    ScoreFormatError,
    SetCount,
    SetScore,
    guess_domain,
    import_adas,
    parse_score,
    transfer_scores,
)

from .conftest import ADAS_ARCHIVES, ADAS_DATA, cli, small_digits_config

# Small archives of our own in ADAS's format (tests/data/adas/README.md): the default tests
# read these. ADAS's three real archives are read by the tests at the end, where they are here
# (the `real_adas_archives` fixture skips those tests otherwise).
ARC = ADAS_ARCHIVES["arc"]
DROP = ADAS_ARCHIVES["drop"]
MGSM = ADAS_ARCHIVES["mgsm"]


def score(low: float, high: float, median: float) -> str:
    return f"95% Bootstrap Confidence Interval: ({low}%, {high}%), Median: {median}%"


def entry(code: str, generation: object = 1, fitness: object = None, **extra: object) -> dict:
    return {
        "thought": "t",
        "name": f"agent {generation}",
        "code": code,
        "generation": generation,
        "fitness": score(20.0, 40.0, 30.0) if fitness is None else fitness,
        **extra,
    }


def write_archive(path: Path, entries: list) -> Path:
    path.write_text(json.dumps(entries))
    return path


# -- reading a fitness string ------------------------------------------------------------------


def test_a_score_becomes_fractions_exactly_as_written():
    read = parse_score(score(22.7, 38.3, 30.5))
    assert (read.median, read.low, read.high) == (0.305, 0.227, 0.383)
    assert read.ci == (0.227, 0.383) and read.problem is None


@pytest.mark.parametrize(
    "low, high, median, problem",
    [
        (50.2, 54.3, 63.3, "median 0.633 lies outside the interval [0.502, 0.543]"),
        (60.0, 50.0, 55.0, "the interval's low end 0.6 exceeds its high end 0.5"),
        (20.0, 120.0, 50.0, "1.2 lies outside 0 to 1"),
        (-5.0, 10.0, 5.0, "-0.05 lies outside 0 to 1"),
    ],
)
def test_an_impossible_interval_is_flagged_and_not_trusted(low, high, median, problem):
    read = parse_score(score(low, high, median))
    assert read.ci is None
    assert read.problem is not None and read.problem.startswith(problem)
    assert read.median == pytest.approx(median / 100)  # the median itself is kept


@pytest.mark.parametrize("text", ["", "Median: 30%", "95% CI (1, 2)", 0.3, None])
def test_a_score_not_in_adas_form_is_an_error_not_a_zero(text):
    with pytest.raises(ScoreFormatError, match="not ADAS's form"):
        parse_score(text)


@pytest.mark.parametrize(
    "name, domain",
    [
        ("drop_gpt3.5_results.json", "drop"),
        ("arc_gpt3.5_results.json", "arc"),
        ("results/mgsm_gpt4_results.json", "mgsm"),
        ("gpqa_results.json", "gpqa"),
        ("my-mmlu-run.json", "mmlu"),
        ("humaneval.json", "humaneval"),
        ("dropout_results.json", "unknown"),
        ("archive.json", "unknown"),
    ],
)
def test_the_domain_is_guessed_from_the_file_name(name, domain):
    assert guess_domain(name) == domain


# -- our own archives (tests/data/adas) --------------------------------------------------------


def assert_imported(
    path: Path,
    run_dir: Path,
    *,
    entries: int,
    repeated: int,
    flagged: int,
    invalid: int,
    domain: str,
    fitness_name: str,
    best: tuple[str, float],
    unreadable_tests: int = 0,
) -> None:
    """Import `path` into `run_dir` and check the summary, the run's metadata and every design."""
    summary = import_adas(path, run_dir)
    assert (summary.entries, summary.imported, summary.invalid) == (entries, entries, invalid)
    assert (summary.repeated, summary.flagged) == (repeated, flagged)
    assert (summary.domain, summary.fitness_name) == (domain, fitness_name)
    with Archive.open(run_dir, readonly=True) as archive:
        counts = {"ok": entries - invalid, **({"invalid": invalid} if invalid else {})}
        assert archive.total() == entries and archive.counts() == counts
        top = archive.best()
        assert top is not None and (top.name, top.fitness) == best
        meta = archive.all_meta()
        assert meta["task"] == f"adas:{domain}" and meta["fitness_name"] == fitness_name
        assert meta["imported_from"] == "ADAS" and meta["state"] == "imported"
        assert meta["source"] == str(path) and meta["name"] == run_dir.name
        assert meta["import"]["entries"] == entries and meta["import"]["flagged"] == flagged
        assert meta["import"]["invalid"] == invalid
        assert "config" not in meta
        designs = archive.designs()
    for design in designs:
        assert design.origin is Origin.IMPORTED and design.proposer == "adas"
        if design.status is Status.OK:
            assert design.fitness is not None and 0.0 <= design.fitness <= 1.0
        else:
            assert design.status is Status.INVALID and design.fitness is None
        if "test_fitness_error" not in design.metrics:
            assert 0.0 <= design.metrics["test_median"] <= 1.0
        if design.ci is not None:
            assert 0.0 <= design.ci_low <= design.fitness <= design.ci_high <= 1.0
    assert sum("test_fitness_error" in d.metrics for d in designs) == unreadable_tests
    source = json.loads(path.read_text())
    assert len(list((run_dir / "designs").glob("*.py"))) == len(source) == entries


@pytest.mark.parametrize(
    "path, entries, repeated, flagged, invalid, domain, fitness_name, best",
    [
        (ARC, 8, 0, 1, 1, "arc", "accuracy", ("Colour Mapper", 0.14)),
        (DROP, 8, 2, 8, 0, "drop", "F1", ("Count-Then-Answer", 0.702)),
        (MGSM, 7, 0, 0, 0, "mgsm", "accuracy", ("Plan, Solve, Check", 0.492)),
    ],
    ids=["arc", "drop", "mgsm"],
)
def test_each_archive_imports_with_its_counts(
    tmp_path, path, entries, repeated, flagged, invalid, domain, fitness_name, best
):
    assert_imported(
        path,
        tmp_path / "run",
        entries=entries,
        repeated=repeated,
        flagged=flagged,
        invalid=invalid,
        domain=domain,
        fitness_name=fitness_name,
        best=best,
        unreadable_tests=1 if path == ARC else 0,  # ARC's entry 8
    )


def test_names_thoughts_and_code_are_kept_as_given(tmp_path):
    import_adas(MGSM, tmp_path / "run")
    source = json.loads(MGSM.read_text())
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert [d.name for d in designs] == [
        "Step-by-Step Reasoner",
        "Majority Vote over Samples",
        "Critique and Revise",
        "Two-Voice Debate",
        "Verifier-Gated Voting",
        "Plan, Solve, Check",
        "Specialist Router",
    ]
    assert [(d.name, d.code) for d in designs] == [(e["name"], e["code"]) for e in source]
    assert all(d.code.startswith("def forward(self, taskInfo):\n") for d in designs)
    assert [d.thought for d in designs if d.id != 5] == [
        e["thought"] for i, e in enumerate(source, start=1) if i != 5
    ]
    # Entry 5's thought is an object of sections: it reads as the markdown of the others.
    assert designs[4].thought == (
        "**Insights:**\nVoting spends the same effort on easy and hard questions. When a few "
        "samples already agree, more samples add nothing.\n\n"
        "**Overall Idea:**\nSample three answers; stop when they agree, and call a verifier "
        "only when they do not.\n\n"
        "**Implementation:**\n1. Three solvers answer independently at temperature 0.8.\n"
        "2. If all three answers are the same, return it.\n"
        "3. Otherwise a verifier at temperature 0 reads every solution and decides."
    )
    first = designs[0]  # (24.0%, 39.5%), Median: 31.5%; test (25.2%, 32.6%), Median: 28.9%
    assert (first.fitness, first.ci_low, first.ci_high) == (0.315, 0.24, 0.395)
    assert first.metrics["test_median"] == 0.289 and first.metrics["test_ci"] == [0.252, 0.326]
    assert "interval_problem" not in first.metrics


def test_generations_and_their_gaps_are_kept(tmp_path):
    summary = import_adas(ARC, tmp_path / "run")
    # Generations 3, 5 and 6 are missing, as ADAS's files miss the proposals it dropped.
    assert summary.generations == (0, 1, 2, 4, 7, 8)
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert [d.generation for d in designs] == [0, 0, 0, 1, 2, 4, 7, 8]
    source = json.loads(ARC.read_text())
    assert [d.metrics["adas_generation"] for d in designs] == [e["generation"] for e in source]
    assert designs[0].operator == "imported from ADAS (initial)"
    assert designs[0].metrics["adas_generation"] == "initial"
    assert designs[3].operator == "imported from ADAS (generation 1)"
    assert designs[-1].operator == "imported from ADAS (generation 8)"


def test_every_drop_interval_is_flagged_with_its_numbers_and_reason(tmp_path):
    # As in ADAS's own DROP file, the bounds were left unscaled: every interval (validation and
    # test) lies below its median.
    summary = import_adas(DROP, tmp_path / "run")
    assert summary.flagged == 8
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert all(d.ci_low is None and d.ci_high is None for d in designs)
    assert all("outside the interval" in d.metrics["interval_problem"] for d in designs)
    assert all("outside the interval" in d.metrics["test_interval_problem"] for d in designs)
    first = designs[0]  # Read-Then-Answer: (41.8%, 45.9%), Median: 54.6%
    assert first.fitness == 0.546
    assert first.metrics["adas_interval"] == [0.418, 0.459]
    assert first.metrics["interval_problem"] == (
        "median 0.546 lies outside the interval [0.418, 0.459]"
    )
    assert first.metrics["test_median"] == 0.557 and first.metrics["test_ci"] is None
    assert first.metrics["adas_test_interval"] == [0.483, 0.501]
    assert first.metrics["test_interval_problem"] == (
        "median 0.557 lies outside the interval [0.483, 0.501]"
    )


def test_drop_repeats_are_marked_with_the_earlier_design(tmp_path):
    import_adas(DROP, tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        repeats = {
            d.id: d.metrics["repeat_of"] for d in archive.designs() if "repeat_of" in d.metrics
        }
        # The last two entries repeat generations 1 and 5 (entries 4 and 6) word for word.
        assert repeats == {7: 4, 8: 6}
        assert archive.get(7).code == archive.get(4).code
        assert archive.get(8).code == archive.get(6).code
        assert archive.get(8).name == "Question Rewriter" and archive.get(8).generation == 5
        assert archive.get(7).status is Status.OK and "repeats #4" in archive.get(7).summary


def test_one_impossible_interval_among_sound_ones_is_flagged_alone(tmp_path):
    summary = import_adas(ARC, tmp_path / "run")
    assert summary.flagged == 1
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    flagged = [d.id for d in designs if "interval_problem" in d.metrics]
    assert flagged == [7]
    extender = designs[6]  # Pattern Extender: (2.0%, 6.0%), Median: 9.0%
    assert extender.name == "Pattern Extender" and extender.status is Status.OK
    assert (extender.fitness, extender.ci_low, extender.ci_high) == (0.09, None, None)
    assert extender.metrics["adas_interval"] == [0.02, 0.06]
    assert extender.metrics["interval_problem"] == (
        "median 0.09 lies outside the interval [0.02, 0.06]"
    )
    # Its test interval holds its median: trusted, though the validation one is not.
    assert extender.metrics["test_ci"] == [0.03, 0.08]
    assert "test_interval_problem" not in extender.metrics
    best = designs[5]  # Colour Mapper: (7.0%, 21.0%), Median: 14.0%
    assert (best.fitness, best.ci_low, best.ci_high) == (0.14, 0.07, 0.21)


def test_unreadable_scores_in_an_archive_are_invalid_or_kept_aside(tmp_path):
    summary = import_adas(ARC, tmp_path / "run")
    assert summary.invalid == 1
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert [d.id for d in designs if d.status is Status.INVALID] == [5]
    spotter = designs[4]  # Symmetry Spotter: its fitness cannot be read, so it is not a zero
    assert spotter.name == "Symmetry Spotter" and spotter.fitness is None
    assert spotter.error == (
        "fitness '95% Bootstrap Confidence Interval: evaluation failed' is not ADAS's form "
        "'95% Bootstrap Confidence Interval: (L%, U%), Median: M%'"
    )
    assert spotter.metrics["adas_fitness"] == "95% Bootstrap Confidence Interval: evaluation failed"
    assert spotter.metrics["test_median"] == 0.03  # its test score was readable
    # Rule Tester's test fitness cannot be read: the design stands, the test score is set aside.
    tester = designs[7]
    assert tester.name == "Rule Tester" and tester.status is Status.OK and tester.fitness == 0.08
    assert tester.metrics["adas_test_fitness"] == "not measured"
    assert "'not measured' is not ADAS's form" in tester.metrics["test_fitness_error"]
    assert "test_median" not in tester.metrics and "test_ci" not in tester.metrics


# -- archives written by the test ---------------------------------------------------------------


def test_a_repeat_differing_only_in_whitespace_is_imported_and_marked(tmp_path):
    code = "def forward(self, taskInfo):\n    return taskInfo\n"
    spaced = "def forward(self,  taskInfo):\n\n        return taskInfo   \n"
    path = write_archive(
        tmp_path / "mmlu_results.json",
        [
            entry(code, "initial"),
            entry("def forward(self, t):\n    return 1\n", 1),
            entry(spaced, "3"),  # a generation as a string, as ADAS sometimes writes it
        ],
    )
    summary = import_adas(path, tmp_path / "run")
    assert (summary.imported, summary.repeated) == (3, 1)
    assert summary.generations == (0, 1, 3) and summary.domain == "mmlu"
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        first, other, repeat = archive.designs()
    assert repeat.metrics["repeat_of"] == first.id and repeat.code == spaced
    assert "repeat_of" not in first.metrics and "repeat_of" not in other.metrics
    assert repeat.status is Status.OK and f"repeats #{first.id}" in repeat.summary


def test_an_unreadable_fitness_makes_the_entry_invalid_with_the_error(tmp_path):
    path = write_archive(
        tmp_path / "arc_results.json",
        [entry("x = 1", "initial"), entry("x = 2", 1, fitness="Median: about 40%")],
    )
    summary = import_adas(path, tmp_path / "run")
    assert (summary.imported, summary.invalid) == (2, 1)
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        good, bad = archive.designs()
    assert good.status is Status.OK and good.fitness == 0.3
    assert bad.status is Status.INVALID and bad.fitness is None
    assert bad.error is not None and "'Median: about 40%' is not ADAS's form" in bad.error
    assert bad.metrics["adas_fitness"] == "Median: about 40%"


def test_entries_lacking_optional_keys_still_import(tmp_path):
    path = write_archive(
        tmp_path / "results.json",
        [{"code": "x = 1", "fitness": score(1.0, 3.0, 2.0)}, {"code": "x = 2"}],
    )
    summary = import_adas(path, tmp_path / "run")
    assert summary.domain == "unknown" and summary.fitness_name == "accuracy"
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        named, unscored = archive.designs()
        assert archive.meta("task") == "adas:unknown"
    assert named.name == "ADAS entry 1" and named.thought == "" and named.generation == 0
    assert named.operator == "imported from ADAS (no generation given)"
    assert "test_median" not in named.metrics
    assert unscored.status is Status.INVALID and "None is not ADAS's form" in unscored.error


def test_a_directory_holding_a_run_is_refused(tmp_path):
    import_adas(ARC, tmp_path / "run")
    with pytest.raises(AdasImportError, match="already holds a run"):
        import_adas(MGSM, tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert archive.total() == 8  # untouched
        assert archive.meta("source") == str(ARC)


# -- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, problem",
    [
        (None, "no such file"),
        ("{not json", "is not JSON"),
        ('{"name": "x"}', "holds a JSON object, not a list"),
        ("[]", "holds an empty list"),
        ('[1, "two"]', "entry 1 of 2 is a JSON number, not an object"),
        ('[{"name": "Agent X", "fitness": "?"}]', "entry 1 of 1 (Agent X) has no code"),
        ('[{"code": "x = 1", "generation": "late"}]', "generation 'late' is neither"),
    ],
)
def test_a_bad_archive_file_exits_2_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "bad_results.json"
    if content is not None:
        path.write_text(content)
    result = cli("import-adas", str(path), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(path) in result.stderr and problem in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # checked before anything is written


def test_importing_into_a_run_directory_twice_exits_2(tmp_path):
    assert cli("import-adas", str(ARC), "--run-dir", str(tmp_path / "run")).returncode == 0
    again = cli("import-adas", str(ARC), "--run-dir", str(tmp_path / "run"))
    assert again.returncode == 2 and "already holds a run" in again.stderr


@pytest.fixture(scope="module")
def drop_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("adas") / "drop"
    result = cli("import-adas", str(DROP), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout


def test_the_import_prints_its_summary(drop_run):
    _, stdout = drop_run
    assert "entries: 8, imported: 8, repeated: 2, flagged intervals: 8, invalid: 0" in stdout
    assert "generations: initial, 1-2, 5 (gaps: 3-4)" in stdout
    assert "best #5 Count-Then-Answer: F1 0.7020 (interval flagged: median 0.702" in stdout
    assert "8 intervals could not hold their own median and were kept aside" in stdout


def test_the_import_summary_counts_invalid_entries_and_gaps(tmp_path):
    result = cli("import-adas", str(ARC), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "entries: 8, imported: 8, repeated: 0, flagged intervals: 1, invalid: 1" in result.stdout
    assert "generations: initial, 1-2, 4, 7-8 (gaps: 3, 5-6)" in result.stdout
    assert "best #6 Colour Mapper: accuracy 0.1400 (95% CI 0.0700 to 0.2100)" in result.stdout
    one = cli("show", str(tmp_path / "run"), "--id", "5")
    assert one.returncode == 0, one.stderr
    assert "#5 Symmetry Spotter  status invalid" in one.stdout
    assert "error: fitness '95% Bootstrap Confidence Interval: evaluation failed'" in one.stdout


def test_status_and_show_read_an_imported_run(drop_run):
    run_dir, _ = drop_run
    status = cli("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert f"run {run_dir}: imported" in status.stdout
    assert f"imported from ADAS: {DROP}" in status.stdout and "8 scored, 0 pending" in status.stdout
    assert "best: #5 Count-Then-Answer: F1 0.7020 (interval flagged" in status.stdout
    table = cli("show", str(run_dir))
    assert table.returncode == 0, table.stderr
    assert "Count-Then-Answer" in table.stdout and "flagged" in table.stdout
    one = cli("show", str(run_dir), "--id", "1")
    assert one.returncode == 0, one.stderr
    assert "#1 Read-Then-Answer  status ok" in one.stdout
    assert "F1 0.5460  interval flagged: median 0.546 lies outside the interval" in one.stdout
    assert "def forward(self, taskInfo)" in one.stdout


def test_show_json_lists_every_imported_design(drop_run):
    run_dir, _ = drop_run
    result = cli("show", str(run_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["run"]["imported_from"] == "ADAS" and payload["run"]["fitness_name"] == "F1"
    assert payload["run"]["counts"] == {"ok": 8}
    designs = payload["designs"]
    assert len(designs) == 8 and designs[0]["name"] == "Count-Then-Answer"
    assert designs[0]["fitness"] == 0.702
    assert all(d["ci_low"] is None and d["ci_high"] is None for d in designs)
    assert all(d["metrics"]["interval_problem"] for d in designs)
    assert {d["origin"] for d in designs} == {"imported"}


def test_a_run_with_good_intervals_shows_them(tmp_path):
    assert cli("import-adas", str(MGSM), "--run-dir", str(tmp_path / "run")).returncode == 0
    one = cli("show", str(tmp_path / "run"), "--id", "1")
    assert "accuracy 0.3150  95% CI 0.2400 to 0.3950" in one.stdout


@pytest.mark.parametrize(
    "args, doing",
    [
        (["resume", "{run}"], "cannot be resumed"),
        (["replay", "{run}", "1"], "holds no run configuration: give --config CONFIG"),
        (["replay", "{run}", "--search", "--run-dir", "{new}"], "cannot be replayed"),
        (["export", "{run}", "1", "-o", "{new}.py"], "cannot be exported"),
    ],
)
def test_an_imported_run_cannot_be_run_again(drop_run, tmp_path, args, doing):
    run_dir, _ = drop_run
    args = [a.replace("{run}", str(run_dir)).replace("{new}", str(tmp_path / "new")) for a in args]
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{run_dir} was imported from ADAS ({DROP})" in result.stderr and doing in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line (the console does not fold)


def test_a_new_search_never_takes_over_an_imported_run(tmp_path):
    run_dir = tmp_path / "imported"
    assert cli("import-adas", str(ARC), "--run-dir", str(run_dir)).returncode == 0
    config = tmp_path / "digits.yaml"
    config.write_text(yaml.safe_dump(small_digits_config(tmp_path / "other")))
    result = cli("run", str(config), "--run-dir", str(run_dir), "--no-progress")
    assert result.returncode == 2 and "pass another --run-dir" in result.stderr
    with Archive.open(run_dir, readonly=True) as archive:
        assert archive.total() == 8


def test_the_python_api_refuses_an_imported_run_directory_too(tmp_path):
    from agentic_design import RunConfig, Search
    from agentic_design.config import ConfigError

    run_dir = tmp_path / "imported"
    import_adas(MGSM, run_dir)
    config = RunConfig.from_dict(small_digits_config(run_dir))
    taken = r"holds a run imported from ADAS \(.*\): .*; pass another --run-dir"
    with pytest.raises(ConfigError, match=taken):
        Search(config, progress=False).run()
    with Archive.open(run_dir, readonly=True) as archive:
        assert archive.total() == 7


# -- scores on other data sets (`test_fitness_<set>`, as in ADAS's transfer archives) ----------

TRANSFER_ARCHIVE = ADAS_DATA / "mgsm_transfer_small_results.json"  # 4 entries, 13 such scores


def test_every_test_set_score_is_kept_and_read_as_the_main_fitness_is(tmp_path):
    summary = import_adas(TRANSFER_ARCHIVE, tmp_path / "run")
    assert summary.test_sets == (
        SetCount("gsm8k", values=4, flagged=0, unreadable=0),
        SetCount("SVAMP", values=4, flagged=0, unreadable=0),
        SetCount("DROP", values=3, flagged=1, unreadable=0),
        SetCount("GPQA", values=2, flagged=0, unreadable=1),
    )
    # the main fitness of every entry is sound: only the other sets' scores are flagged
    assert (summary.flagged, summary.invalid) == (0, 0)
    source = json.loads(TRANSFER_ARCHIVE.read_text())
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = {d.id: d for d in archive.designs()}
        assert archive.meta("import")["test_sets"]["DROP"] == {
            "values": 3,
            "flagged": 1,
            "unreadable": 0,
        }
    for design_id, entry in enumerate(source, start=1):
        kept = designs[design_id].metrics[TRANSFER]
        given = {k.removeprefix("test_fitness_"): v for k, v in entry.items() if "fitness_" in k}
        assert list(kept) == list(given)  # every set, in the archive's order
        for name, text in given.items():
            assert kept[name]["adas"] == text  # ADAS's words, kept
            try:
                read = parse_score(text)  # the one reading of a fitness string
            except ScoreFormatError as exc:
                assert kept[name] == {"adas": text, "error": str(exc)}
                continue
            assert kept[name]["median"] == read.median
            assert kept[name]["ci"] == (list(read.ci) if read.ci else None)
    sound = designs[1].metrics[TRANSFER]["gsm8k"]
    assert sound == {"adas": source[0]["test_fitness_gsm8k"], "median": 0.375, "ci": [0.34, 0.41]}
    flagged = designs[3].metrics[TRANSFER]["DROP"]
    assert flagged["median"] == 0.697 and flagged["ci"] is None
    assert flagged["interval"] == [0.64, 0.659]
    assert flagged["interval_problem"] == "median 0.697 lies outside the interval [0.64, 0.659]"
    unreadable = designs[4]
    assert unreadable.status is Status.OK and unreadable.fitness == 0.5  # still valid
    assert "is not ADAS's form" in unreadable.metrics[TRANSFER]["GPQA"]["error"]


def test_the_scores_read_back_as_they_were_kept(tmp_path):
    import_adas(TRANSFER_ARCHIVE, tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        scores = transfer_scores(archive.get(4).metrics)
    assert [s.name for s in scores] == ["gsm8k", "SVAMP", "DROP", "GPQA"]
    assert scores[0] == SetScore("gsm8k", 0.604, (0.57, 0.638))
    unreadable = scores[3]
    assert unreadable.median is None and unreadable.ci is None
    assert "not ADAS's form" in str(unreadable.error)
    # a design that holds none, or holds something else under the key, reads as none
    assert transfer_scores({}) == [] and transfer_scores({TRANSFER: "?"}) == []
    assert transfer_scores({TRANSFER: {"x": 1, "y": {"median": True}}}) == [
        SetScore("y", None, None)
    ]


@pytest.mark.parametrize("path", [ARC, DROP, MGSM], ids=["arc", "drop", "mgsm"])
def test_an_archive_without_other_test_sets_keeps_none(tmp_path, path):
    summary = import_adas(path, tmp_path / "run")
    assert summary.test_sets == ()
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        assert not any(TRANSFER in d.metrics for d in archive.designs())


@pytest.mark.slow
def test_the_import_lists_the_other_test_sets_and_show_prints_them(tmp_path):
    run_dir = tmp_path / "run"
    result = cli("import-adas", str(TRANSFER_ARCHIVE), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert (
        "other test sets (test_fitness_<set>, in the metrics under transfer): 4 sets, 13 values, "
        "1 intervals flagged, 1 unreadable: gsm8k 4, SVAMP 4, DROP 3 (1 flagged), "
        "GPQA 2 (1 unreadable)"
    ) in " ".join(result.stdout.split())
    one = cli("show", str(run_dir), "--id", "3")
    assert one.returncode == 0, one.stderr
    lines = [line.strip() for line in one.stdout.splitlines()]
    at = lines.index("ADAS's test scores on other data sets (transfer):")
    assert lines[at + 1 : at + 5] == [
        "gsm8k  0.5860 (95% CI 0.5510 to 0.6200)",
        "SVAMP  0.8200 (95% CI 0.7940 to 0.8460)",
        "DROP   0.6970 (interval flagged: median 0.697 lies outside the interval [0.64, 0.659])",
        "GPQA   0.2940 (95% CI 0.2630 to 0.3250)",
    ]
    unreadable = cli("show", str(run_dir), "--id", "4")
    assert "GPQA   unreadable: fitness '95% Bootstrap Confidence Interval: evaluation failed'" in (
        unreadable.stdout
    )
    plain = cli("import-adas", str(MGSM), "--run-dir", str(tmp_path / "plain"))
    assert plain.returncode == 0 and "other test sets" not in plain.stdout


def _transfer_entry(**sets: object) -> dict:
    return entry("def forward(self, taskInfo):\n    return '1'\n", **sets)


@pytest.mark.slow
@pytest.mark.parametrize(
    "entries, problem",
    [
        (
            [_transfer_entry(test_fitness_gsm8k="9" * (MAX_FIELD_CHARS["test_fitness"] + 1))],
            "entry 1 of 1: its test_fitness_gsm8k holds 1,001 characters; the limit is 1,000",
        ),
        (
            [_transfer_entry(**{"test_fitness_" + "s" * (MAX_TEST_SET_NAME_CHARS + 1): "x"})],
            "entry 1 of 1: a test_fitness_<set> field whose set name holds 101 characters; "
            f"the limit is {MAX_TEST_SET_NAME_CHARS}",
        ),
        (
            [_transfer_entry(**{f"test_fitness_set{i}": "x" for i in range(MAX_TEST_SETS + 1)})],
            "entry 1 of 1: 101 test sets (test_fitness_<set> fields); "
            f"the limit is {MAX_TEST_SETS}",
        ),
        (  # within the limit in each entry, beyond it over the archive
            [
                _transfer_entry(**{f"test_fitness_set{i}": "x" for i in range(n, n + 60)})
                for n in (0, 60)
            ],
            f"120 test sets (test_fitness_<set> fields); the limit is {MAX_TEST_SETS}",
        ),
    ],
    ids=["an oversized score", "an oversized set name", "too many sets", "too many over the file"],
)
def test_the_import_limits_hold_for_the_other_test_sets(tmp_path, entries, problem):
    path = write_archive(tmp_path / "mgsm_results.json", entries)
    result = cli("import-adas", str(path), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {path}") and problem in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_names_that_look_like_markup_are_shown_as_written(tmp_path):
    hostile = "[/x] Agent [bold]loud[/bold] [/]"
    path = write_archive(
        tmp_path / "mgsm_results.json",
        [
            {
                **_transfer_entry(**{"test_fitness_[/y]": "[red]not a score[/]"}),
                "name": hostile,
                "thought": "Think [/think] first",
            },
            {**_transfer_entry(), "name": "[/z]", "fitness": "[/] no score"},
        ],
    )
    run_dir = tmp_path / "run"
    assert cli("import-adas", str(path), "--run-dir", str(run_dir)).returncode == 0
    one = cli("show", str(run_dir), "--id", "1")
    assert one.returncode == 0, one.stderr
    assert f"#1 {hostile}  status ok" in one.stdout
    assert "thought: Think [/think] first" in one.stdout
    assert "[/y]  unreadable: fitness '[red]not a score[/]'" in one.stdout
    invalid = cli("show", str(run_dir), "--id", "2")
    assert invalid.returncode == 0, invalid.stderr
    assert "#2 [/z]  status invalid" in invalid.stdout
    assert "error: fitness '[/] no score' is not ADAS's form" in invalid.stdout
    table = cli("show", str(run_dir))
    assert table.returncode == 0, table.stderr
    assert "[/x] Agent" in table.stdout and "[/z]" in table.stdout
    status = cli("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert f"best: #1 {hostile}" in status.stdout


# -- ADAS's three real archives, where they are here (`real_adas_archives` skips otherwise) -----


@pytest.mark.parametrize(
    "domain, entries, repeated, flagged, fitness_name, best",
    [
        ("arc", 27, 0, 0, "accuracy", ("Meta-Cognitive Active Learning Agent", 0.13)),
        ("drop", 35, 2, 35, "F1", ("Real-Time Adaptive Agent", 0.735)),
        ("mgsm", 36, 0, 0, "accuracy", ("Dynamic Role-Playing Architecture", 0.547)),
    ],
)
def test_each_real_archive_imports_with_its_counts(
    real_adas_archives, tmp_path, domain, entries, repeated, flagged, fitness_name, best
):
    assert_imported(
        real_adas_archives[domain],
        tmp_path / "run",
        entries=entries,
        repeated=repeated,
        flagged=flagged,
        invalid=0,
        domain=domain,
        fitness_name=fitness_name,
        best=best,
    )


def test_real_names_thoughts_and_code_are_kept_as_given(real_adas_archives, tmp_path):
    mgsm = real_adas_archives["mgsm"]
    import_adas(mgsm, tmp_path / "run")
    source = json.loads(mgsm.read_text())
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert [(d.name, d.code) for d in designs] == [(e["name"], e["code"]) for e in source]
    assert [d.thought for d in designs if d.id != 23] == [
        e["thought"] for i, e in enumerate(source, start=1) if i != 23
    ]
    # Entry 23's thought is an object of sections: it reads as the markdown of the others.
    structured = designs[22].thought
    assert structured.startswith("**Insights:**\nTo enhance the adaptive learning process")
    assert "\n\n**Implementation:**\n1. The Meta-Agent starts by analyzing the task" in structured
    first = designs[
        0
    ]  # Chain-of-Thought: (22.7%, 38.3%), Median: 30.5%; test (24.9%, 31.1%), 28.0%
    assert (first.fitness, first.ci_low, first.ci_high) == (0.305, 0.227, 0.383)
    assert first.metrics["test_median"] == 0.28 and first.metrics["test_ci"] == [0.249, 0.311]
    assert "interval_problem" not in first.metrics


def test_real_generations_and_their_gaps_are_kept(real_adas_archives, tmp_path):
    arc = real_adas_archives["arc"]
    summary = import_adas(arc, tmp_path / "run")
    # ARC's archive has no generations 16, 20 or 21: ADAS dropped those proposals.
    assert summary.generations == (0, *range(1, 16), 17, 18, 19, 22, 23, 24, 25)
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    source = json.loads(arc.read_text())
    expected = [0 if e["generation"] == "initial" else int(e["generation"]) for e in source]
    assert [d.generation for d in designs] == expected
    assert designs[0].operator == "imported from ADAS (initial)"
    assert designs[0].metrics["adas_generation"] == "initial"
    assert designs[-1].operator == "imported from ADAS (generation 25)"


def test_every_real_drop_interval_is_flagged_with_its_numbers_and_reason(
    real_adas_archives, tmp_path
):
    # ADAS's DROP scoring left the bounds unscaled: all 35 intervals lie below their medians.
    summary = import_adas(real_adas_archives["drop"], tmp_path / "run")
    assert summary.flagged == 35
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        designs = archive.designs()
    assert all(d.ci_low is None and d.ci_high is None for d in designs)
    first = designs[0]  # Chain-of-Thought: (50.2%, 54.3%), Median: 63.3%
    assert first.fitness == 0.633
    assert first.metrics["adas_interval"] == [0.502, 0.543]
    assert first.metrics["interval_problem"] == (
        "median 0.633 lies outside the interval [0.502, 0.543]"
    )
    assert first.metrics["test_median"] == 0.642 and first.metrics["test_ci"] is None
    assert first.metrics["adas_test_interval"] == [0.59, 0.607]
    assert "outside the interval" in first.metrics["test_interval_problem"]


def test_real_drop_repeats_are_marked_with_the_earlier_design(real_adas_archives, tmp_path):
    import_adas(real_adas_archives["drop"], tmp_path / "run")
    with Archive.open(tmp_path / "run", readonly=True) as archive:
        repeats = {
            d.id: d.metrics["repeat_of"] for d in archive.designs() if "repeat_of" in d.metrics
        }
        # The last two entries repeat generations 29 and 30 (entries 32 and 33) word for word.
        assert repeats == {34: 32, 35: 33}
        assert archive.get(34).code == archive.get(32).code


@pytest.fixture(scope="module")
def real_drop_run(real_adas_archives, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("adas") / "drop"
    result = cli("import-adas", str(real_adas_archives["drop"]), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout


def test_the_real_import_prints_its_summary(real_drop_run):
    _, stdout = real_drop_run
    assert "entries: 35, imported: 35, repeated: 2, flagged intervals: 35" in stdout
    assert "generations: initial, 1-11, 14-17, 19-21, 23-30 (gaps: 12-13, 18, 22)" in stdout
    assert "best #14 Real-Time Adaptive Agent: F1 0.7350 (interval flagged: median 0.735" in stdout


def test_status_and_show_read_a_real_imported_run(real_adas_archives, real_drop_run):
    run_dir, _ = real_drop_run
    status = cli("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert f"run {run_dir}: imported" in status.stdout
    assert f"imported from ADAS: {real_adas_archives['drop']}" in status.stdout
    assert "35 scored, 0 pending" in status.stdout
    assert "best: #14 Real-Time Adaptive Agent: F1 0.7350 (interval flagged" in status.stdout
    table = cli("show", str(run_dir))
    assert table.returncode == 0, table.stderr
    assert "Real-Time Adaptive Agent" in table.stdout and "flagged" in table.stdout
    one = cli("show", str(run_dir), "--id", "1")
    assert one.returncode == 0, one.stderr
    assert "F1 0.6330  interval flagged: median 0.633 lies outside the interval" in one.stdout
    assert "def forward(self, taskInfo)" in one.stdout


def test_show_json_lists_every_real_imported_design(real_drop_run):
    run_dir, _ = real_drop_run
    result = cli("show", str(run_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["run"]["imported_from"] == "ADAS" and payload["run"]["fitness_name"] == "F1"
    assert payload["run"]["counts"] == {"ok": 35}
    designs = payload["designs"]
    assert len(designs) == 35 and designs[0]["name"] == "Real-Time Adaptive Agent"
    assert all(d["ci_low"] is None and d["ci_high"] is None for d in designs)
    assert all(d["metrics"]["interval_problem"] for d in designs)
    assert {d["origin"] for d in designs} == {"imported"}


def test_a_real_run_with_good_intervals_shows_them(real_adas_archives, tmp_path):
    mgsm = real_adas_archives["mgsm"]
    assert cli("import-adas", str(mgsm), "--run-dir", str(tmp_path / "run")).returncode == 0
    one = cli("show", str(tmp_path / "run"), "--id", "1")
    assert "accuracy 0.3050  95% CI 0.2270 to 0.3830" in one.stdout
