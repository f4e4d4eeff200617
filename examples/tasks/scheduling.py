"""A user's own heuristic task: online single-machine scheduling by a dispatching rule.

Jobs arrive in batches at one machine; each has a processing time, a weight and a due date.
Whenever the machine falls free, a dispatching rule (the design) scores the jobs waiting and the
best-scored one runs next, to its end; the machine never idles while a job waits. The goal is
the least total weighted tardiness, sum of w_j * max(0, C_j - d_j). Classic rules are earliest
due date (EDD), weighted shortest processing time (WSPT) and the apparent tardiness cost (ATC,
Vepsalainen and Morton 1987), which genetic programming has long been used to improve.

This file uses only the public face of agentic-design (`agentic_design.tasks`,
`agentic_design.tasks.base`, `agentic_design.records`); name it in a config as
`task: scheduling.py:WeightedTardinessTask` (the path is read from the config's folder).

Where each part runs: `run` dispatches inside the sandbox and returns only the order in which
the jobs ran; `score`, outside, rebuilds the instances from their seeds, checks that the order
is a schedule a dispatching rule could have made (every job once, none started before its
release, none chosen while it had not arrived and another waited) and computes the tardiness
itself. Nothing here is secret (the instances are generated), but the number a design gets is
never one it computed. As in any in-process task, a design could peek at its caller's frame to
see jobs still to come; only the validity of its schedule is enforced.

Why behaviour matters here: a rule is used only through the argmax of its scores among a
handful of waiting jobs, so scaling a score by a positive constant, adding a constant to it, or
nudging a constant that decides no comparison leaves every decision (and the score) unchanged.
The fingerprint (`behaviour`) is the job order on two probe instances of its own.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import textwrap
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from agentic_design.records import Origin, Proposal
from agentic_design.tasks import InvalidDesign, InvalidOutputs, Score, Task, TaskBudget
from agentic_design.tasks.base import Split

# Each split draws its instances from seeds of its own; the probe from its own too.
STREAMS = {"train": 0, "validation": 1, "test": 2, "probe": 3}
BATCH = 25  # jobs arrive 25 at a time
LOAD = 0.95  # the machine's utilisation: work arrives at 95% of the rate it is done
MEAN_PROCESSING = 50.5  # processing times are uniform integers in [1, 100]
#: A job's due date is its release, its processing and a slack of up to this many time units.
MAX_SLACK = round(2 * MEAN_PROCESSING * BATCH / 5)
PROBE_INSTANCES = 2
#: A cheap evaluation schedules the first fifth of a split's instances: on the 78 distinct rules
#: of a search of 80 evaluations, two instances rank them as all ten do with Spearman's rho 0.98.
CHEAP_SHARE = 0.2
BOOTSTRAP_RESAMPLES = 1000


@dataclass(frozen=True)
class Jobs:
    """One instance: the jobs in order of release (ties in order of number), as float arrays
    of whole numbers."""

    release: np.ndarray
    processing: np.ndarray
    weight: np.ndarray
    due: np.ndarray

    def __len__(self) -> int:
        return len(self.release)


def generate_jobs(n: int, seed: tuple[int, ...]) -> Jobs:
    """An instance of `n` jobs from `seed`: batches of BATCH jobs, released at even intervals
    that load the machine to LOAD, due within MAX_SLACK of the soonest they could finish."""
    rng = np.random.default_rng(seed)
    processing = rng.integers(1, 101, n)
    weight = rng.integers(1, 11, n)
    interval = math.floor(BATCH * MEAN_PROCESSING / LOAD)
    release = (np.arange(n) // BATCH) * interval
    due = release + processing + rng.integers(0, MAX_SLACK + 1, n)
    return Jobs(*(a.astype(np.float64) for a in (release, processing, weight, due)))


class DesignTooSlow(Exception):
    """The rule did not schedule an instance within the time limit."""

    sandbox_status = "timeout"  # the sandbox records the design with this status


class SchedulingBudget(TaskBudget):
    """The limits of one evaluation (the config's `task_budget:` block)."""

    max_seconds_per_instance: float = Field(
        5.0, gt=0, description="wall-clock seconds to schedule one instance, rule calls included"
    )


def dispatch(priority: Any, jobs: Jobs, max_seconds: float = math.inf) -> list[int]:
    """Schedule `jobs` online with the rule `priority`: whenever the machine is free, the
    waiting job of highest score (the first on ties) runs next; with none waiting, the machine
    waits for the next batch. Returns the jobs in the order they ran. InvalidDesign for a
    malformed score, DesignTooSlow past `max_seconds`."""
    n = len(jobs)
    deadline = time.monotonic() + max_seconds
    order: list[int] = []
    waiting: list[int] = []
    released = 0
    now = 0.0
    while len(order) < n:
        while released < n and jobs.release[released] <= now:
            waiting.append(released)
            released += 1
        if not waiting:
            now = float(jobs.release[released])
            continue
        index = np.array(waiting)
        scores = checked_scores(
            priority(
                now,
                jobs.processing[index],
                jobs.weight[index],
                jobs.due[index],
                jobs.release[index],
            ),
            len(index),
        )
        job = waiting.pop(int(np.argmax(scores)))
        order.append(job)
        now += float(jobs.processing[job])
        if time.monotonic() > deadline:
            raise DesignTooSlow(
                f"scheduling took over {max_seconds:g} s (stopped after {len(order)} of {n} "
                "jobs); vectorise priority with numpy"
            )
    return order


def checked_scores(scores: Any, n: int) -> np.ndarray:
    """The scores as a 1-D float array of length `n`, or InvalidDesign saying what is wrong."""
    try:
        array = np.asarray(scores)
    except (TypeError, ValueError) as exc:
        raise InvalidDesign(f"priority must return an array of numbers: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise InvalidDesign(f"priority must return numbers, got an array of dtype {array.dtype}")
    if array.shape != (n,):
        raise InvalidDesign(
            f"priority must return one score per waiting job: expected shape ({n},), "
            f"got {array.shape}"
        )
    if not np.isfinite(array).all():
        raise InvalidDesign("priority returned a NaN or infinite score")
    return array


def completion_times(order: list[int], jobs: Jobs, number: int = 0) -> np.ndarray:
    """When each job finishes, if the machine runs them in `order` — after checking that it is
    a schedule a dispatching rule makes: each job once, and each started when the machine fell
    free or, with nothing waiting, when the next job arrived. InvalidOutputs otherwise
    (`number`: the instance's, for the message)."""
    n = len(jobs)
    if not isinstance(order, list) or len(order) != n:
        got = len(order) if isinstance(order, list) else type(order).__name__
        raise InvalidOutputs(f"instance {number}: expected an order of all {n} jobs, got {got}")
    if not all(type(job) is int and 0 <= job < n for job in order):
        raise InvalidOutputs(f"instance {number}: jobs must be integers in [0, {n})")
    if len(set(order)) != n:
        raise InvalidOutputs(f"instance {number}: a job runs twice, so another never runs")
    done = np.zeros(n, dtype=bool)
    completion = np.zeros(n)
    first_left = 0  # the earliest-released job not yet run (jobs are numbered by release)
    now = 0.0
    for job in order:
        while done[first_left]:
            first_left += 1
        free = max(now, float(jobs.release[first_left]))  # when the machine chooses
        if jobs.release[job] > free:
            raise InvalidOutputs(
                f"instance {number}: job {job} is chosen at time {free:g}, before it arrives "
                f"at {jobs.release[job]:g}, while job {first_left} waits"
            )
        done[job] = True
        now = free + float(jobs.processing[job])
        completion[job] = now
    return completion


def weighted_tardiness(completion: np.ndarray, jobs: Jobs) -> tuple[float, float]:
    """The total weighted tardiness relative to the total weighted processing time, and the
    percentage of jobs late."""
    late = np.maximum(completion - jobs.due, 0.0)
    total = float((jobs.weight * late).sum() / (jobs.weight * jobs.processing).sum())
    return total, 100.0 * float((late > 0).mean())


def bootstrap_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """A seeded percentile-bootstrap 95% interval for the mean, widened to contain it."""
    rng = np.random.default_rng(seed)
    resampled = rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))
    low, high = np.percentile(values[resampled].mean(axis=1), [2.5, 97.5])
    mean = float(values.mean())
    return min(float(low), mean), max(float(high), mean)


