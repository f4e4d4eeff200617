"""The Ray executor on a real local Ray cluster (loopback only, no dashboard, no usage reports):
evaluations run in Ray actors, each with our sandbox on its node, and score as they do locally;
a user's task file travels as text; a worker killed mid-evaluation is replaced and the
evaluation retried; a worker that stops answering is killed and its evaluation recorded as a
timeout, as is a design past the sandbox's wall limit; an agent's LLM calls go from its node and
come back to the run's store."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from agentic_design.config import ConfigError, RunConfig  # noqa: E402
from agentic_design.records import Status  # noqa: E402
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for  # noqa: E402
from agentic_design.run.ray_executor import RayEvaluator  # noqa: E402
from agentic_design.run.search import Search  # noqa: E402
from tests.conftest import cli, small_digits_config  # noqa: E402

CURVE_TASK = Path(__file__).parent / "data" / "curve_task.py"
LINE = "def predict(x):\n    return 2.5 * x\n"


@contextmanager
def loopback_only() -> Iterator[None]:
    """Every Ray process (this one, and the raylets and workers it starts) names this machine
    by its loopback address, so that no traffic goes to any other; no usage reports; workers
    at normal priority."""
    from ray._private import ray_constants

    # Read by the processes Ray starts. Its workers run at niceness 15 by default: on a machine
    # busy with other work they would get almost no CPU, and evaluations would reach their
    # wall-clock limits.
    settings = {
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        ray_constants.RAY_WORKER_NICENESS: "0",
    }
    os.environ.update(settings)
    cluster_ip, ray_constants.ENABLE_RAY_CLUSTER = ray_constants.ENABLE_RAY_CLUSTER, False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster_ip
        for name in settings:
            os.environ.pop(name, None)


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of two CPUs on loopback, its files in a short temporary folder
    (Ray's socket paths must stay under 107 characters)."""
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    with loopback_only():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            _temp_dir=folder,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
        )
        yield
        ray.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


def curve_config(task_path: Path, **sandbox: Any) -> RunConfig:
    """The cheap user task (no torch): workers start in a second."""
    return RunConfig.from_dict(
        {
            "task": f"{task_path}:CurveFit",
            "executor": "ray",
            "sandbox": {"workers": 1, "wall_s": 10, **sandbox},
            "ray": {"timeout_margin_s": 1},
        }
    )


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{tid}/children").read_text().split()
            except FileNotFoundError:
                continue
            found += [int(c) for c in children]
            stack += [int(c) for c in children]
    return found


