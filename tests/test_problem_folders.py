"""OpenEvolve and ShinkaEvolve problem folders, run as they are: offline, with a loopback model,
from `run FOLDER` or from a config of ours that names the folder; the folder's evaluator is the
judge, its frame is kept, its settings mapped, and nothing in the folder changes."""

import hashlib
import json
import re
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.tasks import InvalidOutputs, load_task
from agentic_design.tasks.folder import ProblemFolderTask
from agentic_design.tasks.folder.evolve_block import cut

from .conftest import cli
from .llm_server import ScriptedLLM

PROBLEMS = Path(__file__).parent / "data" / "problems"


def folder_copy(tmp_path: Path, name: str) -> Path:
    """A copy of a test problem folder (a run must not write into the repository's)."""
    return Path(shutil.copytree(PROBLEMS / name, tmp_path / name))


def digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def assert_frames_kept(run_dir: Path, program: Path) -> list:
    frame = cut(program.read_text()).frame
    designs = Archive.open(run_dir).designs()
    for design in designs:
        if design.code:
            assert cut(design.code).frame == frame, f"design {design.id} changed the frame"
    return designs


@pytest.mark.parametrize(
    ("name", "program", "metric"),
    [
        ("openevolve_circles", "initial_program.py", "sum_radii"),
        ("shinka_circles", "initial.py", "num_valid_runs"),
        ("openevolve_cascade", "initial_program.py", "stage1_value"),
    ],
)
def test_a_folder_runs_unchanged_offline(tmp_path, name, program, metric):
    folder = folder_copy(tmp_path, name)
    before = digest(folder)
    run_dir = tmp_path / "run"
    result = cli(
        "run",
        str(folder),
        "--run-dir",
        str(run_dir),
        "--evaluations",
        "6",
        "--workers",
        "1",
        "--proposer",
        "evolution",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert f"problem folder {folder}" in result.stderr
    designs = assert_frames_kept(run_dir, folder / program)
    assert len(designs) >= 6
    seed = designs[0]
    assert seed.status is Status.OK and seed.fitness is not None
    assert metric in seed.metrics  # the evaluator's other metrics are kept
    assert digest(folder) == before  # nothing in the folder changed
    saved = RunConfig.from_yaml(run_dir / "config.yaml")
    assert saved.task == "problem_folder" and saved.task_params["folder"] == str(folder)
    assert saved.task_params["format"] in ("openevolve", "shinka")
    shown = json.loads(cli("show", str(run_dir), "--json").stdout)
    by_id = {d["id"]: d for d in shown["designs"]}
    assert by_id[seed.id]["metrics"][metric] == seed.metrics[metric]


def test_the_folder_config_maps_onto_ours_and_says_what_it_leaves_out(tmp_path):
    folder = folder_copy(tmp_path, "openevolve_circles")
    from agentic_design.run.folder import folder_config

    found = folder_config(folder)
    config = found.config
    assert found.format == "openevolve"
    # max_iterations children, and the starting program; random_seed
    assert config.budget.evaluations == 41 and config.seed == 7
    assert config.sandbox.workers == 2 and config.sandbox.wall_s >= 60  # parallel, timeout
    assert config.llm is not None and config.llm.models is not None
    assert [m.weight for m in config.llm.models] == [0.8, 0.2]
    assert config.search.selection.strategy == "islands" and config.search.selection.islands == 4
    assert config.search.meta_agent.edit_format == "diff"  # diff_based_evolution
    assert any(line.startswith("database.population_size") for line in found.ignored)
    task = load_task(config.task, config.task_params)
    assert "expert in computational geometry" in task.describe()  # prompt.system_message
    cascade = RunConfig.from_dict({"task": {"openevolve": str(PROBLEMS / "openevolve_cascade")}})
    assert load_task(cascade.task, cascade.task_params).cascade  # its config's cascade_evaluation


def test_a_config_of_ours_names_the_folder_relative_to_itself(tmp_path):
    folder = folder_copy(tmp_path, "shinka_circles")
    config = tmp_path / "search.yaml"
    config.write_text(
        "task: {shinka: shinka_circles}\nbudget: {evaluations: 3}\nsandbox: {workers: 1}\n"
    )
    loaded = RunConfig.from_yaml(config)
    assert loaded.task == "problem_folder"
    assert loaded.task_params == {"folder": str(folder), "format": "shinka"}
    task = load_task(loaded.task, loaded.task_params)
    # The folder's own settings hold though the config is ours: its problem statement reaches
    # the prompt, its script's time limit (job.time 00:02:00) bounds the evaluation, and the
    # task the sandbox builds from the saved parameters reads nothing more.
    assert "expert in computational geometry" in task.describe()
    assert "EVOLVE-BLOCK-START" in task.describe()
    assert task.params["timeout_s"] == 120.0 and task.timeout_s == 120.0
    before = task.fingerprint()
    (folder / "shinka.yaml").unlink()
    again = load_task(loaded.task, task.params)
    assert again.params == task.params and again.fingerprint() != before
    result = cli("run", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{openevolve: a, shinka: b}", "names one problem folder"),
        ("{funsearch: somewhere}", "names one problem folder"),
        ("{openevolve: missing_folder}", "is not a directory"),
    ],
)
def test_a_wrong_folder_task_is_a_clear_error(tmp_path, task, message):
    config = tmp_path / "bad.yaml"
    config.write_text(f"task: {task}\n")
    result = cli("run", str(config), "--run-dir", str(tmp_path / "run"), "--no-progress")
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_folder_that_is_not_a_problem_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("run", str(tmp_path / "empty"), "--no-progress")
    assert result.returncode == 2
    assert "is not a problem folder" in result.stderr and "initial_program.py" in result.stderr
    broken = folder_copy(tmp_path, "openevolve_circles")
    (broken / "config.yaml").write_text("max_iterations: [unclosed\n")
    result = cli("run", str(broken), "--no-progress")
    assert result.returncode == 2 and "config.yaml" in result.stderr