def _seed(name: str, thought: str, body: str) -> Proposal:
    code = (
        f'"""{name}\n\n{textwrap.fill(thought, 96)}\n"""\n\nimport numpy as np\n\n\n'
        "def priority(time, processing, weight, due, release):\n"
        f"{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"
    )
    return Proposal(
        name=name,
        thought=thought,
        code=code,
        operator="seed",
        proposer="seed",
        origin=Origin.SEED,
    )


SEEDS = (
    _seed(
        "Earliest due date",
        "Run the waiting job due soonest. Blind to weights and lengths: one long job due soon "
        "makes every job behind it late.",
        "return -due",
    ),
    _seed(
        "Weighted shortest processing time",
        "Run the job with the most weight per unit of processing first (Smith's rule): optimal "
        "for weighted completion time, blind to due dates.",
        """
        ratio = weight / processing
        return ratio
        """,
    ),
    _seed(
        "Apparent tardiness cost",
        "WSPT, discounted exponentially by how much slack a job still has before it must "
        "start, in units of k mean processing times (Vepsalainen and Morton; k near 2).",
        """
        slack = np.maximum(due - processing - time, 0.0)
        urgency = np.exp(-slack / (2.0 * np.mean(processing)))
        score = weight / processing * urgency
        return score
        """,
    ),
)


