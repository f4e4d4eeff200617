"""Configuration: YAML validated by pydantic, every mistake named with its file and field."""

from pathlib import Path

import pytest

from agentic_design.config import ConfigError, RunConfig
from agentic_design.run.assemble import build_task

from .conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_valid_config_loads_with_defaults(tmp_path):
    config = RunConfig.from_yaml(write(tmp_path, "task: digits\nbudget:\n  evaluations: 5\n"))
    assert config.task == "digits"
    assert config.budget.evaluations == 5
    assert config.sandbox.workers == 2
    assert config.resolved_run_dir == Path("runs") / "run"


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        RunConfig.from_yaml(tmp_path / "nope.yaml")


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    path = write(tmp_path, "task: digits\nbudget:\n  evaluations: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        RunConfig.from_yaml(path)
    assert "YAML syntax error at line" in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_value_names_the_dotted_field(tmp_path):
    path = write(tmp_path, "task: digits\nbudget:\n  evaluations: -3\n")
    with pytest.raises(ConfigError, match=r"budget\.evaluations: .*greater than or equal to 1"):
        RunConfig.from_yaml(path)


def test_unknown_key_is_rejected_as_a_probable_typo(tmp_path):
    path = write(tmp_path, "task: digits\nbudgett:\n  evaluations: 3\n")
    with pytest.raises(ConfigError, match=r"budgett: unknown setting"):
        RunConfig.from_yaml(path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        RunConfig.from_yaml(write(tmp_path, "- task\n- digits\n"))


def test_overrides_apply_dotted_paths_and_skip_none():
    config = RunConfig.from_dict({"task": "digits", "budget": {"evaluations": 9, "hours": 1}})
    changed = config.with_overrides(**{"budget.evaluations": 3, "budget.hours": None, "seed": 7})
    assert (changed.budget.evaluations, changed.budget.hours, changed.seed) == (3, 1.0, 7)
    assert config.budget.evaluations == 9  # the original is untouched


def test_override_with_an_invalid_value_is_a_config_error():
    config = RunConfig.from_dict({"task": "digits"})
    with pytest.raises(ConfigError, match=r"sandbox\.workers"):
        config.with_overrides(**{"sandbox.workers": 0})


def test_config_round_trips_through_yaml(tmp_path):
    config = RunConfig.from_dict({"task": "mnist1d", "seed": 3, "train": {"max_seconds": 5}})
    path = write(tmp_path, config.to_yaml())
    assert RunConfig.from_yaml(path) == config


def test_paths_in_a_config_file_are_relative_to_its_folder(tmp_path):
    folder = tmp_path / "configs"
    path = write(
        folder,
        "task: tasks/mine.py:Mine\nrun_dir: runs/mine\n"
        "search:\n  meta_agent:\n    prompts_dir: my_prompts\n",
    )
    config = RunConfig.from_yaml(path)
    assert config.task == f"{folder}/tasks/mine.py:Mine"
    assert config.run_dir == folder / "runs" / "mine"
    assert config.search.meta_agent.prompts_dir == str(folder / "my_prompts")
    absolute = RunConfig.from_yaml(write(folder, f"task: digits\nrun_dir: {tmp_path}/r\n"))
    assert absolute.task == "digits" and absolute.run_dir == tmp_path / "r"


def test_the_task_budget_is_validated_by_the_tasks_own_model(tmp_path):
    # `train:` is the architecture tasks' name for it, and still works.
    task = build_task(RunConfig.from_dict({"task": "digits", "train": {"max_epochs": 7}}))
    assert task.budget.max_epochs == 7 and task.budget.threads == 1
    path = write(tmp_path, "task: digits\ntrain:\n  max_epochs: 0\n  speed: fast\n")
    with pytest.raises(ConfigError) as error:
        build_task(RunConfig.from_yaml(path))
    message = str(error.value)
    assert f"{path}: train.max_epochs: Input should be greater than or equal to 1" in message
    assert f"{path}: train.speed: unknown setting" in message
    unknown = r"binpack\.yaml: task_budget\.max_params: unknown setting"
    with pytest.raises(ConfigError, match=unknown):
        build_task(
            RunConfig.from_dict(
                {"task": "binpack", "task_budget": {"max_params": 5}}, source="binpack.yaml"
            )
        )


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_is_valid_and_builds_its_task(path):
    config = RunConfig.from_yaml(path)
    task = build_task(config)
    assert task.budget is not None and config.budget.evaluations >= 1