def test_the_fingerprint_follows_the_folder_contents(tmp_path):
    folder = folder_copy(tmp_path, "openevolve_circles")
    task = ProblemFolderTask(folder=str(folder))
    before = task.fingerprint()
    assert ProblemFolderTask(folder=str(folder)).fingerprint() == before
    (folder / "__pycache__").mkdir(exist_ok=True)
    (folder / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert ProblemFolderTask(folder=str(folder)).fingerprint() == before
    evaluator = folder / "evaluator.py"
    evaluator.write_text(evaluator.read_text().replace("TOLERANCE = 1e-6", "TOLERANCE = 1e-3"))
    assert ProblemFolderTask(folder=str(folder)).fingerprint() != before


# -- what the scorer makes of the evaluator's word ------------------------------------------------


def scored(outputs):
    task = ProblemFolderTask(folder=str(PROBLEMS / "openevolve_circles"), feature_dimensions=["x"])
    return task.score(outputs, "validation")


def test_combined_score_is_the_fitness_and_the_rest_is_kept():
    score = scored(
        {"metrics": {"combined_score": 0.5, "validity": 1.0, "note": "fine"}, "artifacts": {}}
    )
    assert score.fitness == 0.5 and score.ci_low == score.ci_high == 0.5
    assert score.metrics["validity"] == 1.0 and score.metrics["note"] == "fine"


def test_without_combined_score_the_numeric_metrics_are_averaged_as_openevolve_does():
    score = scored({"metrics": {"a": 1.0, "b": 3, "flag": True, "x": 100.0, "s": "t"}})
    assert score.fitness == 2.0  # the bool and the feature dimension x are left out


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({"metrics": {"combined_score": 9.0}, "correct": False, "error": "overlap"}, "overlap"),
        ({"metrics": {"combined_score": 0.0, "error": "timed out"}}, "reported an error"),
        ({"metrics": {"label": "no numbers"}}, "no combined_score"),
        ({"metrics": {"combined_score": [1, 2]}}, "not a value"),
        ({"metrics": {"combined_score": None, "validity": 1.0}}, "not a number: None"),
        ({"metrics": {"combined_score": "high", "validity": 1.0}}, "not a number: 'high'"),
        ({"metrics": "1000"}, "metrics"),
        ({"metrics": {"combined_score": 1.0}, "artifacts": {"x": 1}}, "artifacts"),
    ],
)
def test_what_the_evaluator_judges_wrong_is_invalid_with_its_reason(outputs, message):
    with pytest.raises(InvalidOutputs, match=message):
        scored(outputs)


