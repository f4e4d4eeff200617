"""A loopback agents' model that answers in the shapes real models write, for the agent tests and
`benchmarks/agent_replies.py`.

What it answers is the simulated model's (`tasks/agent/simulated.py`): it knows each question's
truth and is right with probability `p_correct`, the same draws for the same calls. How it writes
the answer is drawn, seeded, from `SHAPES`, one per reply: clean JSON, a ```json fence, prose
before or after, a trailing comma, a Python dict, a field left out, extra fields, the format
echoed first, markdown `**Field:** value` lines, Python's True/None, comments, a nested thinking
object, unicode, a very long thinking. `clean=True` writes clean JSON only: the same answers,
for comparison.

    model = RealisticModel(task.simulation_answers(), seed=0)
    with ScriptedLLM(answer=model) as server:          # or Broker(simulated_answerer(model))
        ...

Identical requests get different answers above temperature 0, as from a real model (the k-th
identical request gets the simulated model's k-th draw, and its own shape draw); a run that
asks the same prompts in the same order gets the same replies.

Two things keep its realistic and clean runs comparable, so that any difference in accuracy
is the reader's doing, not a fresh draw:

- When asked again for fields its reply lacked (a follow-up after its own reply), it gives the
  values that reply meant, without a new draw, in a shape that holds them all.
- A shape that changes a value (a longer, nested or unicode thinking) is undone in the prompts
  it is later shown (a debater reading another's thinking) before they reach the simulated
  model, whose draws depend on every byte of the messages.

Every reply served is logged (`served`: shape, fields asked, the values meant, the text), so that
a test or the benchmark can read each one again and say which shapes were read right
(`misread`). `score_on_loopback` scores agents with it through the real sandbox, broker and a
loopback server.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agentic_design.agents.fields import as_text, read_fields
from agentic_design.agents.toolkit import FIELDS_LINE
from agentic_design.config import LLMConfig, RunConfig
from agentic_design.llm import LLM
from agentic_design.records import Evaluation
from agentic_design.resources import shipped_dir
from agentic_design.run.assemble import sandbox_for, sandbox_limits
from agentic_design.run.broker import Broker, BrokerLimits, llm_answerer
from agentic_design.run.evaluation import Evaluator
from agentic_design.tasks.agent.simulated import SimulatedModel
from agentic_design.tasks.agent.task import AgentTask

from .llm_server import ScriptedLLM

SHAPES = (
    "clean",
    "fence",
    "prose_then_json",
    "json_then_prose",
    "trailing_comma",
    "python_dict",
    "missing_field",
    "extra_fields",
    "echo_then_answer",
    "markdown_bold",
    "python_literals",
    "comments",
    "nested_thinking",
    "unicode",
    "long_thinking",
)
# Shapes a model uses when told its reply lacked a field: it gives them all.
AGAIN = ("clean", "fence", "prose_then_json")
_ASKED = re.compile(re.escape(FIELDS_LINE) + r"\s*\n(\{.*?\})\s*$", re.DOTALL)
LONG_THINKING_CHARS = 6000
UNICODE_NOTE = " — d’après l’énoncé: ✓ (5×3 = 15, ½ ≈ 0.5, 数字)"


@dataclass(frozen=True)
class Served:
    """One reply: its shape, the fields asked (with their descriptions), the values it means
    (what a correct reader returns; for a field left out, the value it would have had), and
    whether it answered a follow-up."""

    shape: str
    asked: dict[str, str]
    meant: dict[str, str]
    text: str
    left_out: tuple[str, ...] = ()  # the fields it lacks by design ("missing_field")
    again: bool = False


class RealisticModel:
    """Answers agents' chat calls as `SimulatedModel` does, written in a realistic shape.

    Usable as a `ScriptedLLM` answer (`model(request)`, an OpenAI chat body) or by the broker
    (`complete(messages, temperature, sample)`). `shapes` limits the mix (default: all of
    `SHAPES`, equally likely); `clean=True` is `shapes=("clean",)`."""

    def __init__(
        self,
        answers: Mapping[str, str],
        p_correct: float = 0.6,
        seed: int = 0,
        clean: bool = False,
        shapes: tuple[str, ...] = SHAPES,
        same: Callable[[str, str], bool] | None = None,
    ) -> None:
        unknown = set(shapes) - set(SHAPES)
        if unknown or not shapes:
            raise ValueError(f"unknown shapes {sorted(unknown)}; use some of {SHAPES}")
        self.simulated = SimulatedModel(answers, p_correct, seed, same=same)
        self.seed = seed
        self.shapes = ("clean",) if clean else tuple(shapes)
        self.served: list[Served] = []
        # (the conversation, a reply to it) -> the values the reply meant
        self._meant: dict[tuple[str, str], dict[str, str]] = {}
        self._undo: dict[str, str] = {}  # a changed value, as an agent shows it -> the clean one
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        return self.complete(request["messages"], float(request.get("temperature") or 0.0))

    def complete(
        self, messages: list[dict[str, str]], temperature: float = 0.0, sample: int = 0
    ) -> str:
        asked = _asked(messages)
        follow = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
        if follow is not None and asked is not None:
            with self._lock:
                meant = self._meant.get(_said(messages[:follow], messages[follow]["content"]))
            if meant is not None:  # asked again for what its reply lacked
                rng = self._rng(messages, temperature, sample)
                shape = rng.choice(AGAIN)
                return self._write(messages, shape, meant, meant, asked, rng, again=True)
        if follow is not None:
            messages = messages[:follow]
        text = self.simulated.complete(self._undone(messages), temperature, sample)
        if asked is None:
            return text
        values = {field: str(value) for field, value in json.loads(text).items()}
        rng = self._rng(messages, temperature, sample)
        shape = rng.choice(self.shapes)
        return self._write(messages, shape, values, _changed(shape, values), asked, rng)

    def fresh(self) -> RealisticModel:
        """The same model with nothing asked yet (one per evaluation, as the broker's)."""
        twin = RealisticModel({}, seed=self.seed, shapes=self.shapes)
        twin.simulated = self.simulated.fresh()
        return twin

    # -- writing ---------------------------------------------------------------------------------
    def _write(
        self,
        messages: list[dict[str, str]],
        shape: str,
        clean: dict[str, str],
        values: dict[str, Any],
        asked: dict[str, str],
        rng: random.Random,
        again: bool = False,
    ) -> str:
        text, left_out = _shaped(shape, values, asked, rng)
        meant = {field: as_text(value) for field, value in values.items()}
        with self._lock:
            self._meant[_said(messages, text)] = meant
            for field, value in meant.items():
                if value != clean[field]:
                    self._undo[value] = clean[field]
            self.served.append(Served(shape, asked, meant, text, left_out, again))
        return text

    def _undone(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        with self._lock:
            undo = sorted(self._undo.items(), key=lambda kv: -len(kv[0]))
        if not undo:
            return messages
        fixed = []
        for message in messages:
            content = message["content"]
            for changed, clean in undo:
                content = content.replace(changed, clean)
            fixed.append({**message, "content": content})
        return fixed

    def _rng(
        self, messages: list[dict[str, str]], temperature: float, sample: int
    ) -> random.Random:
        """The shape's draw: the seed and the request, and above temperature 0 how many times
        this request was asked before (as the simulated model counts its own draws)."""
        prompt = json.dumps([messages, sample], sort_keys=True)
        count = 0
        if temperature > 0:
            with self._lock:
                count = self._counts.get(prompt, 0)
                self._counts[prompt] = count + 1
        key = json.dumps(["shape", self.seed, prompt, count])
        return random.Random(hashlib.sha256(key.encode()).digest())


def _said(messages: list[dict[str, str]], reply: str) -> tuple[str, str]:
    """A reply in its conversation: the same text may answer other questions otherwise."""
    return json.dumps(messages, sort_keys=True), reply


def _asked(messages: list[dict[str, str]]) -> dict[str, str] | None:
    """The fields the first system message asks for, with their descriptions."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    match = _ASKED.search(system)
    return json.loads(match.group(1)) if match else None


def _changed(shape: str, values: dict[str, str]) -> dict[str, Any]:
    """The values a shape writes: the thinking (the first field that is not the answer or a
    verdict, when there are two or more) grows, nests or gains unicode in three shapes."""
    prose = [f for f in values if f not in ("answer", "correct")]
    if len(values) < 2 or not prose or shape not in ("nested_thinking", "unicode", "long_thinking"):
        return dict(values)
    field, thought = prose[0], values[prose[0]]
    if shape == "nested_thinking":
        changed: Any = {"step 1": "read the question", "step 2": thought, "checked": True}
    elif shape == "unicode":
        changed = thought + UNICODE_NOTE
    else:
        filler = " Then I check each quantity again, one at a time, against the question."
        changed = thought + filler * (LONG_THINKING_CHARS // len(filler))
    return {**values, field: changed}


def _shaped(
    shape: str, values: dict[str, Any], asked: dict[str, str], rng: random.Random
) -> tuple[str, tuple[str, ...]]:
    """`values` written in `shape`, and the fields it leaves out."""
    if shape == "missing_field":
        if len(values) == 1:  # the only field, under another name
            (field, value), *_ = values.items()
            return json.dumps({"result": value}), (field,)
        dropped = rng.choice(list(values))
        return json.dumps({f: v for f, v in values.items() if f != dropped}), (dropped,)
    return _written(shape, values, asked), ()


def _written(shape: str, values: dict[str, Any], asked: dict[str, str]) -> str:
    plain = json.dumps(values)
    pretty = json.dumps(values, indent=2)
    if shape in ("clean", "nested_thinking", "long_thinking"):
        return plain
    if shape == "unicode":
        return json.dumps(values, ensure_ascii=False)
    if shape == "fence":
        return f"```json\n{pretty}\n```"
    if shape == "prose_then_json":
        return f"Let me work through this carefully, one quantity at a time.\n\n{pretty}"
    if shape == "json_then_prose":
        return f"{pretty}\n\nI hope this helps! Let me know if anything is unclear."
    if shape == "trailing_comma":
        return pretty[:-2] + ",\n}"
    if shape == "python_dict":
        return str(values)
    if shape == "extra_fields":
        extra = {"confidence": "high", "explanation": "I checked every step twice."}
        return json.dumps({**values, **extra})
    if shape == "echo_then_answer":
        return f"You asked for this format:\n{json.dumps(asked)}\n\nHere is my reply:\n{plain}"
    if shape == "markdown_bold":
        return "\n".join(f"**{f.capitalize()}:** {v}" for f, v in values.items())
    if shape == "python_literals":
        return plain[:-1] + ', "verified": True, "notes": None, "alternatives": []}'
    if shape == "comments":
        lines = [f"  {json.dumps(f)}: {json.dumps(v)}," for f, v in values.items()]
        lines[-1] = lines[-1].rstrip(",") + "  // the final one"
        return "{\n  // my reply, field by field\n" + "\n".join(lines) + "\n  /* done */\n}"
    raise AssertionError(f"unknown shape {shape}")


# -- scoring agents with it ------------------------------------------------------------------------

# ADAS-format agents of our own, written as ADAS's are (LLMAgentBase, Info, forward(self,
# taskInfo)): a chain of thought, a vote of samples, a critic loop that waits for 'True', and a
# one-field router.
ADAS_AGENTS = {
    "adas chain of thought": """
def forward(self, taskInfo):
    solver = LLMAgentBase(['thinking', 'answer'], 'Chain-of-Thought Agent')
    thinking, answer = solver([taskInfo], "Think step by step, then answer.")
    return answer
""",
    "adas vote": """
def forward(self, taskInfo):
    from collections import Counter
    agents = [LLMAgentBase(['thinking', 'answer'], 'Sampler', temperature=0.8) for _ in range(3)]
    answers = [agent([taskInfo], "Solve it step by step.")[1].content for agent in agents]
    return Counter(answers).most_common(1)[0][0]
""",
    "adas critic": """
def forward(self, taskInfo):
    solver = LLMAgentBase(['thinking', 'answer'], 'Solver')
    critic = LLMAgentBase(['feedback', 'correct'], 'Critic')
    thinking, answer = solver([taskInfo], "Solve it step by step.")
    for i in range(2):
        feedback, correct = critic([taskInfo, thinking, answer], "Check it. 'True' if right.", i)
        if correct.content.strip() == 'True':
            break
        thinking, answer = solver([taskInfo, thinking, answer, feedback], "Solve it again.", i)
    return answer
""",
    "adas router": """
def forward(self, taskInfo):
    router = LLMAgentBase(['choice'], 'Router', temperature=0.0)
    (choice,) = router([taskInfo], "Algebra or arithmetic? One word.")
    role = 'algebra tutor' if 'algebra' in choice.content.lower() else 'math tutor'
    thinking, answer = LLMAgentBase(['thinking', 'answer'], 'Expert', role=role)(
        [taskInfo], "Solve it step by step."
    )
    return answer
""",
}


def seed_agents() -> dict[str, str]:
    """The seed agents shipped with the project, by file name."""
    return {p.stem: p.read_text() for p in sorted((shipped_dir("archive") / "agent").glob("*.py"))}


def misread(served: Served) -> bool:
    """Whether the toolkit's reader gets a reply wrong: a value other than the one meant, or
    a field found missing that the reply holds (or found that it lacks)."""
    read = read_fields(served.text, served.asked)
    if read.missing != served.left_out:
        return True
    return any(read.values[f] != served.meant[f] for f in served.asked if f not in served.left_out)


def parse_failures(evaluation: Evaluation) -> int:
    """Examples that failed because a reply could not be read (the toolkit's MissingFields)."""
    errors = evaluation.metrics.get("errors") or {}
    return sum(n for error, n in errors.items() if "MissingFields" in error)


def agent_task(examples: int, max_calls_per_example: int = 24) -> AgentTask:
    """An arithmetic task of `examples` questions per split, for `score_on_loopback`."""
    task = AgentTask()
    task.configure(
        {
            "examples": examples,
            "concurrency": 4,
            "max_calls_per_example": max_calls_per_example,
        }
    )
    return task


def score_on_loopback(
    task: AgentTask,
    codes: dict[str, str],
    *,
    clean: bool,
    seed: int = 0,
    p_correct: float = 0.6,
    workers: int = 4,
) -> dict[str, tuple[Evaluation, RealisticModel]]:
    """Each agent scored on the task's validation questions through the real sandbox and
    broker, its calls answered by a `RealisticModel` of its own (`clean` or not) behind a
    loopback OpenAI-protocol server: the model's state depends on that agent's calls only.
    The broker sends one evaluation's calls one at a time, in the order the agent sent them,
    so identical requests (samples of one prompt) reach the model in a fixed order, and a
    clean and a realistic run of an agent get the same draws."""
    answers = task.simulation_answers()
    config = RunConfig.from_dict(
        {
            "name": "realistic",
            "task": "arithmetic",
            "run_dir": "unused",
            "agent_llm": {"model": "simulated"},
            "sandbox": {"workers": workers, "wall_s": 120},
        }
    )

    def score(code: str, sandbox: Any) -> tuple[Evaluation, RealisticModel]:
        model = RealisticModel(answers, p_correct, seed, clean=clean)
        with ScriptedLLM(answer=model) as server:
            llm = LLM(LLMConfig(model="openai/agent-model", api_base=server.url, concurrency=4))
            broker = Broker(llm_answerer(llm), BrokerLimits(concurrency=1))
            evaluator = Evaluator(
                task, "arithmetic", sandbox, limits=sandbox_limits(config, task), broker=broker
            )
            try:
                return evaluator.evaluate(code, seed=0), model
            finally:
                broker.close()

    with sandbox_for(config, task, workers=workers) as sandbox, ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(score, code, sandbox) for name, code in codes.items()}
        return {name: future.result() for name, future in futures.items()}
