"""The trainer's budget for an architecture design, and the fixed texts of why it trained where
it did."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agentic_design.tasks.base import TaskBudget

# Why an evaluation trained where it did: fixed texts, so that the trainer's untrusted report
# of them can be checked against this list.
BUDGET_ASKS = "the budget asks for it"
AUTO_GPU = "auto: the sandbox sees a CUDA device"
AUTO_CPU = "auto: the sandbox sees no CUDA device, so the CPU"
DEVICE_REASONS = (BUDGET_ASKS, AUTO_GPU, AUTO_CPU)


class TrainBudget(TaskBudget):
    """The trainer's budget for one architecture design (the config's `train:` block), enforced
    inside the sandbox; `max_steps` is set on replays only and overrides the time limit."""

    max_epochs: int = Field(30, ge=1, le=1000, description="upper clamp for a recipe's epochs")
    max_seconds: float = Field(10.0, gt=0, description="training stops after this many seconds")
    max_params: int = Field(500_000, ge=1, description="designs with more parameters are invalid")
    max_steps: int | None = Field(None, ge=0, description="set by replays: repeat these steps")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="where to train: a GPU when the sandbox sees one (auto), or always the CPU "
        "or a GPU (cuda: a configuration error on a machine without one)",
    )