# -- with a model on loopback --------------------------------------------------------------------

SEED_BLOCK = re.compile(r"(# EVOLVE-BLOCK-START\n)(.*?)(# EVOLVE-BLOCK-END)", re.S)


class ScriptedDesigner(ABC):
    """A model asked by the meta-agent: 'ok' to the preflight, its proposal unchanged on
    review, `repair` for a failed design, and `propose` (numbered) for anything else."""

    def __init__(self) -> None:
        self.proposals = 0
        self.repair_prompts: list[str] = []

    def __call__(self, request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        if "Reply with the word ok" in prompt:
            return "ok"
        if "Review your proposal" in prompt:
            return request["messages"][-2]["content"]
        if "failed when it was evaluated" in prompt:
            self.repair_prompts.append(prompt)
            return self.repair()
        self.proposals += 1
        return self.propose(self.proposals)

    @abstractmethod
    def propose(self, number: int) -> str:
        """The answer to the `number`-th request for a new design."""

    def repair(self) -> str:
        return self.propose(self.proposals + 1)


def folder_search(tmp_path, kind: str, folder: Path, server, evaluations: int, **llm):
    """A meta-agent search of `folder` against the loopback `server`, run to its end."""
    data = {
        "task": {kind: str(folder)},
        "run_dir": str(tmp_path / "run"),
        "budget": {"evaluations": evaluations},
        "sandbox": {"workers": 1, "wall_s": 60},
        "search": {"meta_agent": {"reflexion_rounds": 1, "edit_format": "full"}},
        "llm": {"model": "openai/gpt-4o-mini", "api_base": server.url, "timeout_s": 10, **llm},
    }
    return Search(RunConfig.from_dict(data), progress=False).run()


class FolderModel(ScriptedDesigner):
    """Answers as models do when asked to improve the folder's program: the whole program
    with a changed block; the block alone; the whole program with its fixed part 'improved'
    too (run_packing reporting 4.01); a packing that overlaps (the evaluator's reason comes back
    for repair). A different answer each time, as at temperature > 0."""

    def __init__(self, program: str) -> None:
        super().__init__()
        self.program = program

    def block(self, x: float, y: float) -> str:
        return (
            "def construct_packing():\n"
            f'    """The grid and a 26th circle in the gap at ({x}, {y})."""\n'
            "    grid = (np.arange(5) + 0.5) / 5\n"
            "    xs, ys = np.meshgrid(grid, grid)\n"
            "    centers = np.column_stack([xs.ravel(), ys.ravel()])\n"
            "    gap = np.sqrt(2) * 0.1 - 0.1 - 1e-9\n"
            f"    centers = np.vstack([centers, [{x}, {y}]])\n"
            "    return centers, np.append(np.full(25, 0.1), gap)\n"
        )

    def whole(self, block: str) -> str:
        return SEED_BLOCK.sub(lambda m: m.group(1) + block + "\n" + m.group(3), self.program)

    def repair(self) -> str:
        return fenced("repaired", self.whole(self.block(0.8, 0.8)))

    def propose(self, number: int) -> str:
        gap = (0.2 * (1 + number % 4), 0.2 * (1 + (number // 4) % 4))
        shape = number % 4
        if shape == 1:
            return fenced(f"whole {number}", self.whole(self.block(*gap)))
        if shape == 2:
            return fenced(f"block {number}", self.block(*gap))
        if shape == 3:
            forged = self.whole(self.block(*gap)).replace(
                "return centers, radii, float(np.sum(radii))", "return centers, radii, 4.01"
            )
            return fenced(f"forged {number}", forged)
        return fenced("overlapping", self.whole(self.block(0.25, 0.2)))


def fenced(name: str, code: str) -> str:
    return f"NAME: {name}\nTHOUGHT: move the gap circle\n\n```python\n{code}```\n"


def test_a_loopback_model_search_keeps_the_frame_and_replays(tmp_path):
    folder = folder_copy(tmp_path, "openevolve_circles")
    program = (folder / "initial_program.py").read_text()
    model = FolderModel(program)
    with ScriptedLLM(answer=model) as server:
        # A short lag (one call at a time): the failure is repaired within the budget.
        result = folder_search(tmp_path, "openevolve", folder, server, 10, concurrency=1)
        prompts = [r["messages"][-1]["content"] for r in server.requests[1:]]
    assert result.total == 10
    designs = assert_frames_kept(tmp_path / "run", folder / "initial_program.py")
    proposed = [d for d in designs if d.proposer != "seed"]
    assert any(d.status is Status.OK for d in proposed)
    for design in proposed:
        assert "4.01" not in design.code  # the forged fixed part was put back
        if design.status is Status.OK:
            assert design.fitness == pytest.approx(designs[0].fitness)
    # The evaluator's reason reached the model in its repair prompt.
    failed = [d for d in proposed if d.status is Status.INVALID]
    assert failed and "overlap" in failed[0].error
    assert any("overlap" in p for p in model.repair_prompts)
    # The folder's problem statement and the block's rules are in the prompt.
    assert any("expert in computational geometry" in p for p in prompts)
    assert any("EVOLVE-BLOCK-START" in p for p in prompts)

    replay = cli("replay", str(tmp_path / "run"), "--search", "--run-dir", str(tmp_path / "again"))
    assert replay.returncode == 0, replay.stderr
    again = Archive.open(tmp_path / "again").designs()
    assert [(d.code_hash, d.status, d.fitness) for d in again] == [
        (d.code_hash, d.status, d.fitness) for d in designs
    ]


class JitterModel(ScriptedDesigner):
    """For the Shinka folder: the whole program with a new jitter; the block alone; the frame
    'improved' (run_experiment claiming 4.01); a block that raises. Each time different."""

    def __init__(self, program: str) -> None:
        super().__init__()
        self.program = program
        self.block = cut(program).blocks[0]

    def propose(self, number: int) -> str:
        block = self.block.replace("0.01, 0.01", f"{0.001 * number}, 0.002")
        whole = cut(self.program).program([block])
        shape = number % 4
        if shape == 1:
            return fenced(f"jitter {number}", whole)
        if shape == 2:
            return fenced(f"block {number}", block)
        if shape == 3:
            return fenced("forged", whole.replace("float(np.sum(radii))", "4.01"))
        broken = block.replace("    rng = ", "    raise ValueError('no packing today')\n    rng = ")
        return fenced("broken", broken)


def test_a_shinka_folder_searched_with_a_loopback_model(tmp_path):
    folder = folder_copy(tmp_path, "shinka_circles")
    model = JitterModel((folder / "initial.py").read_text())
    with ScriptedLLM(answer=model) as server:
        folder_search(tmp_path, "shinka", folder, server, 7)
    designs = assert_frames_kept(tmp_path / "run", folder / "initial.py")
    proposed = [d for d in designs if d.proposer != "seed"]
    assert len(proposed) == 6 and all("4.01" not in d.code for d in proposed)
    ok = [d for d in proposed if d.status is Status.OK]
    assert len(ok) >= 3 and all(d.fitness < 3 for d in ok)
    assert len({d.fitness for d in ok}) > 1  # the jitter changed the packings
    broken = [d for d in proposed if "no packing today" in (d.error or "")]
    assert broken and broken[0].status is Status.INVALID  # Shinka's correct: false, with why


def test_run_folder_with_api_base_serves_every_model_of_the_folder_there(tmp_path):
    folder = folder_copy(tmp_path, "openevolve_circles")
    model = FolderModel((folder / "initial_program.py").read_text())
    run_dir = tmp_path / "run"
    with ScriptedLLM(answer=model) as server:
        url = server.url
        result = cli(
            "run", str(folder), "--api-base", url, "--run-dir", str(run_dir),
            "--evaluations", "4", "--workers", "1", "--no-progress",
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    saved = RunConfig.from_yaml(run_dir / "config.yaml")
    assert saved.llm is not None and saved.llm.models is not None
    assert {m.api_base for m in saved.llm.models} == {url}  # both of the folder's models
    assert [m.weight for m in saved.llm.models] == [0.8, 0.2]
    proposers = {d.proposer for d in Archive.open(run_dir).designs()}
    assert proposers - {"seed"} <= {"openai/gpt-4o-mini", "openai/o3-mini"}
