"""Typed run configuration, loaded from YAML and validated by pydantic.

Every mistake a user can make in a config file becomes a `ConfigError` whose message names the
file, the field and what is wrong; the CLI prints it and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)


class ConfigError(ValueError):
    """A user's configuration is unusable; the message says where and why."""


class _Strict(BaseModel):
    # Unknown keys are typos more often than intentions: reject them.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Budget(_Strict):
    """When a search stops: whichever limit is reached first."""

    evaluations: int = Field(60, ge=1, description="designs evaluated, seeds included")
    hours: float | None = Field(None, gt=0, description="wall-clock hours of searching")
    usd: float | None = Field(None, ge=0, description="LLM spend cap in US dollars")
    tokens: int | None = Field(None, ge=0, description="LLM token cap")
    target_fitness: float | None = Field(
        None, description="stop once a design reaches this validation fitness"
    )
    stagnation: int | None = Field(
        None, ge=1, description="stop after this many evaluations without a new best"
    )


class SandboxConfig(_Strict):
    """How designs are isolated and limited."""

    workers: int = Field(
        2, ge=1, le=64, description="evaluations at once, each in a sandboxed process of its own"
    )
    wall_s: float = Field(60.0, gt=0, description="hard wall-clock limit per evaluation")
    memory_mb: int | None = Field(
        4096,
        ge=128,
        description="memory limit per evaluation: its processes together, and each one's "
        "address space (not on a GPU worker: CUDA reserves far more than it uses)",
    )
    gpu_memory_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        description="the share of its GPU's memory each evaluation may allocate: floor(1 / "
        "share) workers share a GPU (default: the workers split each GPU evenly)",
    )
    preload: list[str] = Field(
        default_factory=list, description="modules to preload beside the task's own"
    )
    disable: list[str] = Field(
        default_factory=list,
        description="protections to turn off, for debugging (see `agentic-design sandbox-info`)",
    )

    @field_validator("disable")
    @classmethod
    def _known_protections(cls, value: list[str]) -> list[str]:
        from agentic_design.sandbox import OPTIONAL_PROTECTIONS as OPTIONAL

        unknown = sorted(set(value) - set(OPTIONAL))
        if unknown:
            raise ValueError(f"unknown protections {unknown}; choose from {list(OPTIONAL)}")
        return value


class EvolutionConfig(_Strict):
    """Regularized (aging) evolution, the offline proposer."""

    population: int = Field(16, ge=2, description="window of recent ok designs parents come from")
    tournament: int = Field(
        4, ge=1, description="designs drawn from the population; the fittest is the parent"
    )
    crossover_rate: float = Field(
        0.1, ge=0, le=1, description="the share of children made by crossing two parents"
    )
    mutations_per_child: int = Field(
        2, ge=1, le=8, description="each child gets 1..N mutations stacked"
    )
    operator_weights: dict[str, float] | None = Field(
        None, description="weights of the task's mutation operators, by name (default: the task's)"
    )


class Prices(_Strict):
    """US dollars per million tokens, for a model litellm's cost map does not know."""

    input_per_mtok: float = Field(..., ge=0, description="USD per million prompt tokens")
    output_per_mtok: float = Field(..., ge=0, description="USD per million answer tokens")


AnswerFormat = Literal["auto", "fenced", "json_schema"]


class ModelConfig(_Strict):
    """One of several models the meta-agent may ask (`llm.models`)."""

    model: str = Field(..., min_length=1, description="a litellm model string")
    api_base: str | None = Field(None, description="an OpenAI-compatible server URL")
    api_key_env: str | None = Field(None, description="the variable holding this model's key")
    prices: Prices | None = None
    weight: float = Field(1.0, gt=0, description="its share of proposals under choice: weights")
    answer_format: AnswerFormat | None = Field(None, description="default: the llm block's")


