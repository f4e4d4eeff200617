"""The one place a `RunConfig` becomes working parts.

A search, a Ray worker on its node, a replay and a rescore all build their task, sandbox,
evaluator (with the agents' broker), part checker, LLMs and proposer here, so that a setting
means the same thing wherever a design is evaluated. `config.py` only describes and validates
the settings; what they turn into is decided in this module.

Every function raises `ConfigError` (exit 2) for a setting that cannot be honoured — a task
that does not load, a budget its data cannot meet, a GPU the machine lacks, an LLM that does
not answer — and nothing else for a user's mistake.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agentic_design import redaction
from agentic_design.config import ConfigError, LLMConfig, RunConfig, describe_validation_error
from agentic_design.run.evaluation import Evaluator, PartChecker
from agentic_design.sandbox import (
    DeviceError,
    DevicePlan,
    Sandbox,
    SandboxLimits,
    plan_devices,
    requested_device,
    visible_gpus,
)
from agentic_design.tasks import Task, TaskLoadError, load_task

if TYPE_CHECKING:
    from agentic_design.llm import LLM, CallStore
    from agentic_design.proposers.base import Proposer
    from agentic_design.proposers.by_parts import Checker
    from agentic_design.run.broker import Broker
    from agentic_design.run.ray_executor import RayEvaluator
    from agentic_design.store import Archive


# -- the task -------------------------------------------------------------------------------------
def build_task(config: RunConfig, recorded: str | None = None) -> Task:
    """The configured task with this run's budget; ConfigError (exit 2) for a bad name, bad
    parameters, a budget the task's model rejects, or a task the configured executor or agents'
    model cannot serve. `recorded`: the task fingerprint of the run being resumed or replayed,
    where an older version may have read the same parameters otherwise (`earlier_params`)."""
    try:
        task = load_task(config.task, config.task_params)
        if recorded is not None and task.fingerprint() != recorded:
            for params in task.earlier_params():
                earlier = load_task(config.task, params)
                if earlier.fingerprint() == recorded:
                    task = earlier
                    break
    except TaskLoadError as exc:
        raise ConfigError(f"{config.source}: task: {exc}") from None
    try:
        task.configure(config.task_budget)
        task.check_budget()
    except ValidationError as exc:
        where = f"{config.source}: {config.budget_key}"
        raise ConfigError(describe_validation_error(exc, where, separator=".")) from None
    except ValueError as exc:  # a budget this task's data cannot meet
        raise ConfigError(f"{config.source}: {config.budget_key}.{exc}") from None
    if config.executor == "ray":
        _check_ray(config, task)
    if task.uses_broker and config.agent_llm is None:
        raise ConfigError(
            f"{config.source}: task {config.task} designs agents that call an LLM: give "
            "agent_llm (a model, or `model: simulated` for a free dry run; or --agent-llm)"
        )
    return task


def _check_ray(config: RunConfig, task: Task) -> None:  # executor: ray
    """What executor: ray cannot do with this task; ConfigError (exit 2) saying so."""
    if requested_device(task.budget) == "cuda" and not config.ray.num_gpus:
        raise ConfigError(
            f"{config.source}: {config.budget_key}.device: cuda with executor: ray needs "
            "ray.num_gpus, the GPUs Ray reserves for each evaluation slot: without it, a "
            "slot sees no GPU"
        )


def device_plan(config: RunConfig, task: Task, workers: int | None = None) -> DevicePlan:
    """Where this run's evaluations train, for a task whose budget names a `device`: the GPUs
    its sandbox workers are pinned to, and a line saying so. ConfigError (exit 2) for device
    cuda on a machine without a GPU, or a gpu_memory_fraction too large for the workers to
    share the GPUs. Found from the driver's files, without importing torch."""
    try:
        return plan_devices(
            requested_device(task.budget),
            visible_gpus(),
            workers or config.sandbox.workers,
            config.sandbox.gpu_memory_fraction,
        )
    except DeviceError as exc:
        where = "sandbox" if exc.setting == "gpu_memory_fraction" else config.budget_key
        raise ConfigError(f"{config.source}: {where}.{exc.setting}: {exc}") from None