def wait_for(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_users_task_file_travels_as_text_and_scores_as_it_does_locally(cluster, tmp_path):
    task_path = tmp_path / "mine" / "curve_task.py"
    task_path.parent.mkdir()
    shutil.copy(CURVE_TASK, task_path)
    config = curve_config(task_path)
    task = build_task(config)
    with sandbox_for(config, task) as sandbox:
        local = evaluator_for(config, task, sandbox).evaluate(LINE, seed=0)

    remote = RayEvaluator(config, task)  # reads the file now...
    task_path.unlink()  # ...so the node cannot have read it from here
    with remote:
        evaluation = remote.evaluate(LINE, seed=0)
        node_copy = Path(remote.workers[0]["task_path"])

    assert local.status is Status.OK and evaluation.status is Status.OK
    assert evaluation.fitness == local.fitness and evaluation.metrics == local.metrics
    assert node_copy != task_path and node_copy.read_text() == CURVE_TASK.read_text()
    assert {p["name"] for p in remote.protections} >= {"network namespace", "landlock"}


def test_a_worker_killed_mid_evaluation_is_replaced_and_the_evaluation_retried(cluster):
    slow = "import time\ntime.sleep(4)\n\n" + LINE
    with RayEvaluator(curve_config(CURVE_TASK), build_task(curve_config(CURVE_TASK))) as remote:
        first_pid = remote.workers[0]["pid"]
        results: list[Any] = []
        running = threading.Thread(target=lambda: results.append(remote.evaluate(slow, seed=0)))
        running.start()
        # The design is running once the worker's sandbox server has forked a child for it.
        wait_for(lambda: len(descendants(first_pid)) >= 2, "the design to start")
        os.kill(first_pid, signal.SIGKILL)
        running.join(timeout=120)

    (evaluation,) = results
    assert evaluation.status is Status.OK, evaluation.error
    assert remote.retried == 1
    assert remote.workers[0]["pid"] == first_pid
    assert len({w["pid"] for w in remote.workers}) == 2  # a fresh worker ran it again


def test_a_worker_that_stops_answering_is_killed_and_its_evaluation_is_a_timeout(cluster):
    config = curve_config(CURVE_TASK, wall_s=5)
    with RayEvaluator(config, build_task(config)) as remote:
        stuck = remote.workers[0]["pid"]
        os.kill(stuck, signal.SIGSTOP)  # alive to Ray, but never answers
        evaluation = remote.evaluate(LINE, seed=0)
        after = remote.evaluate(LINE, seed=0)

    assert evaluation.status is Status.TIMEOUT
    assert "did not answer within 11 s" in evaluation.error  # 2 x wall_s + margin
    wait_for(lambda: not Path(f"/proc/{stuck}").exists(), "the stuck worker to be killed")
    assert after.status is Status.OK  # on the worker that replaced it


def test_a_design_past_the_wall_limit_is_a_timeout_on_its_node(cluster):
    config = curve_config(CURVE_TASK, wall_s=3)
    with RayEvaluator(config, build_task(config)) as remote:
        evaluation = remote.evaluate("import time\ntime.sleep(600)\n" + LINE, seed=0)
        after = remote.evaluate(LINE, seed=0)
    assert evaluation.status is Status.TIMEOUT
    assert remote.retried == 0 and len(remote.workers) == 1  # the sandbox stopped it
    assert after.status is Status.OK


def test_what_ray_cannot_do_is_a_configuration_error(tmp_path):
    gpu = RunConfig.from_dict({"task": "digits", "executor": "ray", "train": {"device": "cuda"}})
    with pytest.raises(ConfigError, match=r"train\.device: cuda .* needs ray\.num_gpus"):
        build_task(gpu)
    path = tmp_path / "gpu.yaml"
    path.write_text("task: digits\ntrain: {device: cuda}\n")
    result = cli("run", str(path), "--executor", "ray", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "ray.num_gpus" in result.stderr + result.stdout and "Traceback" not in result.stderr


def agent_task_config(server_url: str) -> RunConfig:
    return RunConfig.from_dict(
        {
            "task": "arithmetic",
            "executor": "ray",
            "task_budget": {"examples": 4},
            "agent_llm": {
                "model": "openai/agent-model",
                "api_base": server_url,
                "api_key_env": "AGENTIC_DESIGN_TEST_KEY",
            },
            "sandbox": {"workers": 1, "wall_s": 30},
        }
    )


def test_an_agents_calls_go_from_its_node_and_come_back_to_the_runs_store(
    cluster, tmp_path, monkeypatch
):
    from agentic_design.store.archive import Archive
    from tests.llm_server import ScriptedLLM
    from tests.test_agents import Scripted, seed

    monkeypatch.setenv("AGENTIC_DESIGN_TEST_KEY", "sk-travels-with-the-actor")
    voting = seed("self_consistency")
    with ScriptedLLM() as server, Archive.create(tmp_path / "run") as store:
        config = agent_task_config(server.url)
        task = build_task(config)
        server.answer = Scripted({e.question: e.answer for e in task.examples("validation")})
        with RayEvaluator(config, task, calls=store) as remote:
            first = remote.evaluate(voting, seed=0, design_id=7)
            asked = len(server.requests)
            # The same design again (a resumed run's design that was in flight): its recorded
            # calls travel to the node and answer it; the model is not asked again.
            again = remote.evaluate(voting, seed=0, design_id=7)
        recorded = store.recorded_llm_calls(7)

    assert first.status is Status.OK, first.error
    assert first.fitness == 1.0  # five samples, three of them right: the vote is right
    assert asked == 5 * 4 and len(recorded) == asked  # every call, recorded under its design
    assert {c["model"] for c in recorded} == {"openai/agent-model"}
    assert all(c["response"] and c["at"] > 0 for c in recorded)
    assert set(server.authorizations) == {"Bearer sk-travels-with-the-actor"}
    assert len(server.requests) == asked
    assert again.fitness == first.fitness and again.metrics == first.metrics


def agent_searches(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    """An agent search of 8 designs with the simulated model, run with each executor: by
    executor, every design's code hash, status and fitness, and the best's test score."""
    from tests.test_agents import agent_config

    runs = {}
    for executor in ("local", "ray"):
        config = agent_config(
            tmp_path / executor, evaluations=8, examples=5, executor=executor, **settings
        )
        result = Search(RunConfig.from_dict(config), progress=False).run()
        assert result.total == 8 and result.test is not None
        runs[executor] = (
            {d.id: (d.code_hash, d.status, d.fitness) for d in _designs(result.run_dir)},
            result.test.fitness,
        )
    return runs


@pytest.mark.slow
def test_an_agent_search_on_ray_matches_the_local_executor(cluster, tmp_path):
    runs = agent_searches(tmp_path, sandbox={"workers": 1, "wall_s": 30})
    assert runs["ray"] == runs["local"]
    assert sum(status is Status.OK for _, status, _ in runs["ray"][0].values()) >= 6


@pytest.mark.slow
def test_a_digits_search_on_ray_matches_the_local_executor(cluster, tmp_path):
    """The same designs, scored the same: training is deterministic and bounded by epochs
    (a time limit no run reaches), so where it runs cannot change a number."""
    runs, tests = {}, {}
    for executor in ("local", "ray"):
        config = small_digits_config(
            tmp_path / executor,
            evaluations=8,
            executor=executor,
            train={"max_epochs": 8, "max_seconds": 600},
        )
        result = Search(RunConfig.from_dict(config), progress=False).run()
        runs[executor] = {
            d.id: (d.code_hash, d.status, d.fitness) for d in _designs(result.run_dir)
        }
        assert result.total == 8 and result.test is not None
        tests[executor] = (result.best.id if result.best else None, result.test.fitness)
    assert runs["ray"] == runs["local"]
    assert sum(status is Status.OK for _, status, _ in runs["ray"].values()) >= 4
    assert tests["ray"] == tests["local"]  # the best, scored once on the test split


def _designs(run_dir: Path) -> list[Any]:
    from agentic_design.store.archive import Archive

    with Archive.open(run_dir, readonly=True) as archive:
        return archive.designs()
