"""Evaluations on a Ray cluster (`executor: ray`): one Ray actor per evaluation slot.

Each actor is an evaluation worker on whichever node Ray gives it: it builds the task there from
its reference and parameters, prepares the task's data there (so no filesystem is shared with the
search), starts a warm one-worker sandbox, and evaluates designs exactly as the local executor
does — the design runs inside our sandbox on that node, and its outputs are scored there, outside
the sandbox. What travels with the work: the run's configuration, a user's task file as its text
(`task: path/to/file.py:Class`), and each design's code; an `Evaluation` comes back.

The search side, `RayEvaluator`, keeps one actor per slot and is safe to call from the pipeline's
W threads. An evaluation waits for its actor no longer than the sandbox's wall limit plus a margin
(the sandbox enforces the wall limit itself; the margin covers a worker that stopped answering):
past it, the actor is killed — Ray cannot interrupt a running actor task — and replaced, and the
evaluation is recorded as a timeout. An actor that dies under an evaluation (its process killed,
its node lost) is replaced and the evaluation run again, `ray.retries` times, before it is
recorded as an error.

Agent tasks run too: each actor has its own broker, serving its sandbox's channel on its node
and calling `agent_llm` from there (the node needs the model's endpoint, and the variable
`api_key_env` names, which travels with the actor when the search process has it). The calls an
evaluation made come back with its result and are recorded in the run's store by the search
process; the calls recorded earlier for the same design (a resumed run's design that was in
flight, or a replayed run's) travel to the node with the design and are answered from there.
"""

from __future__ import annotations

import hashlib
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from agentic_design.config import ConfigError, RunConfig
from agentic_design.llm import CallBuffer, load_litellm
from agentic_design.records import Evaluation, Status
from agentic_design.sandbox import SandboxError

if TYPE_CHECKING:
    from agentic_design.store.archive import Archive
    from agentic_design.tasks import Task


@dataclass(frozen=True)
class TaskFile:
    """A user's task file, sent to every node as its text (no shared filesystem assumed)."""

    name: str
    text: str

    def materialize(self) -> Path:
        """Write it on this node, in a folder named by its content (the same text, written by
        a restarted worker, lands at the same path); return its path."""
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / "agentic-design-tasks" / digest
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        if not path.is_file() or path.read_text() != self.text:
            partial = folder / f".{self.name}.{os.getpid()}.tmp"
            partial.write_text(self.text)
            os.replace(partial, path)
        return path


def task_file(ref: str) -> TaskFile | None:
    """The file a `path/to/file.py:Class` reference names, to send to the nodes; None for a
    built-in task or an importable `package.module:Class` (installed on every node)."""
    path, sep, _ = ref.rpartition(":")
    if not (sep and path.endswith(".py")):
        return None
    try:
        return TaskFile(Path(path).name, Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"task file {path} cannot be read: {exc.strerror or exc}") from None


class EvaluationWorker:
    """One evaluation slot on a node, run by Ray as an actor: the task and its data, a warm
    sandbox, and the same `Evaluator` (and part checker) the local executor uses."""

    def __init__(self, config: dict[str, Any], shipped: TaskFile | None) -> None:
        import ray

        # Lazy, and a circle with assemble on purpose (see `assemble.evaluation_parts`).
        from agentic_design.run.assemble import (
            build_task,
            evaluator_for,
            part_checker,
            sandbox_for,
        )

        if not ray.get_gpu_ids():
            # Ray leaves a slot without GPUs the node's whole CUDA_VISIBLE_DEVICES: its sandbox
            # must not train on a GPU that Ray gave to another slot.
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        run_config = RunConfig.from_dict(config, source="the run's configuration, on a Ray node")
        self.task_path: str | None = None
        if shipped is not None:  # this node's own copy of the user's task file
            _, _, cls = run_config.task.rpartition(":")
            self.task_path = str(shipped.materialize())
            run_config = run_config.with_overrides(task=f"{self.task_path}:{cls}")
        task = build_task(run_config)
        task.prepare()  # the task's data, generated and cached on this node
        self.sandbox = sandbox_for(run_config, task, workers=1).start()
        self.config, self.task = run_config, task
        # An agent task's calls, kept here until its evaluation's result goes back.
        self.calls = CallBuffer() if task.uses_broker else None
        self.evaluator = evaluator_for(run_config, task, self.sandbox, store=self.calls)
        agent_llm = run_config.agent_llm
        if self.calls is not None and agent_llm is not None and agent_llm.model != "simulated":
            load_litellm()
        self.checker = part_checker(run_config, task, self.sandbox)

    def ready(self) -> dict[str, Any]:
        """Where this worker runs, and its sandbox's protections there."""
        import ray

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "task_path": self.task_path,
            "protections": self.sandbox.protections,
        }

    def evaluate(
        self,
        code: str,
        seed: int,
        split: str,
        recorded: dict[str, Any] | None,
        design_id: int | None = None,
        earlier: list[dict[str, Any]] | None = None,
        replay: bool = False,
        fidelity: float = 1.0,
    ) -> tuple[Evaluation, list[dict[str, Any]]]:
        """The evaluation, and the LLM calls its agent made (for the run's store). With the
        calls recorded `earlier` for this design, or `replay`, a broker of its own answers
        from them."""
        from agentic_design.run.assemble import evaluator_for

        evaluator, calls = self.evaluator, self.calls
        if calls is not None and (earlier or replay):
            calls = CallBuffer(earlier)
            evaluator = evaluator_for(
                self.config, self.task, self.sandbox, store=calls, replay=replay
            )
        try:
            evaluation = evaluator.evaluate(
                code,
                seed=seed,
                split=split,
                recorded=recorded,
                design_id=design_id,
                fidelity=fidelity,
            )
        finally:
            if evaluator is not self.evaluator and evaluator.broker is not None:
                evaluator.broker.close()
        return evaluation, calls.drain() if calls is not None else []

    def check_part(self, code: str, names: list[str], check: str) -> str | None:
        return self.checker(code, names, check)

    def behaviour(self, code: str, seed: int) -> list[str | None]:
        # In a list: `_call` answers "timeout" or "died: ..." in words when it fails.
        return [self.evaluator.behaviour(code, seed=seed)]

    def close(self) -> None:
        if self.evaluator.broker is not None:
            self.evaluator.broker.close()
        self.sandbox.close()