# -- the sandbox and the evaluator ----------------------------------------------------------------
def sandbox_limits(config: RunConfig, task: Task) -> SandboxLimits:
    """The limits every evaluation of this run runs under."""
    limits = SandboxLimits(
        wall_s=config.sandbox.wall_s,
        memory_mb=config.sandbox.memory_mb,
        gpu_memory_fraction=config.sandbox.gpu_memory_fraction,
        threads=task.budget.threads,
        readable=sandbox_readable(task),
        hidden=tuple(task.sandbox_hidden()),
    )
    cap = task.process_cap()
    return limits if cap is None else dataclasses.replace(limits, max_processes=cap)


def sandbox_readable(task: Task) -> tuple[str, ...]:
    """What the sandbox may read for this task: its data, and the file that defines it (a
    user's task lives outside the package and its import path)."""
    source = inspect.getsourcefile(type(task))
    return (*task.sandbox_readable(), *([source] if source else []))


def register_secrets(config: RunConfig) -> None:
    """Tell `redaction` where this run's keys are — each configured model's key variable and
    the credentials in its api_base — so that they are known by value before a sandbox starts
    or an error is recorded."""
    blocks = [block for block in (config.llm, config.agent_llm) if block is not None]
    endpoints = [endpoint for block in blocks for endpoint in block.endpoints()]
    redaction.register(
        names=[e.api_key_env for e in endpoints], urls=[e.api_base for e in endpoints]
    )


def sandbox_for(config: RunConfig, task: Task, workers: int | None = None) -> Sandbox:
    """An (unstarted) sandbox pool for a run's evaluations: its servers preload the task's
    modules (and the evaluation entry point) once, for every forked evaluation to inherit, and
    are pinned to the GPUs the run may use (ConfigError where the machine lacks them). Its
    servers inherit no environment variable holding one of the run's keys."""
    register_secrets(config)
    return Sandbox(
        workers=workers or config.sandbox.workers,
        preload=[*task.preload, *config.sandbox.preload, "agentic_design.run.evaluation"],
        channel=task.uses_broker,
        limits=sandbox_limits(config, task),
        disable=config.sandbox.disable,
        gpus=device_plan(config, task, workers).gpus,
        holds_secret=redaction.holds_secret,
    )


