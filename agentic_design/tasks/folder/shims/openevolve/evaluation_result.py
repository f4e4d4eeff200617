"""`EvaluationResult`: what an OpenEvolve evaluator may return instead of a plain dict.

`metrics` are the scores (`combined_score` is the fitness); `artifacts` is a side channel of
text or bytes (error output, hints) that OpenEvolve shows to the next prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EvaluationResult:
    """Metrics and artifacts of one evaluation. Mutable, as OpenEvolve's is: its cascade adds
    to a stage's metrics and artifacts in place."""

    metrics: dict[str, float]
    artifacts: dict[str, str | bytes] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, float]) -> EvaluationResult:
        """Wrap the plain dict an older evaluator returns."""
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, float]:
        """The metrics alone (the same dict, not a copy)."""
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        return list(self.artifacts)

    def get_artifact_size(self, key: str) -> int:
        """The size of one artifact in bytes (text counted as UTF-8); 0 if there is none."""
        if key not in self.artifacts:
            return 0
        value = self.artifacts[key]
        if isinstance(value, bytes):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(key) for key in self.artifacts)
