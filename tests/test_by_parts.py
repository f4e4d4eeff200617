"""The meta-agent's decompose mode against the loopback server: a digits design split into parts,
each written and checked on its own in the sandbox (a failing part written again with its error
quoted), composed, evaluated as usual; the graph stored with the design and shown as a tree."""

from __future__ import annotations

import json
import threading

import pytest

from agentic_design import Archive, RunConfig, Search, Status
from agentic_design.graph.model import loads
from agentic_design.run.assemble import build_task

from .conftest import cli, small_digits_config
from .llm_server import ScriptedLLM

PARTS = {
    "parts": [
        {"name": "block", "spec": "hidden_block(n_in, n_out): Linear then ReLU",
         "defines": ["hidden_block"], "depends_on": []},
        {"name": "head", "spec": "head(n_in, k): the class scores",
         "defines": ["head"], "depends_on": []},
        {"name": "model", "spec": "build_model(input_shape, num_classes) from block and head",
         "defines": ["build_model"], "depends_on": ["block", "head"]},
    ]
}  # fmt: skip
BLOCK = "from torch import nn\n\ndef hidden_block(n_in, n_out):\n    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU())\n"  # noqa: E501
HEAD = "from torch import nn\n\ndef head(n_in, k):\n    return nn.Linear(n_in, k)\n"
MODEL_WRONG = (
    "from torch import nn\n\ndef build_model(input_shape, num_classes):\n"
    "    return nn.Sequential(nn.Flatten(), hidden_block(64, 32), head(16, num_classes))\n"
)
MODEL = MODEL_WRONG.replace("head(16,", "head(32,")
CHECK = {
    "block": "import torch\nassert hidden_block(4, 8)(torch.zeros(2, 4)).shape == (2, 8)\n",
    "head": "import torch\nassert head(4, 3)(torch.zeros(2, 4)).shape == (2, 3)\n",
    "model": "import torch\nassert build_model((8, 8), 10)(torch.zeros(2, 8, 8)).shape[1] == 10\n",
}


class PartByPart:
    """Answers the decompose, part and compose prompts as a model would; the model part is
    wrong on the first try (its check fails in the sandbox) and right once the error is
    quoted back. Malformed plans first, when asked to."""

    def __init__(self, malformed_plans: int = 0) -> None:
        self.malformed_plans = malformed_plans
        self.prompts: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        with self.lock:
            self.prompts.append(prompt)
        if "Reply with the word ok" in prompt:
            return "ok"
        if "PART BY PART" in prompt:
            with self.lock:
                if self.malformed_plans:
                    self.malformed_plans -= 1
                    return '{"parts": [{"name": "x", "depends_on": ["nowhere"]}]}'
            return "Here is my plan:\n" + json.dumps(PARTS)
        if "Write ONE part now" in prompt:
            name = prompt.split('Part "')[1].split('"')[0]
            code = {"block": BLOCK, "head": HEAD, "model": MODEL_WRONG}[name]
            if name == "model" and "could not be used" in prompt:
                code = MODEL
            return f"```python\n{code}```\n\n```python\n{CHECK[name]}```\n"
        if "each part below was checked" in prompt:
            module = BLOCK + HEAD + MODEL
            return f"NAME: parts MLP\nTHOUGHT: block, head, model.\n```python\n{module}```"
        raise AssertionError(f"unexpected prompt: {prompt[-600:]}")


def config(server: ScriptedLLM, tmp_path, evaluations: int) -> RunConfig:
    data = small_digits_config(tmp_path / "run", evaluations=evaluations)
    data["llm"] = {"model": "openai/designer", "api_base": server.url, "timeout_s": 10}
    data["search"]["proposer"] = "meta_agent"
    data["search"]["meta_agent"] = {
        "modes": {"decompose": 1.0},
        "reflexion_rounds": 0,
        "repair_attempts": 0,
        "decompose": {"part_attempts": 2, "max_parts": 4},
    }
    return RunConfig.from_dict(data)


@pytest.mark.slow
def test_a_digits_design_is_written_part_by_part_and_its_graph_is_stored(tmp_path):
    script = PartByPart()
    with ScriptedLLM(answer=script) as server:
        n_seeds = len(build_task(RunConfig.from_dict(small_digits_config(tmp_path))).seeds())
        Search(config(server, tmp_path, n_seeds + 1), progress=False).run()
    archive = Archive.open(tmp_path / "run")
    (design,) = [d for d in archive.designs() if d.operator == "llm decompose"]
    assert design.status is Status.OK and design.name == "parts MLP"
    assert "written in 3 parts" in design.thought
    graph = loads(archive.graph(design.id))
    nodes = dict(graph.nodes(data=True))
    parts = {a["task"]["part"]: a for a in nodes.values() if a["depth"] == 1}
    assert set(parts) == {"block", "head", "model"}
    assert all(a["status"] == "done" for a in nodes.values())
    assert parts["model"]["attempts"] == 2 and parts["block"]["attempts"] == 1
    # the retry quoted the sandbox's verdict on the first try
    retry = next(p for p in script.prompts if 'Part "model"' in p and "could not be used" in p)
    assert "failed its check in the sandbox" in retry and "mat1 and mat2" in retry
    # the model part was given the code of the parts it uses
    assert "def hidden_block" in retry and "def head" in retry
    # every call was recorded under the design, and its cost is the design's
    calls = [c for c in archive.recorded_llm_calls() if c["design_id"] == design.id]
    assert len(calls) == 1 + 4 + 1  # plan, four part writings, compose
    assert design.llm_tokens == sum(c["prompt_tokens"] + c["completion_tokens"] for c in calls)
    shown = cli("show", str(tmp_path / "run"), "--id", str(design.id))
    assert "written part by part, as this task graph:" in shown.stdout
    assert "'model'" not in shown.stdout  # tasks are shown as JSON, abbreviated
    lines = [line for line in shown.stdout.splitlines() if "tries" in line]
    assert len(lines) == 4 and lines[0].startswith("  '") and lines[1].startswith("    '")
    assert any("2 tries" in line and "after #0, #1" in line for line in lines)


@pytest.mark.slow
def test_malformed_plans_are_retried_then_the_proposal_fails_cleanly(tmp_path):
    script = PartByPart(malformed_plans=10)
    with ScriptedLLM(answer=script) as server:
        n_seeds = len(build_task(RunConfig.from_dict(small_digits_config(tmp_path))).seeds())
        Search(config(server, tmp_path, n_seeds + 1), progress=False).run()
    archive = Archive.open(tmp_path / "run")
    (design,) = [d for d in archive.designs() if d.operator == "llm decompose"]
    assert design.status is Status.INVALID
    assert "a part could not be written" in design.error and "spec" in design.error
    plans = [p for p in script.prompts if "PART BY PART" in p]
    assert len(plans) == 2  # part_attempts
    assert "could not be used" in plans[1] and "parts.0.spec: Field required" in plans[1]
    graph = loads(archive.graph(design.id))
    assert graph.nodes[graph.graph["root"]]["status"] == "failed"