def broker_for(
    config: RunConfig, task: Task, store: CallStore | None, replay: bool
) -> Broker | None:
    """The broker for `agent_llm`: the simulated model, or the configured LLM. Each of the
    evaluations running at once (one per sandbox worker) may have its fair share of the
    broker's calls at the model, and no more."""
    from agentic_design.llm import LLM
    from agentic_design.run.broker import Broker, BrokerLimits, llm_answerer, simulated_answerer
    from agentic_design.tasks.agent.simulated import SimulatedModel

    def fair_share(concurrency: int) -> BrokerLimits:
        return BrokerLimits(concurrency=max(1, concurrency // max(1, config.sandbox.workers)))

    agent_llm = config.agent_llm
    if agent_llm is None:
        return None
    if agent_llm.model == "simulated":
        seed = config.simulated.seed if config.simulated.seed is not None else config.seed
        model = SimulatedModel(
            task.simulation_answers(), config.simulated.p_correct, seed, same=task.same_answer
        )
        return Broker(
            simulated_answerer(model),
            fair_share(16),
            concurrency=16,
            fresh=lambda: simulated_answerer(model.fresh()),
        )
    endpoint = agent_llm.endpoints()[0]
    llm = LLM(endpoint, store=store, replay=replay and store is not None)
    concurrency = max(16, endpoint.concurrency)
    return Broker(llm_answerer(llm), fair_share(concurrency), concurrency=concurrency)


def evaluator_for(
    config: RunConfig,
    task: Task,
    sandbox: Sandbox,
    *,
    store: CallStore | None = None,
    replay: bool = False,
) -> Evaluator:
    """The run's evaluator; for an agent task, with a broker serving the agents' model
    (recorded in `store`, or answered from its recording when `replay`)."""
    broker = broker_for(config, task, store, replay) if task.uses_broker else None
    return Evaluator(task, config.task, sandbox, limits=sandbox_limits(config, task), broker=broker)


def part_checker(config: RunConfig, task: Task, sandbox: Sandbox) -> PartChecker:
    """The meta-agent's check of one part of a design written part by part."""
    return PartChecker(
        sandbox,
        sandbox_limits(config, task),
        config.search.meta_agent.decompose.check_wall_s,
    )


@contextmanager
def local_evaluation(
    config: RunConfig,
    task: Task,
    *,
    workers: int | None = None,
    store: CallStore | None = None,
    replay: bool = False,
) -> Iterator[tuple[Evaluator, PartChecker, Sandbox]]:
    """A started sandbox pool on this machine with the run's evaluator and part checker; the
    pool stops on exit."""
    with sandbox_for(config, task, workers) as sandbox:
        evaluator = evaluator_for(config, task, sandbox, store=store, replay=replay)
        yield evaluator, part_checker(config, task, sandbox), sandbox


@contextmanager
def evaluation_parts(
    config: RunConfig, task: Task, *, calls: Archive | None, replay: bool
) -> Iterator[tuple[Evaluator | RayEvaluator, Checker, list[dict[str, Any]]]]:
    """The run's evaluator, the meta-agent's part checker and the sandbox's protections: over
    this machine's sandbox pool, or (executor: ray) over Ray actors, each with a sandbox of its
    own on its node. An agent task's calls are recorded in `calls` (or answered from it, when
    `replay`)."""
    if config.executor == "ray":
        # An import circle, on purpose: each Ray worker assembles its node's parts with this
        # module, and only this module decides that a run evaluates on Ray. Both imports wait
        # until called, so neither module loads the other at import.
        from agentic_design.run.ray_executor import RayEvaluator

        register_secrets(config)  # the nodes' recorded calls are redacted again here
        # Each node's broker calls the agents' model; the calls come back to `calls`.
        with RayEvaluator(config, task, calls=calls, replay=replay) as remote:
            yield remote, remote.check_part, remote.protections
        return
    with local_evaluation(config, task, store=calls, replay=replay) as (evaluator, checker, pool):
        yield evaluator, checker, pool.protections


# -- LLMs and the proposer ------------------------------------------------------------------------
def llms_for(config: LLMConfig, store: CallStore | None, replay: bool) -> dict[str, LLM]:
    """One client per configured model, recording its calls in `store` (or answering them from
    it, when `replay`)."""
    from agentic_design.llm import LLM

    return {
        endpoint.model or "": LLM(endpoint, store=store, replay=replay)
        for endpoint in config.endpoints()
    }


def preflight(config: RunConfig, blocks: tuple[str, ...] = ("llm", "agent_llm")) -> None:
    """With an LLM configured (the meta-agent's, unless evolution proposes, or the agents'), one
    cheap call to each model of `blocks` before it is used; ConfigError (exit 2) naming the
    block whose model failed."""
    from agentic_design.llm import LLM, LLMConfigurationError, LLMError

    checks = [(block, e) for block in blocks for e in checked_endpoints(config, block)]
    for block, endpoint in checks:
        try:
            LLM(endpoint).preflight()
        except LLMConfigurationError as exc:
            raise ConfigError(f"{block}: {exc}") from None
    novelty = config.search.novelty
    embedding = novelty.endpoint() if novelty is not None else None
    if "llm" in blocks and embedding is not None and checked_endpoints(config, "llm"):
        try:
            LLM(embedding).embed(["ok"])
        except LLMError as exc:
            raise ConfigError(
                f"search.novelty.embedding: the embedding model is not usable: {exc}. Check "
                "the model name, its key and api_base."
            ) from None


def cheap_levels(config: RunConfig, task: Task) -> tuple[float, ...]:
    """The shares of a full evaluation a design climbs before its full one (`search.fidelity`:
    its levels, else the task's own), or () when every evaluation is a full one."""
    settings = config.search.fidelity
    if not settings.enabled:
        return ()
    offered = task.fidelities()
    if settings.levels is not None and not offered:
        raise ConfigError(
            f"search.fidelity.levels: the task {task.name} offers no cheap evaluations "
            "(its fidelities() is empty); leave levels out, or set enabled: false"
        )
    levels = settings.levels if settings.levels is not None else offered
    return tuple(sorted({float(share) for share in levels if 0 < share < 1}))


def checked_endpoints(config: RunConfig, block: str) -> list[LLMConfig]:
    """The models of `block` ("llm", the meta-agent's; "agent_llm", the agents') that the
    preflight asks: `search.proposer: evolution` writes no design with the meta-agent's model,
    and the simulated agent model answers offline."""
    if block == "llm":
        used = config.llm is not None and config.search.proposer != "evolution"
        return config.llm.endpoints() if used and config.llm else []
    agent_llm = config.agent_llm
    if agent_llm is None or agent_llm.model == "simulated":
        return []
    return agent_llm.endpoints()


def learns_without_llm(config: RunConfig) -> None:
    """ConfigError where the config asks for what only the meta-agent does (novelty checks,
    notes, variants) of a search it does not propose for: before anything starts."""
    meta = config.llm is not None and config.search.proposer != "evolution"
    if config.search.novelty is not None and not meta:
        raise ConfigError(
            "search.novelty checks the meta-agent's proposals: give an llm block (or --llm), "
            "or leave novelty out for offline evolution"
        )


def proposer_for(
    config: RunConfig, task: Task, llm_store: Callable[[], CallStore], replay: bool
) -> tuple[Proposer, str]:
    """The meta-agent when an LLM is configured, else offline evolution; and a note saying
    which, for the run's record and the console. `llm_store` gives the store the meta-agent's
    calls are recorded in (or, when `replay`, answered from): asked only when it is needed.

    `search.proposer: random_sampling` is the control run: the same proposer, its parents
    drawn uniformly from every working design (`selection.Uniform`) instead of by fitness,
    so that the report can show what selection adds at equal evaluations."""
    from agentic_design.llm import LLM
    from agentic_design.proposers.evolution import EvolutionProposer
    from agentic_design.proposers.meta_agent import MetaAgentProposer
    from agentic_design.proposers.model_choice import model_choice
    from agentic_design.proposers.selection import Strategy, Uniform, make_strategy

    llm_config = config.llm
    control = config.search.proposer == "random_sampling"
    control_note = "random sampling (control: parents drawn uniformly, no selection pressure; "
    if config.search.proposer == "meta_agent" and llm_config is None:
        raise ConfigError("search.proposer is meta_agent, but no llm block (or --llm) is given")
    if llm_config is not None and config.search.proposer != "evolution":
        choice = model_choice(
            llm_config.weights(), llm_config.choice, config.seed, llm_config.exploration
        )
        settings = config.search.meta_agent
        evolution_settings = config.search.evolution
        selection: Strategy = make_strategy(
            config.search.selection, evolution_settings.population, evolution_settings.tournament
        )
        if control:
            # Parents and the designs the prompt shows (as many as the search's would show)
            # drawn uniformly; no best design and no "most different" ones, chosen by fitness.
            shown = max(2, settings.context_best + settings.context_diverse)
            selection = Uniform(shown, config.seed)
            settings = settings.model_copy(
                update={"parents": "selection", "context_best": 0, "context_diverse": 0}
            )
        store = llm_store()
        novelty = config.search.novelty
        embedding = novelty.endpoint() if novelty is not None else None
        proposer = MetaAgentProposer(
            llms_for(llm_config, store, replay),
            task,
            settings,
            config.seed,
            choice,
            selection=selection,
            novelty=novelty,
            embedder=LLM(embedding, store=store, replay=replay) if embedding else None,
        )
        mode = " (replaying its recorded answers, no network)" if replay else ""
        meta_agent = f"LLM meta-agent {models_note(llm_config)}{mode}"
        return proposer, f"{control_note}{meta_agent})" if control else meta_agent

    def uniform() -> Strategy:
        # No selection pressure: evolution's mutations, crossover and novelty checks, each
        # parent drawn uniformly from every working design so far.
        return Uniform(config.search.evolution.population, config.seed)

    try:
        evolution = EvolutionProposer(
            config.search.evolution,
            task.evolution_operators(),
            seed=config.seed,
            strategy=uniform if control else None,
            selection=config.search.selection,
        )
    except ValueError as exc:  # operator weights naming operators the task does not have
        raise ConfigError(f"search.evolution.operator_weights: {exc}") from None
    why = "no LLM configured" if llm_config is None else "search.proposer: evolution"
    if control:
        return evolution, f"{control_note}offline evolution's operators; {why})"
    strategy = config.search.selection.strategy
    return evolution, f"offline evolution ({strategy} selection over code; {why})"


def models_note(config: LLMConfig) -> str:
    """`openai/gpt-4o-mini at http://...`, or the models and how one is chosen."""
    endpoints = config.endpoints()
    notes = [
        f"{e.model} at {redaction.without_userinfo(e.api_base)}" if e.api_base else f"{e.model}"
        for e in endpoints
    ]
    if len(notes) == 1:
        return notes[0]
    how = "a UCB1 bandit" if config.choice == "bandit" else "fixed weights"
    return f"{', '.join(notes)} (chosen by {how})"