class WeightedTardinessTask(Task):
    """Design the dispatching rule of a single machine, to minimise weighted tardiness."""

    name: ClassVar[str] = "weighted-tardiness"
    kind: ClassVar[str] = "heuristic"
    budget_model: ClassVar[type[TaskBudget]] = SchedulingBudget
    preload: ClassVar[tuple[str, ...]] = ("numpy",)
    fitness_name: ClassVar[str] = "-weighted tardiness"
    fitness_meaning: ClassVar[str] = (
        "minus the total weighted tardiness sum(w * max(0, C - d)) divided by the total "
        "weighted processing time sum(w * p), averaged over the split's instances; 0: no job late"
    )
    interface: ClassVar[tuple[str, ...]] = ("priority",)
    accepted_params: ClassVar[frozenset[str] | None] = frozenset({"jobs", "instances", "data_seed"})

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # TypeError, like an unknown parameter: the loader reports it as a bad task_params.
        self.jobs = _int_param(params, "jobs", 500)
        self.instances = _int_param(params, "instances", 10)
        self.data_seed = _int_param(params, "data_seed", 0, minimum=0)
        self._cache: dict[str, list[Jobs]] = {}

    def split_jobs(self, split: str, fidelity: float = 1.0) -> list[Jobs]:
        """The instances of `split` ("train", "validation", "test" or "probe"), or the first
        ones a cheap evaluation of share `fidelity` schedules."""
        if split not in self._cache:
            count, jobs = self.instances, self.jobs
            if split == "probe":  # half as many jobs, at least 100: a tenth of the work or so
                count, jobs = PROBE_INSTANCES, min(self.jobs, max(100, self.jobs // 2))
            self._cache[split] = [
                generate_jobs(jobs, (self.data_seed, STREAMS[split], i)) for i in range(count)
            ]
        instances = self._cache[split]
        # Rounded up, at least one; the tolerance keeps 0.3 of 10 at 3 in binary.
        return instances[: max(1, min(len(instances), math.ceil(len(instances) * fidelity - 1e-9)))]

    # -- the contract ---------------------------------------------------------------------------
    def describe(self) -> str:
        budget = self.budget
        assert isinstance(budget, SchedulingBudget)
        return textwrap.dedent(f"""\
            Task: {self.name} (online single-machine scheduling by a dispatching rule)

            Jobs arrive at one machine in batches of {BATCH}; each has a processing time (an
            integer in [1, 100]), a weight (an integer in [1, 10]) and a due date. Whenever the
            machine is free, the waiting job your rule scores highest runs next, to its end; the
            machine never idles while a job waits. Goal: the least total weighted tardiness.
            Data: {self.instances} instances per split, each of {self.jobs} jobs; validation and
            test instances come from different seeds.

            A design is a Python module that defines:

                def priority(time, processing, weight, due, release) -> np.ndarray
                    time is the current time (a float); the four arrays describe the jobs now
                    waiting, one entry per job. Return one finite score per waiting job; the
                    job of highest score runs next (the first one on ties).

            Limits: each instance must be scheduled within {budget.max_seconds_per_instance:g}
            seconds, every call of priority included. Import only numpy and the standard
            library. Earliest due date returns -due; weighted shortest processing time
            weight / processing; the apparent tardiness cost multiplies the latter by
            exp(-max(due - processing - time, 0) / (k * mean(processing))).

            Metric: {self.fitness_meaning}.""")

    def seeds(self) -> list[Proposal]:
        return list(SEEDS)

    def run(
        self, design: ModuleType, split: Split, *, seed: int, budget: TaskBudget
    ) -> dict[str, Any]:
        return {
            "orders": self._dispatch_all(design, self.split_jobs(split, budget.fidelity), budget)
        }

    def score(self, outputs: dict[str, Any], split: Split, fidelity: float = 1.0) -> Score:
        instances = self.split_jobs(split, fidelity)
        if not isinstance(outputs, dict) or not isinstance(outputs.get("orders"), list):
            raise InvalidOutputs("outputs must be a dict with a list of job orders")
        orders = outputs["orders"]
        if len(orders) != len(instances):
            raise InvalidOutputs(f"expected {len(instances)} job orders, got {len(orders)}")
        results = [
            weighted_tardiness(completion_times(order, jobs, number), jobs)
            for number, (order, jobs) in enumerate(zip(orders, instances, strict=True))
        ]
        tardiness = np.array([total for total, _ in results])
        low, high = bootstrap_interval(-tardiness)
        metrics = {
            "weighted_tardiness": float(tardiness.mean()),
            "late_pct": float(np.mean([late for _, late in results])),
            "per_instance": [round(float(t), 6) for t in tardiness],
        }
        return Score(fitness=-float(tardiness.mean()), ci_low=low, ci_high=high, metrics=metrics)

    # -- optional hooks -------------------------------------------------------------------------
    def fidelities(self) -> tuple[float, ...]:
        return (CHEAP_SHARE,)

    def behaviour(self, design: ModuleType, *, seed: int, budget: TaskBudget) -> Any:
        """The order the jobs of each probe instance ran in (a digest) and their weighted
        tardiness: the decisions themselves."""
        probe = self.split_jobs("probe")
        orders = self._dispatch_all(design, probe, budget)
        tardiness = [
            round(weighted_tardiness(completion_times(order, jobs), jobs)[0], 9)
            for order, jobs in zip(orders, probe, strict=True)
        ]
        digest = hashlib.sha256(json.dumps(orders, separators=(",", ":")).encode())
        return {"tardiness": tardiness, "decisions": digest.hexdigest()}

    def _dispatch_all(
        self, design: ModuleType, instances: list[Jobs], budget: TaskBudget
    ) -> list[list[int]]:
        priority = getattr(design, "priority", None)
        if not callable(priority):
            raise InvalidDesign(
                "the design must define priority(time, processing, weight, due, release)"
            )
        # A plain TaskBudget (a caller that knows no better) gets this task's default limit.
        limits = SchedulingBudget.model_validate(budget.model_dump())
        return [dispatch(priority, jobs, limits.max_seconds_per_instance) for jobs in instances]

    def summarize(self, metrics: dict[str, Any]) -> str:
        if "weighted_tardiness" not in metrics or "late_pct" not in metrics:
            return ""
        return (
            f"weighted tardiness {metrics['weighted_tardiness']:.3f} x sum(w p), "
            f"{metrics['late_pct']:.1f}% of jobs late"
        )

    def reflect_checklist(self) -> list[str]:
        return [
            *super().reflect_checklist(),
            "Does priority return exactly one finite score per waiting job? Guard every "
            "division and log: slack can be zero or negative.",
            "Only the order of the scores matters: scaling or shifting every score alike "
            "changes nothing. Change which job wins.",
        ]

    def descriptors(self, code: str, metrics: dict[str, Any]) -> dict[str, float]:
        try:
            nodes = sum(1 for _ in ast.walk(ast.parse(code)))
        except (SyntaxError, ValueError):
            nodes = 0
        late = metrics.get("late_pct")
        return {"ast_nodes": float(nodes), "late_pct": float(late) if late is not None else 0.0}


def _int_param(params: dict[str, Any], key: str, default: int, minimum: int = 1) -> int:
    value = params.get(key, default)
    if type(value) is not int or value < minimum:
        raise TypeError(f"{key} must be an integer >= {minimum}, not {value!r}")
    return value