class LLMConfig(_Strict):
    """The meta-agent's model, or several (`models`), reached through litellm."""

    model: str | None = Field(None, min_length=1, description="a litellm model string")
    api_base: str | None = Field(None, description="an OpenAI-compatible server URL")
    api_key_env: str | None = Field(
        None, description="the environment variable holding the key (default: the provider's)"
    )
    models: list[ModelConfig] | None = Field(
        None, min_length=1, description="several models, instead of `model`"
    )
    choice: Literal["weights", "bandit"] = Field(
        "bandit",
        description="how a proposal's model is chosen among `models`: their fixed weights, or "
        "UCB1 on improvement over the parent per USD",
    )
    exploration: float = Field(1.0, ge=0, description="the bandit's exploration coefficient")
    answer_format: AnswerFormat = Field(
        "auto",
        description="fenced: a labelled header and a ```python block; json_schema: the "
        "provider's structured output; auto: json_schema where litellm says the model "
        "supports it and no api_base is set, else fenced",
    )
    temperature: float = Field(0.8, ge=0, le=2, description="sampling temperature")
    max_tokens: int = Field(4096, ge=1, description="the most tokens one answer may hold")
    timeout_s: float = Field(120.0, gt=0, description="per call")
    retries: int = Field(5, ge=1, le=20, description="attempts per call, the first included")
    concurrency: int = Field(4, ge=1, description="calls in flight at once")
    prices: Prices | None = None

    @model_validator(mode="after")
    def _one_way_to_name_models(self) -> LLMConfig:
        if (self.model is None) == (self.models is None):
            raise ValueError("give either llm.model or llm.models (a list), not both or neither")
        if self.models is not None:
            if self.api_base or self.api_key_env or self.prices:
                raise ValueError(
                    "with llm.models, give api_base, api_key_env and prices for each model"
                )
            names = [m.model for m in self.models]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"llm.models names {repeated} more than once")
        return self

    def endpoints(self) -> list[LLMConfig]:
        """One single-model config per model, with the shared settings."""
        if self.models is None:
            return [self]
        shared = self.model_dump(exclude={"models", "model", "api_base", "api_key_env", "prices"})
        return [
            LLMConfig.model_validate(
                {
                    **shared,
                    "model": m.model,
                    "api_base": m.api_base,
                    "api_key_env": m.api_key_env,
                    "prices": m.prices.model_dump() if m.prices else None,
                    "answer_format": m.answer_format or self.answer_format,
                }
            )
            for m in self.models
        ]

    def weights(self) -> dict[str, float]:
        return {m.model: m.weight for m in self.models} if self.models else {self.model or "": 1.0}


ProposalMode = Literal["new", "mutate", "crossover", "decompose"]


def _default_modes() -> dict[ProposalMode, float]:
    return {"new": 1.0, "mutate": 2.0, "crossover": 1.0}


class DecomposeConfig(_Strict):
    """The meta-agent's decompose mode: a design written part by part as a task graph."""

    max_parts: int = Field(5, ge=2, le=12, description="parts one task may be split into")
    max_depth: int = Field(
        1, ge=1, le=3, description="1: the design splits into parts; 2: parts into helpers too"
    )
    part_attempts: int = Field(
        2, ge=1, le=5, description="tries at each step, the last problem quoted back each time"
    )
    check_wall_s: float = Field(30.0, gt=0, description="the sandbox's limit on one part's check")
    concurrency: int = Field(4, ge=1, le=32, description="parts written at once")


class VariantsConfig(_Strict):
    """Instruction variants of the propose prompt that evolve: each proposal is written under
    one, chosen by UCB1 on the improvements its designs brought over their parents; now and
    then the meta-agent writes a new one from the best, which replaces the worst."""

    enabled: bool = Field(False, description="evolve the propose prompt's instruction")
    texts: list[str] | None = Field(
        None,
        min_length=1,
        description="the starting variants (default: three built-in ones)",
    )
    population: int = Field(4, ge=2, le=16, description="variants in use at once")
    mutate_every: int = Field(
        12, ge=1, description="designs between two new variants written by the meta-agent"
    )
    exploration: float = Field(1.0, ge=0, description="UCB1's exploration coefficient")
    max_chars: int = Field(1200, ge=100, le=8000, description="the longest variant kept")

    @field_validator("texts")
    @classmethod
    def _not_blank(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not text.strip() for text in value):
            raise ValueError("a variant's text may not be blank")
        return value


