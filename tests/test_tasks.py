"""The architecture tasks: seeded splits, standardised inputs, the scorer and its interval."""

import numpy as np
import pytest

from agentic_design.run.assemble import build_task
from agentic_design.tasks import InvalidOutputs, TaskLoadError, load_task
from agentic_design.tasks.common import bootstrap_interval


def all_arrays(task):
    return {**task.inputs(), **{f"y_{s}": task.labels(s) for s in ("validation", "test")}}


@pytest.fixture(scope="module")
def digits():
    task = load_task("digits")
    task.prepare()
    return task


@pytest.fixture(scope="module")
def mnist1d():
    task = load_task("mnist1d")
    task.prepare()
    return task


def test_mnist1d_has_the_published_sizes_and_a_seeded_validation_split(mnist1d):
    data = all_arrays(mnist1d)
    assert data["x_test"].shape == (1000, 1, 40)
    assert len(data["y_train"]) + len(data["y_validation"]) == 4000
    assert len(data["y_validation"]) == 1000
    assert sorted(set(data["y_train"].tolist())) == list(range(10))
    # the same parameters give the same data, hence the same fingerprint
    assert load_task("mnist1d").fingerprint() == mnist1d.fingerprint()
    assert load_task("mnist1d", {"split_seed": 1}).fingerprint() != mnist1d.fingerprint()


def test_inputs_are_standardised_by_training_statistics(digits):
    data = all_arrays(digits)
    assert abs(float(data["x_train"].mean())) < 1e-4
    assert abs(float(data["x_train"].std()) - 1.0) < 1e-3
    assert data["x_train"].dtype == np.float32
    sizes = [len(data[f"y_{s}"]) for s in ("train", "validation", "test")]
    assert sizes == [1078, 360, 359]


def test_splits_do_not_overlap(digits):
    data = all_arrays(digits)
    rows = {split: {x.tobytes() for x in data[f"x_{split}"]} for split in ("train", "test")}
    # load_digits holds a handful of exact duplicate images; a leak would share hundreds
    assert len(rows["train"] & rows["test"]) < 5


def test_score_is_accuracy_with_a_bootstrap_interval_around_it(digits):
    labels = digits.labels("validation")
    predictions = labels.copy()
    predictions[:36] = (predictions[:36] + 1) % 10  # exactly 10% wrong
    score = digits.score({"predictions": predictions.tolist(), "params": 5}, "validation")
    assert score.fitness == pytest.approx(0.9)
    assert score.ci_low < 0.9 < score.ci_high
    assert score.ci_low > 0.85 and score.ci_high < 0.95
    assert score.metrics["params"] == 5


def test_bootstrap_interval_is_seeded():
    correct = np.array([1.0, 0.0] * 50)
    assert bootstrap_interval(correct) == bootstrap_interval(correct)


@pytest.mark.parametrize(
    "outputs, message",
    [
        ({}, "list of predictions"),
        ({"predictions": [0, 1]}, "expected 360 predictions"),
        ({"predictions": ["1"] * 360}, "integers in"),
        ({"predictions": [10] * 360}, "integers in"),
        ({"predictions": [True] * 360}, "integers in"),
    ],
)
def test_malformed_outputs_are_rejected_not_scored(digits, outputs, message):
    with pytest.raises(InvalidOutputs, match=message):
        digits.score(outputs, "validation")


def test_each_task_ships_at_least_four_named_seeds_with_thoughts(digits, mnist1d):
    for task in (digits, mnist1d):
        seeds = task.seeds()
        assert len(seeds) >= 4
        for seed in seeds:
            assert seed.name and len(seed.thought) > 80
            assert "def build_model" in seed.code


def test_describe_states_the_interface(mnist1d):
    text = mnist1d.describe()
    assert "build_model(input_shape, num_classes)" in text
    assert "(batch, 1, 40)" in text and "train_recipe" in text


def test_unknown_task_lists_the_built_in_ones():
    with pytest.raises(
        TaskLoadError,
        match=(
            "arc, arithmetic, autocorrelation, binpack, binpack_or, circle_packing, digits, "
            "humaneval, mnist1d, problem_folder"
        ),
    ):
        load_task("imagenet")
    with pytest.raises(TaskLoadError, match="task file not found"):
        load_task("nowhere.py:MyTask")


def test_a_users_task_file_is_loaded_by_path(tmp_path):
    path = tmp_path / "mytask.py"
    path.write_text(
        "from agentic_design.tasks.architecture import DigitsTask\n"
        "class SmallDigits(DigitsTask):\n"
        "    name = 'digits'\n"
    )
    task = load_task(f"{path}:SmallDigits", {"split_seed": 4})
    assert type(task).__name__ == "SmallDigits" and task.params == {"split_seed": 4}
    with pytest.raises(TaskLoadError, match="not a subclass of Task"):
        load_task(f"{path}:DigitsTaskMissing")


def test_unknown_task_params_are_reported_not_ignored():
    with pytest.raises(TaskLoadError, match=r"unknown parameters \['num_sample'\]"):
        load_task("mnist1d", {"num_sample": 100})


def test_a_task_file_that_fails_to_import_is_a_load_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def oops(:\n")
    with pytest.raises(TaskLoadError, match="failed to import: SyntaxError"):
        load_task(f"{path}:Anything")


def test_held_out_labels_live_apart_from_what_the_sandbox_may_read(digits):
    (readable,) = digits.sandbox_readable()
    import numpy as np

    with np.load(readable) as public:
        assert set(public.files) == {"x_train", "y_train", "x_validation", "x_test"}
    labels_file = readable.replace(".inputs.npz", ".labels.npz")
    import os

    assert os.stat(labels_file).st_mode & 0o077 == 0  # owner-only


@pytest.mark.parametrize(
    "field, value",
    [("train_seconds", "not a number"), ("params", -5), ("curve", [1.0, float("nan")])],
)
def test_malformed_reported_numbers_are_rejected(digits, field, value):
    predictions = digits.labels("validation").tolist()
    with pytest.raises(InvalidOutputs, match=field):
        digits.score({"predictions": predictions, field: value}, "validation")


def test_the_prompt_and_checklist_state_this_runs_limits_as_numbers():
    from agentic_design.config import RunConfig

    config = RunConfig.from_dict(
        {"task": "digits", "train": {"max_params": 12345, "max_epochs": 17, "max_seconds": 3.5}}
    )
    task = build_task(config)
    text = task.describe()
    assert "at most 12,345 trainable parameters" in text
    assert "at most 17 epochs" in text and "after 3.5 seconds" in text
    assert "epochs (1 .. 17)" in text
    checklist = " ".join(task.reflect_checklist())
    assert "12,345" in checklist and "17 epochs" in checklist and "3.5 seconds" in checklist


def test_the_architecture_task_speaks_for_its_metrics(digits):
    assert digits.fitness_name == "accuracy"
    assert digits.summarize({"params": 16666, "steps": 900}) == (
        "16,666 parameters, 900 training steps"
    )
    assert digits.summarize({"train_seconds": 3.2}) == ""  # machine-dependent: never shown
    replay = digits.replay_budget(digits.budget, {"steps": 321})
    assert replay.max_steps == 321 and digits.budget.max_steps is None