class _Slot:
    """One evaluation slot: its current actor, replaced when it dies or stops answering."""

    def __init__(self, start: Any) -> None:
        self._start = start
        self.actor = start()
        self.info: dict[str, Any] | None = None

    def replace(self) -> None:
        import ray

        ray.kill(self.actor, no_restart=True)  # its sandbox's servers follow it (end-of-file)
        self.actor, self.info = self._start(), None


class RayEvaluator:
    """Evaluates designs on Ray actors, one per slot (`sandbox.workers`); the same interface as
    `evaluation.Evaluator` (`evaluate`, and `check_part` for the meta-agent's parts), and safe
    to call from several threads. Use it as a context manager: it joins the cluster (or starts
    one) and starts its actors on entry, and stops them on exit."""

    def __init__(
        self,
        config: RunConfig,
        task: Task,
        *,
        calls: Archive | None = None,
        replay: bool = False,
    ) -> None:
        """`calls`: where an agent task's LLM calls are recorded (the run's store), or, with
        `replay`, the recorded run answering them."""
        from agentic_design.run.evaluation import BROKER_FINISH_S

        self.settings = config.ray
        self.slots = config.sandbox.workers
        # The longest an evaluation may take on its node: the design's run, then the run of
        # its answers where they are programs, and for agents the wait for their last calls.
        wall_s = config.sandbox.wall_s
        self.wall_s = 2 * wall_s + (BROKER_FINISH_S if task.uses_broker else 0.0)
        self.check_wall_s = min(wall_s, config.search.meta_agent.decompose.check_wall_s)
        # The meta-agent's model stays with the search; the agents' goes to the nodes.
        self._config = config.model_dump(mode="json", exclude={"llm"})
        self._task_file = task_file(config.task)
        self._num_cpus = self.settings.num_cpus or task.budget.threads
        self._agents = task.uses_broker
        self._calls = calls
        self._replay = replay
        # The agents' API keys, from the variables `api_key_env` names (where set here).
        endpoints = config.agent_llm.endpoints() if config.agent_llm and self._agents else []
        self._env = {
            e.api_key_env: os.environ[e.api_key_env]
            for e in endpoints
            if e.api_key_env and e.api_key_env in os.environ
        }
        self.protections: list[dict[str, Any]] = []
        self.workers: list[dict[str, Any]] = []  # each started actor's `ready` report
        self.retried = 0  # evaluations run again after their worker died
        self._free: queue.Queue[_Slot] = queue.Queue()
        self._all: list[_Slot] = []
        self._lock = threading.Lock()
        self._started_ray = False

    # -- start and stop -------------------------------------------------------------------------
    def start(self) -> RayEvaluator:
        ray = _ray()
        if not ray.is_initialized():  # a caller (a notebook, a test) may have joined one already
            ray.init(
                address=self.settings.address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started_ray = True
        actor_class = ray.remote(EvaluationWorker).options(
            num_cpus=self._num_cpus,
            num_gpus=self.settings.num_gpus,
            max_restarts=0,  # a dead worker is replaced here, where its evaluation is retried
            max_task_retries=0,
            **({"runtime_env": {"env_vars": self._env}} if self._env else {}),
        )

        def start_actor() -> Any:
            return actor_class.remote(self._config, self._task_file)

        try:
            self._all = [_Slot(start_actor) for _ in range(self.slots)]
            for slot in self._all:  # all started at once: their imports and data overlap
                self._wait_ready(slot)
        except BaseException:
            self.close()
            raise
        for slot in self._all:
            self._free.put(slot)
        return self

    def __enter__(self) -> RayEvaluator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the actors (and the cluster, if this evaluator started it)."""
        ray = _ray()
        with self._lock:
            slots, self._all = self._all, []
        for slot in slots:
            ray.kill(slot.actor, no_restart=True)
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def _wait_ready(self, slot: _Slot) -> None:
        """Wait for a slot's actor to start; SandboxError when it cannot."""
        ray = _ray()
        from ray.exceptions import GetTimeoutError, RayActorError

        if slot.info is not None:
            return
        try:
            slot.info = ray.get(slot.actor.ready.remote(), timeout=self.settings.start_timeout_s)
        except (GetTimeoutError, RayActorError) as exc:
            slot.replace()  # the next use of this slot tries a fresh worker
            self._failed_to_start(exc)
        with self._lock:
            self.workers.append(slot.info)
            if not self.protections:
                self.protections = list(slot.info["protections"])

    def _failed_to_start(self, exc: Exception) -> NoReturn:
        from ray.exceptions import GetTimeoutError

        if isinstance(exc, GetTimeoutError):
            raise SandboxError(
                f"a Ray evaluation worker did not start within {self.settings.start_timeout_s:g} "
                f"s (ray.start_timeout_s); does the cluster have {self._num_cpus:g} CPUs and "
                f"{self.settings.num_gpus:g} GPUs free for it (ray.num_cpus, ray.num_gpus)?"
            ) from None
        raise SandboxError(f"a Ray evaluation worker failed to start: {exc}") from None

    # -- the work -------------------------------------------------------------------------------
    def behaviour(self, code: str, *, seed: int) -> str | None:
        """A design's behavioural fingerprint, taken on a free worker (None when the worker
        fails to answer: the design is then evaluated in full)."""
        deadline_s = self.wall_s + self.settings.timeout_margin_s
        outcome = self._call("behaviour", (code, seed), deadline_s)
        return outcome[0] if isinstance(outcome, list) else None

    def evaluate(
        self,
        code: str,
        *,
        seed: int,
        split: str = "validation",
        recorded: dict[str, Any] | None = None,
        design_id: int | None = None,
        fidelity: float = 1.0,
    ) -> Evaluation:
        """Run and score one design on a free worker; as `Evaluator.evaluate`, plus a timeout
        when the worker stops answering and a retry when it dies."""
        deadline_s = self.wall_s + self.settings.timeout_margin_s
        earlier: list[dict[str, Any]] = []
        if self._agents and self._calls is not None and design_id is not None:
            with self._lock:  # one store connection, shared by the pipeline's threads
                earlier = self._calls.recorded_llm_calls(design_id)
        args = (code, seed, split, recorded, design_id, earlier, self._replay, fidelity)
        outcome = self._call("evaluate", args, deadline_s)
        if isinstance(outcome, tuple):
            evaluation, calls = outcome
            if calls and self._calls is not None and not self._replay:
                with self._lock:
                    self._calls.record_llm_calls(calls)
            return evaluation
        if outcome == "timeout":
            return Evaluation(
                status=Status.TIMEOUT,
                split=split,
                seed=seed,
                error=f"the Ray worker evaluating it did not answer within {deadline_s:g} s "
                f"(what an evaluation may take, and ray.timeout_margin_s): it was killed and "
                "replaced",
                wall_s=deadline_s,
            )
        return Evaluation(
            status=Status.ERROR,
            split=split,
            seed=seed,
            error=f"the Ray worker evaluating it died {self.settings.retries + 1} times: {outcome}",
        )

    def check_part(self, code: str, names: list[str], check: str = "") -> str | None:
        """The meta-agent's part check (`evaluation.PartChecker`), on a free worker."""
        deadline_s = self.check_wall_s + self.settings.timeout_margin_s
        outcome = self._call("check_part", (code, names, check), deadline_s)
        if outcome == "timeout":
            return f"timeout: the check did not finish within {deadline_s:g} s"
        if isinstance(outcome, str) and outcome.startswith("died: "):
            return f"error: the Ray worker checking it {outcome}"
        return outcome

    def _call(self, method: str, args: tuple[Any, ...], deadline_s: float) -> Any:
        """`method(*args)` on a free slot's actor: its result, "timeout", or "died: ..." once
        the retries are spent. A failure of our own code on the node raises (RayTaskError)."""
        ray = _ray()
        from ray.exceptions import GetTimeoutError, RayActorError, WorkerCrashedError

        slot = self._free.get()
        died = ""
        try:
            for attempt in range(self.settings.retries + 1):
                self._wait_ready(slot)
                if attempt:
                    with self._lock:
                        self.retried += 1
                reference = getattr(slot.actor, method).remote(*args)
                try:
                    return ray.get(reference, timeout=deadline_s)
                except GetTimeoutError:
                    slot.replace()
                    return "timeout"
                except (RayActorError, WorkerCrashedError) as exc:
                    slot.replace()
                    died = f"died: {_first_line(exc)}"
            return died
        finally:
            self._free.put(slot)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _ray() -> Any:
    """Ray, imported when first needed: `executor: local` runs never import it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports to anyone
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "executor: ray needs Ray installed: pip install 'agentic-design[ray]'"
        ) from None
    return ray


__all__ = ["EvaluationWorker", "RayEvaluator", "TaskFile", "task_file"]