class MetaAgentConfig(_Strict):
    """The LLM meta-agent's proposals: modes, reflexion, repair, and the bounded context."""

    modes: dict[ProposalMode, float] = Field(
        default_factory=_default_modes,
        description="relative weights of the proposal modes",
    )
    reflexion_rounds: int = Field(
        2, ge=0, le=10, description="rounds of review and revision before a design is evaluated"
    )
    repair_attempts: int = Field(
        3,
        ge=0,
        le=10,
        description="times a failed design is sent back with its error (each repair a design)",
    )
    context_best: int = Field(4, ge=0, le=50, description="the best designs a prompt shows")
    context_diverse: int = Field(
        3, ge=0, le=50, description="the most different designs a prompt shows"
    )
    context_failures: int = Field(3, ge=0, le=50, description="recent failures a prompt shows")
    max_code_chars: int = Field(4000, ge=200, description="per design shown in a prompt")
    max_parent_chars: int = Field(
        16000, ge=200, description="the parent shown whole when edits against it are asked"
    )
    in_flight: int | None = Field(
        None, ge=1, description="proposals in flight at once (default: llm.concurrency)"
    )
    prompts_dir: str | None = Field(None, description="a folder of templates overriding prompts/")
    edit_format: Literal["full", "diff", "auto"] = Field(
        "auto",
        description="how mutations and repairs answer: the full module, SEARCH/REPLACE edits "
        "against the parent, or edits for parents of at least diff_min_lines lines",
    )
    diff_min_lines: int = Field(80, ge=1, description="edit_format auto: parents this long")
    decompose: DecomposeConfig = Field(default_factory=DecomposeConfig)
    parents: Literal["context", "selection"] = Field(
        "context",
        description="where a mutation's or crossover's parents come from: the prompt's "
        "context (the best and the most different), or search.selection's strategy",
    )
    notes_every: int = Field(
        0,
        ge=0,
        description="designs between two versions of the run's insight notes (one LLM call "
        "each, shown in later prompts; 0: no notes)",
    )
    notes_chars: int = Field(1500, ge=200, le=20000, description="the longest notes a prompt shows")
    notes_designs: int = Field(
        12, ge=1, le=100, description="improved and failed designs, each, one notes call reads"
    )
    variants: VariantsConfig = Field(default_factory=VariantsConfig)


class SimulatedConfig(_Strict):
    """The simulated model agents may call instead of an LLM (`agent_llm: {model: simulated}`)."""

    p_correct: float = Field(
        0.6, ge=0, le=1, description="the chance that one call answers a known question right"
    )
    seed: int | None = Field(None, description="default: the run's seed")


class SelectionConfig(_Strict):
    """How parents are chosen (agentic_design.proposers.selection); population and tournament sizes
    come from search.evolution."""

    strategy: Literal["regularized", "best_k", "map_elites", "islands"] = Field(
        "regularized", description="how parents are chosen (see the selection concepts page)"
    )
    k: int = Field(8, ge=1, description="best_k: how many of the best parents come from")
    descriptors: list[str] | None = Field(
        None, description="map_elites: the task's descriptors the grid spans (default: all)"
    )
    bins: dict[str, list[float]] = Field(
        default_factory=dict, description="map_elites: bin edges per descriptor (default: log)"
    )
    per_octave: float = Field(
        1.0, gt=0, description="map_elites: log-scale bins per doubling of a descriptor"
    )
    islands: int = Field(4, ge=2, le=64, description="islands: how many")
    migrate_every: int = Field(
        20, ge=1, description="islands: designs between migrations of each island's best"
    )
    stagnation: int | None = Field(
        None,
        ge=1,
        description="islands: designs without a new best after which a new island is seeded "
        "from a diverse design (off: never)",
    )
    max_islands: int = Field(
        16, ge=2, le=256, description="islands: the most islands stagnation may grow to"
    )


class FidelityConfig(_Strict):
    """Cheap evaluations first (successive halving, ASHA's rule): every design is evaluated at
    the task's lowest share (`Task.fidelities`) and goes on to the next share, up to the full
    evaluation, only while it ranks in the best 1/eta of the designs that reached that share
    before it. Each evaluation costs `budget.evaluations` its share."""

    # Off by default: on MNIST-1D at equal wall-clock time it did not help (three seeds, four
    # minutes: mean best 0.967 / 0.965 with it, 0.970 / 0.967 without), since an improving
    # search's children mostly rank in the best third of all before them and go on anyway.
    enabled: bool = Field(
        False, description="cheap evaluations first, for tasks that offer them (off: all full)"
    )
    levels: list[float] | None = Field(
        None,
        description="the shares below 1 to evaluate at, lowest first (default: the task's "
        "own `fidelities()`)",
    )
    eta: float = Field(
        3.0, ge=1.5, le=10, description="the best 1/eta at a share go on to the next share"
    )

    @field_validator("levels")
    @classmethod
    def _increasing_shares(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not all(0 < share < 1 for share in value):
                raise ValueError("each level is a share of a full evaluation, in (0, 1)")
            if sorted(set(value)) != value:
                raise ValueError("levels must increase, lowest first, without repeats")
        return value


class TuneConfig(_Strict):
    """Tuned constants: now and then a promising design's numeric literals are fitted by an
    optimiser (Optuna's TPE), each trial a sandboxed evaluation at the cheapest fidelity; the
    best trial becomes a child (operator `tune`)."""

    every: int = Field(0, ge=0, description="one tuning step every this many designs (0: never)")
    trials: int = Field(12, ge=2, le=200, description="evaluations one tuning step may spend")
    constants: int = Field(
        6, ge=1, le=32, description="the most numeric literals one step tunes at once"
    )


class NoveltyConfig(_Strict):
    """Novelty before evaluation: a proposal judged too close to a design before it is sent
    back once for a different idea, then recorded as not_novel without being evaluated."""

    embedding: str | None = Field(
        None,
        min_length=1,
        description="a litellm embedding model; the proposal's code is "
        "compared with the designs before it by cosine similarity",
    )
    api_base: str | None = Field(None, description="the embedding model's server URL")
    api_key_env: str | None = Field(
        None, description="the variable holding its key (default: the provider's)"
    )
    prices: Prices | None = Field(None, description="the embedding model's prices")
    threshold: float = Field(
        0.98,
        gt=0,
        le=1,
        description="similarity to the nearest design at or above which a proposal is not "
        "new (with judge: which the judge is asked about)",
    )
    judge: bool = Field(
        False,
        description="ask the proposal's model whether it is meaningfully new, the closest "
        "designs shown (with embedding: only above the threshold)",
    )
    closest: int = Field(3, ge=1, le=10, description="the closest designs the judge is shown")
    max_chars: int = Field(8000, ge=200, description="the most code embedded per design")

    @model_validator(mode="after")
    def _some_check(self) -> NoveltyConfig:
        if self.embedding is None and not self.judge:
            raise ValueError("give an embedding model, judge: true, or both")
        if self.embedding is None and (self.api_base or self.api_key_env or self.prices):
            raise ValueError("api_base, api_key_env and prices are the embedding model's")
        return self

    def endpoint(self) -> LLMConfig | None:
        """The embedding model as a one-model LLM config (None without one)."""
        if self.embedding is None:
            return None
        return LLMConfig(
            model=self.embedding,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            prices=self.prices,
        )


class SearchConfig(_Strict):
    """How proposals are made."""

    proposer: Literal["auto", "evolution", "meta_agent", "random_sampling"] = Field(
        "auto",
        description="auto: the meta-agent when an LLM is configured, else evolution; "
        "random_sampling: a control run, parents drawn uniformly with no selection pressure",
    )
    behaviour: bool = Field(
        True,
        description="record a child whose behavioural fingerprint (`Task.behaviour`) equals an "
        "evaluated design's as its duplicate, without evaluating it",
    )
    behaviour_tries: int = Field(
        8,
        ge=1,
        le=64,
        description="children evolution draws, at most, until one behaves in a new way",
    )
    fidelity: FidelityConfig = Field(default_factory=FidelityConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    evolution: EvolutionConfig = Field(default_factory=EvolutionConfig)
    meta_agent: MetaAgentConfig = Field(default_factory=MetaAgentConfig)
    novelty: NoveltyConfig | None = Field(
        None, description="novelty before evaluation, for the meta-agent's proposals (off: none)"
    )
    report: bool = Field(
        True,
        description="write RUN_DIR/report.html whenever the search stops (`agentic-design "
        "report RUN` writes it at any time, of a live run too)",
    )


# -- executor: ray (agentic_design.run.ray_executor) ----------------------------------------------
class RayConfig(_Strict):
    """Where and how evaluations run with `executor: ray`: one Ray actor per evaluation slot
    (`sandbox.workers` of them), each with a sandbox of its own on whichever node Ray picks."""

    address: str | None = Field(
        None,
        description="the cluster to join (`auto`, `HOST:6379`, `ray://HOST:10001`); default: "
        "$RAY_ADDRESS, else one `ray start` began on this machine, else one started for the run",
    )
    num_cpus: float | None = Field(
        None, gt=0, description="CPUs one evaluation slot reserves (default: the task's threads)"
    )
    num_gpus: float = Field(0, ge=0, description="GPUs one slot reserves (a fraction shares one)")
    retries: int = Field(
        1, ge=0, le=5, description="re-runs of an evaluation whose Ray worker died under it"
    )
    timeout_margin_s: float = Field(
        60.0,
        gt=0,
        description="how long past what an evaluation may take (twice the sandbox's wall "
        "limit, plus 60 s for an agent's last calls) a silent worker is waited for, before it "
        "is killed and its evaluation recorded as a timeout",
    )
    start_timeout_s: float = Field(
        600.0,
        gt=0,
        description="for a worker to start on its node: imports, the task's data, its sandbox",
    )


# -- end executor: ray ------------------------------------------------------------------------


#: The spellings of a problem folder's task (`task: {openevolve: FOLDER}`), with its format.
FOLDER_FORMATS = {"openevolve": "openevolve", "shinka": "shinka", "folder": "auto"}


class RunConfig(_Strict):
    """Everything a search needs; the resolved form is saved as `config.yaml` in the run dir."""

    name: str = Field(
        "run", min_length=1, description="the run's name; its directory defaults to runs/<name>"
    )
    task: str = Field(..., description="a built-in task name or path/to/file.py:ClassName")
    task_params: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the task's constructor"
    )
    run_dir: Path | None = Field(None, description="defaults to runs/<name>")
    seed: int = Field(0, description="the run's seed: the same seed, the same designs")
    budget: Budget = Field(default_factory=Budget)
    task_budget: dict[str, Any] = Field(
        default_factory=dict,
        # `train:` is what architecture configs have always called it.
        validation_alias=AliasChoices("task_budget", "train"),
        description="one evaluation's limits, validated by the task's budget model",
    )
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    llm: LLMConfig | None = None
    agent_llm: LLMConfig | None = Field(
        None, description="the model agents call (a task of the agent kind); model: simulated"
    )
    simulated: SimulatedConfig = Field(default_factory=SimulatedConfig)
    executor: Literal["local", "ray"] = Field(
        "local", description="where evaluations run: this machine's sandbox pool, or Ray actors"
    )
    ray: RayConfig = Field(default_factory=RayConfig)

    # Where the config came from and what its budget block was called, for error messages;
    # not part of the configuration itself, so equality ignores them.
    _source: str = PrivateAttr("config")
    _budget_key: str = PrivateAttr("task_budget")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @model_validator(mode="before")
    @classmethod
    def _folder_task(cls, data: Any) -> Any:
        """`task: {openevolve: FOLDER}` (or `shinka:`, or `folder:` for either): another
        system's problem folder, searched as the built-in task `problem_folder`."""
        if not isinstance(data, dict) or not isinstance(data.get("task"), dict):
            return data
        spec = data["task"]
        kind, folder = next(iter(spec.items())) if len(spec) == 1 else (None, None)
        if kind not in FOLDER_FORMATS or not isinstance(folder, str) or not folder.strip():
            raise ValueError(
                "task, as a mapping, names one problem folder: {openevolve: FOLDER}, "
                "{shinka: FOLDER} or {folder: FOLDER}"
            )
        params = data.get("task_params") or {}
        if not isinstance(params, dict) or {"folder", "format"} & set(params):
            raise ValueError("task names the problem folder: task_params may not name another")
        folder_params = {"folder": folder.strip(), "format": FOLDER_FORMATS[kind]}
        return {**data, "task": "problem_folder", "task_params": {**params, **folder_params}}

    @field_validator("task")
    @classmethod
    def _task_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("task must name a built-in task or path/to/file.py:ClassName")
        return value.strip()

    @property
    def resolved_run_dir(self) -> Path:
        return self.run_dir if self.run_dir is not None else Path("runs") / self.name

    @property
    def source(self) -> str:
        """Where this configuration came from (a file's path), for error messages."""
        return self._source

    @property
    def budget_key(self) -> str:
        """What the task's budget block is called in it (`train` or `task_budget`)."""
        return self._budget_key

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        """Load and validate a YAML config; raise ConfigError naming the file and the problem.

        Paths inside it (a task file, the run directory, a prompts folder) are read against
        the config file's folder, not the current directory."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config path is a directory, not a YAML file: {path}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = ""
            mark = getattr(exc, "problem_mark", None)
            if mark is not None:
                where = f" at line {mark.line + 1}, column {mark.column + 1}"
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}: YAML syntax error{where}: {problem}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path}: the top level must be a mapping of settings, not {type(data).__name__}"
            )
        return cls.from_dict(_relative_to(data, path.parent), source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> RunConfig:
        """Validate a mapping; raise ConfigError listing every invalid field by its dotted path."""
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, source)) from None
        config._source = source
        config._budget_key = "train" if "train" in data else "task_budget"
        return config

    def with_overrides(self, **overrides: Any) -> RunConfig:
        """A copy with dotted-path overrides (`budget.evaluations=5`) applied; None skips one."""
        data = self.model_dump(mode="json")
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            node[leaf] = value
        config = RunConfig.from_dict(data, source="command-line options")
        config._source, config._budget_key = self._source, self._budget_key
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _relative_to(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """`data` with its relative paths made relative to `folder` (where the config file is)."""

    def resolved(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(folder / value)
        return value

    data = dict(data)
    task = data.get("task")
    if isinstance(task, str) and ".py:" in task:
        file, _, cls = task.rpartition(":")
        data["task"] = f"{resolved(file.strip())}:{cls}"
    if isinstance(task, dict):  # a problem folder: {openevolve: FOLDER}
        data["task"] = {kind: resolved(folder) for kind, folder in task.items()}
    if "run_dir" in data:
        data["run_dir"] = resolved(data["run_dir"])
    search = data.get("search")
    meta = search.get("meta_agent") if isinstance(search, dict) else None
    if isinstance(search, dict) and isinstance(meta, dict) and "prompts_dir" in meta:
        meta = {**meta, "prompts_dir": resolved(meta["prompts_dir"])}
        data["search"] = {**search, "meta_agent": meta}
    return data


def describe_validation_error(exc: ValidationError, source: str, separator: str = ": ") -> str:
    """One readable line per problem: `source: budget.evaluations: Input should be ...`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown setting (check its spelling and where it is nested)"
        elif "input" in err and err["type"] != "missing":
            message = f"{message} (got {err['input']!r})"
        lines.append(f"{source}{separator}{where}: {message}")
    return "\n".join(lines)
